//! `rtt`'s lines and summary: human (aligned, `-` for no value, RTTs in ms), machine (`-m`: eight
//! comma-separated fields, a stable contract) and JSON Lines; written into one reused buffer.

use std::io::Write as _;
use std::net::IpAddr;

use super::engine::{Endpoint, FlowSummary, Line};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Machine,
    Json,
}

fn endpoint(out: &mut Vec<u8>, (addr, port): Endpoint) {
    let _ = match addr {
        IpAddr::V6(a) => write!(out, "[{a}]:{port}"),
        IpAddr::V4(a) => write!(out, "{a}:{port}"),
    };
}

/// `src:port+dst:port`.
fn flow(out: &mut Vec<u8>, src: Endpoint, dst: Endpoint) {
    endpoint(out, src);
    out.push(b'+');
    endpoint(out, dst);
}

/// Capture time as seconds since the epoch with microseconds (nanoseconds when the capture has
/// them would be noise: the timestamps of most captures are µs).
fn time(out: &mut Vec<u8>, ns: i64) {
    let _ = write!(
        out,
        "{}.{:06}",
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000) / 1000
    );
}

/// The header of the human format.
pub fn header(format: Format, out: &mut Vec<u8>) {
    if format == Format::Human {
        out.extend_from_slice(
            b"TIME              TS_RTT     SEQ_RTT    SEQ_DIFF   DUPACK     BYTES  FLOW_BYTES  FLOW\n",
        );
    }
}

pub fn line(format: Format, l: &Line, out: &mut Vec<u8>) {
    match format {
        Format::Human => {
            let start = out.len();
            time(out, l.time_ns);
            pad(out, start, 18);
            for v in [l.ts_rtt, l.seq_rtt] {
                let at = out.len();
                match v {
                    Some(s) => {
                        let _ = write!(out, "{:.3}ms", s * 1e3);
                    }
                    None => out.push(b'-'),
                }
                pad(out, at, 11);
            }
            let at = out.len();
            match l.seq_diff {
                Some(d) => {
                    let _ = write!(out, "{d:+}");
                }
                None => out.push(b'-'),
            }
            pad(out, at, 11);
            let at = out.len();
            match l.dupack {
                Some(s) => {
                    let _ = write!(out, "dup+{:.3}ms", s * 1e3);
                }
                None => out.push(b'-'),
            }
            pad(out, at, 11);
            let _ = write!(out, "{:<6} {:<11} ", l.bytes, l.flow_bytes);
            flow(out, l.src, l.dst);
        }
        Format::Machine => {
            time(out, l.time_ns);
            for v in [l.ts_rtt, l.seq_rtt] {
                out.push(b',');
                if let Some(s) = v {
                    let _ = write!(out, "{s:.6}");
                }
            }
            out.push(b',');
            if let Some(d) = l.seq_diff {
                let _ = write!(out, "{d}");
            }
            out.push(b',');
            if let Some(s) = l.dupack {
                let _ = write!(out, "{s:.6}");
            }
            let _ = write!(out, ",{},{},", l.bytes, l.flow_bytes);
            flow(out, l.src, l.dst);
        }
        Format::Json => {
            out.extend_from_slice(b"{\"time\":");
            time(out, l.time_ns);
            for (name, v) in [("ts_rtt", l.ts_rtt), ("seq_rtt", l.seq_rtt)] {
                let _ = write!(out, ",\"{name}\":");
                json_f64(out, v);
            }
            out.extend_from_slice(b",\"seq_diff\":");
            match l.seq_diff {
                Some(d) => {
                    let _ = write!(out, "{d}");
                }
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(b",\"dupack\":");
            json_f64(out, l.dupack);
            let _ = write!(
                out,
                ",\"bytes\":{},\"flow_bytes\":{},\"flow\":\"",
                l.bytes, l.flow_bytes
            );
            flow(out, l.src, l.dst);
            out.extend_from_slice(b"\"}");
        }
    }
    out.push(b'\n');
}

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

/// The per-flow table: `# `-prefixed lines in the human and machine formats (so a reader of the
/// lines can skip them), one `{"flows":[…]}` object in JSON.
pub fn summary(format: Format, flows: &[FlowSummary], untracked: u64, out: &mut Vec<u8>) {
    if format == Format::Json {
        out.extend_from_slice(b"{\"flows\":[");
        for (i, f) in flows.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"flow\":\"");
            flow(out, f.src, f.dst);
            let _ = write!(
                out,
                "\",\"packets\":{},\"bytes\":{},\"samples\":{}",
                f.packets, f.bytes, f.samples
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
    let _ = writeln!(
        out,
        "# {:<47} {:>8} {:>11} {:>7} {:>9} {:>9} {:>9} {:>9} {:>5} {:>5} {:>5}",
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
        "DUPS"
    );
    for f in flows {
        let mut name = Vec::new();
        flow(&mut name, f.src, f.dst);
        let ms = |v: Option<f64>| v.map_or("-".to_string(), |s| format!("{:.3}", s * 1e3));
        let _ = writeln!(
            out,
            "# {:<47} {:>8} {:>11} {:>7} {:>9} {:>9} {:>9} {:>9} {:>5} {:>5} {:>5}",
            String::from_utf8_lossy(&name),
            f.packets,
            f.bytes,
            f.samples,
            ms(f.min),
            ms(f.median),
            ms(f.p95),
            ms(f.max),
            f.holes,
            f.reorders,
            f.dupacks
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
mod tests {
    use super::*;

    fn l() -> Line {
        Line {
            time_ns: 1_700_000_000_123_456_789,
            ts_rtt: Some(0.0125),
            seq_rtt: None,
            seq_diff: Some(-100),
            dupack: None,
            bytes: 100,
            flow_bytes: 1100,
            src: ("10.0.0.1".parse().unwrap(), 40000),
            dst: ("fd00::2".parse().unwrap(), 80),
        }
    }

    #[test]
    fn the_three_formats() {
        let mut m = Vec::new();
        line(Format::Machine, &l(), &mut m);
        assert_eq!(
            String::from_utf8(m).unwrap(),
            "1700000000.123456,0.012500,,-100,,100,1100,10.0.0.1:40000+[fd00::2]:80\n"
        );
        let mut j = Vec::new();
        line(Format::Json, &l(), &mut j);
        let v: serde_json::Value = serde_json::from_slice(&j).unwrap();
        assert_eq!(v["ts_rtt"], 0.0125);
        assert_eq!(v["seq_rtt"], serde_json::Value::Null);
        assert_eq!(v["flow"], "10.0.0.1:40000+[fd00::2]:80");
        let mut h = Vec::new();
        line(Format::Human, &l(), &mut h);
        let h = String::from_utf8(h).unwrap();
        assert!(
            h.starts_with("1700000000.123456 12.500ms   -          -100       -          100"),
            "{h}"
        );
    }
}
