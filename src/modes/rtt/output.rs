//! `rtt`'s lines and summary: connmon's two formats (the default and `-m`, in [`super::connmon`]),
//! the aligned table (`--table`: `-` for no value, RTTs in ms), CSV (`--csv`: eight
//! comma-separated fields, a stable contract) and JSON Lines. Written into one reused buffer with
//! integer arithmetic (a table or CSV line costs no float formatting): the output is most of the
//! work per packet.

use std::io::Write as _;

use super::connmon::{self, Clock};
use super::engine::{FlowSummary, Line, secs};
use crate::util::text::{int, uint};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// connmon's human lines (the default).
    Human,
    /// connmon's `-m` lines.
    Machine,
    /// The aligned table with a header (`--table`).
    Table,
    /// Eight comma-separated fields (`--csv`).
    Csv,
    Json,
}

impl Format {
    /// connmon's formats: its rule for which packets print, the summary on stderr.
    pub fn is_connmon(self) -> bool {
        matches!(self, Format::Human | Format::Machine)
    }
}

/// Nanoseconds as `S.ffffff` (microseconds, rounded; negative values do not occur).
fn seconds(out: &mut Vec<u8>, ns: i64) {
    let us = (ns.max(0) as u64 + 500) / 1000;
    uint(out, us / 1_000_000, 1);
    out.push(b'.');
    uint(out, us % 1_000_000, 6);
}

/// Nanoseconds as `M.fffms` (microseconds, rounded).
fn millis(out: &mut Vec<u8>, ns: i64) {
    let us = (ns.max(0) as u64 + 500) / 1000;
    uint(out, us / 1000, 1);
    out.push(b'.');
    uint(out, us % 1000, 3);
    out.extend_from_slice(b"ms");
}

/// The header of the table.
pub fn header(format: Format, out: &mut Vec<u8>) {
    if format == Format::Table {
        out.extend_from_slice(
            b"TIME              TS_RTT     SEQ_RTT    SEQ_DIFF   DUPACK     BYTES  FLOW_BYTES  FLOW\n",
        );
    }
}

