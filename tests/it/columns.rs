//! Every column, exactly: a known socket mix is held in a private namespace with a small port pool
//! (40000-40099, 40010-40019 reserved: 90 ports), and each CSV/JSON field must equal what follows
//! from the mix record. A separate test checks the record against `ss` at the moment of sampling.

use std::time::SystemTime;

use crate::netns::mix::Mix;
use crate::netns::{NetNs, Pool, Proto, Sock, State, with_netns};
use crate::util::{COLUMNS, Row, conntrend, parse_csv, parse_json};

const LO: u16 = 40000;
const HI: u16 = 40099;
const RESERVED: &str = "40010-40019";

/// The twelve columns (epoch_ms aside) that follow from `socks` under `pool` when sampling `proto`
/// ("all", "tcp" or "udp").
fn expected(socks: &[Sock], pool: &Pool, proto: &str) -> Row {
    let ports = |p: Proto| -> std::collections::BTreeSet<u16> {
        socks
            .iter()
            .filter(|s| s.proto == p && pool.contains(s.port))
            .map(|s| s.port)
            .collect()
    };
    let (tcp, udp) = (ports(Proto::Tcp), ports(Proto::Udp));
    let (want_tcp, want_udp) = (proto != "udp", proto != "tcp");
    let mut used = std::collections::BTreeSet::<u16>::new();
    if want_tcp {
        used.extend(&tcp);
    }
    if want_udp {
        used.extend(&udp);
    }
    let count = |states: &[State]| -> Option<u64> {
        want_tcp.then(|| {
            socks
                .iter()
                .filter(|s| s.proto == Proto::Tcp && states.contains(&s.state))
                .count() as u64
        })
    };
    let total = pool.total();
    let used = used.len() as u64;
    let mut row = Row::new();
    let mut put = |k: &str, v: Option<u64>| {
        row.insert(k.to_string(), v);
    };
    put("total_port", Some(total));
    put("used", Some(used));
    put("free", Some(total.saturating_sub(used)));
    put("udp_used", want_udp.then_some(udp.len() as u64));
    put("tcp_used", want_tcp.then_some(tcp.len() as u64));
    put("time_wait", count(&[State::TimeWait]));
    put("estab", count(&[State::Estab]));
    put("syn", count(&[State::SynSent, State::SynRecv]));
    put("close_wait", count(&[State::CloseWait]));
    put("last_ack", count(&[State::LastAck]));
    put("fin_wait", count(&[State::FinWait1, State::FinWait2]));
    row
}

/// The standard mix: every counted state on v4 and v6, plus the port-accounting corner cases.
fn build_mix(ns: &NetNs) -> Mix<'_> {
    let mut m = Mix::new(ns);
    for v6 in [false, true] {
        // One TCP port (40001) held by a v4 and a v6 listener, many accepted sockets, and UDP.
        m.listen(v6, 40001).listen(v6, 45000); // 45000: outside the pool
    }
    m.estab(false, 40020, 40001) // 40020: first port above the reserved block
        .estab(false, 40021, 40001)
        .estab(true, 40022, 40001)
        .estab(false, 40012, 45000) // client on a reserved port, server outside the pool
        .estab(true, 45001, 45000) // both ends outside the pool
        .estab(true, 39999, 40001) // client just below the range
        .estab(false, 40100, 40001) // client just above the range
        .time_wait(false, 40023, 40001)
        .time_wait(true, 40024, 40001)
        .time_wait(false, 45002, 45000) // TIME_WAIT outside the pool
        .syn_sent(false, 40025, 45090)
        .syn_sent(true, 40026, 45090)
        .syn_recv(false, 40027, 40002)
        .syn_recv(true, 40028, 40003)
        .fin_wait1(false, 40029, 40001)
        .fin_wait1(true, 40030, 40001)
        .fin_wait2(false, 40031, 40001)
        .fin_wait2(true, 40032, 40001)
        .last_ack(false, 40033, 40001)
        .last_ack(true, 40034, 40001)
        .bound(false, 40035)
        .bound(true, 40036)
        .bound(false, 40099) // top of the range
        .listen(false, 40010) // reserved
        .reuseport_listeners(false, 40040, 2)
        .udp(false, 40000, None, false) // bottom of the range
        .udp(false, 40001, None, false) // same port as TCP listeners
        .udp(false, 40037, None, false)
        .udp(false, 40038, Some(40037), false)
        .udp(true, 40039, None, false)
        .udp(true, 40041, Some(40039), false)
        .udp(false, 40042, None, true) // two SO_REUSEPORT sockets on one port
        .udp(false, 40042, None, true)
        .udp(false, 40011, None, false) // reserved
        .udp(true, 40019, None, false) // reserved, top of the block
        .udp(false, 40009, None, false) // just below the reserved block
        .udp(false, 45003, None, false); // outside the pool
    m.settle();
    m
}

