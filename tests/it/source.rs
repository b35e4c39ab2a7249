//! `--source`: the /proc/net tables give the timeline's columns with the same meaning as netlink
//! (the one documented difference: bound-only sockets are not listed there), a saved proc tree
//! (`--proc-root`) gives what the live one gave, and `auto` falls back to /proc/net when a
//! seccomp filter really refuses netlink sockets.

use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::netns::mix::Mix;
use crate::netns::{NetNs, Pool};
use crate::stream::Row;
use crate::util::{conntrend, parse_json};

/// 10 established connections and 3 TIME_WAIT from pool ports to 127.0.0.1:5000 (outside the
/// pool), one of them over IPv6, a bound-only TCP socket, connected and unconnected UDP.
fn build(ns: &NetNs) -> Mix<'_> {
    Pool::new(40000, 40099, "40010-40019").apply(ns);
    let mut mix = Mix::new(ns);
    mix.listen(false, 5000).listen(true, 5001);
    for port in 40020..40029 {
        mix.estab(false, port, 5000);
    }
    mix.estab(true, 40029, 5001);
    for port in 40030..40033 {
        mix.time_wait(false, port, 5000);
    }
    mix.bound(false, 40060)
        .udp(false, 40050, None, false)
        .udp(true, 40051, Some(40050), false);
    mix.settle();
    mix
}

/// One JSON sample of `conntrend -c 1 ARGS` in `ns` (stderr must be `stderr`), epoch_ms left out.
fn sample(ns: &NetNs, mut cmd: Command, args: &[&str], stderr: &str) -> Row {
    cmd.args(["-c", "1", "--format", "json"]).args(args);
    let run = ns.run(cmd);
    run.expect_code(0);
    assert!(run.stderr().contains(stderr), "{}", run.describe());
    let mut s = parse_json(&run.stdout()).samples.remove(0);
    s.remove("epoch_ms");
    s
}

/// The eleven counting columns (epoch_ms aside) with these values.
fn row(values: [u64; 11]) -> Row {
    crate::util::COLUMNS[1..]
        .iter()
        .zip(values)
        .map(|(k, v)| (k.to_string(), Some(v)))
        .collect()
}

#[test]
fn proc_gives_the_columns_of_netlink_but_for_bound_only_sockets() {
    crate::netns::with_netns(|ns| {
        let _mix = build(ns);
        let netlink = sample(ns, conntrend(), &["--source", "netlink"], "");
        let proc = sample(ns, conntrend(), &["--source", "proc"], "");
        // Pool ports: TCP 40020-40032 and the bound 40060, UDP 40050 and 40051.
        assert_eq!(netlink, row([90, 16, 74, 2, 14, 3, 20, 0, 0, 0, 0]));
        // /proc/net/tcp does not list the bound-only socket: one TCP port fewer.
        assert_eq!(proc, row([90, 15, 75, 2, 13, 3, 20, 0, 0, 0, 0]));
        // --dst: the same busiest destination (9 clients + 3 TIME_WAIT toward 127.0.0.1:5000);
        // free counts the explicit bind through netlink only.
        let dst = |source| {
            let mut cmd = conntrend();
            cmd.args(["-c", "1", "--dst", "--source", source]);
            let run = ns.run(cmd);
            run.expect_code(0);
            let f = crate::stream::parse_csv(&run.stdout()).fields.remove(0);
            ["worst_dst", "worst_dst_used", "worst_dst_free"].map(|k| f[k].clone().unwrap())
        };
        assert_eq!(dst("netlink"), ["127.0.0.1:5000", "12", "77"]);
        assert_eq!(dst("proc"), ["127.0.0.1:5000", "12", "78"]);
    });
}

