//! connmon's formats against its printf formats (connmon.cpp lines 424–453), written out by
//! hand field by field.

use super::*;
use crate::modes::rtt::output::tests::l;

#[test]
fn the_machine_line_field_by_field() {
    let mut m = Vec::new();
    machine(&l(), &mut m);
    let want = [
        "1700000000.123456", // %PRId64.%06d: the microsecond truncated
        " 0.012500",         // " %8.6f"
        "    *    ",         // no sequence RTT
        " -100",             // " %4d"
        "    -    ",         // " %8s" of "   -    "
        "  100",             // " %4d" payload
        "    1166",          // " %7.0f" wire bytes
        " 10.0.0.1:40000+fd00::2:80\n",
    ]
    .concat();
    assert_eq!(String::from_utf8(m).unwrap(), want);

    // Every field present; no sequence difference prints 0; a duplicate ACK as %f.
    let all = Line {
        seq_rtt: Some(40_000_000_000),
        seq_diff: None,
        dupack: Some(3_000_000),
        bytes: 0,
        flow_wire_bytes: 12_345_678,
        ..l()
    };
    let mut m = Vec::new();
    machine(&all, &mut m);
    assert_eq!(
        String::from_utf8(m).unwrap(),
        "1700000000.123456 0.012500 40.000000    0 0.003000    0 12345678 \
         10.0.0.1:40000+fd00::2:80\n"
    );
}

#[test]
fn the_human_line_after_its_clock() {
    let mut h = Vec::new();
    let all = Line {
        seq_rtt: Some(250_000),
        dupack: Some(3_000_000),
        ..l()
    };
    human(&all, &mut Clock::default(), &mut h);
    let h = String::from_utf8(h).unwrap();
    let (clock, rest) = h.split_at(8);
    assert!(
        clock.bytes().enumerate().all(|(i, b)| if i % 3 == 2 {
            b == b':'
        } else {
            b.is_ascii_digit()
        }),
        "{h}"
    );
    // " %6s" of "12.5ms" and " 250us", then " %4d", " %8s" of "3.00ms", " %4d", " %7.0f".
    assert_eq!(
        rest,
        " 12.5ms  250us -100   3.00ms  100    1166 10.0.0.1:40000+fd00::2:80\n"
    );
    let mut h = Vec::new();
    human(&l(), &mut Clock::default(), &mut h);
    assert!(
        String::from_utf8(h)
            .unwrap()
            // "   *   " (seven characters) for no RTT in the human format.
            .ends_with(" 12.5ms   *    -100    -      100    1166 10.0.0.1:40000+fd00::2:80\n")
    );
}

#[test]
fn fmt_time_diff_scales_as_connmon() {
    let cases = [
        (500, "0.50us"),
        (14_000, "14.0us"),
        (250_000, " 250us"),
        (1_500_000, "1.50ms"),
        (50_000_000, "50.0ms"),
        (2_500_000_000, "2.50s"),
        (42_000_000_000, "42.0s"),
        (150_000_000_000, " 150s"),
        // snprintf into char buf[10]: nine characters at most.
        (1_000_000_000_000_000_000, " 10000000"),
    ];
    for (ns, want) in cases {
        assert_eq!(time_diff(ns), want, "{ns} ns");
    }
}

#[test]
fn which_packets_print() {
    let quiet = Line {
        ts_rtt: None,
        seq_diff: Some(0),
        ..l()
    };
    assert!(!prints(&quiet, false));
    // Out of order (below 0): no line of its own in connmon.
    assert!(!prints(
        &Line {
            seq_diff: Some(-5),
            ..quiet
        },
        false
    ));
    let hole = Line {
        seq_diff: Some(5),
        ..quiet
    };
    assert!(prints(&hole, false) && !prints(&hole, true));
    let dup = Line {
        dupack: Some(1),
        ..quiet
    };
    assert!(prints(&dup, false) && !prints(&dup, true));
    assert!(!prints(
        &Line {
            dupack: Some(0),
            ..quiet
        },
        false
    ));
    assert!(prints(&l(), false) && prints(&l(), true));
}

#[test]
fn periodic_summaries_count_each_interval() {
    let mut p = Periodic::new(10_000_000_000);
    assert_eq!(p.tick(0, 1, 1), None);
    for tcp in [Some(true), Some(true), Some(true), Some(false), None] {
        p.count(tcp);
    }
    assert_eq!(p.tick(5_000_000_000, 2, 2), None);
    assert_eq!(
        p.tick(10_000_000_000, 2, 3).as_deref(),
        Some(
            "2 flows, 5 packets, 1 no TS opt, 3 uni-directional, \
             1 not TCP over IPv4 or IPv6, \n"
        )
    );
    assert_eq!(p.tick(15_000_000_000, 2, 3), None);
    assert_eq!(
        p.tick(20_000_000_000, 2, 3).as_deref(),
        Some("2 flows, 0 packets, \n")
    );
}

/// The interface's addresses, both families (connmon: its first IPv4 only); none for a name no
/// interface has, as connmon finds none for `any`.
#[test]
fn local_addresses_of_an_interface() {
    let lo = local_addresses("lo");
    assert!(
        lo.is_empty() || lo.contains(&IpAddr::from([127, 0, 0, 1])),
        "{lo:?}"
    );
    assert!(local_addresses("no-such-if0").is_empty());
}