fn now_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap();
    since.as_millis() as u64
}

/// Sets the standard pool and holds the standard mix.
fn standard(ns: &NetNs) -> (Pool, Mix<'_>) {
    let pool = Pool::new(LO, HI, RESERVED);
    pool.apply(ns);
    (pool, build_mix(ns))
}

/// What the summary must say about `want` (the expected samples), apart from the times.
fn summary_of(want: &[Row]) -> Row {
    let col = |k: &'static str| want.iter().filter_map(move |r| r[k]);
    let mut s = Row::new();
    s.insert("samples".into(), Some(want.len() as u64));
    s.insert("peak_used".into(), col("used").max());
    s.insert("peak_time_wait".into(), col("time_wait").max());
    s.insert("min_free".into(), col("free").min());
    s.insert("min_total_port".into(), col("total_port").min());
    s.insert("max_total_port".into(), col("total_port").max());
    s
}

/// Asserts samples and summary of one run, field by field, against the expected rows. Times must lie
/// within the wall-clock window [before, after] the run was observed in.
/// `elapsed`: the expected `elapsed_sec` of a duration-bound run; `None` for a count-bound run,
/// whose length depends on how fast the machine is: then it must agree with start_ms..end_ms.
fn check(
    got: &[Row],
    summary: &Row,
    want: &[Row],
    window: (u64, u64),
    elapsed: Option<u64>,
    what: &str,
) {
    assert_eq!(got.len(), want.len(), "{what}: number of samples: {got:#?}");
    let mut last = window.0;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let epoch = g["epoch_ms"].unwrap_or_else(|| panic!("{what}: sample {i} has no epoch_ms"));
        assert!(
            (last..=window.1).contains(&epoch),
            "{what}: sample {i} epoch_ms {epoch} outside {last}..={}",
            window.1
        );
        last = epoch;
        let mut g = g.clone();
        g.remove("epoch_ms");
        assert_eq!(
            &g, w,
            "{what}: sample {i} (left: conntrend, right: expected from the mix)"
        );
    }
    let mut s = summary.clone();
    let (start, end) = (s.remove("start_ms").flatten(), s.remove("end_ms").flatten());
    let (start, end) = (
        start.expect("summary start_ms"),
        end.expect("summary end_ms"),
    );
    assert!(
        window.0 <= start && start <= end && end <= window.1,
        "{what}: summary times {start}..{end} outside {window:?}"
    );
    let first = got.first().and_then(|r| r["epoch_ms"]).unwrap();
    assert!(
        start <= first,
        "{what}: first sample ({first}) before start_ms ({start})"
    );
    let elapsed = elapsed.unwrap_or_else(|| {
        let got = s["elapsed_sec"].expect("summary elapsed_sec");
        let wall_ms = end - start;
        assert!(
            (got * 1000).abs_diff(wall_ms) <= 501,
            "{what}: elapsed_sec={got} but start_ms..end_ms spans {wall_ms} ms"
        );
        got
    });
    let mut expect = summary_of(want);
    expect.insert("elapsed_sec".into(), Some(elapsed));
    assert_eq!(
        s, expect,
        "{what}: summary (left: conntrend, right: expected)"
    );
}

