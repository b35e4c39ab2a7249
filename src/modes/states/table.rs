//! The `states` fold: sockets counted by protocol, family and state, as network-connections
//! counts them from /proc/net — or everything with `--all`. A visitor of the sampler's one pass.

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::diag::{Protocol, Record, tcp_state};
use crate::fold::Visit;
use crate::probes::pool::Pool;

/// The twelve state names, in the kernel's order, as network-connections prints them.
pub const STATE_NAMES: [&str; 12] = [
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT1",
    "FIN_WAIT2",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "CLOSING",
    "UNKNOWN",
];
const SYN_RECV: usize = 2;
const CLOSE: usize = 6;
const UNKNOWN: usize = 11;

/// tcp4, tcp6, udp4, udp6, in that order.
const TABLES: [&str; 4] = ["tcp4", "tcp6", "udp4", "udp6"];

/// Counts per table and state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateTable {
    /// Also count sockets without a peer (listeners, unconnected UDP, bound-only).
    all: bool,
    counts: [[u32; 12]; 4],
}

impl StateTable {
    pub fn new(all: bool) -> Self {
        StateTable {
            all,
            counts: [[0; 12]; 4],
        }
    }

    /// The count of `table` (`tcp4`, …, `tcp`, `udp`, `all`) in `state` (a name of
    /// [`STATE_NAMES`]).
    pub fn get(&self, table: &str, state: &str) -> Option<u32> {
        let s = STATE_NAMES.iter().position(|n| *n == state)?;
        let sum = |tables: &[usize]| tables.iter().map(|&t| self.counts[t][s]).sum();
        Some(match table {
            "tcp" => sum(&[0, 1]),
            "udp" => sum(&[2, 3]),
            "all" => sum(&[0, 1, 2, 3]),
            t => self.counts[TABLES.iter().position(|n| *n == t)?][s],
        })
    }
}

/// Where network-connections puts a socket of this kernel state: /proc shows request sockets
/// (NEW_SYN_RECV) as SYN_RECV, and bound-only sockets (only with `--all`) count as CLOSE.
fn state_index(state: u8) -> usize {
    match state {
        tcp_state::NEW_SYN_RECV => SYN_RECV,
        tcp_state::BOUND_INACTIVE => CLOSE,
        s @ 1..=11 => usize::from(s) - 1,
        _ => UNKNOWN,
    }
}

impl Visit for StateTable {
    fn reset(&mut self) {
        self.counts = [[0; 12]; 4];
    }

    #[inline]
    fn visit(&mut self, _: &Pool, protocol: Protocol, record: &Record<'_>) {
        // network-connections leaves out sockets whose remote address is all zeros, as netstat
        // does without -a.
        if !self.all && record.dst_addr().iter().all(|&b| b == 0) {
            return;
        }
        let v6 = usize::from(record.family() == libc::AF_INET6 as u8);
        let table = match protocol {
            Protocol::Tcp => v6,
            Protocol::Udp => 2 + v6,
        };
        self.counts[table][state_index(record.state())] += 1;
    }
}

/// The object network-connections prints: seven tables of twelve states, plus `epoch_ms` first
/// when streaming.
pub struct StatesObject<'a> {
    pub epoch_ms: Option<u64>,
    pub table: &'a StateTable,
}

impl Serialize for StatesObject<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct One<'a>(&'a StateTable, &'a str);
        impl Serialize for One<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(STATE_NAMES.len()))?;
                for state in STATE_NAMES {
                    m.serialize_entry(state, &self.0.get(self.1, state).unwrap_or(0))?;
                }
                m.end()
            }
        }
        let mut m = s.serialize_map(None)?;
        if let Some(ms) = self.epoch_ms {
            m.serialize_entry("epoch_ms", &ms)?;
        }
        for table in ["tcp4", "tcp6", "udp4", "udp6", "tcp", "udp", "all"] {
            m.serialize_entry(table, &One(self.table, table))?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::raw_record;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn fold(all: bool, records: &[(Protocol, [u8; 72])]) -> StateTable {
        let mut t = StateTable::new(all);
        for (p, raw) in records {
            t.visit(&Pool::default(), *p, &Record::new(raw).unwrap());
        }
        t
    }

    #[test]
    fn counts_like_network_connections_and_more_with_all() {
        use Protocol::*;
        use tcp_state::*;
        let peer = Ipv4Addr::new(10, 0, 0, 1);
        let none = Ipv4Addr::UNSPECIFIED;
        let records = [
            (Tcp, raw_record(ESTABLISHED, 40000, peer, 443)),
            (Tcp, raw_record(NEW_SYN_RECV, 443, peer, 40001)),
            (Tcp, raw_record(LISTEN, 443, none, 0)),
            (Tcp, raw_record(BOUND_INACTIVE, 40002, none, 0)),
            (Tcp, raw_record(TIME_WAIT, 40003, Ipv6Addr::LOCALHOST, 80)),
            (Udp, raw_record(CLOSE, 53, none, 0)),
            (Udp, raw_record(ESTABLISHED, 40004, peer, 53)),
            (Tcp, raw_record(42, 1, peer, 1)),
        ];
        let t = fold(false, &records);
        assert_eq!(t.get("tcp4", "ESTABLISHED"), Some(1));
        assert_eq!(
            t.get("tcp4", "SYN_RECV"),
            Some(1),
            "request sockets as /proc shows them"
        );
        assert_eq!(t.get("tcp4", "LISTEN"), Some(0), "no peer: left out");
        assert_eq!(t.get("tcp6", "TIME_WAIT"), Some(1));
        assert_eq!(t.get("udp4", "CLOSE"), Some(0));
        assert_eq!(t.get("udp4", "ESTABLISHED"), Some(1));
        assert_eq!(t.get("tcp4", "UNKNOWN"), Some(1));
        assert_eq!(t.get("all", "ESTABLISHED"), Some(2));
        let t = fold(true, &records);
        assert_eq!(t.get("tcp4", "LISTEN"), Some(1));
        assert_eq!(
            t.get("tcp4", "CLOSE"),
            Some(1),
            "bound-only counts as CLOSE"
        );
        assert_eq!(t.get("udp", "CLOSE"), Some(1));
    }

    #[test]
    fn the_object_has_exactly_the_keys_in_order() {
        let t = StateTable::new(false);
        let text = serde_json::to_string(&StatesObject {
            epoch_ms: None,
            table: &t,
        })
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 7);
        assert!(text.starts_with(r#"{"tcp4":{"ESTABLISHED":0,"SYN_SENT":0,"SYN_RECV":0,"#));
        assert!(text.ends_with(r#""CLOSING":0,"UNKNOWN":0}}"#));
        for k in ["tcp4", "tcp6", "udp4", "udp6", "tcp", "udp", "all"] {
            assert_eq!(v[k].as_object().unwrap().len(), 12, "{k}");
        }
    }
}
