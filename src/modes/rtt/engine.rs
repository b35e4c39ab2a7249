//! The passive RTT engine: per flow and direction, timestamps waiting for their echo (pping),
//! data segments waiting for their ACK (connmon, with Karn's rule), the next expected sequence
//! number (holes and reordering) and the last ACK (duplicates). Times are capture times in
//! nanoseconds. Memory is bounded: at most `max_flows` flows, a fixed number of pending entries per
//! direction, and a fixed RTT reservoir per flow.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use super::packet::{ACK, FIN, RST, SYN, Segment};
use crate::util::hash::FxBuild;

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

/// Pending timestamps or segments kept per direction; the oldest go first.
const PENDING: usize = 1024;
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

#[derive(Default)]
struct Dir {
    /// (TSval, first seen), oldest first, TSvals increasing.
    ts_pending: VecDeque<(u32, i64)>,
    ts_newest: Option<u32>,
    /// (end sequence number, sent, retransmitted), oldest first.
    segs: VecDeque<(u32, i64, bool)>,
    /// The sequence number after the highest byte seen.
    next_seq: Option<u32>,
    /// (ack number, window, time of the first ACK with them).
    last_ack: Option<(u32, u16, i64)>,
    bytes: u64,
}

struct Flow {
    key: Key,
    /// The flow's name in each direction (direction 0: from the key's first endpoint), made
    /// once so lines copy it instead of formatting addresses.
    names: [Box<str>; 2],
    /// The direction of the first packet seen, which names the flow in the summary.
    first_dir: usize,
    last_seen: i64,
    packets: u64,
    dirs: [Dir; 2],
    rtt: Reservoir,
    holes: u64,
    reorders: u64,
    dupacks: u64,
}

/// Min, max and a bounded uniform sample of the RTTs (algorithm R, deterministic).
#[derive(Default)]
struct Reservoir {
    kept: Vec<f64>,
    seen: u64,
    min: Option<f64>,
    max: Option<f64>,
    rng: u64,
}

impl Reservoir {
    fn add(&mut self, rtt: f64) {
        self.seen += 1;
        self.min = Some(self.min.map_or(rtt, |m| m.min(rtt)));
        self.max = Some(self.max.map_or(rtt, |m| m.max(rtt)));
        if self.kept.len() < RESERVOIR {
            self.kept.push(rtt);
            return;
        }
        // xorshift64*
        self.rng = if self.rng == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            self.rng
        };
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) % self.seen;
        if (r as usize) < RESERVOIR {
            self.kept[r as usize] = rtt;
        }
    }

    /// The nearest-rank percentile `p` (0 < p ≤ 100) of the kept samples.
    fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
        let n = sorted.len();
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        sorted.get(rank.clamp(1, n.max(1)) - 1).copied()
    }
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
    last_sweep: i64,
}

/// `a` comes after `b` in sequence space.
fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
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
            last_sweep: i64::MIN,
        }
    }

    /// Follows one TCP segment captured at `t` (ns); what it showed, if anything.
    pub fn packet(&mut self, t: i64, s: &Segment) -> Option<Line<'_>> {
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
        Some(flow.packet(t, s, d, &self.limits)).filter(|l| {
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
    pub fn flows(&self) -> usize {
        self.index.len()
    }
}

impl Flow {
    fn packet(&mut self, t: i64, s: &Segment, d: usize, limits: &Limits) -> Line<'_> {
        self.last_seen = t;
        self.packets += 1;
        let (ts_rtt, seq_rtt, seq_diff, dupack);
        {
            let [d0, d1] = &mut self.dirs;
            let (me, peer) = if d == 0 { (d0, d1) } else { (d1, d0) };
            me.bytes += u64::from(s.payload);
            ts_rtt = timestamps(me, peer, t, s, limits);
            seq_diff = sequence(me, t, s);
            seq_rtt = acked(peer, t, s);
            dupack = duplicate(me, peer, t, s);
        }
        for rtt in [ts_rtt, seq_rtt].into_iter().flatten() {
            self.rtt.add(secs(rtt));
        }
        match seq_diff {
            Some(x) if x > 0 => self.holes += 1,
            Some(x) if x < 0 => self.reorders += 1,
            _ => {}
        }
        if dupack.is_some() {
            self.dupacks += 1;
        }
        Line {
            time_ns: t,
            ts_rtt,
            seq_rtt,
            seq_diff,
            dupack,
            bytes: s.payload,
            flow_bytes: self.dirs[d].bytes,
            flow: &self.names[d],
        }
    }

    fn summary(&self) -> FlowSummary {
        let mut sorted = self.rtt.kept.clone();
        sorted.sort_by(f64::total_cmp);
        FlowSummary {
            flow: self.names[self.first_dir].to_string(),
            packets: self.packets,
            bytes: self.dirs[0].bytes + self.dirs[1].bytes,
            samples: self.rtt.seen,
            min: self.rtt.min,
            median: Reservoir::percentile(&sorted, 50.0),
            p95: Reservoir::percentile(&sorted, 95.0),
            max: self.rtt.max,
            holes: self.holes,
            reorders: self.reorders,
            dupacks: self.dupacks,
        }
    }
}

