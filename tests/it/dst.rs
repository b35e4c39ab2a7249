//! `--dst` (the destination with the most pool ports toward it) and `--netns`/`--pid` (sampling
//! another network namespace). Every expectation follows from sockets the test built itself: each
//! connected TCP socket is recorded as (local port, peer) from its own `local_addr`/`peer_addr`, each
//! explicit TCP bind (LISTEN or bound-only) as its local port, and [`worst`] applies the contract.

mod out;
mod socks;

use std::process::Command;

use socket2::Type;

use crate::netns::mix::Mix;
use crate::netns::{NetNs, Pool, park_netns, with_netns};
use crate::util::{COLUMNS, conntrend, run};
use crate::util::{parse_csv, parse_json};
use out::{Worst, check_dst, counts, ct, snapshot, want_counts};
use socks::{Socks, sa, sock, worst};

/// 40000-40999 minus 40010-40019: 990 ports.
fn pool(ns: &NetNs) -> Pool {
    let pool = Pool::new(40000, 40999, "40010-40019");
    pool.apply(ns);
    assert_eq!(pool.total(), 990);
    pool
}

const A: &str = "127.0.0.2:5000";
const B: &str = "127.0.0.3:5000";

#[test]
fn dst_counts_distinct_pool_ports_per_destination_and_explicit_binds_once() {
    with_netns(|ns| {
        let pool = pool(ns);
        let mut m = Socks::default();
        m.listen(A).listen(B);
        m.time_wait("127.0.0.1:0", 40020, 20, A) // 20 TIME_WAIT clients: they still count
            .estab("127.0.0.1:0", 40040, 280, A)
            .estab("127.0.0.1:0", 40320, 120, B)
            .estab("127.0.0.1:0", 40010, 5, A) // reserved: not in the pool
            .estab("127.0.0.1:0", 39990, 5, A) // below the range
            .estab("127.0.0.1:0", 41000, 5, A); // above the range
        ns.wait_until("20 TIME_WAIT sockets", || {
            let socks = ns.ss_socks();
            let tw = socks
                .iter()
                .filter(|s| s.state == crate::netns::State::TimeWait);
            tw.count() == 20
        });
        let want = worst(&pool, &m.built);
        assert_eq!(want, Some((A.to_string(), 300, 690)), "the calculator");
        snapshot(&want, m.built.tcp_used(&pool));
        let (out, d) = ct(conntrend(), &["-c", "1", "--dst"], false);
        assert_eq!(
            out.samples[0]["time_wait"],
            Some(20),
            "the TIME_WAIT clients were there\n{d}"
        );

        m.listen("127.0.0.1:40500") // explicit binds in the pool: -1 each
            .bound("127.0.0.1:40501")
            .udp("127.0.0.1:40502") // UDP: no effect on worst_dst_free
            .bound("127.0.0.1:40100") // also a port used toward A: counts once
            .listen("127.0.0.1:40101") // likewise
            .bound("127.0.0.1:40011") // reserved
            .listen("127.0.0.1:5001"); // outside the range
        let want = worst(&pool, &m.built);
        assert_eq!(want, Some((A.to_string(), 300, 688)), "the calculator");
        snapshot(&want, m.built.tcp_used(&pool));
    });
}

#[test]
fn dst_ties_go_to_fewer_free_then_smaller_address_then_port() {
    with_netns(|ns| {
        let pool = pool(ns);
        let (c, d9a, d9b) = ("127.0.0.1:0", "127.0.0.9:5000", "127.0.0.9:5001");
        let d10 = "127.0.0.10:5000";
        let mut m = Socks::default();
        m.listen(d10).listen(d9b).listen(d9a);
        // Equal counts and free: by address bytes (.9 < .10, though "127.0.0.10" < "127.0.0.9"
        // as text and 5000 < 5001).
        m.estab(c, 40100, 10, d10).estab(c, 40200, 10, d9b);
        let want = worst(&pool, &m.built);
        assert_eq!(want, Some((d9b.to_string(), 10, 980)));
        snapshot(&want, m.built.tcp_used(&pool));
        // Same address: by port.
        m.estab(c, 40300, 10, d9a);
        let want = worst(&pool, &m.built);
        assert_eq!(want, Some((d9a.to_string(), 10, 980)));
        snapshot(&want, m.built.tcp_used(&pool));
        // An explicit bind on a port used toward .9:5000 leaves its free at 980, the others 979.
        m.bound("127.0.0.1:40300");
        let want = worst(&pool, &m.built);
        assert_eq!(want, Some((d9b.to_string(), 10, 979)));
        snapshot(&want, m.built.tcp_used(&pool));
        // One on a port used toward .9:5001: now only .10:5000 is at 978.
        m.listen("127.0.0.1:40200");
        let want = worst(&pool, &m.built);
        assert_eq!(want, Some((d10.to_string(), 10, 978)));
        snapshot(&want, m.built.tcp_used(&pool));
    });
}