pub fn line(format: Format, l: &Line<'_>, clock: &mut Clock, out: &mut Vec<u8>) {
    match format {
        Format::Human => return connmon::human(l, clock, out),
        Format::Machine => return connmon::machine(l, out),
        Format::Table => {
            let start = out.len();
            seconds(out, l.time_ns);
            pad(out, start, 18);
            for v in [l.ts_rtt, l.seq_rtt] {
                let at = out.len();
                match v {
                    Some(ns) => millis(out, ns),
                    None => out.push(b'-'),
                }
                pad(out, at, 11);
            }
            let at = out.len();
            match l.seq_diff {
                Some(d) => int(out, d, true),
                None => out.push(b'-'),
            }
            pad(out, at, 11);
            let at = out.len();
            match l.dupack {
                Some(ns) => {
                    out.extend_from_slice(b"dup+");
                    millis(out, ns);
                }
                None => out.push(b'-'),
            }
            pad(out, at, 11);
            let at = out.len();
            uint(out, l.bytes.into(), 1);
            pad(out, at, 7);
            let at = out.len();
            uint(out, l.flow_bytes, 1);
            pad(out, at, 12);
            out.extend_from_slice(l.flow.as_bytes());
        }
        Format::Csv => {
            seconds(out, l.time_ns);
            for v in [l.ts_rtt, l.seq_rtt] {
                out.push(b',');
                if let Some(ns) = v {
                    seconds(out, ns);
                }
            }
            out.push(b',');
            if let Some(d) = l.seq_diff {
                int(out, d, false);
            }
            out.push(b',');
            if let Some(ns) = l.dupack {
                seconds(out, ns);
            }
            out.push(b',');
            uint(out, l.bytes.into(), 1);
            out.push(b',');
            uint(out, l.flow_bytes, 1);
            out.push(b',');
            out.extend_from_slice(l.flow.as_bytes());
        }
        Format::Json => {
            out.extend_from_slice(b"{\"time\":");
            seconds(out, l.time_ns);
            for (name, v) in [("ts_rtt", l.ts_rtt), ("seq_rtt", l.seq_rtt)] {
                let _ = write!(out, ",\"{name}\":");
                json_f64(out, v.map(secs));
            }
            out.extend_from_slice(b",\"seq_diff\":");
            match l.seq_diff {
                Some(d) => int(out, d, false),
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(b",\"dupack\":");
            json_f64(out, l.dupack.map(secs));
            out.extend_from_slice(b",\"bytes\":");
            uint(out, l.bytes.into(), 1);
            out.extend_from_slice(b",\"flow_bytes\":");
            uint(out, l.flow_bytes, 1);
            out.extend_from_slice(b",\"flow_wire_bytes\":");
            uint(out, l.flow_wire_bytes, 1);
            out.extend_from_slice(b",\"flow\":\"");
            out.extend_from_slice(l.flow.as_bytes());
            out.extend_from_slice(b"\"}");
        }
    }
    out.push(b'\n');
}

/// Pads the field that started at `from` to `width`, and at least one space.
fn pad(out: &mut Vec<u8>, from: usize, width: usize) {
    let used = out.len() - from;
    out.resize(out.len() + width.saturating_sub(used).max(1), b' ');
}

fn json_f64(out: &mut Vec<u8>, v: Option<f64>) {
    let _ = match v {
        Some(s) => write!(out, "{s}"),
        None => write!(out, "null"),
    };
}

/// The per-flow table: `# `-prefixed lines (so a reader of the lines can skip them; in connmon's
/// formats they go to stderr), one `{"flows":[…]}` object in JSON.
pub fn summary(format: Format, flows: &[FlowSummary], untracked: u64, out: &mut Vec<u8>) {
    if format == Format::Json {
        out.extend_from_slice(b"{\"flows\":[");
        for (i, f) in flows.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let _ = write!(
                out,
                "{{\"flow\":\"{}\",\"packets\":{},\"bytes\":{},\"samples\":{}",
                f.flow, f.packets, f.bytes, f.samples
            );
            for (name, v) in [
                ("min_rtt", f.min),
                ("median_rtt", f.median),
                ("p95_rtt", f.p95),
                ("max_rtt", f.max),
            ] {
                let _ = write!(out, ",\"{name}\":");
                json_f64(out, v);
            }
            let _ = write!(
                out,
                ",\"holes\":{},\"reorders\":{},\"dupacks\":{}}}",
                f.holes, f.reorders, f.dupacks
            );
        }
        let _ = writeln!(out, "],\"untracked_packets\":{untracked}}}");
        return;
    }
    let row = |out: &mut Vec<u8>, cells: [&str; 11]| {
        let _ = writeln!(
            out,
            "# {:<47} {:>8} {:>11} {:>7} {:>9} {:>9} {:>9} {:>9} {:>5} {:>5} {:>5}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            cells[5],
            cells[6],
            cells[7],
            cells[8],
            cells[9],
            cells[10]
        );
    };
    row(
        out,
        [
            "FLOW",
            "PACKETS",
            "BYTES",
            "SAMPLES",
            "MIN_MS",
            "MEDIAN_MS",
            "P95_MS",
            "MAX_MS",
            "HOLES",
            "REORD",
            "DUPS",
        ],
    );
    for f in flows {
        let ms = |v: Option<f64>| v.map_or("-".to_string(), |s| format!("{:.3}", s * 1e3));
        let n = |v: u64| v.to_string();
        row(
            out,
            [
                &f.flow,
                &n(f.packets),
                &n(f.bytes),
                &n(f.samples),
                &ms(f.min),
                &ms(f.median),
                &ms(f.p95),
                &ms(f.max),
                &n(f.holes),
                &n(f.reorders),
                &n(f.dupacks),
            ],
        );
    }
    if untracked > 0 {
        let _ = writeln!(
            out,
            "# {untracked} packets of flows beyond the flow limit were not followed"
        );
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// One line with every kind of field (also for connmon's formats' tests).
    pub(in crate::modes::rtt) fn l() -> Line<'static> {
        Line {
            time_ns: 1_700_000_000_123_456_789,
            ts_rtt: Some(12_500_000),
            seq_rtt: None,
            seq_diff: Some(-100),
            dupack: None,
            bytes: 100,
            flow_bytes: 1100,
            flow_wire_bytes: 1166,
            flow: "10.0.0.1:40000+[fd00::2]:80",
        }
    }

    #[test]
    fn the_three_formats() {
        let mut m = Vec::new();
        let c = &mut Clock::default();
        line(Format::Csv, &l(), c, &mut m);
        assert_eq!(
            String::from_utf8(m).unwrap(),
            "1700000000.123457,0.012500,,-100,,100,1100,10.0.0.1:40000+[fd00::2]:80\n"
        );
        let mut j = Vec::new();
        line(Format::Json, &l(), c, &mut j);
        let v: serde_json::Value = serde_json::from_slice(&j).unwrap();
        assert_eq!(v["ts_rtt"], 0.0125);
        assert_eq!(v["seq_rtt"], serde_json::Value::Null);
        assert_eq!(v["flow"], "10.0.0.1:40000+[fd00::2]:80");
        assert_eq!(
            (v["flow_bytes"].as_u64(), v["flow_wire_bytes"].as_u64()),
            (Some(1100), Some(1166))
        );
        let mut h = Vec::new();
        line(Format::Table, &l(), c, &mut h);
        let h = String::from_utf8(h).unwrap();
        assert!(
            h.starts_with("1700000000.123457 12.500ms   -          -100       -          100"),
            "{h}"
        );
    }

    #[test]
    fn fixed_point_times() {
        let mut o = Vec::new();
        millis(&mut o, 1_234_567);
        o.push(b' ');
        seconds(&mut o, 1_500_000_000_499);
        assert_eq!(o, b"1.235ms 1500.000000");
    }
}
