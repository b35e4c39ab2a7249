//! Destinations: which remote (address, port) holds the most pool ports. An implicit `connect()`
//! needs a local port unique per (local address, remote address, remote port), so one busy
//! backend can exhaust its tuple while the host still shows free ports; an explicit `bind()` takes
//! a port away from every destination. Folded from the same records as the sample, reusing one
//! buffer of (destination, local port) pairs: no allocation per socket once it has grown.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Serialize, Serializer};

use std::collections::HashMap;

use crate::diag::{Protocol, Record, tcp_state};
use crate::fold::Visit;
use crate::probes::pool::{Pool, PortSet};
use crate::util::hash::FxBuild;

/// A remote address and port. IPv4 is kept IPv4-mapped, so a dual-stack socket's peer
/// `::ffff:10.1.2.3` and an IPv4 socket's peer `10.1.2.3` are one destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Dst {
    addr: [u8; 16],
    port: u16,
}

impl Dst {
    pub fn of(record: &Record<'_>) -> Dst {
        let raw = record.dst_addr();
        let mut addr = [0u8; 16];
        if raw.len() == 4 {
            addr[10] = 0xff;
            addr[11] = 0xff;
            addr[12..].copy_from_slice(raw);
        } else {
            addr.copy_from_slice(raw);
        }
        Dst {
            addr,
            port: record.dst_port(),
        }
    }
}

impl fmt::Display for Dst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v6 = Ipv6Addr::from(self.addr);
        match v6.to_ipv4_mapped() {
            Some(v4) => write!(f, "{v4}:{}", self.port),
            None => write!(f, "[{v6}]:{}", self.port),
        }
    }
}

impl Serialize for Dst {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl From<(Ipv4Addr, u16)> for Dst {
    fn from((ip, port): (Ipv4Addr, u16)) -> Dst {
        Dst {
            addr: ip.to_ipv6_mapped().octets(),
            port,
        }
    }
}

/// One destination's use of the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DstUse {
    pub dst: Dst,
    /// Distinct pool ports with a socket toward it.
    pub used: u32,
    /// Pool ports still usable toward it: total minus (used toward it ∪ explicitly bound).
    pub free: u32,
    /// Its sockets from pool ports by state (the timeline's state columns).
    pub states: DstStates,
}

/// Sockets from pool ports toward one destination, by state, grouped as the timeline's columns
/// are: what a destination's ports are spent on (TIME_WAIT churn, connections held open, a
/// backend that does not answer SYNs, a peer that closed first).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DstStates {
    pub established: u32,
    /// SYN_SENT (and SYN_RECV of a simultaneous open).
    pub syn: u32,
    /// FIN_WAIT1 and FIN_WAIT2.
    pub fin_wait: u32,
    pub time_wait: u32,
    pub close_wait: u32,
    pub last_ack: u32,
    /// CLOSING.
    pub other: u32,
}

impl DstStates {
    #[inline]
    fn add(&mut self, state: u8) {
        use tcp_state::*;
        let n = match state {
            ESTABLISHED => &mut self.established,
            SYN_SENT | SYN_RECV | NEW_SYN_RECV => &mut self.syn,
            FIN_WAIT1 | FIN_WAIT2 => &mut self.fin_wait,
            TIME_WAIT => &mut self.time_wait,
            CLOSE_WAIT => &mut self.close_wait,
            LAST_ACK => &mut self.last_ack,
            _ => &mut self.other,
        };
        *n += 1;
    }
}

/// The three `--dst` columns of a sample, and the fewest free ports toward any destination (the
/// Prometheus metrics show it). All `None` when no socket had a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WorstDst {
    pub worst_dst: Option<Dst>,
    pub worst_dst_used: Option<u32>,
    pub worst_dst_free: Option<u32>,
    /// Not a column: the busiest destination need not be the one with the fewest free ports.
    pub min_free: Option<u32>,
    /// The destination with `min_free` (ties: the busier, then the smaller destination).
    pub min_free_dst: Option<Dst>,
}

