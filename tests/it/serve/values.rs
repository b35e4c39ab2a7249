//! What the metrics say, exactly: a known socket mix in a namespace with a small pool, scraped
//! from `serve` (whose own listener and scrape connection are counted too) and written to a
//! `--format prom` textfile; `promtool check metrics` on both; OpenMetrics when asked for.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::{Metrics, PORT, Serve, get, metrics, promtool};
use crate::netns::mix::Mix;
use crate::netns::{NetNs, Pool, Proto, Sock, State, with_netns};

/// 40000-40999 minus 40010-40019: 990 ports. Listeners sit outside it (45000, 45001) so that
/// only clients hold pool ports, except one listener inside it (an explicit bind).
pub fn pool_and_mix(ns: &NetNs) -> (Pool, Mix<'_>) {
    let pool = Pool::new(40000, 40999, "40010-40019");
    pool.apply(ns);
    let mut m = Mix::new(ns);
    m.listen(false, 45000)
        .listen(true, 45000)
        .listen(false, 45001)
        .listen(false, 40500);
    for cport in 40100..40105 {
        m.estab(false, cport, 45000);
    }
    m.time_wait(false, 40105, 45000)
        .time_wait(false, 40106, 45000)
        .estab(true, 40200, 45000)
        .estab(true, 40201, 45000)
        .estab(false, 40300, 45001)
        .estab(false, 40012, 45001) // reserved
        .estab(false, 39000, 45001) // below the range
        .udp(false, 40400, None, false)
        .udp(false, 40401, Some(40400), false)
        .udp(true, 40402, None, false)
        .udp(false, 47000, None, false); // outside the range
    m.settle();
    (pool, m)
}

/// The Prometheus state label of a socket `ss` shows.
fn label(state: State) -> &'static str {
    match state {
        State::Listen => "listen",
        State::Estab => "established",
        State::SynSent => "syn_sent",
        State::SynRecv => "syn_recv",
        State::TimeWait => "time_wait",
        State::FinWait1 => "fin_wait1",
        State::FinWait2 => "fin_wait2",
        State::CloseWait => "close_wait",
        State::LastAck => "last_ack",
        State::Closing => "closing",
        State::Bound => "bound_inactive",
        State::Unconn => unreachable!("UDP"),
    }
}

const STATES: [&str; 12] = [
    "established",
    "syn_sent",
    "syn_recv",
    "fin_wait1",
    "fin_wait2",
    "time_wait",
    "close",
    "close_wait",
    "last_ack",
    "listen",
    "closing",
    "bound_inactive",
];

