//! The fold: socket records into plain counters ([`Tally`]), and counters plus the pool into the
//! one line a sample prints ([`Sample`]). Pure: no I/O, no allocation per socket.

use crate::diag::bpf::Counts;
use crate::diag::{Protocol, Protocols, Record, tcp_state};
use crate::fold::dst::{DstUse, WorstDst};
use crate::fold::forecast::ForecastColumns;
use crate::fold::owners::OwnerColumns;
use crate::probes::pool::{Pool, PortSet};

/// Counters for one sample, reused from sample to sample.
#[derive(Default)]
pub struct Tally {
    /// Local ports held by at least one TCP socket, any state.
    pub tcp_ports: PortSet,
    /// Local ports held by at least one UDP socket.
    pub udp_ports: PortSet,
    /// TCP sockets per state number, any local port.
    pub tcp_states: [u32; tcp_state::COUNT],
    /// UDP sockets, any local port.
    pub udp_sockets: u32,
    /// Sockets folded, for diagnostics.
    pub sockets: u64,
}

impl Tally {
    pub fn reset(&mut self) {
        self.tcp_ports.clear();
        self.udp_ports.clear();
        self.tcp_states = [0; tcp_state::COUNT];
        self.udp_sockets = 0;
        self.sockets = 0;
    }

    /// Folds one socket of `protocol` into the counters.
    #[inline]
    pub fn add(&mut self, protocol: Protocol, record: &Record<'_>) {
        self.sockets += 1;
        match protocol {
            Protocol::Tcp => {
                self.tcp_ports.insert(record.src_port());
                if let Some(n) = self.tcp_states.get_mut(usize::from(record.state())) {
                    *n += 1;
                }
            }
            Protocol::Udp => {
                self.udp_sockets += 1;
                self.udp_ports.insert(record.src_port());
            }
        }
    }

    /// Takes the counts a kernel-side walk made of `protocols` (`--source bpf`): the same
    /// counters as folding each of those sockets with [`Tally::add`].
    pub fn add_counts(&mut self, counts: &Counts, protocols: Protocols) {
        if protocols.tcp {
            for (state, n) in self.tcp_states.iter_mut().enumerate() {
                *n += counts.tcp_state(state);
                self.sockets += u64::from(counts.tcp_state(state));
            }
            self.tcp_ports.insert_bitmap(counts.ports(Protocol::Tcp));
        }
        if protocols.udp {
            self.udp_sockets += counts.udp_sockets();
            self.sockets += u64::from(counts.udp_sockets());
            self.udp_ports.insert_bitmap(counts.ports(Protocol::Udp));
        }
    }

    fn state(&self, state: u8) -> u32 {
        self.tcp_states[usize::from(state)]
    }
}

/// One line of the timeline. `None` marks a field that was not measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub epoch_ms: u64,
    pub total_port: u32,
    pub used: u32,
    pub free: u32,
    pub udp_used: Option<u32>,
    pub tcp_used: Option<u32>,
    pub time_wait: Option<u32>,
    pub estab: Option<u32>,
    pub syn: Option<u32>,
    pub close_wait: Option<u32>,
    pub last_ack: Option<u32>,
    pub fin_wait: Option<u32>,
    /// The `--dst` group, when asked for.
    pub dst: Option<WorstDst>,
    /// The `--conntrack` group, when asked for.
    pub ct: Option<CtColumns>,
    /// The `--forecast` group, when asked for.
    pub forecast: Option<ForecastColumns>,
    /// The `--owners` group, when asked for.
    pub owners: Option<OwnerColumns>,
    /// What the sample knows beyond its columns (the Prometheus metrics show it).
    pub detail: Detail,
}

/// A sample's counts beyond its columns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Detail {
    /// The pool's range, inclusive.
    pub range: (u16, u16),
    /// TCP sockets per kernel state number; `None` when TCP was not sampled.
    pub tcp_states: Option<[u32; tcp_state::COUNT]>,
    /// UDP sockets; `None` when UDP was not sampled.
    pub udp_sockets: Option<u32>,
    /// The busiest destinations, most used first, cut to `--dst-top`: empty unless asked for.
    pub destinations: Vec<DstUse>,
}

/// The `--conntrack` columns of one sample; `None` where the table could not be read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CtColumns {
    pub used: Option<u64>,
    pub max: Option<u64>,
    pub drops: Option<u64>,
}