impl From<Option<DstUse>> for WorstDst {
    fn from(u: Option<DstUse>) -> Self {
        WorstDst {
            worst_dst: u.map(|u| u.dst),
            worst_dst_used: u.map(|u| u.used),
            worst_dst_free: u.map(|u| u.free),
            min_free: u.map(|u| u.free),
            min_free_dst: u.map(|u| u.dst),
        }
    }
}

/// The destination fold (`--dst`, `top`): (destination, local port) pairs of TCP sockets with a peer whose local
/// port is in the pool, and the pool ports held by explicit binds. Destinations are few and
/// sockets many, so each destination is kept once and a pair is 8 bytes (its index and the port):
/// 0.8 MB at 100k sockets instead of 2 MB.
#[derive(Default)]
pub struct DstTally {
    /// Distinct destinations of this sample, in order of first sight.
    dsts: Vec<Dst>,
    /// Each destination's sockets by state, by the same index.
    states: Vec<DstStates>,
    index: HashMap<Dst, u32, FxBuild>,
    /// `destination index << 16 | local port`.
    pairs: Vec<u64>,
    /// The pairs are sorted (a summary and a ranking of one sample sort them once).
    sorted: bool,
    bound: PortSet,
}

impl Visit for DstTally {
    fn reset(&mut self) {
        self.dsts.clear();
        self.states.clear();
        self.index.clear();
        self.pairs.clear();
        self.sorted = true;
        self.bound.clear();
    }

    /// TCP sockets only: UDP does not enter the per-destination figures.
    #[inline]
    fn visit(&mut self, pool: &Pool, protocol: Protocol, record: &Record<'_>) {
        if protocol == Protocol::Tcp {
            self.add(record, &pool.members);
        }
    }
}

impl DstTally {
    /// Folds one TCP socket; `pool` is the pool's member set.
    #[inline]
    pub fn add(&mut self, record: &Record<'_>, pool: &PortSet) {
        let port = record.src_port();
        if !pool.contains(port) {
            return;
        }
        match record.state() {
            // Bound-only sockets are reported as CLOSE (or BOUND_INACTIVE): an explicit bind.
            tcp_state::LISTEN | tcp_state::CLOSE | tcp_state::BOUND_INACTIVE => {
                self.bound.insert(port)
            }
            _ => {
                let dst = Dst::of(record);
                let next = self.dsts.len() as u32;
                let i = *self.index.entry(dst).or_insert(next);
                if i == next {
                    self.dsts.push(dst);
                    self.states.push(DstStates::default());
                }
                self.states[i as usize].add(record.state());
                self.pairs.push(u64::from(i) << 16 | u64::from(port));
                self.sorted = false;
            }
        }
    }

    /// Every destination's use, busiest first (ties: fewer free ports, then the smaller
    /// destination). `total` is the pool size, `pool` its members.
    pub fn ranked(&mut self, total: u32, pool: &PortSet) -> Vec<DstUse> {
        let mut out = Vec::new();
        self.each(total, pool, |u| out.push(u));
        out.sort_by(|a, b| {
            b.used
                .cmp(&a.used)
                .then(a.free.cmp(&b.free))
                .then(a.dst.cmp(&b.dst))
        });
        out
    }

    /// The busiest destination, without building the whole ranking.
    pub fn worst(&mut self, total: u32, pool: &PortSet) -> Option<DstUse> {
        self.scan(total, pool).0
    }

    /// The `--dst` columns: the busiest destination, and the fewest free ports toward any.
    pub fn summary(&mut self, total: u32, pool: &PortSet) -> WorstDst {
        let (worst, min) = self.scan(total, pool);
        WorstDst {
            min_free: min.map(|m| m.free),
            min_free_dst: min.map(|m| m.dst),
            ..worst.into()
        }
    }

