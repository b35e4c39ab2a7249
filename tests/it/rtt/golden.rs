//! `conntrend rtt` on captures of real TCP traffic that tcpdump and dumpcap recorded over
//! loopback (tests/fixtures/rtt, see its README), checked against an independent oracle: tcpdump's
//! own decoding of each capture, saved as text beside it when it was recorded. The test parses
//! that text and recomputes from it, by the README's definitions, every line conntrend must print
//! (timestamp and sequence RTTs, sequence differences, duplicate ACKs, bytes) and every flow's
//! summary — so conntrend's frame parser is checked by a different parser (tcpdump's), on frames
//! it did not build (Ethernet, Linux cooked v2, IPv4, IPv6, pcap in µs and ns, pcapng).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde_json::Value;

use crate::util::{conntrend, run};

pub(super) fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rtt")
        .join(name)
}

/// One packet as tcpdump decoded it (`-tt -n -S --time-stamp-precision=nano`).
#[derive(Debug)]
pub(super) struct Decoded {
    pub(super) ns: i64,
    pub(super) src: String,
    pub(super) dst: String,
    syn: bool,
    fin: bool,
    rst: bool,
    ack_flag: bool,
    seq: Option<u32>,
    ack: Option<u32>,
    win: u16,
    ts: Option<(u32, u32)>,
    pub(super) len: u32,
}

/// `127.0.0.1.7301` → `127.0.0.1:7301`, `::1.7302` → `[::1]:7302`.
fn endpoint(tcpdump: &str) -> String {
    let (addr, port) = tcpdump.trim_end_matches(':').rsplit_once('.').unwrap();
    if addr.contains(':') {
        format!("[{addr}]:{port}")
    } else {
        format!("{addr}:{port}")
    }
}

pub(super) fn decode(line: &str) -> Decoded {
    let words: Vec<&str> = line.split_whitespace().collect();
    let (sec, frac) = words[0].split_once('.').unwrap();
    assert_eq!(frac.len(), 9, "nanosecond text: {line}");
    let ns = sec.parse::<i64>().unwrap() * 1_000_000_000 + frac.parse::<i64>().unwrap();
    let ip = words
        .iter()
        .position(|w| *w == "IP" || *w == "IP6")
        .unwrap_or_else(|| panic!("not IP: {line}"));
    assert_eq!(words[ip + 2], ">", "{line}");
    // The value after `key` (without its trailing comma), if the key is there.
    let after = |key: &str| {
        words
            .iter()
            .position(|w| *w == key)
            .map(|i| words[i + 1].trim_end_matches([',', ']']))
    };
    let flags = after("Flags").unwrap().trim_start_matches('[');
    // `options [nop,nop,TS val 1606705407 ecr 2998600323]`
    let ts = line.split_once("TS val ").map(|(_, rest)| {
        let w: Vec<&str> = rest.split_whitespace().take(3).collect();
        assert_eq!(w[1], "ecr", "{line}");
        let ecr = w[2].split([',', ']']).next().unwrap();
        (w[0].parse().unwrap(), ecr.parse().unwrap())
    });
    Decoded {
        ns,
        src: endpoint(words[ip + 1]),
        dst: endpoint(words[ip + 3]),
        syn: flags.contains('S'),
        fin: flags.contains('F'),
        rst: flags.contains('R'),
        ack_flag: flags.contains('.'),
        seq: after("seq").map(|s| s.split(':').next().unwrap().parse().unwrap()),
        ack: after("ack").map(|s| s.parse().unwrap()),
        win: after("win").unwrap().parse().unwrap(),
        ts,
        len: after("length").unwrap().parse().unwrap(),
    }
}