#[test]
fn dst_ipv6_peer_in_brackets_and_v4_mapped_peer_merges_with_ipv4() {
    with_netns(|ns| {
        let pool = pool(ns);
        let mut m = Socks::default();
        m.listen("[::1]:5000").listen(A);
        m.estab("[::1]:0", 40100, 5, "[::1]:5000")
            .estab("127.0.0.1:0", 40200, 3, A);
        let want = worst(&pool, &m.built);
        assert_eq!(want, Some(("[::1]:5000".to_string(), 5, 985)));
        snapshot(&want, m.built.tcp_used(&pool));
        // Dual-stack AF_INET6 clients to ::ffff:127.0.0.2:5000: 3 + 3 = 6 ports toward A.
        m.estab("[::]:0", 40300, 3, "[::ffff:127.0.0.2]:5000");
        let mapped = m
            .built
            .conns
            .iter()
            .filter(|c| c.1 == sa("[::ffff:127.0.0.2]:5000"));
        assert_eq!(
            mapped.count(),
            3,
            "the kernel reports the mapped peer as such"
        );
        let want = worst(&pool, &m.built);
        assert_eq!(want, Some((A.to_string(), 6, 984)));
        snapshot(&want, m.built.tcp_used(&pool));
    });
}

#[test]
fn dst_summary_peak_over_two_samples() {
    with_netns(|ns| {
        let pool = pool(ns);
        let mut m = Socks::default();
        m.listen(A).listen(B);
        m.estab("127.0.0.1:0", 40100, 30, A)
            .estab("127.0.0.1:0", 40200, 20, B);
        // Rising: the peak is the last sample's.
        let first = worst(&pool, &m.built);
        let mut cmd = conntrend();
        cmd.args(["-i", "1", "-c", "2", "--dst"]);
        let r = ns.run_changing(cmd, || {
            m.estab("127.0.0.1:0", 40300, 20, B);
        });
        let d = r.expect_code(0).describe();
        let second = worst(&pool, &m.built);
        assert_eq!(first, Some((A.to_string(), 30, 960)));
        assert_eq!(second, Some((B.to_string(), 40, 950)));
        check_dst(&parse_csv(&r.stdout()), &[first, second.clone()], &d);
        // Falling, and the worst destination moves: the peak stays the first sample's (B, 40).
        let mut cmd = conntrend();
        cmd.args(["-i", "1", "-c", "2", "--dst", "--format", "json"]);
        let r = ns.run_changing(cmd, || {
            m.reset(35, B).estab("127.0.0.1:0", 40400, 5, A);
        });
        let d = r.expect_code(0).describe();
        let third = worst(&pool, &m.built);
        assert_eq!(third, Some((A.to_string(), 35, 955)));
        check_dst(&parse_json(&r.stdout()), &[second, third], &d);
    });
}

