//! The passive RTT engine: per flow and direction, timestamps waiting for their echo (pping),
//! data segments waiting for their ACK (connmon, with Karn's rule), the next expected sequence
//! number (holes and reordering) and the last ACK (duplicates). Times are capture times in
//! nanoseconds. Memory is bounded: at most `max_flows` flows, a fixed number of pending entries per
//! direction, and a fixed RTT reservoir per flow.

mod flow;
mod reservoir;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::IpAddr;

use super::packet::Segment;
use crate::util::hash::FxBuild;
use flow::Flow;
use reservoir::Reservoir;

/// What the engine may keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_flows: usize,
    /// A TSval not echoed within this long is dropped.
    pub ts_timeout_ns: i64,
    /// A flow without packets for this long is forgotten (its summary kept).
    pub idle_ns: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_flows: 10_000,
            ts_timeout_ns: 10_000_000_000,
            idle_ns: 300_000_000_000,
        }
    }
}

/// RTT samples kept per flow for the percentiles (exact below this many).
pub const RESERVOIR: usize = 128;

/// One end of a connection.
pub type Endpoint = (IpAddr, u16);

/// What one packet showed; `None` fields had no value for it. Times are nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line<'a> {
    pub time_ns: i64,
    pub ts_rtt: Option<i64>,
    pub seq_rtt: Option<i64>,
    /// Bytes between this data segment's sequence number and the next expected one.
    pub seq_diff: Option<i64>,
    /// Since the ACK this one duplicates.
    pub dupack: Option<i64>,
    pub bytes: u32,
    /// Payload bytes so far in this direction of the flow, this packet's included.
    pub flow_bytes: u64,
    /// Wire bytes (link, IP and TCP headers included) so far in this direction, as connmon
    /// counts them; 0 when the caller gave no sizes ([`Engine::packet`]).
    pub flow_wire_bytes: u64,
    /// `src:port+dst:port` in this packet's direction (IPv6 in brackets).
    pub flow: &'a str,
}

impl Line<'_> {
    pub fn has_rtt(&self) -> bool {
        self.ts_rtt.is_some() || self.seq_rtt.is_some()
    }
}

/// A flow's totals, for the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowSummary {
    /// `src:port+dst:port` as first seen.
    pub flow: String,
    pub packets: u64,
    pub bytes: u64,
    pub samples: u64,
    /// Seconds; `None` without samples.
    pub min: Option<f64>,
    pub median: Option<f64>,
    pub p95: Option<f64>,
    pub max: Option<f64>,
    pub holes: u64,
    pub reorders: u64,
    pub dupacks: u64,
}

/// Both endpoints, the lower (address, port) first: addresses as IPv6 (IPv4 mapped), ports packed.
type Key = (u128, u128, u32);

fn key(a: Endpoint, b: Endpoint) -> Key {
    let ip = |addr: IpAddr| match addr {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    };
    (ip(a.0), ip(b.0), (u32::from(a.1) << 16) | u32::from(b.1))
}

/// `src:port+dst:port`, IPv6 in brackets.
fn name(src: Endpoint, dst: Endpoint) -> Box<str> {
    let one = |(addr, port): Endpoint| match addr {
        IpAddr::V6(a) => format!("[{a}]:{port}"),
        IpAddr::V4(a) => format!("{a}:{port}"),
    };
    format!("{}+{}", one(src), one(dst)).into_boxed_str()
}

/// The flows being followed.
pub struct Engine {
    limits: Limits,
    index: HashMap<Key, usize, FxBuild>,
    flows: Vec<Option<Flow>>,
    free: Vec<usize>,
    /// Forgotten (idle) flows' summaries.
    done: Vec<FlowSummary>,
    /// Packets of flows not followed because the table was full.
    pub untracked_packets: u64,
    /// Packets of flows whose other direction had not been seen yet (connmon's
    /// "uni-directional").
    pub one_way_packets: u64,
    /// The local host's addresses whose RTTs are hidden (connmon without `-l`).
    local: Vec<IpAddr>,
    last_sweep: i64,
}

/// Nanoseconds as seconds.
pub fn secs(ns: i64) -> f64 {
    ns as f64 / 1e9
}

