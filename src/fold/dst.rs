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
use crate::fold::pairs::Pairs;
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

/// The destination fold (`--dst`, `top`): the local ports of TCP sockets with a peer whose local
/// port is in the pool, per destination, and the pool ports held by explicit binds. Destinations
/// are few and sockets many: the first [`SETS`] destinations get a port bitmap each (8 KiB, however
/// many sockets), any beyond them (destination, port) pairs of 4 bytes (see [`Pairs`]). At 100k
/// sockets toward 10 destinations that is 80 KiB instead of 0.4 MB of pairs.
#[derive(Default)]
pub struct DstTally {
    /// Distinct destinations of this sample, in order of first sight.
    dsts: Vec<Dst>,
    /// Each destination's sockets by state, by the same index.
    states: Vec<DstStates>,
    index: HashMap<Dst, u32, FxBuild>,
    /// The local ports toward each of the first [`SETS`] destinations.
    sets: Vec<PortSet>,
    /// (destination index, local port) toward the others.
    pairs: Pairs,
    /// The pairs are sorted (a summary and a ranking of one sample sort them once).
    sorted: bool,
    bound: PortSet,
}

/// Destinations that get a port bitmap.
const SETS: usize = 32;

impl Visit for DstTally {
    fn reset(&mut self) {
        for set in self.sets.iter_mut().take(self.dsts.len()) {
            set.clear();
        }
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
                match self.sets.get_mut(i as usize) {
                    Some(set) => set.insert(port),
                    None if (i as usize) < SETS => {
                        let mut set = PortSet::default();
                        set.insert(port);
                        self.sets.push(set);
                    }
                    None => {
                        self.pairs.push(i, port);
                        self.sorted = false;
                    }
                }
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
            self.pairs.sort();
            self.sorted = true;
        }
        let bound = pool.count_and(&self.bound);
        for (d, set) in self.sets.iter().enumerate().take(self.dsts.len()) {
            let used = set.len();
            report(DstUse {
                dst: self.dsts[d],
                used,
                free: total.saturating_sub(bound + used - set.count_and(&self.bound)),
                states: self.states[d],
            });
        }
        let mut i = 0;
        while i < self.pairs.len() {
            let d = self.pairs.get(i).0;
            let dst = self.dsts[d as usize];
            let (mut used, mut used_unbound) = (0u32, 0u32);
            let mut last = None;
            while i < self.pairs.len() && self.pairs.get(i).0 == d {
                let port = self.pairs.get(i).1;
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
mod tests;