#[test]
fn dst_fields_empty_without_destinations_and_columns_unchanged_without_flag() {
    with_netns(|ns| {
        let pool = pool(ns);
        let mut m = Socks::default();
        m.listen("127.0.0.1:40001") // explicit binds, no peer
            .bound("127.0.0.1:40002")
            .listen("127.0.0.1:5000")
            .estab("127.0.0.1:0", 45001, 2, "127.0.0.1:5000") // client outside the pool
            .estab("127.0.0.1:0", 40012, 1, "127.0.0.1:5000"); // client on a reserved port
        let u = sock(Type::DGRAM, sa("127.0.0.1:40003")); // UDP with a peer: not a destination
        u.connect(&sa("127.0.0.1:40004").into())
            .expect("connect UDP");
        m.held.push(u);
        m.udp("127.0.0.1:40004");
        assert_eq!(worst(&pool, &m.built), None);
        snapshot(&None, 2);
        for json in [false, true] {
            let (out, d) = ct(conntrend(), &["-c", "1"], json);
            assert_eq!(out.columns, COLUMNS, "\n{d}");
            assert_eq!(out.samples.len(), 1, "\n{d}");
            let keys: Vec<&str> = out.summary_keys.iter().map(String::as_str).collect();
            assert!(
                !keys.iter().any(|k| k.contains("dst")),
                "summary keys {keys:?}\n{d}"
            );
            if json {
                assert!(
                    out.header.get("netns").is_none(),
                    "netns in the header\n{d}"
                );
            } else {
                assert!(!out.header.to_string().contains("netns="), "\n{d}");
            }
        }
    });
}

/// Samples the namespace at `path` from the calling thread with `flag arg` (`--netns`/`--pid`),
/// in CSV without `--dst` and in JSON with it; checks the header names `path` and the range
/// `lo-hi`, the twelve columns and the worst destination.
fn sample_other(flag: &str, arg: &str, path: &str, range: &str, c: [u64; 11], w: &Worst) {
    sample_other_with(conntrend, flag, arg, path, range, c, w);
}

/// [`sample_other`] with conntrend started by `cmd`.
fn sample_other_with(
    cmd: impl Fn() -> Command,
    flag: &str,
    arg: &str,
    path: &str,
    range: &str,
    c: [u64; 11],
    w: &Worst,
) {
    let (out, d) = ct(cmd(), &["-c", "1", flag, arg], false);
    let source = crate::util::auto_source();
    let head = format!("# conntrend 0.1.0  sampling=5s  count=1  netns={path}{source}");
    assert_eq!(out.header, format!("{head}  range_init={range}"), "\n{d}");
    assert_eq!(out.columns, COLUMNS, "\n{d}");
    assert_eq!(
        counts(&out),
        want_counts(c),
        "left conntrend, right the namespace's mix\n{d}"
    );
    let (out, d) = ct(cmd(), &["-c", "1", "--dst", flag, arg], true);
    assert_eq!(out.header["netns"], path, "\n{d}");
    assert_eq!(out.header["range_init"], range, "\n{d}");
    assert_eq!(
        counts(&out),
        want_counts(c),
        "left conntrend, right the namespace's mix\n{d}"
    );
    check_dst(&out, std::slice::from_ref(w), &d);
}

#[test]
fn netns_path_samples_that_namespace_from_outside() {
    let parked = park_netns(|ns, park| {
        Pool::new(41000, 41099, "41050-41059").apply(ns);
        let mut m = Mix::new(ns);
        m.listen(false, 41001)
            .estab(false, 41020, 41001)
            .time_wait(false, 41021, 41001)
            .fin_wait2(false, 41022, 41001)
            .bound(false, 41030)
            .udp(false, 41040, None, false)
            .syn_sent(false, 41023, 41001); // last: its SYNs to 41001 are dropped from now on
        m.settle();
        park(());
    });
    // tcp_used: 41001, 41020-41023, 41030; estab: both sides of 41020; the server of 41022 is in
    // CLOSE_WAIT. Destinations: 127.0.0.1:41001 from 41020-41023 (ESTABLISHED, TIME_WAIT,
    // FIN_WAIT2, SYN_SENT all count), and 127.0.0.1:41020 and :41022 from the server sockets on
    // 41001 (a pool port), 1 port each. free: 90 - |{41020..=41023} ∪ {41001, 41030}| = 84.
    let c = [90, 7, 83, 1, 6, 1, 2, 1, 1, 0, 1];
    let w = Some(("127.0.0.1:41001".to_string(), 4, 84));
    let path = parked.path.clone();
    sample_other("--netns", &path, &path, "41000-41099", c, &w);
}