impl Engine {
    pub fn new(limits: Limits) -> Self {
        Engine {
            limits,
            index: HashMap::default(),
            flows: Vec::new(),
            free: Vec::new(),
            done: Vec::new(),
            untracked_packets: 0,
            one_way_packets: 0,
            local: Vec::new(),
            last_sweep: i64::MIN,
        }
    }

    /// Hides RTTs through local applications: packets to these addresses are not timed.
    pub fn hide_local(&mut self, addrs: Vec<IpAddr>) {
        self.local = addrs;
    }

    /// Directions of the followed flows that have been seen (connmon's count of flows).
    pub fn directions(&self) -> usize {
        self.flows
            .iter()
            .flatten()
            .map(|f| f.dirs.iter().filter(|d| d.packets > 0).count())
            .sum()
    }

    /// Follows one TCP segment captured at `t` (ns); what it showed, if anything.
    pub fn packet(&mut self, t: i64, s: &Segment) -> Option<Line<'_>> {
        self.packet_sized(t, s, 0)
    }

    /// [`Engine::packet`] with the packet's size on the wire (see `packet::parse_sized`).
    pub fn packet_sized(&mut self, t: i64, s: &Segment, wire: u32) -> Option<Line<'_>> {
        if t.saturating_sub(self.last_sweep) >= 1_000_000_000 {
            self.sweep(t);
        }
        let (a, b) = ((s.src, s.sport), (s.dst, s.dport));
        let (key, d) = if a <= b {
            (key(a, b), 0)
        } else {
            (key(b, a), 1)
        };
        let slot = match self.index.get(&key) {
            Some(&slot) => slot,
            None => {
                if self.index.len() >= self.limits.max_flows {
                    self.untracked_packets += 1;
                    return None;
                }
                let (lo, hi) = if d == 0 { (a, b) } else { (b, a) };
                let flow = Flow {
                    key,
                    names: [name(lo, hi), name(hi, lo)],
                    first_dir: d,
                    last_seen: t,
                    packets: 0,
                    dirs: Default::default(),
                    rtt: Reservoir::default(),
                    holes: 0,
                    reorders: 0,
                    dupacks: 0,
                };
                let slot = match self.free.pop() {
                    Some(i) => {
                        self.flows[i] = Some(flow);
                        i
                    }
                    None => {
                        self.flows.push(Some(flow));
                        self.flows.len() - 1
                    }
                };
                self.index.insert(key, slot);
                slot
            }
        };
        let flow = self.flows[slot].as_mut().expect("indexed flows exist");
        if flow.dirs[1 - d].packets == 0 {
            self.one_way_packets += 1;
        }
        let to_local = self.local.contains(&s.dst);
        Some(flow.packet(t, s, d, &self.limits, (wire, to_local))).filter(|l| {
            l.ts_rtt.is_some() || l.seq_rtt.is_some() || l.dupack.is_some() || l.bytes > 0
        })
    }

    /// Forgets idle flows and timed-out timestamps.
    fn sweep(&mut self, t: i64) {
        self.last_sweep = t;
        let limits = self.limits;
        for slot in 0..self.flows.len() {
            let Some(flow) = self.flows[slot].as_mut() else {
                continue;
            };
            if t - flow.last_seen >= limits.idle_ns {
                let flow = self.flows[slot].take().expect("checked");
                self.index.remove(&flow.key);
                self.done.push(flow.summary());
                self.free.push(slot);
                continue;
            }
            for dir in &mut flow.dirs {
                while dir
                    .ts_pending
                    .front()
                    .is_some_and(|&(_, seen)| t - seen > limits.ts_timeout_ns)
                {
                    dir.ts_pending.pop_front();
                }
            }
        }
    }

    /// Every flow's summary (forgotten ones too), by p95 RTT, highest first; flows without
    /// samples last.
    pub fn finish(mut self) -> Vec<FlowSummary> {
        let mut all = std::mem::take(&mut self.done);
        all.extend(self.flows.into_iter().flatten().map(|f| f.summary()));
        all.sort_by(|x, y| {
            y.p95
                .unwrap_or(f64::NEG_INFINITY)
                .total_cmp(&x.p95.unwrap_or(f64::NEG_INFINITY))
                .then_with(|| x.flow.cmp(&y.flow))
        });
        all
    }

    /// Flows followed now.
    #[cfg(test)]
    pub fn flows(&self) -> usize {
        self.index.len()
    }
}
