//! `conntrend top` in a private namespace: the pool, the states, the destination table and the
//! process table, checked against a socket mix this test process holds itself.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use serde_json::Value;

use crate::netns::mix::Mix;
use crate::netns::{NetNs, Pool, park_netns, with_netns};
use crate::util::conntrend;

/// 10 established and 3 TIME_WAIT connections from pool ports to 127.0.0.1:5000 (outside the
/// pool), a bound-only TCP socket and an unconnected UDP socket on pool ports.
fn build(ns: &NetNs) -> Mix<'_> {
    Pool::new(40000, 40099, "40010-40019").apply(ns);
    let mut mix = Mix::new(ns);
    mix.listen(false, 5000);
    for port in 40020..40030 {
        mix.estab(false, port, 5000);
    }
    for port in 40030..40033 {
        mix.time_wait(false, port, 5000);
    }
    mix.bound(false, 40060).udp(false, 40050, None, false);
    mix.settle();
    mix
}

fn top_json(ns: &NetNs, extra: &[&str]) -> Value {
    let mut cmd = conntrend();
    cmd.args(["top", "--json"]).args(extra);
    let run = ns.run(cmd);
    run.expect_code(0);
    serde_json::from_str(run.stdout().trim()).unwrap_or_else(|e| panic!("{e}\n{}", run.describe()))
}

#[test]
fn json_report_counts_the_mix_exactly() {
    with_netns(|ns| {
        let _mix = build(ns);
        let r = top_json(ns, &[]);
        let me = std::process::id();
        assert_eq!(
            r["pool"],
            serde_json::json!({"lo": 40000, "hi": 40099, "reserved": 10, "total": 90})
        );
        // TCP pool ports: 10 established + 3 TIME_WAIT clients + the bound one; UDP: one.
        assert_eq!(
            (r["tcp_used"].as_u64(), r["udp_used"].as_u64()),
            (Some(14), Some(1))
        );
        assert_eq!(
            (r["used"].as_u64(), r["free"].as_u64()),
            (Some(15), Some(75))
        );
        let states = &r["states"];
        assert_eq!(states["established"], 20, "client and server sides");
        assert_eq!(states["time_wait"], 3);
        assert_eq!(states["listen"], 1);
        let bound = states["close"].as_u64().unwrap() + states["bound_inactive"].as_u64().unwrap();
        assert_eq!(bound, 1, "the bound-only socket");
        assert_eq!(states["syn_sent"], 0);
        // One destination: 13 ports toward it; free = 90 - 13 - 1 explicitly bound port. Its
        // three TIME_WAIT sockets were never seen owned: unattributed, and this process, which
        // holds the ten ESTABLISHED connections there, is named as their likely maker.
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
        let cmdline = std::fs::read("/proc/self/cmdline").unwrap();
        let cmdline: Vec<String> = cmdline
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let cmdline = cmdline.join(" ");
        assert_eq!(
            r["destinations"],
            serde_json::json!([{
                "dst": "127.0.0.1:5000", "used": 13, "free": 76,
                "states": {"established": 10, "syn": 0, "fin_wait": 0, "time_wait": 3,
                           "close_wait": 0, "last_ack": 0, "other": 0},
                "ownerless": 3, "unattributed": 3, "last_known": [],
                "likely": [{"pid": me, "comm": comm.trim_end(), "cmdline": cmdline, "sockets": 10}],
            }])
        );
        let procs = r["processes"].as_array().unwrap();
        assert_eq!(procs.len(), 2, "{procs:?}");
        assert_eq!(procs[0]["pid"], me);
        assert_eq!(
            (
                procs[0]["tcp_ports"].as_u64(),
                procs[0]["udp_ports"].as_u64()
            ),
            (Some(11), Some(1))
        );
        assert_eq!(procs[0]["uid"], unsafe { libc::geteuid() });
        assert_eq!(procs[0]["comm"], comm.trim_end());
        assert_eq!(procs[0]["cmdline"], cmdline);
        let cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let cgroup = cgroup.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
        assert_eq!(procs[0]["cgroup"], cgroup);
        assert_eq!(
            (procs[0]["last_known_ports"].as_u64(), &procs[0]["exited"]),
            (Some(0), &Value::Bool(false))
        );
        assert_eq!(
            procs[1]["comm"], "(kernel)",
            "TIME_WAIT sockets have no owner"
        );
        assert_eq!(procs[1]["pid"], Value::Null);
        assert_eq!(
            (
                procs[1]["tcp_ports"].as_u64(),
                procs[1]["udp_ports"].as_u64()
            ),
            (Some(3), Some(0))
        );
        // Every process is visible exactly when we may read pid 1's descriptors (root in the
        // initial user namespace); otherwise the report must say so.
        let all_visible = std::fs::read_dir("/proc/1/fd").is_ok();
        assert_eq!(r["all_processes_visible"], all_visible);
    });
}