/// A conntrend child that sees `/run/netns/NAME` as the namespace at `target`, in a private
/// mount namespace with its own tmpfs on /run: the host's /run is never touched.
fn with_named_netns(name: &str, target: &str) -> Command {
    let script = "mount -t tmpfs tmpfs /run && mkdir /run/netns && touch \"/run/netns/$1\" \
                  && mount --bind \"$2\" \"/run/netns/$1\" && shift 2 && exec \"$@\"";
    let mut c = Command::new("unshare");
    c.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        "sh",
    ])
    .args([name, target, env!("CARGO_BIN_EXE_conntrend")]);
    c
}

#[test]
fn netns_name_is_looked_up_under_run_netns() {
    let parked = park_netns(|ns, park| {
        Pool::new(42000, 42099, "42090-42099").apply(ns);
        let l = sock(Type::STREAM, sa("127.0.0.1:42001"));
        l.listen(16).expect("listen");
        let c = sock(Type::STREAM, sa("127.0.0.1:42010"));
        c.connect(&sa("127.0.0.1:42001").into()).expect("connect");
        let (s, _) = l.accept().expect("accept");
        let b = sock(Type::STREAM, sa("127.0.0.1:42002"));
        let u = sock(Type::DGRAM, sa("127.0.0.1:42003"));
        let held = vec![l, c, s, b, u];
        park(());
        drop(held);
    });
    let name = format!("conntrend-test-{}", std::process::id());
    let path = format!("/run/netns/{name}");
    // tcp_used 42001, 42002, 42010; estab 2. Destinations 127.0.0.1:42001 (port 42010) and
    // 127.0.0.1:42010 (port 42001), one port each; free 90 - |{42010} ∪ {42001, 42002}| = 87
    // against 90 - |{42001, 42002}| = 88: the tie goes to 127.0.0.1:42001.
    let c = [90, 4, 86, 1, 3, 0, 2, 0, 0, 0, 0];
    let w = Some(("127.0.0.1:42001".to_string(), 1, 87));
    let cmd = || with_named_netns(&name, &parked.path);
    sample_other_with(cmd, "--netns", &name, &path, "42000-42099", c, &w);
    assert!(
        !std::path::Path::new(&path).exists(),
        "the host's /run/netns was left alone"
    );
}

#[test]
fn pid_samples_that_process_namespace() {
    let parked = park_netns(|ns, park| {
        Pool::new(43000, 43099, "43090-43099").apply(ns);
        let mut m = Mix::new(ns);
        m.listen(false, 43001).udp(false, 43002, None, false);
        m.settle();
        let mut child = ns.spawn(Command::new("sleep").arg("30"));
        park(child.id());
        let _ = child.kill();
        let _ = child.wait();
    });
    let pid = parked.info.to_string();
    let path = format!("/proc/{pid}/ns/net");
    let c = [90, 2, 88, 1, 1, 0, 0, 0, 0, 0, 0];
    sample_other("--pid", &pid, &path, "43000-43099", c, &None);
}

#[test]
fn netns_and_pid_bad_input_exits_2_naming_the_flag() {
    let me = std::process::id().to_string();
    let cases: [(&[&str], &[&str]); 6] = [
        (&["--netns", "no-such-ns-xyz"], &["--netns"]),
        (&["--netns", "/nonexistent/ns/net"], &["--netns"]),
        (&["--pid", "999999999"], &["--pid"]),
        (&["--pid", "abc"], &["--pid"]),
        (
            &["--netns", "/proc/self/ns/net", "--pid", &me],
            &["--netns", "--pid"],
        ),
        (
            &["--pid", &me, "--netns", "/proc/self/ns/net"],
            &["--netns", "--pid"],
        ),
    ];
    let dir = std::env::temp_dir().join(format!("conntrend-dst-{me}"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (i, (bad, names)) in cases.into_iter().enumerate() {
        let out = dir.join(format!("out{i}.csv"));
        let mut cmd = conntrend();
        cmd.args(["-c", "1", "-o", out.to_str().unwrap()]).args(bad);
        let r = run(cmd);
        let d = r.describe();
        r.expect_code(2);
        let err = r.stderr();
        let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        assert!(
            names.iter().any(|n| first.contains(n)),
            "1st line lacks {names:?}\n{d}"
        );
        assert!(!err.contains("panicked") && r.stdout().is_empty(), "\n{d}");
        assert!(!out.exists(), "-o file created for {bad:?}\n{d}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
