//! The destination fold on hand-made records.
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
fn destinations_past_the_bitmaps_count_the_same() {
    let mut pool = Pool::default();
    pool.set("40000 49999", "").unwrap();
    let mut t = DstTally::default();
    // 40 destinations (8 past the bitmaps), destination k with k + 1 ports; one port bound.
    let mut port = 40000;
    for k in 0..40u16 {
        for _ in 0..=k {
            let r = rec(tcp_state::ESTABLISHED, port, [10, 0, 0, 1], 1000 + k);
            t.add(&Record::new(&r).unwrap(), &pool.members);
            port += 1;
        }
    }
    let bound = rec(tcp_state::LISTEN, 40001, [0; 4], 0);
    t.add(&Record::new(&bound).unwrap(), &pool.members);
    for _ in 0..2 {
        let ranked = t.ranked(pool.total(), &pool.members);
        assert_eq!(ranked.len(), 40);
        for (rank, u) in ranked.iter().enumerate() {
            let k = 39 - rank as u32;
            assert_eq!(u.dst.to_string(), format!("10.0.0.1:{}", 1000 + k));
            assert_eq!(u.used, k + 1);
            // Port 40001 (bound) is destination 1's: it counts once toward that one.
            let unbound = if k == 1 { k } else { k + 1 };
            assert_eq!(u.free, 10_000 - 1 - unbound, "{u:?}");
        }
    }
    // A new sample reuses the bitmaps, emptied.
    t.reset();
    let r = rec(tcp_state::ESTABLISHED, 45000, [10, 0, 0, 2], 1);
    t.add(&Record::new(&r).unwrap(), &pool.members);
    let ranked = t.ranked(pool.total(), &pool.members);
    assert_eq!(ranked.len(), 1);
    assert_eq!((ranked[0].used, ranked[0].free), (1, 9_999));
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
