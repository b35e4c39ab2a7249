//! The metrics' exact series: names, values, what is left out, and their order.
use super::*;

#[test]
fn names_values_and_what_is_left_out() {
    let mut s = crate::report::output::tests::sample(None, Some(46));
    s.detail.range = (32768, 60999);
    let mut states = [0u32; tcp_state::COUNT];
    states[usize::from(tcp_state::SYN_RECV)] = 1;
    states[usize::from(tcp_state::NEW_SYN_RECV)] = 2;
    s.detail.tcp_states = Some(states);
    let alerts = [Alert::parse("free < 5", crate::report::schema::Groups::default()).unwrap()];
    let text = render(
        &s,
        &Extra {
            samples: Some(3),
            alerts: &alerts,
            ..Extra::default()
        },
    );
    for line in [
        "conntrend_pool_ports 28232",
        "conntrend_pool_range_ports 28232",
        "conntrend_pool_reserved_ports 0",
        "\nconntrend_pool_used_ports 156\n",
        "\nconntrend_pool_protocol_used_ports{protocol=\"tcp\"} 138\n",
        "conntrend_tcp_sockets{state=\"syn_recv\"} 3",
        "conntrend_samples_total 3",
        "conntrend_alert{expr=\"free<5\"} 0",
        "conntrend_build_info{version=\"",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
    // UDP was not sampled: no udp series at all, rather than a 0.
    assert!(!text.contains("protocol=\"udp\""), "{text}");
    assert!(!text.contains("destination"), "{text}");
    assert!(!text.contains("udp_sockets"), "{text}");
    assert!(!text.contains("exhaust"), "{text}");
    assert!(text.ends_with("# EOF\n"));
    let plain = text_format(&text);
    assert!(
        plain.contains("# TYPE conntrend_samples_total counter\n"),
        "{plain}"
    );
    assert!(
        plain.contains("# HELP conntrend_samples_total samples taken"),
        "{plain}"
    );
    assert!(plain.contains("\nconntrend_samples_total 3\n"), "{plain}");
    assert!(
        plain.contains("# TYPE conntrend_pool_free_ports gauge\n"),
        "{plain}"
    );
    assert!(!plain.contains("# EOF"));
}

/// The series of `metric` (its name exactly, any labels), as `(labels, value)` in order.
fn series<'t>(text: &'t str, metric: &str) -> Vec<(&'t str, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (name_labels, value) = l.rsplit_once(' ')?;
            let (name, labels) = match name_labels.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (name_labels, ""),
            };
            (name == metric).then(|| (labels, value.parse().unwrap()))
        })
        .collect()
}

fn dst(last: u8, port: u16) -> crate::fold::dst::Dst {
    crate::fold::dst::Dst::from((std::net::Ipv4Addr::new(10, 0, 0, last), port))
}

#[test]
fn the_union_is_its_own_metric_so_summing_protocols_never_counts_it() {
    // 156 ports held: 138 by TCP, 30 by UDP, so 12 by both.
    let mut s = crate::report::output::tests::sample(Some(30), Some(46));
    s.detail.range = (32768, 60999);
    let text = render(&s, &Extra::default());
    assert_eq!(series(&text, "conntrend_pool_used_ports"), [("", 156.0)]);
    let by_protocol = series(&text, "conntrend_pool_protocol_used_ports");
    assert_eq!(
        by_protocol,
        [("protocol=\"tcp\"", 138.0), ("protocol=\"udp\"", 30.0)]
    );
    // What sum(conntrend_pool_protocol_used_ports) answers: each protocol once, no union.
    let sum: f64 = by_protocol.iter().map(|(_, v)| v).sum();
    assert_eq!(sum, 168.0);
    assert!(!text.contains("\"all\""), "{text}");
    // Both are gauges, and promtool's parser reads the text format.
    let plain = text_format(&text);
    assert!(plain.contains("# TYPE conntrend_pool_used_ports gauge\n"));
    assert!(plain.contains("# TYPE conntrend_pool_protocol_used_ports gauge\n"));
}

#[test]
fn min_free_names_its_destination() {
    let s = crate::report::output::tests::sample(None, Some(46));
    let busiest = [DstUse {
        dst: dst(1, 443),
        used: 40,
        free: 900,
        states: Default::default(),
    }];
    let text = render(
        &s,
        &Extra {
            destinations: &busiest,
            min_free: Some((dst(5, 8443), 120)),
            ..Extra::default()
        },
    );
    assert_eq!(
        series(&text, "conntrend_destination_min_free_ports"),
        [("dst=\"10.0.0.5:8443\"", 120.0)]
    );
    assert_eq!(
        series(&text, "conntrend_destination_used_ports"),
        [("dst=\"10.0.0.1:443\"", 40.0)]
    );
}

#[test]
fn series_keep_their_order_from_render_to_render() {
    let mut s = crate::report::output::tests::sample(Some(3), Some(46));
    let mut states = [0u32; tcp_state::COUNT];
    for (i, n) in states.iter_mut().enumerate() {
        *n = i as u32 * 7;
    }
    s.detail.tcp_states = Some(states);
    // 40 destinations in rank order: most used first.
    let ranked: Vec<DstUse> = (0..40u8)
        .map(|i| DstUse {
            dst: dst(200 - i, 443),
            used: 1000 - u32::from(i) * 3,
            free: 100 + u32::from(i),
            states: Default::default(),
        })
        .collect();
    let alerts: Vec<Alert> = ["free<5", "used>1", "free<4", "used>0"]
        .iter()
        .map(|e| Alert::parse(e, crate::report::schema::Groups::default()).unwrap())
        .collect();
    let extra = Extra {
        destinations: &ranked,
        alerts: &alerts,
        ..Extra::default()
    };
    let first = render(&s, &extra);
    for _ in 0..5 {
        assert_eq!(render(&s, &extra), first);
    }
    let dsts: Vec<String> = series(&first, "conntrend_destination_used_ports")
        .iter()
        .map(|(l, _)| l.to_string())
        .collect();
    let expected: Vec<String> = ranked
        .iter()
        .map(|d| format!("dst=\"{}\"", d.dst))
        .collect();
    assert_eq!(dsts, expected, "destinations in rank order");
    let states: Vec<&str> = series(&first, "conntrend_tcp_sockets")
        .iter()
        .map(|(l, _)| *l)
        .collect();
    let kernel: Vec<String> = tcp_state::LABELS
        .iter()
        .map(|(name, _)| format!("state=\"{name}\""))
        .collect();
    assert_eq!(states, kernel, "states in the kernel's order");
    let exprs: Vec<&str> = series(&first, "conntrend_alert")
        .iter()
        .map(|(l, _)| *l)
        .collect();
    assert_eq!(
        exprs,
        [
            "expr=\"free<5\"",
            "expr=\"used>1\"",
            "expr=\"free<4\"",
            "expr=\"used>0\""
        ],
        "alerts in the order given"
    );
}