#[test]
fn rows_limit_and_text_report() {
    with_netns(|ns| {
        let _mix = build(ns);
        let r = top_json(ns, &["-n", "1"]);
        assert_eq!(r["processes"].as_array().unwrap().len(), 1);
        assert_eq!(r["destinations"].as_array().unwrap().len(), 1);

        let mut cmd = conntrend();
        cmd.arg("top");
        let run = ns.run(cmd);
        run.expect_code(0);
        let text = run.stdout();
        assert!(
            text.contains("pool   40000-40099  reserved 10  total 90"),
            "{text}"
        );
        assert!(
            text.contains("used   15 (16.7%)  tcp 14  udp 1  free 75"),
            "{text}"
        );
        let dst = text
            .lines()
            .find(|l| l.starts_with("127.0.0.1:5000"))
            .expect(&text);
        let cols: Vec<&str> = dst.split_whitespace().collect();
        assert_eq!(&cols[1..3], ["13", "76"], "{dst}");
        let me = std::process::id().to_string();
        let own = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(me.as_str()));
        let own: Vec<&str> = own.expect(&text).split_whitespace().collect();
        // TCP, last known and UDP pool ports, then its ESTABLISHED and CLOSE_WAIT sockets (the
        // server side of the ten loopback connections is on port 5000, outside the pool, and
        // counts too).
        assert_eq!(
            &own[own.len() - 5..],
            ["11", "0", "1", "20", "0"],
            "{own:?}"
        );
        let kernel = text.lines().find(|l| l.contains("(kernel)")).expect(&text);
        assert!(
            kernel
                .split_whitespace()
                .eq(["(kernel)", "3", "0", "0", "0", "0"]),
            "{kernel}"
        );
        // The destination's states, and who its three ownerless sockets may be from.
        let cols: Vec<&str> = dst.split_whitespace().collect();
        assert_eq!(&cols[3..], ["10", "3", "0", "0", "0", "0"], "{dst}");
        assert!(
            text.contains("  ownerless 3: last known 0, unattributed 3\n    likely: "),
            "{text}"
        );
    });
}

#[test]
fn refreshing_report_runs_until_interrupted() {
    with_netns(|ns| {
        let mut cmd = conntrend();
        cmd.args(["top", "--json", "-i", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = ns.spawn(&mut cmd);
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for _ in 0..2 {
            let line = lines.next().expect("a report line").unwrap();
            let v: Value = serde_json::from_str(&line).unwrap();
            assert_eq!(
                v["pool"]["total"], 28232,
                "a fresh namespace's default range"
            );
        }
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0));
    });
}