    /// The busiest destination and the one with the fewest free ports (ties: the busier, then
    /// the smaller destination, so the same sockets name the same one), in one pass.
    fn scan(&mut self, total: u32, pool: &PortSet) -> (Option<DstUse>, Option<DstUse>) {
        let mut min: Option<DstUse> = None;
        let mut worst: Option<DstUse> = None;
        self.each(total, pool, |u| {
            let fewer = |m: DstUse| {
                (u.free, std::cmp::Reverse(u.used), u.dst)
                    < (m.free, std::cmp::Reverse(m.used), m.dst)
            };
            if min.is_none_or(fewer) {
                min = Some(u);
            }
            let better = match worst {
                None => true,
                Some(w) => {
                    (u.used, std::cmp::Reverse(u.free), std::cmp::Reverse(u.dst))
                        > (w.used, std::cmp::Reverse(w.free), std::cmp::Reverse(w.dst))
                }
            };
            if better {
                worst = Some(u);
            }
        });
        (worst, min)
    }

    /// Sorts the pairs and reports each destination's use once.
    fn each(&mut self, total: u32, pool: &PortSet, mut report: impl FnMut(DstUse)) {
        if !self.sorted {
            self.pairs.sort_unstable();
            self.sorted = true;
        }
        let bound = pool.count_and(&self.bound);
        let mut i = 0;
        while i < self.pairs.len() {
            let d = self.pairs[i] >> 16;
            let dst = self.dsts[d as usize];
            let (mut used, mut used_unbound) = (0u32, 0u32);
            let mut last = None;
            while i < self.pairs.len() && self.pairs[i] >> 16 == d {
                let port = self.pairs[i] as u16;
                if last != Some(port) {
                    used += 1;
                    if !self.bound.contains(port) {
                        used_unbound += 1;
                    }
                    last = Some(port);
                }
                i += 1;
            }
            report(DstUse {
                dst,
                used,
                free: total.saturating_sub(bound + used_unbound),
                states: self.states[d as usize],
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::pool::Pool;

    fn rec(state: u8, sport: u16, dst: [u8; 4], dport: u16) -> [u8; 72] {
        crate::diag::raw_record(state, sport, Ipv4Addr::from(dst), dport)
    }

    fn v6rec(sport: u16, dst: [u8; 16], dport: u16) -> [u8; 72] {
        crate::diag::raw_record(tcp_state::ESTABLISHED, sport, Ipv6Addr::from(dst), dport)
    }

    fn pool() -> Pool {
        let mut p = Pool::default();
        p.set("40000 40099", "40010-40019").unwrap();
        p
    }

    #[test]
    fn busiest_destination_and_its_free_ports() {
        use tcp_state::*;
        let pool = pool();
        let mut t = DstTally::default();
        let a = [10, 1, 2, 3];
        let b = [10, 1, 2, 4];
        let records = [
            rec(ESTABLISHED, 40000, a, 443),
            rec(TIME_WAIT, 40001, a, 443),
            rec(ESTABLISHED, 40001, a, 443), // same port again: counts once
            rec(SYN_SENT, 40002, a, 443),
            rec(ESTABLISHED, 40000, b, 443), // port shared with a: allowed by the 4-tuple
            rec(ESTABLISHED, 40011, a, 443), // reserved: not in the pool
            rec(ESTABLISHED, 5000, a, 443),  // outside the range
            rec(LISTEN, 40050, [0; 4], 0),
            rec(CLOSE, 40051, [0; 4], 0),  // bound only
            rec(LISTEN, 40002, [0; 4], 0), // bound and used toward a: counts once
        ];
        for r in &records {
            t.add(&Record::new(r).unwrap(), &pool.members);
        }
        let worst = t.worst(pool.total(), &pool.members).unwrap();
        assert_eq!(worst.dst.to_string(), "10.1.2.3:443");
        assert_eq!(worst.used, 3);
        assert_eq!(worst.free, 90 - 3 - 2);
        let ranked = t.ranked(pool.total(), &pool.members);
        assert_eq!(ranked.len(), 2);
        assert_eq!(ranked[0], worst);
        assert_eq!((ranked[1].used, ranked[1].free), (1, 90 - 3 - 1));
        // Sockets, not ports: the port 40001 has a TIME_WAIT and an ESTABLISHED socket.
        assert_eq!(
            ranked[0].states,
            DstStates {
                established: 2,
                syn: 1,
                time_wait: 1,
                ..DstStates::default()
            }
        );
        assert_eq!(ranked[1].states.established, 1);
    }

    #[test]
    fn min_free_names_its_destination_which_need_not_be_the_busiest() {
        use tcp_state::*;
        let pool = pool();
        let mut t = DstTally::default();
        let (busy, tight, other) = ([10, 0, 0, 1], [10, 0, 0, 2], [10, 0, 0, 3]);
        let records = [
            // busy: two ports, both also explicitly bound, so they cost it nothing extra.
            rec(ESTABLISHED, 40000, busy, 443),
            rec(ESTABLISHED, 40001, busy, 443),
            rec(LISTEN, 40000, [0; 4], 0),
            rec(LISTEN, 40001, [0; 4], 0),
            // tight and other: one unbound port each; tight is the smaller, so named on the tie.
            rec(ESTABLISHED, 40003, other, 443),
            rec(ESTABLISHED, 40002, tight, 443),
        ];
        for r in &records {
            t.add(&Record::new(r).unwrap(), &pool.members);
        }
        let s = t.summary(pool.total(), &pool.members);
        assert_eq!(s.worst_dst.unwrap().to_string(), "10.0.0.1:443");
        assert_eq!((s.worst_dst_used, s.worst_dst_free), (Some(2), Some(88)));
        assert_eq!(s.min_free, Some(87));
        assert_eq!(s.min_free_dst.unwrap().to_string(), "10.0.0.2:443");
    }

    #[test]
    fn ipv4_mapped_peers_merge_and_ipv6_prints_in_brackets() {
        let pool = pool();
        let mut t = DstTally::default();
        let mapped = {
            let mut a = [0u8; 16];
            a[10] = 0xff;
            a[11] = 0xff;
            a[12..].copy_from_slice(&[127, 0, 0, 2]);
            a
        };
        let r4 = rec(tcp_state::ESTABLISHED, 40000, [127, 0, 0, 2], 80);
        let r6 = v6rec(40001, mapped, 80);
        let loop6 = v6rec(40002, Ipv6Addr::LOCALHOST.octets(), 80);
        for r in [&r4, &r6, &loop6] {
            t.add(&Record::new(r).unwrap(), &pool.members);
        }
        let ranked = t.ranked(pool.total(), &pool.members);
        assert_eq!(ranked[0].dst.to_string(), "127.0.0.2:80");
        assert_eq!(ranked[0].used, 2);
        assert_eq!(ranked[1].dst.to_string(), "[::1]:80");
    }

    #[test]
    fn nothing_to_report_without_peers() {
        let pool = pool();
        let mut t = DstTally::default();
        assert_eq!(t.worst(pool.total(), &pool.members), None);
        assert_eq!(WorstDst::from(None), WorstDst::default());
    }

    #[test]
    fn ties_prefer_fewer_free_then_smaller_destination() {
        let pool = pool();
        let mut t = DstTally::default();
        for r in [
            rec(tcp_state::ESTABLISHED, 40000, [10, 0, 0, 9], 1),
            rec(tcp_state::ESTABLISHED, 40001, [10, 0, 0, 1], 1),
        ] {
            t.add(&Record::new(&r).unwrap(), &pool.members);
        }
        assert_eq!(
            t.worst(90, &pool.members).unwrap().dst,
            Dst::from((Ipv4Addr::new(10, 0, 0, 1), 1))
        );
    }
}
