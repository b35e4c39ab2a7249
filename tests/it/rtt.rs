//! `conntrend rtt` on synthetic captures the test writes (classic pcap with µs and pcapng with ns
//! timestamps, IPv4 and IPv6) whose answers are known exactly: every field of the lines that
//! matter, and the per-flow summary. Then a live capture on `lo` in a private namespace, checked
//! against `conntrend conns`' rtt for the same connection. [`golden`]: real captures (tcpdump,
//! dumpcap) checked against tcpdump's own decoding; [`edges`]: truncated input, backward time,
//! huge limits and a stop during a long filter compilation.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use conntrend::api::rtt::{ACK, SYN, Segment, frame};
use serde_json::{Value, json};

use crate::netns::with_netns;
use crate::util::{conntrend, run};

mod connmon;
mod edges;
mod golden;

const T0: u64 = 1_700_000_000;
const MS: u64 = 1_000_000;

/// A packet at `at_ns` after T0.
struct Pkt {
    at_ns: u64,
    seg: Segment,
}

/// Classic pcap, Ethernet; `nano` picks the nanosecond magic, else microseconds.
fn pcap(pkts: &[Pkt], nano: bool) -> Vec<u8> {
    let mut f = Vec::new();
    let magic: u32 = if nano { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    f.extend_from_slice(&magic.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&1u32.to_le_bytes());
    for p in pkts {
        let data = frame(&p.seg);
        let frac = if nano {
            p.at_ns % 1_000_000_000
        } else {
            p.at_ns % 1_000_000_000 / 1000
        };
        f.extend_from_slice(&((T0 + p.at_ns / 1_000_000_000) as u32).to_le_bytes());
        f.extend_from_slice(&(frac as u32).to_le_bytes());
        f.extend_from_slice(&(data.len() as u32).to_le_bytes());
        f.extend_from_slice(&(data.len() as u32).to_le_bytes());
        f.extend_from_slice(&data);
    }
    f
}

/// pcapng: a section, one Ethernet interface with nanosecond timestamps, enhanced packet blocks.
fn pcapng(pkts: &[Pkt]) -> Vec<u8> {
    fn block(f: &mut Vec<u8>, kind: u32, body: &[u8]) {
        let len = (12 + body.len().next_multiple_of(4)) as u32;
        f.extend_from_slice(&kind.to_le_bytes());
        f.extend_from_slice(&len.to_le_bytes());
        f.extend_from_slice(body);
        f.resize(f.len() + body.len().next_multiple_of(4) - body.len(), 0);
        f.extend_from_slice(&len.to_le_bytes());
    }
    let mut f = Vec::new();
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    block(&mut f, 0x0a0d_0d0a, &shb);
    let mut idb = Vec::new();
    idb.extend_from_slice(&1u16.to_le_bytes());
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&65535u32.to_le_bytes());
    // if_tsresol = 9 (10^-9 s), then opt_endofopt.
    idb.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
    block(&mut f, 1, &idb);
    for p in pkts {
        let data = frame(&p.seg);
        let ts = T0 * 1_000_000_000 + p.at_ns;
        let mut epb = Vec::new();
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(ts as u32).to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(&data);
        block(&mut f, 6, &epb);
    }
    f
}

/// A segment of the flow `a` <-> `b` (`from_a` picks the direction).
#[allow(clippy::too_many_arguments)]
fn seg(
    a: (&str, u16),
    b: (&str, u16),
    from_a: bool,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: u32,
    ts: Option<(u32, u32)>,
) -> Segment {
    let ((src, sport), (dst, dport)) = if from_a { (a, b) } else { (b, a) };
    Segment {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        sport,
        dport,
        seq,
        ack,
        flags,
        window: 1000,
        payload,
        ts,
    }
}