#[test]
fn top_rejects_bad_input() {
    for args in [
        &["top", "-n", "0"][..],
        &["top", "-i", "0"],
        &["top", "--bogus"],
    ] {
        let out = conntrend().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn netns_report_from_outside_the_namespace() {
    let parked = park_netns(|ns, park| {
        let mix = build(ns);
        park(());
        drop(mix);
    });
    let run = crate::util::run({
        let mut c = conntrend();
        c.args(["top", "--json", "--netns", &parked.path]);
        c
    });
    run.expect_code(0);
    let r: Value = serde_json::from_str(run.stdout().trim()).unwrap();
    assert_eq!(r["netns"], parked.path.as_str());
    assert_eq!(
        r["pool"]["total"], 90,
        "the namespace's own pool, not the host's"
    );
    assert_eq!(
        (r["used"].as_u64(), r["free"].as_u64()),
        (Some(15), Some(75))
    );
    assert_eq!(r["destinations"][0]["dst"], "127.0.0.1:5000");
    assert_eq!(r["processes"][0]["pid"], std::process::id());
}

/// As root, processes that exit and sockets that close between the dump and the /proc scan are
/// neither "hidden" nor "(not visible)": a churn of short-lived processes and connections runs
/// (bounded: 2 s, at most 20,000 of each) while top reports again and again.
#[test]
fn churn_is_not_mistaken_for_missing_privilege() {
    with_netns(|ns| {
        let _mix = build(ns);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let listener = std::net::TcpListener::bind("127.0.0.1:6000").unwrap();
        let churn = {
            let stop = stop.clone();
            let ns_path = ns.path();
            std::thread::spawn(move || {
                conntrend::api::enter_netns(std::path::Path::new(&ns_path)).unwrap();
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed)
                    && std::time::Instant::now() < deadline
                    && n < 20_000
                {
                    let c = std::net::TcpStream::connect("127.0.0.1:6000").unwrap();
                    let (s, _) = listener.accept().unwrap();
                    let _ = std::process::Command::new("true")
                        .spawn()
                        .map(|mut p| p.wait());
                    // The server closes first: TIME_WAIT stays on its side, and the client's
                    // pool port is free again at once.
                    drop(s);
                    let _ = std::io::Read::read(&mut &c, &mut [0u8; 1]);
                    drop(c);
                    n += 1;
                }
            })
        };
        let all_visible = std::fs::read_dir("/proc/1/fd").is_ok();
        for _ in 0..15 {
            let r = top_json(ns, &["-n", "50"]);
            assert_eq!(r["all_processes_visible"], all_visible, "{r}");
            if all_visible {
                let procs = r["processes"].as_array().unwrap();
                assert!(
                    procs.iter().all(|p| p["comm"] != "(not visible)"),
                    "{procs:?}"
                );
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        churn.join().unwrap();
    });
}

/// Run from a pid namespace of its own (as in a container without `--pid host`), top cannot see
/// the process holding the sockets and says so instead of calling them closed or hidden.
#[test]
fn owners_in_another_pid_namespace_are_named_as_such() {
    let parked = park_netns(|ns, park| {
        let mix = build(ns);
        park(());
        drop(mix);
    });
    let r = top_from_own_pid_namespace(&parked.path);
    assert_eq!(r["owners_in_other_pid_namespace"], true, "{r}");
    let procs = r["processes"].as_array().unwrap();
    let other = procs
        .iter()
        .find(|p| p["comm"] == "(other pid namespace)")
        .unwrap_or_else(|| panic!("{procs:?}"));
    // This test process's 10 client sockets and the UDP socket, on pool ports.
    assert_eq!(
        (other["tcp_ports"].as_u64(), other["udp_ports"].as_u64()),
        (Some(11), Some(1))
    );
    let run = crate::util::run({
        let mut c = conntrend();
        c.args(["top", "--netns", &parked.path]);
        c
    });
    assert!(
        !run.stdout().contains("other pid namespace"),
        "{}",
        run.describe()
    );
}

/// `conntrend top --json --netns PATH` run from a pid namespace of its own (as in a container
/// without `--pid host`), where no process holding the namespace's sockets can be seen. The
/// namespace is bind-mounted where the new pid namespace's own /proc cannot hide it.
pub fn top_from_own_pid_namespace(netns: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("net");
    std::fs::write(&file, "").unwrap();
    let script = "mount --bind \"$1\" \"$2\" && mount -t proc proc /proc && \
                  exec \"$3\" top --json --netns \"$2\"";
    let run = crate::util::run({
        let mut c = std::process::Command::new("unshare");
        c.args(["--pid", "--fork", "--mount", "--propagation", "private"])
            .args(["sh", "-c", script, "sh", netns])
            .arg(&file)
            .arg(env!("CARGO_BIN_EXE_conntrend"));
        c
    });
    run.expect_code(0);
    serde_json::from_str(run.stdout().trim()).unwrap_or_else(|e| panic!("{e}\n{}", run.describe()))
}