/// `conntrend -c 1 <args>` in this namespace, checked in CSV and in JSON against `want`.
fn snapshot_both(ns: &NetNs, args: &[&str], protocol: &str, want: &Row) {
    // Header fields other than range_init belong to cli.rs; here: the namespace's range.
    let head = "# conntrend 0.1.0  sampling=5s  count=1  ";
    let tail = format!("  range_init={LO}-{HI}");
    for json in [false, true] {
        let mut cmd = conntrend();
        cmd.args(["-c", "1"]).args(args);
        if json {
            cmd.args(["--format", "json"]);
        }
        let before = now_ms();
        let run = ns.run(cmd);
        let window = (before, now_ms());
        run.expect_code(0);
        let what = run.describe();
        let (samples, summary) = if json {
            let j = parse_json(&run.stdout());
            let h = &j.header;
            assert_eq!(h["range_init"], format!("{LO}-{HI}"), "{what}");
            assert_eq!(h["protocol"], protocol, "{what}");
            assert_eq!(h["count"], 1, "{what}");
            assert_eq!(h["columns"], serde_json::json!(COLUMNS), "{what}");
            (j.samples, j.summary)
        } else {
            let c = parse_csv(&run.stdout());
            let header = c.header.as_str().unwrap();
            assert!(
                header.starts_with(head) && header.ends_with(&tail),
                "{what}"
            );
            assert_eq!(c.columns, COLUMNS, "{what}");
            (c.samples, c.summary)
        };
        check(
            &samples,
            &summary,
            std::slice::from_ref(want),
            window,
            None,
            &what,
        );
    }
}

#[test]
fn standard_mix_expectation_matches_hand_count() {
    // Guards the calculator: counted by hand from build_mix's comments.
    with_netns(|ns| {
        let (pool, m) = standard(ns);
        let want = expected(&m.socks, &pool, "all");
        // tcp_used: 40001-40003, 40020-40036, 40040, 40099 = 22; udp_used: 40000, 40001, 40009,
        // 40037, 40038, 40039, 40041, 40042 = 8; used = 22 + 8 - 1 (40001 is both) = 29.
        // estab: 7 pairs (14) + 2 SYN_RECV clients + 2 servers of FIN_WAIT1 clients = 18;
        // syn: 2 SYN_SENT + 2 SYN_RECV; fin_wait: 2 FIN_WAIT1 + 4 FIN_WAIT2 (2 of them facing
        // LAST_ACK); time_wait: 3, one of them (45002) outside the pool.
        let hand = [
            ("total_port", 90),
            ("used", 29),
            ("free", 61),
            ("udp_used", 8),
            ("tcp_used", 22),
            ("time_wait", 3),
            ("estab", 18),
            ("syn", 4),
            ("close_wait", 2),
            ("last_ack", 2),
            ("fin_wait", 6),
        ];
        let hand: Row = hand
            .iter()
            .map(|(k, v)| (k.to_string(), Some(*v)))
            .collect();
        assert_eq!(want, hand);
    });
}

#[test]
fn mix_matches_ss_and_conntrend_at_the_same_moment() {
    with_netns(|ns| {
        let (pool, m) = standard(ns);
        let before = ns.ss_socks();
        let mut cmd = conntrend();
        cmd.args(["-c", "1"]);
        let run = ns.run(cmd);
        let after = ns.ss_socks();
        assert_eq!(before, after, "the mix moved while conntrend sampled it");
        assert_eq!(
            before,
            m.visible_to_ss(),
            "ss disagrees with the mix record"
        );
        // ss (iproute2 6.1) cannot list bound-only TCP sockets: take those from the record.
        let mut seen = before;
        seen.extend(m.socks.iter().filter(|s| s.state == State::Bound));
        let want = expected(&seen, &pool, "all");
        assert_eq!(want, expected(&m.socks, &pool, "all"));
        run.expect_code(0);
        let csv = parse_csv(&run.stdout());
        let mut got = csv.samples.first().cloned().unwrap_or_default();
        got.remove("epoch_ms");
        assert_eq!(
            got,
            want,
            "conntrend (left) vs ss (right)\n{}\n{}",
            run.describe(),
            ns.ss_text()
        );
    });
}

