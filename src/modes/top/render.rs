//! The `top` report as text for a person: the pool, TCP states, and two tables with bars.

use std::fmt::Write as _;

use super::report::Report;
use crate::fold::owners::{DstOwners, Named};
use crate::probes::cgroup::short;
use crate::probes::owners::user_name;
use crate::report::schema::Value;

/// A destination's ownerless sockets and who they are attributed to, if it has any: the last
/// known owners, then the likely makers of the rest (never called owners). At most two names a
/// line, each line within 100 columns.
fn ownerless(d: &DstOwners) -> Vec<String> {
    if d.ownerless == 0 {
        return Vec::new();
    }
    let names = |list: &[Named], each: &dyn Fn(&Named) -> String| {
        let mut text: Vec<String> = list.iter().take(2).map(each).collect();
        if list.len() > 2 {
            text.push(format!("+{} more", list.len() - 2));
        }
        text.join(", ")
    };
    let known: u32 = d.last_known.iter().map(|n| n.sockets).sum();
    let mut lines = vec![format!(
        "ownerless {}: last known {known}, unattributed {}",
        d.ownerless, d.unattributed
    )];
    if !d.last_known.is_empty() {
        let each = |n: &Named| format!("{} {}[{}]", n.sockets, cut(&n.comm, 16), n.pid);
        lines.push(format!("  last known: {}", names(&d.last_known, &each)));
    }
    if d.unattributed > 0 {
        lines.push(if d.likely.is_empty() {
            "  likely: no process seen connecting there in the last 2 minutes".to_string()
        } else {
            let each = |n: &Named| format!("{}[{}] ({} now)", cut(&n.comm, 16), n.pid, n.sockets);
            format!("  likely: {}", names(&d.likely, &each))
        });
    }
    lines
}

/// A command line as a table shows it: the program's file name without its directory, then its
/// arguments (`/usr/bin/python3 worker.py` → `python3 worker.py`), so that what tells two
/// processes apart fits the column.
fn short_command(cmdline: &str) -> std::borrow::Cow<'_, str> {
    let (program, args) = cmdline.split_once(' ').unwrap_or((cmdline, ""));
    match program.rsplit_once('/') {
        Some((_, name)) if args.is_empty() => name.into(),
        Some((_, name)) => format!("{name} {args}").into(),
        None => cmdline.into(),
    }
}

/// At most `width` characters of `s`, the last one `…` when cut.
fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut c: String = s.chars().take(width - 1).collect();
        c.push('…');
        c
    }
}

/// The report as lines of text, each at most 100 columns but for long destinations and names.
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
        "\n{:<28} {:>6} {:>6} {:>6} {:>6} {:>5} {:>5} {:>5} {:>5}",
        "DESTINATION", "USED", "FREE", "ESTAB", "T_WAIT", "SYN", "FIN_W", "CL_W", "L_ACK"
    );
    if r.destinations.is_empty() {
        let _ = writeln!(o, "(no TCP connections from pool ports)");
    }
    for d in &r.destinations {
        let (u, s) = (&d.usage, &d.usage.states);
        let _ = writeln!(
            o,
            "{:<28} {:>6} {:>6} {:>6} {:>6} {:>5} {:>5} {:>5} {:>5}",
            u.dst.to_string(),
            u.used,
            u.free,
            s.established,
            s.time_wait,
            s.syn,
            s.fin_wait,
            s.close_wait,
            s.last_ack
        );
        for line in ownerless(&d.owners) {
            let _ = writeln!(o, "  {line}");
        }
    }

    let _ = writeln!(
        o,
        "\n{:>8}  {:<24} {:<8} {:<14} {:>6} {:>6} {:>6} {:>6} {:>8}",
        "PID", "COMMAND", "USER", "UNIT", "TCP", "LAST", "UDP", "ESTAB", "CL_WAIT"
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
        let unit = p.cgroup.as_deref().map(short).unwrap_or_default();
        let command = match &p.cmdline {
            Some(c) if !c.is_empty() => short_command(c),
            _ => p.comm.as_str().into(),
        };
        let command = command.as_ref();
        let command = if p.exited {
            format!("{} (exited)", cut(command, 24 - 9))
        } else {
            cut(command, 24)
        };
        let _ = writeln!(
            o,
            "{pid:>8}  {command:<24} {:<8} {:<14} {:>6} {:>6} {:>6} {:>6} {:>8}",
            cut(&user, 8),
            cut(unit, 14),
            p.tcp_ports,
            p.last_known_ports,
            p.udp_ports,
            p.established,
            p.close_wait
        );
    }
    if !r.processes.is_empty() {
        let _ = writeln!(
            o,
            "TCP, UDP: pool ports held now. LAST: ports of its closed connections (TIME_WAIT...)\n\
             it was last seen owning. (kernel): ownerless sockets nobody is remembered for."
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fold::dst::{Dst, DstStates, DstUse};
    use crate::modes::top::report::{DstRow, PoolInfo, ProcessUse, States};

    #[test]
    fn commands_lose_their_directory_not_their_arguments() {
        assert_eq!(
            short_command("/usr/bin/python3 worker.py -v"),
            "python3 worker.py -v"
        );
        assert_eq!(short_command("/usr/sbin/nginx"), "nginx");
        assert_eq!(
            short_command("nginx: worker process"),
            "nginx: worker process"
        );
    }

    #[test]
    fn every_line_fits_100_columns() {
        let named = |pid| Named {
            pid,
            comm: "a-long-command15".to_string(),
            cmdline: "x".repeat(300),
            sockets: 99_999,
        };
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
            destinations: vec![DstRow {
                usage: DstUse {
                    dst: Dst::from((std::net::Ipv4Addr::new(255, 255, 255, 255), 65535)),
                    used: 54_000,
                    free: 512,
                    states: DstStates {
                        established: 99_999,
                        syn: 99_999,
                        fin_wait: 99_999,
                        time_wait: 99_999,
                        close_wait: 99_999,
                        last_ack: 99_999,
                        other: 99_999,
                    },
                },
                owners: DstOwners {
                    ownerless: 99_999,
                    last_known: vec![named(4_194_304), named(4_194_303), named(1)],
                    unattributed: 99_999,
                    likely: vec![named(4_194_304), named(4_194_303), named(1)],
                },
            }],
            processes: vec![ProcessUse {
                pid: Some(4_194_304),
                comm: "a-long-command16".to_string(),
                cmdline: Some("python3 ".repeat(40)),
                uid: Some(0),
                cgroup: Some("/system.slice/a-very-long-unit-name.service".to_string()),
                exited: true,
                tcp_ports: 54_000,
                udp_ports: 40_000,
                last_known_ports: 54_000,
                established: 99_999,
                close_wait: 99_999,
            }],
            all_processes_visible: false,
            owners_in_other_pid_namespace: true,
            conntrack: None,
        };
        let text = text(&r);
        assert!(
            text.contains("  likely: a-long-command15[4194304] (99999 now), a-long-command15[4194303] (99999 now), +1 more"),
            "{text}"
        );
        for line in text.lines() {
            assert!(
                line.chars().count() <= 100,
                "{} columns: {line}",
                line.len()
            );
            assert_eq!(line, line.trim_end(), "trailing blanks");
        }
    }
}