/// The main scenario: handshake, a flight with a hole, three duplicate ACKs, a retransmission
/// that fills the hole, a retransmitted segment (no sequence sample), a reordered pair. Every
/// packet carries timestamps; TSval 1002 is sent twice (only the first sighting counts).
fn scenario(a: (&str, u16), b: (&str, u16)) -> Vec<Pkt> {
    let s = |at_ms: u64, from_a, seq, ack, flags, len, ts| Pkt {
        at_ns: at_ms * MS,
        seg: seg(a, b, from_a, seq, ack, flags, len, Some(ts)),
    };
    vec![
        s(0, true, 999, 0, SYN, 0, (1000, 0)),
        s(10, false, 4999, 1000, SYN | ACK, 0, (5000, 1000)),
        s(20, true, 1000, 5000, ACK, 0, (1001, 5000)),
        s(30, true, 1000, 5000, ACK, 100, (1002, 5000)),
        s(31, true, 1100, 5000, ACK, 100, (1002, 5000)),
        s(32, true, 1300, 5000, ACK, 100, (1003, 5000)),
        s(50, false, 5000, 1200, ACK, 0, (5001, 1002)),
        s(51, false, 5000, 1200, ACK, 0, (5001, 1002)),
        s(52, false, 5000, 1200, ACK, 0, (5001, 1002)),
        s(53, false, 5000, 1200, ACK, 0, (5001, 1002)),
        s(60, true, 1200, 5000, ACK, 100, (1004, 5001)),
        s(80, false, 5000, 1400, ACK, 0, (5002, 1004)),
        s(90, true, 1400, 5000, ACK, 100, (1005, 5002)),
        s(100, true, 1400, 5000, ACK, 100, (1006, 5002)),
        s(110, false, 5000, 1500, ACK, 0, (5003, 1005)),
        s(120, true, 1600, 5000, ACK, 100, (1007, 5003)),
        s(121, true, 1500, 5000, ACK, 100, (1007, 5003)),
        s(140, false, 5000, 1700, ACK, 0, (5004, 1007)),
    ]
}

/// `conntrend rtt -r FILE` with `args`, as JSON values (lines, then the summary object).
fn rtt_json(file: &Path, args: &[&str]) -> (Vec<Value>, Value) {
    let mut cmd = conntrend();
    cmd.args(["rtt", "--json", "-r"]).arg(file).args(args);
    let r = run(cmd);
    r.expect_code(0);
    let mut all: Vec<Value> = r
        .stdout()
        .lines()
        .map(|l| without_wire(serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))))
        .collect();
    let summary = all.pop().expect("a summary");
    assert!(summary["flows"].is_array(), "{}", r.describe());
    (all, summary)
}

/// A JSON line without its `flow_wire_bytes` (a number; tests/it/rtt/connmon.rs checks its value
/// against hand-derived header sizes), so the lines compare with [`expected`].
fn without_wire(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut()
        && let Some(w) = o.remove("flow_wire_bytes")
    {
        assert!(w.is_u64(), "{w}");
    }
    v
}

#[allow(clippy::too_many_arguments)]
fn line(
    at_ms: u64,
    ts: Value,
    seq: Value,
    diff: Value,
    dup: Value,
    bytes: u64,
    fb: u64,
    flow: &str,
) -> Value {
    let time = format!("{T0}.{:06}", at_ms * 1000).parse::<f64>().unwrap();
    json!({"time": time, "ts_rtt": ts, "seq_rtt": seq, "seq_diff": diff, "dupack": dup,
           "bytes": bytes, "flow_bytes": fb, "flow": flow})
}

