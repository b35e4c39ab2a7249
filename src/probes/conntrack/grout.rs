//! The grout router's conntrack settings (`grcli conntrack config`) over Linux's sysctls: each
//! of grout's names with the sysctls that hold what it means on Linux, the value `config show`
//! prints for it, and the sysctls `config set` writes for it.
//!
//! grout keeps one timeout per group of states; Linux keeps one per state (and per protocol), so
//! one grout name may cover several sysctls. Shown, it is the lowest of them (the soonest an idle
//! entry in one of its states can go), with the spread named when they disagree; set, it writes
//! them all.

use super::sysctl::Settings;

/// grout's names in grout's order (`config show`), each with the sysctls it stands for (without
/// the `nf_conntrack_` prefix).
pub const NAMES: [(&str, &[&str]); 7] = [
    ("max", &["max"]),
    // grout: CONN_S_CLOSED. Linux: TCP CLOSE (after a RST).
    ("closed-timeout", &["tcp_timeout_close"]),
    // grout: the unsynchronised states (NEW, SIMSYN_SENT, SYN_RECEIVED) and UDP with no reply.
    (
        "new-timeout",
        &[
            "tcp_timeout_syn_sent",
            "tcp_timeout_syn_recv",
            "udp_timeout",
        ],
    ),
    // grout: UDP with traffic both ways. Linux: a UDP entry answered and still active after 2 s.
    ("established-udp-timeout", &["udp_timeout_stream"]),
    ("established-tcp-timeout", &["tcp_timeout_established"]),
    // grout: FIN_SENT, FIN_RECEIVED, CLOSE_WAIT, FIN_WAIT, CLOSING, LAST_ACK.
    (
        "half-close-timeout",
        &[
            "tcp_timeout_fin_wait",
            "tcp_timeout_close_wait",
            "tcp_timeout_last_ack",
        ],
    ),
    ("time-wait-timeout", &["tcp_timeout_time_wait"]),
];

/// The sysctls behind one of grout's names; `None` for a name grout does not have.
pub fn sysctls_of(name: &str) -> Option<&'static [&'static str]> {
    NAMES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// One of grout's lines of `config show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub name: &'static str,
    /// The lowest value of its sysctls.
    pub value: u64,
    /// Every sysctl with its value, in [`NAMES`]' order, when they disagree; empty otherwise.
    pub spread: Vec<(&'static str, u64)>,
}

impl Line {
    /// `name value`, then `(spread LOW..HIGH: sysctl value, ...)` when the sysctls disagree.
    pub fn text(&self) -> String {
        let mut s = format!("{} {}", self.name, self.value);
        if let Some(high) = self.spread.iter().map(|(_, v)| *v).max() {
            let each: Vec<String> = self
                .spread
                .iter()
                .map(|(n, v)| format!("{n} {v}"))
                .collect();
            s += &format!(" (spread {}..{high}: {})", self.value, each.join(", "));
        }
        s
    }
}

/// grout's lines after `used`, from the settings read: `max` and the six timeouts. A name none
/// of whose sysctls this kernel has is left out (never a made-up value).
pub fn lines(s: &Settings) -> Vec<Line> {
    NAMES
        .iter()
        .filter_map(|&(name, sysctls)| {
            let values: Vec<(&'static str, u64)> = sysctls
                .iter()
                .filter_map(|&n| match n {
                    "max" => Some((n, s.max)),
                    _ => s
                        .timeouts
                        .iter()
                        .find(|(t, _)| t == n)
                        .map(|(_, v)| (n, *v)),
                })
                .collect();
            let value = values.iter().map(|(_, v)| *v).min()?;
            let agree = values.iter().all(|(_, v)| *v == value);
            Some(Line {
                name,
                value,
                spread: if agree { Vec::new() } else { values },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(timeouts: &[(&str, u64)]) -> Settings {
        Settings {
            used: 2,
            max: 1024,
            buckets: 256,
            timeouts: timeouts.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
        }
    }

    /// Linux's defaults (6.x) seen through grout's names: new-timeout and half-close-timeout
    /// cover sysctls that disagree.
    #[test]
    fn grout_lines_show_the_lowest_and_name_the_spread() {
        let s = settings(&[
            ("tcp_timeout_close", 10),
            ("tcp_timeout_close_wait", 60),
            ("tcp_timeout_established", 432000),
            ("tcp_timeout_fin_wait", 120),
            ("tcp_timeout_last_ack", 30),
            ("tcp_timeout_syn_recv", 60),
            ("tcp_timeout_syn_sent", 120),
            ("tcp_timeout_time_wait", 120),
            ("udp_timeout", 30),
            ("udp_timeout_stream", 120),
        ]);
        let text: Vec<String> = lines(&s).iter().map(Line::text).collect();
        assert_eq!(
            text,
            [
                "max 1024",
                "closed-timeout 10",
                "new-timeout 30 (spread 30..120: tcp_timeout_syn_sent 120, \
                 tcp_timeout_syn_recv 60, udp_timeout 30)",
                "established-udp-timeout 120",
                "established-tcp-timeout 432000",
                "half-close-timeout 30 (spread 30..120: tcp_timeout_fin_wait 120, \
                 tcp_timeout_close_wait 60, tcp_timeout_last_ack 30)",
                "time-wait-timeout 120",
            ]
        );
    }

    #[test]
    fn agreeing_sysctls_and_missing_ones() {
        let s = settings(&[
            ("tcp_timeout_fin_wait", 45),
            ("tcp_timeout_close_wait", 45),
            ("tcp_timeout_last_ack", 45),
            ("udp_timeout", 9),
        ]);
        let got = lines(&s);
        let names: Vec<&str> = got.iter().map(|l| l.name).collect();
        assert_eq!(names, ["max", "new-timeout", "half-close-timeout"]);
        assert_eq!(got[1].text(), "new-timeout 9");
        assert_eq!(got[2].text(), "half-close-timeout 45");
        assert_eq!(
            sysctls_of("closed-timeout"),
            Some(&["tcp_timeout_close"][..])
        );
        assert_eq!(sysctls_of("udp_timeout"), None);
    }
}