/// The series `socks` make under `pool`, busiest `dst_top` destinations only (as `serve` and
/// the textfile export them with `--dst-top`).
pub fn expected(socks: &[Sock], pool: &Pool, dst_top: usize) -> Metrics {
    let in_pool = |p: Proto| -> BTreeSet<u16> {
        socks
            .iter()
            .filter(|s| s.proto == p && pool.contains(s.port))
            .map(|s| s.port)
            .collect()
    };
    let (tcp, udp) = (in_pool(Proto::Tcp), in_pool(Proto::Udp));
    let total = pool.total() as f64;
    let all = tcp.union(&udp).count() as f64;
    let range = f64::from(pool.hi - pool.lo) + 1.0;
    let mut m = Metrics::new();
    let mut put = |k: String, v: f64| {
        m.insert(k, v);
    };
    put("conntrend_pool_range_ports".into(), range);
    put("conntrend_pool_reserved_ports".into(), range - total);
    put("conntrend_pool_ports".into(), total);
    put("conntrend_pool_free_ports".into(), total - all);
    // The union alone, unlabelled; each protocol in its own family.
    put("conntrend_pool_used_ports".into(), all);
    for (p, n) in [("tcp", tcp.len() as f64), ("udp", udp.len() as f64)] {
        put(
            format!("conntrend_pool_protocol_used_ports{{protocol=\"{p}\"}}"),
            n,
        );
    }
    for state in STATES {
        let n = socks
            .iter()
            .filter(|s| s.proto == Proto::Tcp && label(s.state) == state)
            .count();
        put(
            format!("conntrend_tcp_sockets{{state=\"{state}\"}}"),
            n as f64,
        );
    }
    let udp_sockets = socks.iter().filter(|s| s.proto == Proto::Udp).count();
    put("conntrend_udp_sockets".into(), udp_sockets as f64);
    // Destinations: pool ports of connected TCP sockets per peer; explicit binds (listeners in
    // the pool) take a port from every destination.
    let mut dsts: BTreeMap<String, BTreeSet<u16>> = BTreeMap::new();
    let mut bound = BTreeSet::new();
    for s in socks
        .iter()
        .filter(|s| s.proto == Proto::Tcp && pool.contains(s.port))
    {
        match s.peer {
            None => {
                bound.insert(s.port);
            }
            Some(peer) => {
                let dst = if s.v6 {
                    format!("[::1]:{peer}")
                } else {
                    format!("127.0.0.1:{peer}")
                };
                dsts.entry(dst).or_default().insert(s.port);
            }
        }
    }
    if dst_top == 0 {
        return m;
    }
    let mut ranked: Vec<(usize, String, f64)> = dsts
        .iter()
        .map(|(d, ports)| {
            let unbound = ports.difference(&bound).count();
            (
                ports.len(),
                d.clone(),
                total - (bound.len() + unbound) as f64,
            )
        })
        .collect();
    ranked.sort_by_key(|r| std::cmp::Reverse(r.0));
    let used: Vec<usize> = ranked.iter().map(|r| r.0).collect();
    let mut distinct = used.clone();
    distinct.dedup();
    assert_eq!(
        used, distinct,
        "the mix must not tie destinations: {ranked:?}"
    );
    // The fewest free ports, labelled with its destination; ties go to the busier, then the
    // smaller destination ([::1] sorts before the IPv4-mapped 127.0.0.1, then by port).
    let order = |r: &(usize, String, f64)| {
        let port: u16 = r.1.rsplit(':').next().unwrap().parse().unwrap();
        (
            r.2 as u32,
            std::cmp::Reverse(r.0),
            !r.1.starts_with('['),
            port,
        )
    };
    if let Some((_, d, free)) = ranked.iter().min_by_key(|r| order(r)) {
        put(
            format!("conntrend_destination_min_free_ports{{dst=\"{d}\"}}"),
            *free,
        );
    }
    for (n, d, _) in ranked.into_iter().take(dst_top) {
        put(
            format!("conntrend_destination_used_ports{{dst=\"{d}\"}}"),
            n as f64,
        );
    }
    m
}

