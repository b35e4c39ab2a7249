//! Issue 18: `rtt` as a drop-in for pollere's connmon. The golden captures (tests/fixtures/rtt:
//! pcap and pcapng, IPv4 and IPv6, Ethernet and Linux cooked v2) are printed in connmon's `-m`
//! and human formats and compared with lines written here from tcpdump's text by connmon's rules
//! (connmon.cpp `processPacket`): a line only for an RTT, a hole or a duplicate ACK; `" %8.6f"`
//! or `"    *    "` for the RTTs; the sequence difference always a number; `" %8s"` of
//! `"   -    "` for no duplicate ACK; `" %4d"` payload; `" %7.0f"` flow bytes on the wire (link
//! header + IP header + TCP header with its options + payload, summed over every packet of the
//! direction); IPv6 addresses unbracketed. The RTT values come from the golden oracle
//! (tests/it/rtt/golden.rs), which derives them from the same text.

use std::collections::HashMap;

use serde_json::Value;

use super::golden::{Decoded, decode, fixture, oracle};
use super::{MS, Pkt, pcap, rtt_json, seg};
use crate::util::{conntrend, run};
use conntrend::api::rtt::ACK;

/// The TCP header of a packet tcpdump printed: 20 bytes and its options (`mss` 4, `sackOK` 2,
/// `TS` 10, `nop` 1, `wscale` 3, `eol` 1), padded to 4.
fn tcp_header(line: &str) -> u64 {
    let Some((_, rest)) = line.split_once("options [") else {
        return 20;
    };
    let opts = rest.split(']').next().unwrap();
    let len: u64 = opts
        .split(',')
        .map(|o| match o.split_whitespace().next().unwrap() {
            "mss" => 4,
            "sackOK" => 2,
            "TS" => 10,
            "nop" | "eol" => 1,
            "wscale" => 3,
            other => panic!("an option this test does not size: {other}"),
        })
        .sum();
    20 + len.next_multiple_of(4)
}

/// connmon's fmtTimeDiff, from its C source: µs below 1 ms, ms below 1 s; `%.2f` below 10,
/// `%.1f` below 100, else `" %.0f"`.
fn fmt_time_diff(ns: i64) -> String {
    let mut dt = ns as f64 / 1e9;
    let mut unit = "";
    if dt < 1e-3 {
        dt *= 1e6;
        unit = "u";
    } else if dt < 1.0 {
        dt *= 1e3;
        unit = "m";
    }
    if dt < 10.0 {
        format!("{dt:.2}{unit}s")
    } else if dt < 100.0 {
        format!("{dt:.1}{unit}s")
    } else {
        format!(" {dt:.0}{unit}s")
    }
}