#[test]
fn a_saved_proc_tree_reads_like_the_live_one() {
    crate::netns::with_netns(|ns| {
        let _mix = build(ns);
        let live = sample(ns, conntrend(), &["--source", "proc"], "");
        // What a support bundle keeps: the four tables and the two sysctls, read on this thread
        // (so from this namespace).
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("net")).unwrap();
        std::fs::create_dir_all(root.join("sys/net/ipv4")).unwrap();
        for t in ["tcp", "tcp6", "udp", "udp6"] {
            std::fs::copy(
                format!("/proc/thread-self/net/{t}"),
                root.join("net").join(t),
            )
            .unwrap();
        }
        for s in ["ip_local_port_range", "ip_local_reserved_ports"] {
            let from = format!("/proc/sys/net/ipv4/{s}");
            std::fs::copy(from, root.join("sys/net/ipv4").join(s)).unwrap();
        }
        let root = root.to_str().unwrap();
        let saved = sample(ns, conntrend(), &["--proc-root", root], "");
        assert_eq!(saved, live);
        // top on a saved tree: the same pool figures, no owner taken from this host's processes.
        let mut cmd = conntrend();
        cmd.args(["top", "--json", "--proc-root", root]);
        let run = ns.run(cmd);
        run.expect_code(0);
        let r: serde_json::Value = serde_json::from_str(run.stdout().trim()).unwrap();
        assert_eq!(r["tcp_used"], 13, "{}", run.describe());
        let procs = r["processes"].as_array().unwrap();
        assert!(procs.iter().all(|p| p["pid"].is_null()), "{procs:?}");
        assert!(
            procs.iter().any(|p| p["comm"] == "(owner unknown)"),
            "{procs:?}"
        );
        // Without IPv6 tables: the IPv6 sockets are simply not there.
        std::fs::remove_file(dir.path().join("net/tcp6")).unwrap();
        std::fs::remove_file(dir.path().join("net/udp6")).unwrap();
        let v4 = sample(ns, conntrend(), &["--proc-root", root], "");
        assert_eq!(
            v4["estab"],
            Some(18),
            "the IPv6 connection's two sides are gone"
        );
        assert_eq!(v4["udp_used"], Some(1));
    });
}

