//! The `states` fold: sockets counted by protocol, family and state, as network-connections
//! counts them from /proc/net — or everything with `--all`. A visitor of the sampler's one pass.

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::diag::bpf::Counts;
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

/// Kernel state codes 0 to 13 are kept apart, every higher code in one more slot: what a code
/// counts as depends on where it was read, which is known once the sample is taken.
const CODES: usize = 15;

/// Counts per table and kernel state code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateTable {
    /// Also count sockets without a peer (listeners, unconnected UDP, bound-only).
    all: bool,
    /// The records came from /proc/net's text, as the script reads it, not from netlink.
    proc: bool,
    counts: [[u32; CODES]; 4],
}

impl StateTable {
    pub fn new(all: bool) -> Self {
        StateTable {
            all,
            proc: false,
            counts: [[0; CODES]; 4],
        }
    }

    /// Says where the records of this sample were read: /proc/net's text (`true`) or netlink.
    pub fn read_from_proc(&mut self, proc: bool) {
        self.proc = proc;
    }

    /// The count of `table` (`tcp4`, …, `tcp`, `udp`, `all`) in `state` (a name of
    /// [`STATE_NAMES`]).
    pub fn get(&self, table: &str, state: &str) -> Option<u32> {
        let s = STATE_NAMES.iter().position(|n| *n == state)?;
        let one = |t: usize| {
            (0..CODES)
                .filter(|&code| self.name_of(t < 2, code) == Some(s))
                .map(|code| self.counts[t][code])
                .sum::<u32>()
        };
        let sum = |tables: &[usize]| tables.iter().map(|&t| one(t)).sum();
        Some(match table {
            "tcp" => sum(&[0, 1]),
            "udp" => sum(&[2, 3]),
            "all" => sum(&[0, 1, 2, 3]),
            t => one(TABLES.iter().position(|n| *n == t)?),
        })
    }

    /// Where a socket of kernel state `code` is counted (an index of [`STATE_NAMES`]), or `None`
    /// when network-connections would not count it.
    ///
    /// From /proc/net, as the script reads it: codes 1 to 11 by name, every other code UNKNOWN
    /// (its map names 12 and 13 UNKNOWN; 0 never appears in the files and stops the script).
    ///
    /// From netlink, as /proc/net would have shown the same socket: the kernel reports request
    /// sockets as SYN_RECV and bound-only sockets as CLOSE (NEW_SYN_RECV and BOUND_INACTIVE are
    /// taken the same way should a kernel report them). A TCP socket in CLOSE is one that only
    /// the bind table holds — bound and never connected, or bound and then refused, which keeps
    /// the peer's address — and /proc/net lists no such socket, so only `--all` counts it.
    fn name_of(&self, tcp: bool, code: usize) -> Option<usize> {
        const NEW_SYN_RECV: usize = tcp_state::NEW_SYN_RECV as usize;
        const BOUND_INACTIVE: usize = tcp_state::BOUND_INACTIVE as usize;
        const TCP_CLOSE: usize = tcp_state::CLOSE as usize;
        match code {
            _ if self.proc => Some(if (1..=11).contains(&code) {
                code - 1
            } else {
                UNKNOWN
            }),
            NEW_SYN_RECV => Some(SYN_RECV),
            TCP_CLOSE | BOUND_INACTIVE if tcp => self.all.then_some(CLOSE),
            1..=11 => Some(code - 1),
            _ => Some(UNKNOWN),
        }
    }
}

impl Visit for StateTable {
    fn reset(&mut self) {
        self.counts = [[0; CODES]; 4];
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
        self.counts[table][usize::from(record.state()).min(CODES - 1)] += 1;
    }

    /// Counts in the kernel serve it as well: by family, peer and state, as the records would.
    fn needs_records(&self) -> bool {
        false
    }

