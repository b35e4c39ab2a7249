//! Issue 17's edges: a capture that ends part-way through a record (a file still being written, a
//! truncated file, a writer on standard input that dies), timestamps that go backwards, `-s`
//! beyond what nanoseconds hold, and a stop signal during a filter compilation that takes long.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use conntrend::api::rtt::{ACK, SYN, frame};
use serde_json::{Value, json};

use super::{MS, Pkt, expected, pcap, pcapng, rtt_json, scenario, seg, without_wire};
use crate::util::{Run, conntrend, run};

const A: (&str, u16) = ("10.0.0.1", 40000);
const B: (&str, u16) = ("10.0.0.2", 80);

/// Where record `k` (from 0) of `pcap(pkts, _)` starts.
fn pcap_record_at(pkts: &[Pkt], k: usize) -> usize {
    24 + pkts[..k]
        .iter()
        .map(|p| 16 + frame(&p.seg).len())
        .sum::<usize>()
}

/// Where block `k` (from 0) of `pcapng(pkts)`'s packet blocks starts.
fn pcapng_block_at(pkts: &[Pkt], k: usize) -> usize {
    // Section header 28 bytes, interface description 32 bytes; each enhanced packet block 32
    // bytes and the data padded to 4.
    60 + pkts[..k]
        .iter()
        .map(|p| 32 + frame(&p.seg).len().next_multiple_of(4))
        .sum::<usize>()
}

/// The JSON lines and summary of a run that failed part-way through (exit 1, the message on
/// stderr naming the read error).
fn cut_short(r: &Run) -> (Vec<Value>, Value) {
    r.expect_code(1);
    assert!(
        r.stderr().contains("cannot read packets"),
        "the read error is told: {}",
        r.describe()
    );
    let mut all: Vec<Value> = r
        .stdout()
        .lines()
        .map(|l| {
            without_wire(
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{}", r.describe())),
            )
        })
        .collect();
    let summary = all
        .pop()
        .unwrap_or_else(|| panic!("no output\n{}", r.describe()));
    assert!(summary["flows"].is_array(), "{}", r.describe());
    (all, summary)
}

/// The first 10 packets of the scenario (0..=53 ms) give its first 9 lines.
fn check_first_ten(r: &Run) {
    let (lines, summary) = cut_short(r);
    assert_eq!(
        lines,
        expected("10.0.0.1:40000", "10.0.0.2:80")[..9],
        "{}",
        r.describe()
    );
    assert_eq!(summary["flows"][0]["packets"], 10, "{}", r.describe());
    assert_eq!(summary["flows"][0]["dupacks"], 3, "{}", r.describe());
}

/// A capture cut in the middle of its 11th record (pcap and pcapng, cut in the header and in the
/// data): the 10 packets before the cut give their lines and the summary, then exit 1 with the
/// read error — as tcpdump prints the packets before the same error.
#[test]
fn a_capture_cut_part_way_through_a_record_keeps_what_came_before() {
    let dir = tempfile::tempdir().unwrap();
    let pkts = scenario(A, B);
    let classic = pcap(&pkts, false);
    let ng = pcapng(&pkts);
    let at = pcap_record_at(&pkts, 10);
    let ng_at = pcapng_block_at(&pkts, 10);
    for (name, bytes) in [
        ("data.pcap", &classic[..at + 16 + 30]),
        ("header.pcap", &classic[..at + 7]),
        ("data.pcapng", &ng[..ng_at + 40]),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        let mut cmd = conntrend();
        cmd.args(["rtt", "--json", "-r"]).arg(&file);
        check_first_ten(&run(cmd));
        // The table flushes its lines and the summary table too.
        let mut cmd = conntrend();
        cmd.args(["rtt", "--table", "-r"]).arg(&file);
        let r = run(cmd);
        r.expect_code(1);
        let out = r.stdout();
        assert!(out.starts_with("TIME "), "{}", r.describe());
        assert_eq!(
            out.lines().filter(|l| l.starts_with("1700000000.")).count(),
            9,
            "{}",
            r.describe()
        );
        assert!(
            out.lines()
                .any(|l| l.starts_with("# 10.0.0.1:40000+10.0.0.2:80 ")),
            "{}",
            r.describe()
        );
    }
}

/// `-r -` whose writer is killed part-way through a record: the same.
#[test]
fn standard_input_whose_writer_dies_mid_record_keeps_what_came_before() {
    let dir = tempfile::tempdir().unwrap();
    let pkts = scenario(A, B);
    let file = dir.path().join("whole.pcap");
    std::fs::write(&file, pcap(&pkts, false)).unwrap();
    let cut = pcap_record_at(&pkts, 10) + 16 + 30;
    let mut writer = Command::new("sh")
        .arg("-c")
        .arg(format!("head -c {cut} '{}'; kill -KILL $$", file.display()))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut cmd = conntrend();
    cmd.args(["rtt", "--json", "-r", "-"])
        .stdin(writer.stdout.take().unwrap());
    let r = run(cmd);
    let status = writer.wait().unwrap();
    assert_eq!(status.code(), None, "the writer was killed");
    check_first_ten(&r);
}