/// `a` after `b` in sequence space.
fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// One expected line: time (µs, rounded as conntrend prints it), flow, bytes, flow bytes, and
/// the ns values of ts_rtt, seq_rtt, seq_diff (bytes), dupack.
pub(super) type Expect = (
    i64,
    String,
    u64,
    u64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

#[derive(Default)]
struct Side {
    /// TSvals seen (first sighting's time) and whether echoed yet.
    tsvals: HashMap<u32, (i64, bool)>,
    /// Sent and not yet acknowledged: (end sequence number, sent at).
    unacked: Vec<(u32, i64)>,
    next_seq: Option<u32>,
    /// (ack, window, time) of the ACK a duplicate would repeat.
    last_ack: Option<(u32, u16, i64)>,
    bytes: u64,
}

#[derive(Default, Debug, PartialEq)]
pub(super) struct Totals {
    packets: u64,
    bytes: u64,
    samples: Vec<i64>,
    holes: u64,
    reorders: u64,
    dupacks: u64,
}

/// The oracle: the lines and per-flow totals (by the name of the flow's first packet) the
/// decoded packets must give, by the README's definitions. Traffic on loopback has no loss, so a
/// retransmission in a fixture is a surprise the oracle refuses rather than models.
pub(super) fn oracle(packets: &[Decoded]) -> (Vec<Expect>, BTreeMap<String, Totals>) {
    let mut sides: HashMap<(String, String), Side> = HashMap::new();
    let mut flow_of: HashMap<(String, String), String> = HashMap::new();
    let mut totals: BTreeMap<String, Totals> = BTreeMap::new();
    let mut lines = Vec::new();
    for p in packets {
        let me_key = (p.src.clone(), p.dst.clone());
        let peer_key = (p.dst.clone(), p.src.clone());
        let name = flow_of
            .entry(me_key.clone())
            .or_insert_with(|| format!("{}+{}", p.src, p.dst))
            .clone();
        flow_of
            .entry(peer_key.clone())
            .or_insert_with(|| name.clone());
        let mut peer = sides.remove(&peer_key).unwrap_or_default();
        let me = sides.entry(me_key.clone()).or_default();
        me.bytes += u64::from(p.len);
        // Timestamps: the first sighting of a TSval; the first echo of one of the peer's.
        let mut ts_rtt = None;
        if let Some((val, ecr)) = p.ts {
            me.tsvals.entry(val).or_insert((p.ns, false));
            if p.ack_flag
                && ecr != 0
                && let Some((seen, echoed)) = peer.tsvals.get_mut(&ecr)
                && !*echoed
            {
                *echoed = true;
                ts_rtt = Some(p.ns - *seen);
            }
        }
        // Sequence space: what this packet sends, and what its ACK covers of the peer's.
        let mut seq_diff = None;
        let span = p.len + u32::from(p.syn) + u32::from(p.fin);
        if span > 0 {
            let seq = p.seq.expect("a segment with data has a seq");
            if p.len > 0 {
                seq_diff = me.next_seq.map(|n| i64::from(seq.wrapping_sub(n) as i32));
            }
            let end = seq.wrapping_add(span);
            assert!(
                me.next_seq.is_none_or(|n| after(end, n)),
                "a retransmission in the fixture: {p:?}"
            );
            me.unacked.push((end, p.ns));
            me.next_seq = Some(end);
        }
        let mut seq_rtt = None;
        if let (true, Some(ack)) = (p.ack_flag, p.ack) {
            let covered: Vec<(u32, i64)> = peer
                .unacked
                .iter()
                .copied()
                .filter(|&(end, _)| !after(end, ack))
                .collect();
            peer.unacked.retain(|&(end, _)| after(end, ack));
            seq_rtt = covered.last().map(|&(_, sent)| p.ns - sent);
        }
        // Duplicate ACKs: a pure ACK repeating the last ACK number and window, data in flight.
        let mut dupack = None;
        if p.ack_flag && !p.syn && !p.rst {
            let (ack, pure) = (p.ack.unwrap(), p.len == 0 && !p.fin);
            match me.last_ack {
                Some((a, w, first)) if pure && a == ack && w == p.win => {
                    if !peer.unacked.is_empty() {
                        dupack = Some(p.ns - first);
                    }
                }
                _ => me.last_ack = Some((ack, p.win, p.ns)),
            }
        }
        let flow_bytes = me.bytes;
        sides.insert(peer_key, peer);
        let t = totals.entry(name).or_default();
        t.packets += 1;
        t.bytes += u64::from(p.len);
        t.samples.extend(ts_rtt.into_iter().chain(seq_rtt));
        match seq_diff {
            Some(d) if d > 0 => t.holes += 1,
            Some(d) if d < 0 => t.reorders += 1,
            _ => {}
        }
        t.dupacks += u64::from(dupack.is_some());
        if ts_rtt.is_some() || seq_rtt.is_some() || dupack.is_some() || p.len > 0 {
            lines.push((
                (p.ns + 500) / 1000,
                format!("{}+{}", p.src, p.dst),
                u64::from(p.len),
                flow_bytes,
                ts_rtt,
                seq_rtt,
                seq_diff,
                dupack,
            ));
        }
    }
    (lines, totals)
}

fn ns(v: &Value) -> Option<i64> {
    v.as_f64().map(|s| (s * 1e9).round() as i64)
}

/// The nearest-rank percentile, as the README defines it.
fn percentile(sorted: &[i64], p: f64) -> i64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// conntrend's lines and summary for `capture` equal the oracle's from tcpdump's text; the
/// capture holds at least `flows` flows and `min_samples` RTT samples (so the check has teeth).
fn check(capture: &str, flows: usize, min_samples: usize) {
    let text = std::fs::read_to_string(fixture(&format!("{capture}.txt"))).unwrap();
    let decoded: Vec<Decoded> = text.lines().map(decode).collect();
    let (want, totals) = oracle(&decoded);
    assert_eq!(totals.len(), flows, "{capture}: flows in the fixture");
    let samples: usize = totals.values().map(|t| t.samples.len()).sum();
    assert!(samples >= min_samples, "{capture}: {samples} samples");

    let mut cmd = conntrend();
    cmd.args(["rtt", "--json", "-r"]).arg(fixture(capture));
    let r = run(cmd);
    r.expect_code(0);
    let mut all: Vec<Value> = r
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = all.pop().unwrap();
    let got: Vec<Expect> = all
        .iter()
        .map(|l| {
            (
                (l["time"].as_f64().unwrap() * 1e6).round() as i64,
                l["flow"].as_str().unwrap().to_string(),
                l["bytes"].as_u64().unwrap(),
                l["flow_bytes"].as_u64().unwrap(),
                ns(&l["ts_rtt"]),
                ns(&l["seq_rtt"]),
                l["seq_diff"].as_i64(),
                ns(&l["dupack"]),
            )
        })
        .collect();
    assert_eq!(got.len(), want.len(), "{capture}: lines\n{}", r.stdout());
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "{capture}: line {k}");
    }

    let rows = summary["flows"].as_array().unwrap();
    assert_eq!(rows.len(), flows, "{capture}: {summary}");
    assert_eq!(summary["untracked_packets"], 0);
    for row in rows {
        let name = row["flow"].as_str().unwrap();
        let t = totals
            .get(name)
            .unwrap_or_else(|| panic!("{capture}: {name} is not a flow tcpdump saw"));
        let mut sorted = t.samples.clone();
        sorted.sort_unstable();
        let got = (
            row["packets"].as_u64().unwrap(),
            row["bytes"].as_u64().unwrap(),
            row["samples"].as_u64().unwrap(),
            [
                &row["min_rtt"],
                &row["median_rtt"],
                &row["p95_rtt"],
                &row["max_rtt"],
            ]
            .map(ns),
            (
                row["holes"].as_u64().unwrap(),
                row["reorders"].as_u64().unwrap(),
            ),
            row["dupacks"].as_u64().unwrap(),
        );
        let want = (
            t.packets,
            t.bytes,
            sorted.len() as u64,
            [
                sorted.first().copied(),
                Some(percentile(&sorted, 50.0)),
                Some(percentile(&sorted, 95.0)),
                sorted.last().copied(),
            ],
            (t.holes, t.reorders),
            t.dupacks,
        );
        assert_eq!(got, want, "{capture}: the summary of {name}");
    }
}