/// connmon's `-m` and human lines for a capture whose text is `text` and link header `link`.
fn connmon_lines(text: &str, link: u64) -> (Vec<String>, Vec<String>) {
    let decoded: Vec<Decoded> = text.lines().map(decode).collect();
    let (lines, _) = oracle(&decoded);
    let mut wire: HashMap<(String, String), u64> = HashMap::new();
    let mut sent = Vec::new();
    for (p, raw) in decoded.iter().zip(text.lines()) {
        let ip = if raw.contains(" IP6 ") { 40 } else { 20 };
        let w = wire.entry((p.src.clone(), p.dst.clone())).or_default();
        *w += link + ip + tcp_header(raw) + u64::from(p.len);
        sent.push(*w);
    }
    let (mut machine, mut human) = (Vec::new(), Vec::new());
    let mut at = 0;
    for (time_us, flow, bytes, _, ts, seq, diff, dup) in lines {
        // The packet of this line: the next with its time (rounded to the µs), flow and length.
        while !((decoded[at].ns + 500) / 1000 == time_us
            && format!("{}+{}", decoded[at].src, decoded[at].dst) == flow
            && u64::from(decoded[at].len) == bytes)
        {
            at += 1;
        }
        let p = &decoded[at];
        at += 1;
        if !(ts.is_some()
            || seq.is_some()
            || diff.is_some_and(|d| d > 0)
            || dup.is_some_and(|d| d > 0))
        {
            continue;
        }
        let name = flow.replace(['[', ']'], "");
        let diff = diff.unwrap_or(0);
        let rest = |dup: String| format!(" {diff:4} {dup:>8} {bytes:4} {:7} {name}", sent[at - 1]);
        let secs = |ns: i64| ns as f64 / 1e9;
        let m_rtt =
            |v: Option<i64>| v.map_or("    *    ".to_string(), |ns| format!(" {:8.6}", secs(ns)));
        machine.push(format!(
            "{}.{:06}{}{}{}",
            p.ns / 1_000_000_000,
            p.ns % 1_000_000_000 / 1000,
            m_rtt(ts),
            m_rtt(seq),
            rest(dup.map_or("   -    ".to_string(), |ns| format!("{:.6}", secs(ns))))
        ));
        let h_rtt = |v: Option<i64>| {
            v.map_or("   *   ".to_string(), |ns| {
                format!(" {:>6}", fmt_time_diff(ns))
            })
        };
        let day = p.ns / 1_000_000_000 % 86_400;
        human.push(format!(
            "{:02}:{:02}:{:02}{}{}{}",
            day / 3600,
            day / 60 % 60,
            day % 60,
            h_rtt(ts),
            h_rtt(seq),
            rest(dup.map_or("   -    ".to_string(), fmt_time_diff))
        ));
    }
    (machine, human)
}

/// Both of connmon's formats on one capture: stdout holds only the lines; the per-flow summary
/// goes to stderr (`-q`: nothing there).
fn check(capture: &str, link: u64, min_lines: usize) {
    let text = std::fs::read_to_string(fixture(&format!("{capture}.txt"))).unwrap();
    let (machine, human) = connmon_lines(&text, link);
    assert!(machine.len() >= min_lines, "{capture}: {machine:?}");
    for (args, want) in [(&["-m"][..], &machine), (&[][..], &human)] {
        let mut cmd = conntrend();
        cmd.env("TZ", "UTC")
            .arg("rtt")
            .args(args)
            .arg("-r")
            .arg(fixture(capture));
        let r = run(cmd);
        r.expect_code(0);
        let out = r.stdout();
        let got: Vec<&str> = out.lines().collect();
        assert_eq!(
            got.len(),
            want.len(),
            "{capture} {args:?}\n{}",
            r.describe()
        );
        for (k, (g, w)) in got.iter().zip(want.iter()).enumerate() {
            assert_eq!(g, w, "{capture} {args:?}: line {k}");
        }
        assert!(
            r.stderr().lines().any(|l| l.starts_with("# FLOW ")),
            "{}",
            r.describe()
        );
    }
    let mut cmd = conntrend();
    cmd.args(["rtt", "-m", "-q", "-r"]).arg(fixture(capture));
    let r = run(cmd);
    r.expect_code(0);
    assert_eq!(r.stdout().lines().collect::<Vec<_>>(), machine);
    assert_eq!(r.stderr(), "", "-q: no summary");
}

#[test]
fn connmon_formats_of_an_ipv4_pcap() {
    check("v4.pcap", 14, 15);
}

#[test]
fn connmon_formats_of_an_ipv6_pcap_in_nanoseconds() {
    check("v6-nano.pcap", 14, 15);
}

#[test]
fn connmon_formats_of_linux_cooked_v2_both_families() {
    check("any-sll2.pcap", 20, 20);
}

#[test]
fn connmon_formats_of_a_pcapng_both_families() {
    check("both.pcapng", 14, 30);
}