/// The lines the scenario must give, in order (packets without anything to say give none).
fn expected(a: &str, b: &str) -> Vec<Value> {
    let n = Value::Null;
    let (ab, ba) = (format!("{a}+{b}"), format!("{b}+{a}"));
    vec![
        line(
            10,
            json!(0.01),
            json!(0.01),
            n.clone(),
            n.clone(),
            0,
            0,
            &ba,
        ),
        line(
            20,
            json!(0.01),
            json!(0.01),
            n.clone(),
            n.clone(),
            0,
            0,
            &ab,
        ),
        line(30, n.clone(), n.clone(), json!(0), n.clone(), 100, 100, &ab),
        line(31, n.clone(), n.clone(), json!(0), n.clone(), 100, 200, &ab),
        line(
            32,
            n.clone(),
            n.clone(),
            json!(100),
            n.clone(),
            100,
            300,
            &ab,
        ),
        // TSval 1002 first seen at 30 ms; the newest segment acked was sent at 31 ms.
        line(
            50,
            json!(0.02),
            json!(0.019),
            n.clone(),
            n.clone(),
            0,
            0,
            &ba,
        ),
        line(51, n.clone(), n.clone(), n.clone(), json!(0.001), 0, 0, &ba),
        line(52, n.clone(), n.clone(), n.clone(), json!(0.002), 0, 0, &ba),
        line(53, n.clone(), n.clone(), n.clone(), json!(0.003), 0, 0, &ba),
        // A's packets echo B's TSvals: the other half of the path (B's 5001 was seen at 50 ms).
        line(
            60,
            json!(0.01),
            n.clone(),
            json!(-200),
            n.clone(),
            100,
            400,
            &ab,
        ),
        line(
            80,
            json!(0.02),
            json!(0.048),
            n.clone(),
            n.clone(),
            0,
            0,
            &ba,
        ),
        line(
            90,
            json!(0.01),
            n.clone(),
            json!(0),
            n.clone(),
            100,
            500,
            &ab,
        ),
        line(
            100,
            n.clone(),
            n.clone(),
            json!(-100),
            n.clone(),
            100,
            600,
            &ab,
        ),
        // 1400..1500 was sent twice: no sequence sample (Karn); its TSval 1005 still gives one.
        line(110, json!(0.02), n.clone(), n.clone(), n.clone(), 0, 0, &ba),
        line(
            120,
            json!(0.01),
            n.clone(),
            json!(100),
            n.clone(),
            100,
            700,
            &ab,
        ),
        line(
            121,
            n.clone(),
            n.clone(),
            json!(-200),
            n.clone(),
            100,
            800,
            &ab,
        ),
        line(
            140,
            json!(0.02),
            json!(0.02),
            n.clone(),
            n.clone(),
            0,
            0,
            &ba,
        ),
    ]
}

fn summary_row(flow: &str) -> Value {
    json!({"flow": flow, "packets": 18, "bytes": 800, "samples": 14, "min_rtt": 0.01,
           "median_rtt": 0.01, "p95_rtt": 0.048, "max_rtt": 0.048, "holes": 2, "reorders": 3,
           "dupacks": 3})
}

#[test]
fn every_field_of_a_known_ipv4_capture_in_pcap() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (("10.0.0.1", 40000), ("10.0.0.2", 80));
    let file = dir.path().join("v4.pcap");
    std::fs::write(&file, pcap(&scenario(a, b), false)).unwrap();
    let (lines, summary) = rtt_json(&file, &[]);
    assert_eq!(lines, expected("10.0.0.1:40000", "10.0.0.2:80"));
    assert_eq!(
        summary,
        json!({"flows": [summary_row("10.0.0.1:40000+10.0.0.2:80")], "untracked_packets": 0})
    );
    // -Q keeps only the lines with an RTT; -c stops after that many packets.
    let (quick, _) = rtt_json(&file, &["-Q"]);
    let with_rtt: Vec<Value> = expected("10.0.0.1:40000", "10.0.0.2:80")
        .into_iter()
        .filter(|l| !l["ts_rtt"].is_null() || !l["seq_rtt"].is_null())
        .collect();
    assert_eq!(quick, with_rtt);
    let (first, s) = rtt_json(&file, &["-c", "3"]);
    assert_eq!(first.len(), 2);
    assert_eq!(s["flows"][0]["packets"], 3);
    // -s counts capture time: packets at 0..=49 ms are inside 1 s, so all are read; the
    // summary is the same.
    let (_, s) = rtt_json(&file, &["-s", "1"]);
    assert_eq!(s["flows"][0]["packets"], 18);
}

