//! One followed flow: per-direction state (pending timestamps, unacknowledged segments, the
//! next expected sequence number and the last ACK) and how each packet updates it — timestamp
//! echoes, sequence RTTs with Karn's rule, holes, reordering and duplicate ACKs.

use std::collections::VecDeque;

use super::reservoir::Reservoir;
use super::{FlowSummary, Key, Limits, Line, secs};
use crate::modes::rtt::packet::{ACK, FIN, RST, SYN, Segment};

/// Pending timestamps or segments kept per direction; the oldest go first.
const PENDING: usize = 1024;

#[derive(Default)]
pub(super) struct Dir {
    /// (TSval, first seen), oldest first, TSvals increasing.
    pub(super) ts_pending: VecDeque<(u32, i64)>,
    ts_newest: Option<u32>,
    /// (end sequence number, sent, retransmitted), oldest first.
    segs: VecDeque<(u32, i64, bool)>,
    /// The sequence number after the highest byte seen.
    next_seq: Option<u32>,
    /// (ack number, window, time of the first ACK with them).
    last_ack: Option<(u32, u16, i64)>,
    bytes: u64,
    /// Wire bytes (headers included), as connmon counts a flow.
    wire: u64,
    pub(super) packets: u64,
}

pub(super) struct Flow {
    pub(super) key: Key,
    /// The flow's name in each direction (direction 0: from the key's first endpoint), made
    /// once so lines copy it instead of formatting addresses.
    pub(super) names: [Box<str>; 2],
    /// The direction of the first packet seen, which names the flow in the summary.
    pub(super) first_dir: usize,
    pub(super) last_seen: i64,
    pub(super) packets: u64,
    pub(super) dirs: [Dir; 2],
    pub(super) rtt: Reservoir,
    pub(super) holes: u64,
    pub(super) reorders: u64,
    pub(super) dupacks: u64,
}

/// `a` comes after `b` in sequence space.
fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

impl Flow {
    /// `wire`: the packet's size on the wire; `to_local`: it is addressed to the local host
    /// and connmon's default hides RTTs through local applications (its TSval and data are
    /// not timed, so the local host's answer gives no sample).
    pub(super) fn packet(
        &mut self,
        t: i64,
        s: &Segment,
        d: usize,
        limits: &Limits,
        (wire, to_local): (u32, bool),
    ) -> Line<'_> {
        self.last_seen = t;
        self.packets += 1;
        let (mut ts_rtt, mut seq_rtt, seq_diff, mut dupack);
        {
            let [d0, d1] = &mut self.dirs;
            let (me, peer) = if d == 0 { (d0, d1) } else { (d1, d0) };
            me.bytes += u64::from(s.payload);
            me.wire += u64::from(wire);
            me.packets += 1;
            ts_rtt = timestamps(me, peer, t, s, limits, to_local);
            seq_diff = sequence(me, t, s, to_local);
            seq_rtt = acked(peer, t, s);
            dupack = duplicate(me, peer, t, s);
        }
        // Capture time going backwards (merged captures, a clock stepped back): a negative
        // difference is no RTT and no duplicate-ACK time, but this packet came out of order.
        if [ts_rtt, seq_rtt, dupack].iter().flatten().any(|&ns| ns < 0) {
            self.reorders += 1;
            for v in [&mut ts_rtt, &mut seq_rtt, &mut dupack] {
                *v = v.filter(|&ns| ns >= 0);
            }
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
            flow_wire_bytes: self.dirs[d].wire,
            flow: &self.names[d],
        }
    }

    pub(super) fn summary(&self) -> FlowSummary {
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
fn timestamps(
    me: &mut Dir,
    peer: &mut Dir,
    t: i64,
    s: &Segment,
    limits: &Limits,
    to_local: bool,
) -> Option<i64> {
    let (tsval, tsecr) = s.ts?;
    if !to_local && me.ts_newest.is_none_or(|n| after(tsval, n)) {
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
/// Data to the local host is not timed (`to_local`): queued as if retransmitted, its ACK gives
/// no sample.
fn sequence(me: &mut Dir, t: i64, s: &Segment, to_local: bool) -> Option<i64> {
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
            let resent = to_local || next.is_some_and(|n| after(n, s.seq));
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