/// Records this packet's TSval (first sighting only) and matches its TSecr against the TSvals
/// the other direction sent.
fn timestamps(me: &mut Dir, peer: &mut Dir, t: i64, s: &Segment, limits: &Limits) -> Option<i64> {
    let (tsval, tsecr) = s.ts?;
    if me.ts_newest.is_none_or(|n| after(tsval, n)) {
        me.ts_newest = Some(tsval);
        if me.ts_pending.len() == PENDING {
            me.ts_pending.pop_front();
        }
        me.ts_pending.push_back((tsval, t));
    }
    if !s.has(ACK) || tsecr == 0 {
        return None;
    }
    // Echoes only grow: what is older than this echo will never be echoed.
    while let Some(&(val, seen)) = peer.ts_pending.front() {
        if after(tsecr, val) || t - seen > limits.ts_timeout_ns {
            peer.ts_pending.pop_front();
        } else if val == tsecr {
            peer.ts_pending.pop_front();
            return Some(t - seen);
        } else {
            break;
        }
    }
    None
}

/// Data (and SYN/FIN) sent in this direction: the difference from the next expected sequence
/// number, and the segment queued for its ACK (a retransmission marks what it covers).
fn sequence(me: &mut Dir, t: i64, s: &Segment) -> Option<i64> {
    let len = s.payload + u32::from(s.has(SYN)) + u32::from(s.has(FIN));
    if len == 0 {
        return None;
    }
    let end = s.seq.wrapping_add(len);
    let diff = (s.payload > 0)
        .then(|| me.next_seq.map(|n| i64::from(s.seq.wrapping_sub(n) as i32)))
        .flatten();
    match me.next_seq {
        Some(n) if !after(end, n) => {
            // Nothing new: a retransmission or a late (reordered) segment. Karn: whatever it
            // covers can no longer give a sample.
            for seg in me.segs.iter_mut() {
                if after(seg.0, s.seq) && !after(seg.0, end) {
                    seg.2 = true;
                }
            }
        }
        next => {
            if me.segs.len() == PENDING {
                me.segs.pop_front();
            }
            // Partly sent before: not a clean sample either.
            let resent = next.is_some_and(|n| after(n, s.seq));
            me.segs.push_back((end, t, resent));
            me.next_seq = Some(end);
        }
    }
    diff
}

/// This packet's ACK against the data the other direction sent: the newest segment it covers
/// for the first time gives a sample, unless that segment was retransmitted.
fn acked(peer: &mut Dir, t: i64, s: &Segment) -> Option<i64> {
    if !s.has(ACK) {
        return None;
    }
    let mut newest = None;
    while let Some(&(end, sent, resent)) = peer.segs.front() {
        if after(end, s.ack) {
            break;
        }
        newest = Some((sent, resent));
        peer.segs.pop_front();
    }
    match newest {
        Some((sent, false)) => Some(t - sent),
        _ => None,
    }
}