/// `--sumInt S`: connmon's line every S seconds of capture time, counted since the last one
/// (main(): the first packet starts the interval; a packet at or past its end prints the counts,
/// itself included, and starts the next), after `First packet at ` and asctime's date.
#[test]
fn periodic_summaries_on_stderr() {
    let text = std::fs::read_to_string(fixture("v4.pcap.txt")).unwrap();
    let decoded: Vec<Decoded> = text.lines().map(decode).collect();
    // By connmon's rules from the text: flows are directions seen so far; uni-directional
    // packets are those before their reverse direction was seen (only the first SYN here).
    let every = 50 * MS as i64;
    let (mut next, mut count, mut want) = (None::<i64>, 0, String::new());
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut one_way = 0;
    for p in &decoded {
        count += 1;
        if !seen.contains(&(p.dst.clone(), p.src.clone())) {
            one_way += 1;
        }
        if !seen.contains(&(p.src.clone(), p.dst.clone())) {
            seen.push((p.src.clone(), p.dst.clone()));
        }
        match next {
            Some(n) if p.ns >= n => {
                let uni = if one_way > 0 {
                    format!("{one_way} uni-directional, ")
                } else {
                    String::new()
                };
                want += &format!("{} flows, {count} packets, {uni}\n", seen.len());
                (count, one_way) = (0, 0);
                next = Some(p.ns + every);
            }
            Some(_) => {}
            None => next = Some(p.ns + every),
        }
    }
    assert!(want.lines().count() >= 2, "{want}");
    // 1796613537: Mon Dec  7 03:18:57 2026 UTC (date -u -d @1796613537).
    let want = format!("First packet at Mon Dec  7 03:18:57 2026\n\n{want}");
    let mut cmd = conntrend();
    cmd.env("TZ", "UTC")
        .args(["rtt", "-m", "-q", "--sumInt", "0.05", "-r"])
        .arg(fixture("v4.pcap"));
    let r = run(cmd);
    // -q and --sumInt are refused together (connmon: the last one wins).
    r.expect_code(2);
    let mut cmd = conntrend();
    cmd.env("TZ", "UTC")
        .args(["rtt", "-m", "--sumInt", "0.05", "-r"])
        .arg(fixture("v4.pcap"));
    let r = run(cmd);
    r.expect_code(0);
    let stderr = r.stderr();
    let periodic: String = stderr
        .lines()
        .take_while(|l| !l.starts_with("# "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(periodic, want, "{}", r.describe());
    // -v is connmon's default of 10 s: the capture is shorter, only the first-packet line.
    let mut cmd = conntrend();
    cmd.env("TZ", "UTC")
        .args(["rtt", "-m", "-v", "-r"])
        .arg(fixture("v4.pcap"));
    let r = run(cmd);
    assert!(
        r.stderr()
            .starts_with("First packet at Mon Dec  7 03:18:57 2026\n\n# FLOW"),
        "{}",
        r.describe()
    );
}

/// connmon's long names `--rtdMaxAge` and `--flowMaxIdle` are conntrend's `--ts-timeout` and
/// `--flow-idle`; `--showLocal` is `-l`.
#[test]
fn connmon_long_options_are_aliases() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (("10.0.2.1", 1000), ("10.0.2.2", 2000));
    // TSval 20 echoed after 2.5 s: an RTT only when a TSval waits longer than 2 s.
    let pkts = vec![
        Pkt {
            at_ns: 2 * MS,
            seg: seg(a, b, true, 1, 1, ACK, 0, Some((20, 0))),
        },
        Pkt {
            at_ns: 2502 * MS,
            seg: seg(a, b, false, 1, 1, ACK, 0, Some((30, 20))),
        },
    ];
    let file = dir.path().join("late.pcap");
    std::fs::write(&file, pcap(&pkts, true)).unwrap();
    let rtts = |args: &[&str]| -> usize {
        let (lines, _) = rtt_json(&file, args);
        lines.iter().filter(|l| l["ts_rtt"] != Value::Null).count()
    };
    assert_eq!(rtts(&[]), 1);
    assert_eq!(rtts(&["--ts-timeout", "2"]), 0);
    assert_eq!(rtts(&["--rtdMaxAge", "2", "--flowMaxIdle", "300"]), 0);
    assert_eq!(rtts(&["--showLocal"]), 1);
}