#[test]
fn every_field_of_a_known_ipv6_capture_in_pcapng_and_the_machine_format() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (("fd00::1", 40000), ("fd00::2", 443));
    let file = dir.path().join("v6.pcapng");
    std::fs::write(&file, pcapng(&scenario(a, b))).unwrap();
    let (lines, summary) = rtt_json(&file, &[]);
    assert_eq!(lines, expected("[fd00::1]:40000", "[fd00::2]:443"));
    assert_eq!(
        summary["flows"][0],
        summary_row("[fd00::1]:40000+[fd00::2]:443")
    );
    // The --csv contract (conntrend's -m before connmon's took the letter): eight
    // comma-separated fields, empty where there is no value; the summary as `# ` lines.
    let mut cmd = conntrend();
    cmd.args(["rtt", "--csv", "-r"]).arg(&file);
    let r = run(cmd);
    r.expect_code(0);
    let out = r.stdout();
    let rows: Vec<&str> = out.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(rows.len(), 17, "{out}");
    assert_eq!(
        rows[0],
        "1700000000.010000,0.010000,0.010000,,,0,0,[fd00::2]:443+[fd00::1]:40000"
    );
    assert_eq!(
        rows[4],
        "1700000000.032000,,,100,,100,300,[fd00::1]:40000+[fd00::2]:443"
    );
    assert_eq!(
        rows[6],
        "1700000000.051000,,,,0.001000,0,0,[fd00::2]:443+[fd00::1]:40000"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("# [fd00::1]:40000+[fd00::2]:443")),
        "{out}"
    );
    // Standard input works like a file.
    let mut cmd = conntrend();
    cmd.args(["rtt", "--csv", "-r", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(&file).unwrap())
        .unwrap();
    let piped = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8(piped.stdout).unwrap(), out);
}