/// A pure ACK repeating the last ACK number and window while the other direction has data in
/// flight: the time since the ACK it duplicates.
fn duplicate(me: &mut Dir, peer: &Dir, t: i64, s: &Segment) -> Option<i64> {
    if !s.has(ACK) || s.has(SYN) || s.has(RST) {
        return None;
    }
    let pure = s.payload == 0 && !s.has(FIN);
    match me.last_ack {
        Some((ack, win, first)) if pure && ack == s.ack && win == s.window => {
            (!peer.segs.is_empty()).then_some(t - first)
        }
        _ => {
            me.last_ack = Some((s.ack, s.window, t));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "10.0.0.1";
    const B: &str = "10.0.0.2";
    const MS: i64 = 1_000_000;

    fn seg(
        from_a: bool,
        seq: u32,
        ack: u32,
        flags: u8,
        payload: u32,
        ts: Option<(u32, u32)>,
    ) -> Segment {
        let (src, dst, sport, dport) = if from_a {
            (A, B, 40000, 80)
        } else {
            (B, A, 80, 40000)
        };
        Segment {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            sport,
            dport,
            seq,
            ack,
            flags,
            window: 100,
            payload,
            ts,
        }
    }

    #[test]
    fn timestamp_echoes_give_rtts_once() {
        let mut e = Engine::new(Limits::default());
        e.packet(0, &seg(true, 1, 1, ACK, 100, Some((10, 0))));
        // The same TSval again: not a new sighting.
        e.packet(MS, &seg(true, 101, 1, ACK, 100, Some((10, 0))));
        let l = e
            .packet(5 * MS, &seg(false, 1, 201, ACK, 0, Some((50, 10))))
            .unwrap();
        assert_eq!(l.ts_rtt, Some(5 * MS));
        // An echo of the same TSval again gives nothing.
        let l = e.packet(6 * MS, &seg(false, 1, 201, ACK, 0, Some((51, 10))));
        assert_eq!(l.and_then(|l| l.ts_rtt), None);
    }

    #[test]
    fn sequence_rtt_holes_retransmissions_and_dupacks() {
        let mut e = Engine::new(Limits::default());
        /// The line of one packet, without the borrowed flow name.
        fn d(e: &mut Engine, t: i64, s: Segment) -> Line<'static> {
            Line {
                flow: "",
                ..e.packet(t, &s).unwrap()
            }
        }
        assert_eq!(
            d(&mut e, 0, seg(true, 1000, 1, ACK, 100, None)).seq_diff,
            None
        );
        assert_eq!(
            d(&mut e, MS, seg(true, 1100, 1, ACK, 100, None)).seq_diff,
            Some(0)
        );
        // 1200..1300 is missing at the capture point: a hole of 100.
        assert_eq!(
            d(&mut e, 2 * MS, seg(true, 1300, 1, ACK, 100, None)).seq_diff,
            Some(100)
        );
        let l = d(&mut e, 10 * MS, seg(false, 1, 1200, ACK, 0, None));
        assert_eq!(
            l.seq_rtt,
            Some(9 * MS),
            "newest segment covered: sent at 1 ms"
        );
        // Three duplicate ACKs for 1200.
        for k in 1..=3 {
            let l = d(&mut e, (10 + k) * MS, seg(false, 1, 1200, ACK, 0, None));
            assert_eq!(l.dupack, Some(k * MS));
        }
        // The hole is filled by a retransmission: negative difference, and no sample for it.
        assert_eq!(
            d(&mut e, 20 * MS, seg(true, 1200, 1, ACK, 100, None)).seq_diff,
            Some(-200)
        );
        let l = e.packet(30 * MS, &seg(false, 1, 1400, ACK, 0, None));
        assert_eq!(
            l.and_then(|l| l.seq_rtt),
            Some(28 * MS),
            "1300..1400 was not resent"
        );
        let s = e.finish();
        assert_eq!((s[0].holes, s[0].reorders, s[0].dupacks), (1, 1, 3));
        assert_eq!(s[0].samples, 2);
    }

    #[test]
    fn the_flow_limit_and_idle_flows() {
        let mut e = Engine::new(Limits {
            max_flows: 1,
            ..Limits::default()
        });
        e.packet(0, &seg(true, 1, 1, ACK, 10, None));
        let mut other = seg(true, 1, 1, ACK, 10, None);
        other.sport = 40001;
        assert!(e.packet(MS, &other).is_none());
        assert_eq!(e.untracked_packets, 1);
        // 300 s later the first flow is forgotten and the other one fits.
        e.packet(301_000 * MS, &other).unwrap();
        assert_eq!(e.flows(), 1);
        assert_eq!(e.finish().len(), 2);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let sorted: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(Reservoir::percentile(&sorted, 50.0), Some(10.0));
        assert_eq!(Reservoir::percentile(&sorted, 95.0), Some(19.0));
        assert_eq!(Reservoir::percentile(&[], 95.0), None);
    }
}