/// The series of `got` in the families `want` covers (everything but build info, timings,
/// counters and alerts), for one exact comparison.
pub fn sampled(got: &Metrics) -> Metrics {
    let families = [
        "conntrend_pool_",
        "conntrend_tcp_sockets",
        "conntrend_udp_sockets",
        "conntrend_destination_",
    ];
    got.iter()
        .filter(|(k, _)| families.iter().any(|f| k.starts_with(f)))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

fn tcp(port: u16, peer: Option<u16>, state: State) -> Sock {
    Sock {
        proto: Proto::Tcp,
        v6: false,
        port,
        peer,
        state,
    }
}

/// What `ss` shows beyond the mix.
fn beyond(ns: &NetNs, mix: &Mix<'_>) -> Vec<Sock> {
    let mut rest = ns.ss_socks();
    for s in mix.visible_to_ss() {
        let at = rest.iter().position(|r| *r == s);
        rest.remove(at.unwrap_or_else(|| panic!("{s:?} gone\n{}", ns.ss_text())));
    }
    rest
}

#[test]
fn serve_metrics_equal_what_the_sockets_make() {
    with_netns(|ns| {
        let (pool, mut mix) = pool_and_mix(ns);
        let serve = Serve::start(ns, &["--dst-top", "2", "--min-interval", "0"]);
        // The scrape's own connection: client 46000 and the accepted socket, ESTABLISHED.
        let ours = |client: u16| {
            vec![
                tcp(PORT, None, State::Listen),
                tcp(client, Some(PORT), State::Estab),
                tcp(PORT, Some(client), State::Estab),
            ]
        };
        let mut socks = mix.socks.clone();
        socks.extend(ours(46000));
        let want = expected(&socks, &pool, 2);
        for (k, v) in [
            ("conntrend_pool_ports", 990.0),
            ("conntrend_pool_protocol_used_ports{protocol=\"tcp\"}", 11.0),
            ("conntrend_pool_protocol_used_ports{protocol=\"udp\"}", 3.0),
            ("conntrend_pool_used_ports", 14.0),
            ("conntrend_pool_free_ports", 976.0),
            ("conntrend_tcp_sockets{state=\"listen\"}", 5.0),
            ("conntrend_tcp_sockets{state=\"established\"}", 22.0),
            ("conntrend_tcp_sockets{state=\"time_wait\"}", 2.0),
            ("conntrend_udp_sockets", 4.0),
            (
                "conntrend_destination_used_ports{dst=\"127.0.0.1:45000\"}",
                7.0,
            ),
            ("conntrend_destination_used_ports{dst=\"[::1]:45000\"}", 2.0),
            (
                "conntrend_destination_min_free_ports{dst=\"127.0.0.1:45000\"}",
                982.0,
            ),
        ] {
            assert_eq!(want.get(k), Some(&v), "the calculator: {k}");
        }
        let got = serve.scrape_from(46000);
        assert_eq!(sampled(&got), want, "\n{}", ns.ss_text());

        // One more client toward 45000; the first scrape left the server's TIME_WAIT behind.
        mix.estab(false, 40107, 45000);
        let after = vec![
            tcp(PORT, None, State::Listen),
            tcp(PORT, Some(46000), State::TimeWait),
        ];
        ns.wait_until("the first scrape's TIME_WAIT alone", || {
            beyond(ns, &mix) == after
        });
        let mut socks = mix.socks.clone();
        socks.extend(ours(46001));
        socks.push(tcp(PORT, Some(46000), State::TimeWait));
        let want = expected(&socks, &pool, 2);
        assert_eq!(
            want.get("conntrend_destination_used_ports{dst=\"127.0.0.1:45000\"}"),
            Some(&8.0)
        );
        assert_eq!(
            want.get("conntrend_tcp_sockets{state=\"time_wait\"}"),
            Some(&3.0)
        );
        let got = serve.scrape_from(46001);
        assert_eq!(sampled(&got), want, "\n{}", ns.ss_text());
        assert_eq!(get(&got, "conntrend_samples_total"), 2.0);
    });
}

/// Everything `serve` can export at once: conntrack (tracking on in the namespace), the
/// forecast once `free` has fallen significantly (five samples), alerts, destinations. promtool
/// accepts it.
#[test]
fn serve_promtool_accepts_every_family() {
    with_netns(|ns| {
        ns.nft(
            "table inet tracking {\n chain out {\n type filter hook output priority 0;\n \
             ct state new accept\n }\n}\n",
        );
        let mut mix = Mix::new(ns);
        mix.listen(false, 45000).estab(false, 40100, 45000);
        let serve = Serve::start(
            ns,
            &[
                "--conntrack",
                "--forecast=5",
                "--alert",
                "free < 1",
                "--alert",
                "used_pct>=0",
                "--min-interval",
                "0",
            ],
        );
        // Client ports above the default range (32768-60999): scrapes hold no pool port.
        let first = serve.scrape_from(61000);
        assert!(!first.keys().any(|k| k.contains("exhaust")), "{first:#?}");
        // Two tracked flows: the mix's connection and the scrape's own.
        assert_eq!(
            get(&first, "conntrend_conntrack_entries"),
            2.0,
            "{first:#?}"
        );
        assert_eq!(get(&first, "conntrend_conntrack_drops_total"), 0.0);
        let mut started = Instant::now();
        let mut step = |from: u16, ports: std::ops::Range<u16>| {
            for p in ports {
                mix.udp(false, p, None, false);
            }
            // About a second between samples, for a forecast of about free / 5 per second.
            std::thread::sleep(Duration::from_secs(1).saturating_sub(started.elapsed()));
            started = Instant::now();
            serve.scrape_from(from)
        };
        let second = step(61001, 40200..40205);
        assert!(!second.keys().any(|k| k.contains("exhaust")), "{second:#?}");
        step(61002, 40205..40210);
        step(61003, 40210..40215);
        // Five samples falling 5 a sample: significant at 99.9 % (t > 10.2 with 3 degrees of
        // freedom) however the scrapes' timing jitters by a few milliseconds.
        let third = step(61004, 40215..40220);
        let free = get(&third, "conntrend_pool_free_ports");
        assert_eq!(free, 28232.0 - 22.0, "{third:#?}");
        let exhaust = get(&third, "conntrend_exhaust_in_seconds");
        // 5 ports a sample, samples 1 to 1.5 s apart.
        assert!(
            (free / 5.0 * 0.9..=free / 5.0 * 1.6).contains(&exhaust),
            "exhaust_in_seconds {exhaust} for free {free} falling 5 a second"
        );
        assert_eq!(get(&third, "conntrend_alert{expr=\"free<1\"}"), 0.0);
        assert_eq!(get(&third, "conntrend_alert{expr=\"used_pct>=0\"}"), 1.0);
        assert_eq!(
            get(
                &third,
                "conntrend_destination_used_ports{dst=\"127.0.0.1:45000\"}"
            ),
            1.0
        );
        let text = serve.get("/metrics").body;
        for family in [
            "conntrend_build_info",
            "conntrend_conntrack_max_entries",
            "conntrend_sample_duration_seconds",
            "conntrend_scrape_errors_total",
            "conntrend_destination_min_free_ports",
            "conntrend_pool_protocol_used_ports",
            "conntrend_exhaust_in_seconds",
        ] {
            assert!(
                text.contains(&format!("# TYPE {family} ")),
                "{family}:\n{text}"
            );
        }
        let (code, said) = promtool(&text);
        assert_eq!((code, said.as_str()), (Some(0), ""), "promtool on\n{text}");
    });
}

#[test]
fn serve_openmetrics_when_asked_with_the_same_series_as_the_text_format() {
    with_netns(|ns| {
        let serve = Serve::start(ns, &["--min-interval", "60", "--alert", "free<1"]);
        let text = serve.get("/metrics");
        // Prometheus's own Accept header.
        let open = serve.raw(
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text;\
              version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;\
              version=0.0.4;q=0.5,*/*;q=0.1\r\n\r\n",
        );
        assert_eq!(
            text.header("content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        assert_eq!(
            open.header("content-type"),
            Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
        );
        assert!(open.body.ends_with("\n# EOF\n"), "{}", open.body);
        assert!(!text.body.contains("# EOF"));
        assert!(open.body.contains("\n# TYPE conntrend_samples counter\n"));
        assert!(
            text.body
                .contains("\n# TYPE conntrend_samples_total counter\n")
        );
        // One shared sample (--min-interval 60): the same series and values in both.
        assert_eq!(metrics(&open.body), metrics(&text.body));
        assert_eq!(get(&metrics(&text.body), "conntrend_samples_total"), 1.0);
        let (code, said) = promtool(&text.body);
        assert_eq!(
            (code, said.as_str()),
            (Some(0), ""),
            "promtool on\n{}",
            text.body
        );
    });
}