#[test]
fn one_way_flows_timeouts_idle_flows_and_the_flow_limit() {
    let dir = tempfile::tempdir().unwrap();
    let one_way = (("10.0.1.1", 1000), ("10.0.1.2", 2000));
    let echoed_late = (("10.0.2.1", 1000), ("10.0.2.2", 2000));
    let third = (("10.0.3.1", 1000), ("10.0.3.2", 2000));
    let p = |at_ms: u64, f: ((&str, u16), (&str, u16)), from_a, seq, ack, len, ts| Pkt {
        at_ns: at_ms * MS,
        seg: seg(f.0, f.1, from_a, seq, ack, ACK, len, Some(ts)),
    };
    let pkts = vec![
        // Seen in one direction only: data lines, never an RTT.
        p(0, one_way, true, 1, 1, 100, (10, 0)),
        p(1, one_way, true, 101, 1, 100, (11, 0)),
        // TSval 20 is echoed after 2.5 s, beyond --ts-timeout 2: no timestamp RTT.
        p(2, echoed_late, true, 1, 1, 0, (20, 0)),
        p(2502, echoed_late, false, 1, 1, 0, (30, 20)),
        // The third flow exceeds --max-flows 2 until the one-way flow is forgotten
        // (--flow-idle 3: idle since 1 ms, forgotten by the sweep at 4.0 s).
        p(3000, third, true, 1, 1, 100, (40, 0)),
        p(4100, third, true, 101, 1, 100, (41, 0)),
    ];
    let file = dir.path().join("limits.pcap");
    std::fs::write(&file, pcap(&pkts, true)).unwrap();
    let args = ["--max-flows", "2", "--ts-timeout", "2", "--flow-idle", "3"];
    let (lines, summary) = rtt_json(&file, &args);
    let rtts: Vec<&Value> = lines
        .iter()
        .filter(|l| !l["ts_rtt"].is_null() || !l["seq_rtt"].is_null())
        .collect();
    assert!(rtts.is_empty(), "{rtts:?}");
    let flows: Vec<&str> = lines.iter().map(|l| l["flow"].as_str().unwrap()).collect();
    assert_eq!(
        flows,
        [
            "10.0.1.1:1000+10.0.1.2:2000",
            "10.0.1.1:1000+10.0.1.2:2000",
            "10.0.3.1:1000+10.0.3.2:2000"
        ]
    );
    assert_eq!(lines[1]["seq_diff"], 0);
    assert_eq!(
        lines[2]["flow_bytes"], 100,
        "the third flow's first packet was not followed"
    );
    assert_eq!(summary["untracked_packets"], 1);
    let names: Vec<&str> = summary["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["flow"].as_str().unwrap())
        .collect();
    assert_eq!(
        names.len(),
        3,
        "the forgotten flow keeps its summary: {summary}"
    );
    for f in summary["flows"].as_array().unwrap() {
        assert_eq!(f["samples"], 0);
        assert_eq!(f["p95_rtt"], Value::Null);
    }
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    for (args, says) in [
        (&["rtt"][..], "-i"),
        (&["rtt", "-i", "lo", "-r", "x.pcap"], "cannot be used with"),
        (&["rtt", "-r", "x.pcap", "-c", "0"], "at least 1"),
        (&["rtt", "-i", "lo", "-e"], "-r"),
    ] {
        let mut cmd = conntrend();
        cmd.args(args);
        let r = run(cmd);
        r.expect_code(2);
        assert!(r.stderr().contains(says), "{}", r.describe());
    }
    let mut cmd = conntrend();
    cmd.args(["rtt", "-r", "/nonexistent.pcap"]);
    let r = run(cmd);
    r.expect_code(1);
    assert!(r.stderr().contains("/nonexistent.pcap"), "{}", r.describe());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("empty.pcap");
    std::fs::write(&file, pcap(&[], false)).unwrap();
    let mut cmd = conntrend();
    cmd.args(["rtt", "-f", "tcp port", "-r"]).arg(&file);
    let r = run(cmd);
    r.expect_code(1);
    assert!(
        r.stderr().contains("-f: cannot compile the filter"),
        "{}",
        r.describe()
    );
}

/// A transfer on `lo` with timestamps on (Linux's default), captured live: RTT lines appear for
/// the flow, in the same range as the rtt `conntrend conns` reports for that connection.
#[test]
fn a_live_capture_on_loopback_agrees_with_conns() {
    with_netns(|_ns| {
        let mut cmd = conntrend();
        cmd.args([
            "rtt",
            "--json",
            "-Q",
            // All of it is to lo's own 127.0.0.1: hidden without -l, as connmon hides it.
            "-l",
            "-i",
            "lo",
            "-f",
            "tcp port 7300",
            "-s",
            "4",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let child = cmd.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(700));
        let l = TcpListener::bind("127.0.0.1:7300").unwrap();
        let mut c = TcpStream::connect("127.0.0.1:7300").unwrap();
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 4096];
        for _ in 0..20 {
            c.write_all(&[1u8; 1000]).unwrap();
            s.read_exact(&mut buf[..1000]).unwrap();
            s.write_all(&[2u8; 500]).unwrap();
            c.read_exact(&mut buf[..500]).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut conns = conntrend();
        conns.args(["conns", "-P", "-o", "rtt", "-F", "rport=7300"]);
        let conns_rtt: f64 = run(conns).stdout().trim().parse::<f64>().unwrap() / 1e6;
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // The server's packets echo the client's TSvals: the client's RTT, which is what the
        // kernel's smoothed rtt of the client socket (rport 7300) measures. (The client's echoes
        // of the server's TSvals wait for its next request: they include the 20 ms pauses.)
        let port = c.local_addr().unwrap().port();
        let flow = format!("127.0.0.1:7300+127.0.0.1:{port}");
        let ts: Vec<f64> = lines
            .iter()
            .filter(|l| l["flow"] == flow.as_str())
            .filter_map(|l| l["ts_rtt"].as_f64())
            .collect();
        assert!(ts.len() >= 10, "timestamp RTTs for {flow}: {text}");
        // Loopback RTTs are microseconds to a few milliseconds; the kernel's smoothed rtt is in
        // the same range (both under 50 ms, within a factor of 100 of each other's median).
        let mut sorted = ts.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        assert!(median > 0.0 && median < 0.05, "{median}");
        assert!(conns_rtt > 0.0 && conns_rtt < 0.05, "{conns_rtt}");
        let ratio = median.max(conns_rtt) / median.min(conns_rtt);
        assert!(
            ratio < 100.0,
            "capture median {median} s vs conns rtt {conns_rtt} s"
        );
        let summary = lines.last().unwrap();
        assert!(
            summary["flows"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["flow"].as_str().unwrap().contains(":7300"))
        );
    });
}

/// Without libpcap on the system (hidden here by a mount namespace) `rtt` says which package to
/// install and exits 1; the other modes do not need it at all.
#[test]
fn without_libpcap_rtt_names_the_package() {
    let ldconfig = ["/usr/sbin/ldconfig", "/sbin/ldconfig"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("ldconfig");
    let mut ldconfig = std::process::Command::new(ldconfig);
    ldconfig.arg("-p");
    let listed = run(ldconfig).stdout();
    let libs: Vec<&str> = listed
        .lines()
        .filter(|l| l.contains("libpcap.so"))
        .filter_map(|l| l.split("=> ").nth(1))
        .collect();
    assert!(
        !libs.is_empty(),
        "libpcap is installed for the tests (.ci/deps)"
    );
    let hide: String = libs
        .iter()
        .map(|l| format!("mount --bind /dev/null {l} && "))
        .collect();
    let bin = env!("CARGO_BIN_EXE_conntrend");
    let script = format!(
        "{hide}{bin} rtt -r /nonexistent.pcap; echo rc=$?; {bin} -c 1 >/dev/null && echo sample-ok"
    );
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(["--mount", "sh", "-c", &script]);
    let r = run(cmd);
    r.expect_code(0);
    assert_eq!(r.stdout(), "rc=1\nsample-ok\n", "{}", r.describe());
    assert!(
        r.stderr().contains("cannot load libpcap"),
        "{}",
        r.describe()
    );
    assert!(
        r.stderr().contains("apt-get install libpcap0.8"),
        "{}",
        r.describe()
    );
}

/// SIGINT and SIGTERM end a live capture with the summary (exit 0); `-e` replays a file at its
/// recorded pace (a capture spanning 1.5 s takes at least that long, and without `-e` it does not
/// wait).
#[test]
fn signals_end_with_the_summary_and_emulation_keeps_the_pace() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let out = with_netns(move |_ns| {
            let mut cmd = conntrend();
            cmd.args(["rtt", "--json", "-i", "lo"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let child = cmd.spawn().unwrap();
            std::thread::sleep(Duration::from_millis(500));
            // SAFETY: kill(2) on our own child's pid.
            assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
            child.wait_with_output().unwrap()
        });
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let last: Value = serde_json::from_str(text.lines().last().unwrap_or("{}")).unwrap();
        assert!(
            last["flows"].is_array(),
            "the summary after signal {sig}: {text}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (("10.0.0.1", 40000), ("10.0.0.2", 80));
    let pkts: Vec<Pkt> = (0..4)
        .map(|k| Pkt {
            at_ns: k * 500 * MS,
            seg: seg(a, b, true, 1 + k as u32 * 10, 1, ACK, 10, None),
        })
        .collect();
    let file = dir.path().join("paced.pcap");
    std::fs::write(&file, pcap(&pkts, false)).unwrap();
    let timed = |emulate: bool| {
        let mut cmd = conntrend();
        cmd.args(["rtt", "-m", "-r"]).arg(&file);
        if emulate {
            cmd.arg("-e");
        }
        let start = std::time::Instant::now();
        run(cmd).expect_code(0);
        start.elapsed()
    };
    assert!(
        timed(true) >= Duration::from_millis(1400),
        "-e keeps the recorded 1.5 s"
    );
    assert!(
        timed(false) < Duration::from_millis(1400),
        "without -e a file is read at once"
    );
}