#[test]
fn golden_ipv4_pcap_in_microseconds() {
    check("v4.pcap", 1, 30);
}

#[test]
fn golden_ipv6_pcap_in_nanoseconds() {
    check("v6-nano.pcap", 1, 30);
}

#[test]
fn golden_linux_cooked_v2_both_families() {
    check("any-sll2.pcap", 2, 40);
}

#[test]
fn golden_pcapng_both_families() {
    check("both.pcapng", 2, 60);
}

/// The oracle itself, on lines of the recorded text: the handshake's SYN → SYN-ACK time is the
/// first sample of the flow, in both kinds.
#[test]
fn the_oracle_reads_tcpdump_text() {
    let text = std::fs::read_to_string(fixture("v4.pcap.txt")).unwrap();
    let decoded: Vec<Decoded> = text.lines().map(decode).collect();
    let (syn, synack) = (&decoded[0], &decoded[1]);
    assert!(syn.syn && !syn.ack_flag && synack.syn && synack.ack_flag);
    assert_eq!(synack.ack, Some(syn.seq.unwrap().wrapping_add(1)));
    let (lines, _) = oracle(&decoded);
    let handshake = synack.ns - syn.ns;
    assert_eq!((lines[0].4, lines[0].5), (Some(handshake), Some(handshake)));
    assert_eq!(lines[0].1, format!("{}+{}", synack.src, synack.dst));
}