/// Timestamps going backwards (merged captures, a clock stepped back): a negative difference is
/// no RTT, no duplicate-ACK time, and counts as a reordering; the three formats agree.
#[test]
fn backward_timestamps_are_reordering_not_negative_rtts() {
    let p = |at_ms: u64, from_a, seq, ack, flags, len, ts| Pkt {
        at_ns: at_ms * MS,
        seg: seg(A, B, from_a, seq, ack, flags, len, Some(ts)),
    };
    let pkts = vec![
        p(0, true, 999, 0, SYN, 0, (1000, 0)),
        p(10, false, 4999, 1000, SYN | ACK, 0, (5000, 1000)),
        p(20, true, 1000, 5000, ACK, 0, (1001, 5000)),
        p(10_000, true, 1000, 5000, ACK, 100, (1002, 5000)),
        p(10_001, true, 1100, 5000, ACK, 100, (1003, 5000)),
        // Stamped 4.99 s before the data it acknowledges and echoes.
        p(5_010, false, 5000, 1100, ACK, 0, (5001, 1002)),
        // A duplicate of that ACK, stamped 5 ms before it.
        p(5_005, false, 5000, 1100, ACK, 0, (5001, 1002)),
        p(10_030, false, 5000, 1200, ACK, 0, (5002, 1003)),
    ];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backwards.pcap");
    std::fs::write(&file, pcap(&pkts, true)).unwrap();
    let (lines, summary) = rtt_json(&file, &[]);
    let (ab, ba) = ("10.0.0.1:40000+10.0.0.2:80", "10.0.0.2:80+10.0.0.1:40000");
    let got: Vec<(f64, Value, Value, Value, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["time"].as_f64().unwrap(),
                l["ts_rtt"].clone(),
                l["seq_rtt"].clone(),
                l["dupack"].clone(),
                l["flow"].as_str().unwrap(),
            )
        })
        .collect();
    let n = Value::Null;
    assert_eq!(
        got,
        [
            (1_700_000_000.01, json!(0.01), json!(0.01), n.clone(), ba),
            (1_700_000_000.02, json!(0.01), json!(0.01), n.clone(), ab),
            (1_700_000_010.0, n.clone(), n.clone(), n.clone(), ab),
            (1_700_000_010.001, n.clone(), n.clone(), n.clone(), ab),
            (1_700_000_010.03, json!(0.029), json!(0.029), n.clone(), ba),
        ]
    );
    let f = &summary["flows"][0];
    assert_eq!(
        (
            &f["samples"],
            &f["min_rtt"],
            &f["max_rtt"],
            &f["reorders"],
            &f["dupacks"]
        ),
        (&json!(6), &json!(0.01), &json!(0.029), &json!(2), &json!(0)),
        "{summary}"
    );
    // --csv and the table: no negative time anywhere, the same reorders.
    let mut cmd = conntrend();
    cmd.args(["rtt", "--csv", "-r"]).arg(&file);
    let m = run(cmd);
    m.expect_code(0);
    let rows: Vec<String> = m
        .stdout()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(String::from)
        .collect();
    assert_eq!(rows.len(), 5, "{}", m.describe());
    for row in &rows {
        let fields: Vec<&str> = row.split(',').collect();
        for k in [1, 2, 4] {
            assert!(!fields[k].starts_with('-'), "{}", m.describe());
        }
    }
    let mut cmd = conntrend();
    cmd.args(["rtt", "--table", "-r"]).arg(&file);
    let h = run(cmd);
    h.expect_code(0);
    let out = h.stdout();
    let row = out
        .lines()
        .find(|l| l.starts_with("# 10.0.0.1:40000+"))
        .unwrap_or_else(|| panic!("{}", h.describe()));
    let cells: Vec<&str> = row.split_whitespace().collect();
    // # FLOW PACKETS BYTES SAMPLES MIN_MS MEDIAN_MS P95_MS MAX_MS HOLES REORD DUPS
    assert_eq!(
        cells[2..],
        [
            "8", "200", "6", "10.000", "10.000", "29.000", "29.000", "0", "2", "0"
        ],
        "{}",
        h.describe()
    );
    assert!(!out.contains(" 0.000ms"), "{}", h.describe());
}

/// `-s` with more seconds than an i64 of nanoseconds holds reads the whole file.
#[test]
fn a_huge_seconds_limit_reads_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("v4.pcap");
    std::fs::write(&file, pcap(&scenario(A, B), false)).unwrap();
    for s in ["9223372036", "9223372037", "18446744073709551615"] {
        let (lines, summary) = rtt_json(&file, &["-s", s]);
        assert_eq!(lines.len(), 17, "-s {s}");
        assert_eq!(summary["flows"][0]["packets"], 18, "-s {s}");
    }
}

/// A filter libpcap takes tens of seconds to compile (800 hosts or'ed: its optimiser is
/// superlinear): SIGTERM half a second in ends the run at once, quietly (exit 0, no output).
#[test]
fn a_stop_signal_ends_a_long_filter_compilation() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("one.pcap");
    std::fs::write(&file, pcap(&scenario(A, B)[..1], false)).unwrap();
    let filter: Vec<String> = (0..800)
        .map(|i| format!("host 10.{}.{}.{}", i / 65536, i / 256 % 256, i % 256))
        .collect();
    let mut cmd = conntrend();
    cmd.args(["rtt", "-m", "-f", &filter.join(" or "), "-r"])
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "still compiling after 0.5 s (a filter big enough to test with)"
    );
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let signalled = Instant::now();
    let ended = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if signalled.elapsed() > Duration::from_secs(5) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if ended.is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    let status = ended.unwrap_or_else(|| {
        panic!(
            "SIGTERM did not end the filter compilation within 5 s: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
