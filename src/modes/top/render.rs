//! The `top` report as text for a person: the pool, TCP states, and two tables with bars.

use std::fmt::Write as _;

use super::report::Report;
use crate::probes::owners::user_name;
use crate::report::schema::Value;

const BAR: usize = 20;

/// The report as lines of text, each at most 80 columns but for long destinations and names.
pub fn text(r: &Report) -> String {
    let mut o = String::new();
    let ns = r.netns.as_deref().unwrap_or("(own)");
    let _ = writeln!(o, "conntrend top  {}  netns={ns}", Value::Iso(r.epoch_ms));
    let _ = writeln!(
        o,
        "pool   {}-{}  reserved {}  total {}",
        r.pool.lo, r.pool.hi, r.pool.reserved, r.pool.total
    );
    let _ = writeln!(
        o,
        "used   {} ({:.1}%)  tcp {}  udp {}  free {}",
        r.used,
        percent(r.used, r.pool.total),
        r.tcp_used,
        r.udp_used,
        r.free
    );
    if let Some(ct) = r.conntrack {
        let share = if ct.max > 0 {
            format!(" ({:.1}%)", ct.used as f64 * 100.0 / ct.max as f64)
        } else {
            String::new()
        };
        let _ = writeln!(o, "ct     used {}{share}  max {}", ct.used, ct.max);
    }
    // Twelve states in four rows of three, aligned, within 80 columns.
    for (i, row) in r.states.0.chunks(3).enumerate() {
        let mut line = String::from(if i == 0 { "tcp    " } else { "       " });
        for (k, v) in row {
            let _ = write!(line, "{:<14} {v:>5}  ", k.to_uppercase());
        }
        let _ = writeln!(o, "{}", line.trim_end());
    }
    let _ = writeln!(
        o,
        "\n{:<44} {:>7} {:>7}  USE OF POOL",
        "DESTINATION", "USED", "FREE"
    );
    if r.destinations.is_empty() {
        let _ = writeln!(o, "(no TCP connections from pool ports)");
    }
    for d in &r.destinations {
        let _ = writeln!(
            o,
            "{:<44} {:>7} {:>7}  {} {:5.1}%",
            d.dst.to_string(),
            d.used,
            d.free,
            bar(d.used, r.pool.total),
            percent(d.used, r.pool.total)
        );
    }

    let _ = writeln!(
        o,
        "\n{:>8}  {:<16} {:<10} {:>9} {:>9} {:>6} {:>10}",
        "PID", "COMMAND", "USER", "TCP PORTS", "UDP PORTS", "ESTAB", "CLOSE_WAIT"
    );
    if r.processes.is_empty() {
        let _ = writeln!(
            o,
            "(no process holds pool ports or ESTABLISHED/CLOSE_WAIT sockets)"
        );
    }
    for p in &r.processes {
        let pid = p.pid.map(|p| p.to_string()).unwrap_or_default();
        let user = p.uid.map(user_name).unwrap_or_default();
        let _ = writeln!(
            o,
            "{pid:>8}  {:<16} {user:<10} {:>9} {:>9} {:>6} {:>10}",
            p.comm, p.tcp_ports, p.udp_ports, p.established, p.close_wait
        );
    }
    if r.owners_in_other_pid_namespace {
        let _ = writeln!(
            o,
            "note: the sockets' owners run in another pid namespace (a container without\n      \
             --pid host?); their sockets are grouped as (other pid namespace)"
        );
    }
    if r.processes.iter().any(|p| p.comm == "(owner unknown)") {
        let _ = writeln!(
            o,
            "note: the sockets come from a saved /proc tree: their processes are not known"
        );
    } else if !r.all_processes_visible {
        let _ = writeln!(
            o,
            "note: not running as root, so only your own processes are visible; sockets of\n      \
             other users' processes are grouped as (not visible)"
        );
    }
    o
}

fn percent(part: u32, whole: u32) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * f64::from(part) / f64::from(whole)
    }
}

/// `[#####...............]`: the share of the pool, at least one mark when not zero.
fn bar(part: u32, whole: u32) -> String {
    let filled = if part == 0 || whole == 0 {
        0
    } else {
        ((part as usize * BAR).div_ceil(whole as usize)).clamp(1, BAR)
    };
    format!("[{}{}]", "#".repeat(filled), ".".repeat(BAR - filled))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modes::top::report::{PoolInfo, ProcessUse, States};

    #[test]
    fn bars() {
        assert_eq!(bar(0, 100), format!("[{}]", ".".repeat(20)));
        assert_eq!(bar(1, 1000), format!("[#{}]", ".".repeat(19)));
        assert_eq!(bar(100, 100), format!("[{}]", "#".repeat(20)));
        assert_eq!(
            bar(50, 100),
            format!("[{}{}]", "#".repeat(10), ".".repeat(10))
        );
    }

    #[test]
    fn every_line_fits_80_columns() {
        let r = Report {
            epoch_ms: 1_764_039_600_000,
            netns: None,
            pool: PoolInfo {
                lo: 1024,
                hi: 65535,
                reserved: 10_000,
                total: 54_512,
            },
            used: 54_000,
            free: 512,
            tcp_used: 50_000,
            udp_used: 40_000,
            states: States(crate::diag::tcp_state::LABELS.map(|(n, _)| (n, 99_999))),
            destinations: Vec::new(),
            processes: vec![ProcessUse {
                pid: Some(4_194_304),
                comm: "a-long-command16".to_string(),
                uid: Some(0),
                tcp_ports: 54_000,
                udp_ports: 40_000,
                established: 99_999,
                close_wait: 99_999,
            }],
            all_processes_visible: false,
            owners_in_other_pid_namespace: true,
            conntrack: None,
        };
        let text = text(&r);
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "{} columns: {line}", line.len());
            assert_eq!(line, line.trim_end(), "trailing blanks");
        }
    }
}