/// conntrend under a seccomp filter that fails every AF_NETLINK socket() with EPERM, as some
/// container runtimes do.
fn without_netlink() -> Command {
    let mut cmd = conntrend();
    // SAFETY: prctl(2) between fork and exec; the filter program lives on this stack frame until
    // the call returns (the kernel copies it).
    unsafe {
        cmd.pre_exec(|| {
            #[cfg(target_arch = "x86_64")]
            const ARCH: u32 = 0xC000_003E;
            #[cfg(target_arch = "aarch64")]
            const ARCH: u32 = 0xC000_00B7;
            const LD_W_ABS: u16 = 0x20;
            const JEQ_K: u16 = 0x15;
            const RET_K: u16 = 0x06;
            let op = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
            let program = [
                op(LD_W_ABS, 0, 0, 4), // seccomp_data.arch
                op(JEQ_K, 0, 5, ARCH),
                op(LD_W_ABS, 0, 0, 0), // seccomp_data.nr
                op(JEQ_K, 0, 3, libc::SYS_socket as u32),
                op(LD_W_ABS, 0, 0, 16), // args[0], low half
                op(JEQ_K, 0, 1, libc::AF_NETLINK as u32),
                op(RET_K, 0, 0, 0x0005_0000 | libc::EPERM as u32), // SECCOMP_RET_ERRNO
                op(RET_K, 0, 0, 0x7fff_0000),                      // SECCOMP_RET_ALLOW
            ];
            let prog = libc::sock_fprog {
                len: program.len() as u16,
                filter: program.as_ptr() as *mut _,
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER as libc::c_ulong,
                    &prog as *const libc::sock_fprog,
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

#[test]
fn auto_falls_back_to_proc_when_netlink_is_refused() {
    crate::netns::with_netns(|ns| {
        let _mix = build(ns);
        let proc = sample(ns, conntrend(), &["--source", "proc"], "");
        let auto = sample(ns, without_netlink(), &[], "reading /proc/net instead");
        assert_eq!(auto, proc);
        let mut cmd = without_netlink();
        cmd.args(["-c", "1", "--source", "netlink"]);
        let run = ns.run(cmd);
        run.expect_code(1);
        assert!(
            run.stderr()
                .contains("cannot open a NETLINK_SOCK_DIAG socket"),
            "{}",
            run.describe()
        );
        let mut cmd = without_netlink();
        cmd.args(["top", "--json"]);
        let run = ns.run(cmd);
        run.expect_code(0);
        let r: serde_json::Value = serde_json::from_str(run.stdout().trim()).unwrap();
        assert_eq!(r["tcp_used"], 13, "{}", run.describe());
    });
}

#[test]
fn bad_saved_trees_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap().to_string();
    let run = crate::util::run({
        let mut c = conntrend();
        c.args(["-c", "1", "--proc-root", &root]);
        c
    });
    run.expect_code(1);
    assert!(run.stderr().contains("net/tcp"), "{}", run.describe());
    std::fs::create_dir_all(dir.path().join("net")).unwrap();
    std::fs::create_dir_all(dir.path().join("sys/net/ipv4")).unwrap();
    std::fs::write(
        dir.path().join("sys/net/ipv4/ip_local_port_range"),
        "40000\t40099\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("net/udp"), "  sl  local_address\n").unwrap();
    std::fs::write(
        dir.path().join("net/tcp"),
        "  sl  local_address rem_address   st\n   0: 0100007F:1F90 nonsense\n",
    )
    .unwrap();
    let run = crate::util::run({
        let mut c = conntrend();
        c.args(["-c", "1", "--proc-root", &root]);
        c
    });
    run.expect_code(1);
    assert!(run.stderr().contains("net/tcp:2:"), "{}", run.describe());
}

/// Runs `cmd`, killing it after `limit`: `None` when it had to be killed.
fn run_within(mut cmd: Command, limit: std::time::Duration) -> Option<crate::util::Run> {
    use std::process::Stdio;
    let cmdline = format!("{cmd:?}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmdline}: {e}"));
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Some(crate::util::Run {
        cmdline,
        output: child.wait_with_output().unwrap(),
    })
}

/// A saved tree whose files are what `files` says: (relative path, Some(text) or None for a FIFO).
fn saved_tree(files: &[(&str, Option<&str>)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        match text {
            Some(text) => std::fs::write(&path, text).unwrap(),
            None => nix::unistd::mkfifo(&path, nix::sys::stat::Mode::S_IRWXU).unwrap(),
        }
    }
    dir
}

const RANGE: &str = "sys/net/ipv4/ip_local_port_range";
const HEAD: &str = "  sl  local_address rem_address   st\n";

#[test]
fn a_fifo_in_a_saved_tree_is_refused_at_once_not_waited_on() {
    for (fifo, named) in [
        ("net/tcp", "net/tcp"),
        ("net/udp", "net/udp"),
        (RANGE, RANGE),
    ] {
        let files: Vec<(&str, Option<&str>)> = [
            (RANGE, Some("40000\t40099\n")),
            ("net/tcp", Some(HEAD)),
            ("net/udp", Some(HEAD)),
        ]
        .into_iter()
        .map(|(p, t)| (p, if p == fifo { None } else { t }))
        .collect();
        let dir = saved_tree(&files);
        let mut c = conntrend();
        c.args(["-c", "1", "--proc-root", dir.path().to_str().unwrap()]);
        let run = run_within(c, std::time::Duration::from_secs(20))
            .unwrap_or_else(|| panic!("conntrend blocked on the FIFO {fifo}"));
        run.expect_code(1);
        assert!(run.stderr().contains(named), "{}", run.describe());
        assert!(run.stderr().contains("FIFO"), "{}", run.describe());
    }
}

#[test]
fn a_bad_range_file_is_named_alone() {
    let dir = saved_tree(&[
        (RANGE, Some("40000 banana\n")),
        ("net/tcp", Some(HEAD)),
        ("net/udp", Some(HEAD)),
    ]);
    let mut c = conntrend();
    c.args(["-c", "1", "--proc-root", dir.path().to_str().unwrap()]);
    let run = crate::util::run(c);
    run.expect_code(1);
    assert!(
        run.stderr().contains("ip_local_port_range"),
        "{}",
        run.describe()
    );
    assert!(
        !run.stderr().contains("ip_local_reserved_ports"),
        "{}",
        run.describe()
    );
}