impl Sample {
    /// The sample the counters describe, against `pool`.
    pub fn new(epoch_ms: u64, pool: &Pool, tally: &Tally, measured: Protocols) -> Sample {
        use tcp_state::*;
        let total_port = pool.total();
        let used = pool
            .members
            .count_and_either(&tally.tcp_ports, &tally.udp_ports);
        let tcp = |v: u32| measured.tcp.then_some(v);
        Sample {
            epoch_ms,
            total_port,
            used,
            free: total_port.saturating_sub(used),
            udp_used: measured
                .udp
                .then(|| pool.members.count_and(&tally.udp_ports)),
            tcp_used: tcp(pool.members.count_and(&tally.tcp_ports)),
            time_wait: tcp(tally.state(TIME_WAIT)),
            estab: tcp(tally.state(ESTABLISHED)),
            syn: tcp(tally.state(SYN_SENT) + tally.state(SYN_RECV) + tally.state(NEW_SYN_RECV)),
            close_wait: tcp(tally.state(CLOSE_WAIT)),
            last_ack: tcp(tally.state(LAST_ACK)),
            fin_wait: tcp(tally.state(FIN_WAIT1) + tally.state(FIN_WAIT2)),
            dst: None,
            ct: None,
            forecast: None,
            owners: None,
            detail: Detail {
                range: (pool.lo, pool.hi),
                tcp_states: measured.tcp.then_some(tally.tcp_states),
                udp_sockets: measured.udp.then_some(tally.udp_sockets),
                destinations: Vec::new(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(state: u8, port: u16) -> [u8; 72] {
        crate::diag::raw_record(state, port, std::net::Ipv4Addr::UNSPECIFIED, 0)
    }

    fn fold(items: &[(Protocol, u8, u16)]) -> Tally {
        let mut t = Tally::default();
        for &(p, s, port) in items {
            let raw = rec(s, port);
            t.add(p, &Record::new(&raw).unwrap());
        }
        t
    }

    #[test]
    fn ports_count_once_and_only_inside_the_pool() {
        use Protocol::*;
        use tcp_state::*;
        let mut pool = Pool::default();
        pool.set("40000 40099", "40010-40019").unwrap();
        let t = fold(&[
            (Tcp, ESTABLISHED, 40000),
            (Tcp, ESTABLISHED, 40000), // second socket on one port
            (Tcp, TIME_WAIT, 40001),
            (Udp, CLOSE, 40001), // port held by TCP and UDP
            (Udp, ESTABLISHED, 40002),
            (Tcp, LISTEN, 40010),     // reserved: not in the pool
            (Tcp, NEW_SYN_RECV, 443), // outside the range: states only
            (Tcp, SYN_SENT, 40003),
            (Tcp, FIN_WAIT1, 40004),
            (Tcp, FIN_WAIT2, 40005),
            (Tcp, CLOSE_WAIT, 40006),
            (Tcp, LAST_ACK, 40007),
            (Tcp, BOUND_INACTIVE, 40008),
        ]);
        let s = Sample::new(1, &pool, &t, Protocols::ALL);
        assert_eq!(s.total_port, 90);
        assert_eq!(s.tcp_used, Some(8)); // 40000,1,3,4,5,6,7,8
        assert_eq!(s.udp_used, Some(2)); // 40001,2
        assert_eq!(s.used, 9);
        assert_eq!(s.free, 81);
        assert_eq!(s.estab, Some(2));
        assert_eq!(s.time_wait, Some(1));
        assert_eq!(s.syn, Some(2));
        assert_eq!(s.fin_wait, Some(2));
        assert_eq!((s.close_wait, s.last_ack), (Some(1), Some(1)));
    }

    #[test]
    fn unmeasured_protocols_are_none_not_zero() {
        let pool = {
            let mut p = Pool::default();
            p.set("1 10", "").unwrap();
            p
        };
        let s = Sample::new(1, &pool, &Tally::default(), Protocols::UDP);
        assert_eq!(s.tcp_used, None);
        assert_eq!(s.time_wait, None);
        assert_eq!(s.udp_used, Some(0));
        let s = Sample::new(1, &pool, &Tally::default(), Protocols::TCP);
        assert_eq!(s.udp_used, None);
        assert_eq!(s.fin_wait, Some(0));
    }
}