    fn add_counts(&mut self, counts: &Counts) {
        let tables = [
            (Protocol::Tcp, false),
            (Protocol::Tcp, true),
            (Protocol::Udp, false),
            (Protocol::Udp, true),
        ];
        for (t, (protocol, v6)) in tables.into_iter().enumerate() {
            for state in 0..Counts::STATES {
                let mut n = counts.by_family(protocol, v6, true, state);
                if self.all {
                    n += counts.by_family(protocol, v6, false, state);
                }
                self.counts[t][state.min(CODES - 1)] += n;
            }
        }
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

    fn fold(all: bool, proc: bool, records: &[(Protocol, [u8; 72])]) -> StateTable {
        let mut t = StateTable::new(all);
        for (p, raw) in records {
            t.visit(&Pool::default(), *p, &Record::new(raw).unwrap());
        }
        t.read_from_proc(proc);
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
            (Tcp, raw_record(SYN_RECV, 443, peer, 40001)),
            (Tcp, raw_record(LISTEN, 443, none, 0)),
            (Tcp, raw_record(CLOSE, 40002, none, 0)),
            (Tcp, raw_record(TIME_WAIT, 40003, Ipv6Addr::LOCALHOST, 80)),
            (Udp, raw_record(CLOSE, 53, none, 0)),
            (Udp, raw_record(ESTABLISHED, 40004, peer, 53)),
            (Tcp, raw_record(42, 1, peer, 1)),
        ];
        for proc in [false, true] {
            let t = fold(false, proc, &records);
            assert_eq!(t.get("tcp4", "ESTABLISHED"), Some(1));
            assert_eq!(t.get("tcp4", "SYN_RECV"), Some(1));
            assert_eq!(t.get("tcp4", "LISTEN"), Some(0), "no peer: left out");
            assert_eq!(t.get("tcp6", "TIME_WAIT"), Some(1));
            assert_eq!(t.get("udp4", "CLOSE"), Some(0));
            assert_eq!(t.get("udp4", "ESTABLISHED"), Some(1));
            assert_eq!(t.get("tcp4", "UNKNOWN"), Some(1));
            assert_eq!(t.get("all", "ESTABLISHED"), Some(2));
        }
        let t = fold(true, false, &records);
        assert_eq!(t.get("tcp4", "LISTEN"), Some(1));
        assert_eq!(
            t.get("tcp4", "CLOSE"),
            Some(1),
            "bound-only counts as CLOSE"
        );
        assert_eq!(t.get("udp", "CLOSE"), Some(1));
    }

    /// The script's STATE_MAP names codes 1 to 11, maps 12 and 13 to UNKNOWN, and every code
    /// past its length is UNKNOWN too. From netlink the same codes mean what /proc/net would
    /// have shown for the socket.
    #[test]
    fn codes_the_script_has_no_name_for_are_unknown_in_proc_files() {
        use Protocol::*;
        use tcp_state::*;
        let peer = Ipv4Addr::new(10, 0, 0, 1);
        let records = [
            (Tcp, raw_record(NEW_SYN_RECV, 443, peer, 40001)),
            (Tcp, raw_record(BOUND_INACTIVE, 40002, peer, 0)),
            (Tcp, raw_record(14, 40003, peer, 1)),
            (Tcp, raw_record(0xFF, 40004, peer, 1)),
            (Udp, raw_record(BOUND_INACTIVE, 40005, peer, 1)),
        ];
        let t = fold(false, true, &records);
        assert_eq!(t.get("tcp4", "UNKNOWN"), Some(4));
        assert_eq!(t.get("udp4", "UNKNOWN"), Some(1));
        assert_eq!(t.get("all", "SYN_RECV"), Some(0));
        assert_eq!(t.get("all", "CLOSE"), Some(0));
        let t = fold(false, false, &records);
        assert_eq!(t.get("tcp4", "SYN_RECV"), Some(1), "a request socket");
        assert_eq!(
            t.get("tcp4", "CLOSE"),
            Some(0),
            "bound-only: /proc hides it"
        );
        assert_eq!(t.get("tcp4", "UNKNOWN"), Some(2));
        assert_eq!(t.get("udp4", "UNKNOWN"), Some(1));
        let t = fold(true, false, &records);
        assert_eq!(t.get("tcp4", "CLOSE"), Some(1));
    }

    /// A socket that was bound, then refused: the kernel keeps it in the bind table only, in
    /// CLOSE, with the refused peer's address. /proc/net (and so the script) does not list it.
    #[test]
    fn a_tcp_socket_in_close_with_a_peer_counts_only_from_proc_or_with_all() {
        use tcp_state::CLOSE;
        let records = [
            (
                Protocol::Tcp,
                raw_record(CLOSE, 40070, Ipv4Addr::LOCALHOST, 0),
            ),
            (
                Protocol::Tcp,
                raw_record(CLOSE, 40072, Ipv6Addr::LOCALHOST, 0),
            ),
            (
                Protocol::Udp,
                raw_record(CLOSE, 40074, Ipv4Addr::LOCALHOST, 9),
            ),
        ];
        let t = fold(false, false, &records);
        assert_eq!(t.get("tcp", "CLOSE"), Some(0));
        assert_eq!(
            t.get("udp4", "CLOSE"),
            Some(1),
            "UDP is not in a bind table"
        );
        let t = fold(true, false, &records);
        assert_eq!(t.get("tcp4", "CLOSE"), Some(1));
        assert_eq!(t.get("tcp6", "CLOSE"), Some(1));
        // A CLOSE line in a /proc file (never seen live) counts, as the script counts it.
        let t = fold(false, true, &records);
        assert_eq!(t.get("tcp", "CLOSE"), Some(2));
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
