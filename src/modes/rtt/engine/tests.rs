//! Tests of the engine: timestamp and sequence RTTs, holes, retransmissions, duplicate ACKs,
//! the flow limit, idle flows and percentiles.

use super::*;
use crate::modes::rtt::packet::ACK;

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

#[test]
fn time_going_backwards_is_reordering_not_a_sample() {
    let mut e = Engine::new(Limits::default());
    e.packet(10_000 * MS, &seg(true, 1000, 1, ACK, 100, Some((10, 0))));
    e.packet(10_001 * MS, &seg(true, 1100, 1, ACK, 100, Some((11, 0))));
    // Stamped ~5 s before the data it acknowledges and echoes: no RTT, and no line (no data).
    let l = e.packet(5_010 * MS, &seg(false, 1, 1100, ACK, 0, Some((50, 10))));
    assert_eq!(l.map(|l| (l.ts_rtt, l.seq_rtt)), None);
    // Its duplicate, stamped 5 ms before it: no duplicate-ACK time either.
    let l = e.packet(5_005 * MS, &seg(false, 1, 1100, ACK, 0, Some((50, 10))));
    assert_eq!(l.map(|l| l.dupack), None);
    let l = e
        .packet(10_030 * MS, &seg(false, 1, 1200, ACK, 0, Some((51, 11))))
        .unwrap();
    assert_eq!((l.ts_rtt, l.seq_rtt), (Some(29 * MS), Some(29 * MS)));
    let s = e.finish();
    assert_eq!((s[0].samples, s[0].reorders, s[0].dupacks), (2, 2, 0));
    assert_eq!(s[0].min, Some(0.029));
}

/// connmon without `-l` (connmon.cpp: `localIP != ipdstr` guards addTS, addSeq and the ACK
/// lookup): what is sent to the local address B is not timed, so B's answers give no RTT; what
/// B sends is timed as before and A's answers give RTTs.
#[test]
fn hidden_local_addresses_time_only_what_leaves_them() {
    let mut e = Engine::new(Limits::default());
    e.hide_local(vec![B.parse().unwrap()]);
    e.packet(0, &seg(true, 1, 1, ACK, 100, Some((10, 0))));
    let l = e.packet_sized(2 * MS, &seg(false, 1, 101, ACK, 100, Some((50, 10))), 166);
    assert_eq!(
        l.map(|l| (l.ts_rtt, l.seq_rtt, l.flow_wire_bytes)),
        Some((None, None, 166))
    );
    let l = e.packet_sized(5 * MS, &seg(true, 101, 101, ACK, 0, Some((11, 50))), 66);
    assert_eq!(
        l.map(|l| (l.ts_rtt, l.seq_rtt, l.flow_wire_bytes)),
        Some((Some(3 * MS), Some(3 * MS), 66))
    );
    // Without the setting the same packets give both RTTs both ways.
    let mut e = Engine::new(Limits::default());
    e.packet(0, &seg(true, 1, 1, ACK, 100, Some((10, 0))));
    let l = e.packet(2 * MS, &seg(false, 1, 101, ACK, 100, Some((50, 10))));
    assert_eq!(
        l.map(|l| (l.ts_rtt, l.seq_rtt)),
        Some((Some(2 * MS), Some(2 * MS)))
    );
}

/// connmon's counts for its summary line: directions seen, packets before the reverse
/// direction was seen.
#[test]
fn directions_and_one_way_packets() {
    let mut e = Engine::new(Limits::default());
    e.packet(0, &seg(true, 1, 1, ACK, 100, None));
    e.packet(MS, &seg(true, 101, 1, ACK, 100, None));
    assert_eq!((e.directions(), e.one_way_packets), (1, 2));
    e.packet(2 * MS, &seg(false, 1, 201, ACK, 0, None));
    e.packet(3 * MS, &seg(true, 201, 1, ACK, 100, None));
    assert_eq!((e.directions(), e.one_way_packets), (2, 2));
}