#[test]
fn every_column_exact_csv_and_json() {
    with_netns(|ns| {
        let (pool, m) = standard(ns);
        snapshot_both(ns, &[], "all", &expected(&m.socks, &pool, "all"));
        snapshot_both(ns, &["-p", "all"], "all", &expected(&m.socks, &pool, "all"));
    });
}

#[test]
fn tcp_only_leaves_udp_empty_and_counts_tcp_ports() {
    with_netns(|ns| {
        let (pool, m) = standard(ns);
        let want = expected(&m.socks, &pool, "tcp");
        assert_eq!((want["used"], want["udp_used"]), (want["tcp_used"], None));
        snapshot_both(ns, &["-p", "tcp"], "tcp", &want);
    });
}

#[test]
fn udp_only_leaves_tcp_empty_and_counts_udp_ports() {
    with_netns(|ns| {
        let (pool, m) = standard(ns);
        let want = expected(&m.socks, &pool, "udp");
        assert_eq!(
            (want["used"], want["tcp_used"], want["estab"]),
            (want["udp_used"], None, None)
        );
        snapshot_both(ns, &["-p", "udp"], "udp", &want);
    });
}

#[test]
fn empty_namespace_default_range_counts_nothing() {
    // A fresh namespace: default range 32768-60999, nothing reserved, no sockets, and nothing from
    // the host's namespace may leak in.
    with_netns(|ns| {
        assert_eq!(ns.sysctl("ip_local_port_range"), "32768\t60999");
        let mut cmd = conntrend();
        cmd.args(["-c", "1", "--format", "json"]);
        let run = ns.run(cmd);
        run.expect_code(0);
        let j = parse_json(&run.stdout());
        assert_eq!(j.header["range_init"], "32768-60999", "{}", run.describe());
        let mut row = j.samples.first().cloned().unwrap_or_default();
        row.remove("epoch_ms");
        let want = expected(&[], &Pool::new(32768, 60999, ""), "all");
        assert_eq!(want["total_port"], Some(28232));
        assert_eq!(row, want, "{}", run.describe());
    });
}

#[test]
fn range_change_mid_run_shows_in_samples_and_summary() {
    with_netns(|ns| {
        let (pool, m) = standard(ns);
        let narrow = Pool::new(LO, 40049, RESERVED);
        let mut cmd = conntrend();
        cmd.args(["-i", "1", "-d", "3"]);
        let before = now_ms();
        let run = ns.run_changing(cmd, || narrow.apply(ns));
        let (window, text) = ((before, now_ms()), run.expect_code(0).describe());
        let csv = parse_csv(&run.stdout());
        assert_eq!(
            csv.header,
            format!(
                "# conntrend 0.1.0  sampling=1s  duration=3s{}  range_init={LO}-{HI}",
                crate::util::auto_source()
            )
        );
        let (old, new) = (
            expected(&m.socks, &pool, "all"),
            expected(&m.socks, &narrow, "all"),
        );
        assert_eq!((old["total_port"], new["total_port"]), (Some(90), Some(40)));
        check(
            &csv.samples,
            &csv.summary,
            &[old, new.clone(), new],
            window,
            Some(3),
            &text,
        );
    });
}

#[test]
fn reserved_change_mid_run_shows_in_samples_and_summary() {
    with_netns(|ns| {
        let (pool, m) = standard(ns);
        let wider = Pool::new(LO, HI, "40010-40029");
        let mut cmd = conntrend();
        cmd.args(["-i", "1", "-d", "3", "--format", "json"]);
        let before = now_ms();
        let run = ns.run_changing(cmd, || wider.apply(ns));
        let (window, text) = ((before, now_ms()), run.expect_code(0).describe());
        let j = parse_json(&run.stdout());
        assert_eq!(j.header["range_init"], format!("{LO}-{HI}"));
        let (old, new) = (
            expected(&m.socks, &pool, "all"),
            expected(&m.socks, &wider, "all"),
        );
        assert_eq!((old["total_port"], new["total_port"]), (Some(90), Some(80)));
        check(
            &j.samples,
            &j.summary,
            &[old, new.clone(), new],
            window,
            Some(3),
            &text,
        );
    });
}
