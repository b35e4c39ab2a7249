//! The Prometheus view of a sample, shared by `serve` and the textfile output (`--format prom`):
//! one set of metric names, encoded by `prometheus-client` (OpenMetrics text, which Prometheus
//! and node_exporter's textfile collector read). A value that was not measured is left out, not
//! written as 0.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use crate::diag::tcp_state;
use crate::fold::dst::DstUse;
use crate::fold::sample::Sample;
use crate::report::alert::Alert;

/// What a sample's metrics add beyond the sample.
#[derive(Default)]
pub struct Extra<'a> {
    /// The busiest destinations, most used first (already cut to `--dst-top`).
    pub destinations: &'a [DstUse],
    /// The fewest free ports toward any destination.
    pub min_dst_free: Option<u32>,
    /// Packets dropped because the conntrack table was full, over the exporter's life.
    pub ct_drops_total: Option<u64>,
    /// How long the sample took.
    pub sample_seconds: Option<f64>,
    /// Scrapes that failed, and samples taken, over the exporter's life.
    pub scrape_errors: Option<u64>,
    pub samples: Option<u64>,
    pub alerts: &'a [Alert],
}

type Labels = Vec<(&'static str, String)>;

fn gauge(reg: &mut Registry, name: &str, help: &str, v: Option<i64>) {
    if let Some(v) = v {
        let g: Gauge = Gauge::default();
        g.set(v);
        reg.register(name, help, g);
    }
}

fn counter(reg: &mut Registry, name: &str, help: &str, v: Option<u64>) {
    if let Some(v) = v {
        let c: Counter = Counter::default();
        c.inc_by(v);
        reg.register(name, help, c);
    }
}

fn family(
    reg: &mut Registry,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (Labels, i64)>,
) {
    let f: Family<Labels, Gauge> = Family::default();
    let mut any = false;
    for (labels, v) in rows {
        f.get_or_create(&labels).set(v);
        any = true;
    }
    if any {
        reg.register(name, help, f);
    }
}

/// The metrics of `s` as OpenMetrics text.
pub fn render(s: &Sample, extra: &Extra<'_>) -> String {
    let mut reg = Registry::with_prefix("conntrend");
    // A gauge set to 1, the usual `_info` idiom: the OpenMetrics `info` type is not one the
    // Prometheus text parsers (promtool, node_exporter's textfile collector) accept.
    family(
        &mut reg,
        "build_info",
        "conntrend's version",
        [(vec![("version", env!("CARGO_PKG_VERSION").to_string())], 1)],
    );
    let (lo, hi) = s.detail.range;
    let range = i64::from(hi) - i64::from(lo) + 1;
    gauge(
        &mut reg,
        "pool_range_ports",
        "ports in ip_local_port_range",
        Some(range),
    );
    gauge(
        &mut reg,
        "pool_reserved_ports",
        "ports of the range reserved by ip_local_reserved_ports",
        Some(range - i64::from(s.total_port)),
    );
    gauge(
        &mut reg,
        "pool_ports",
        "ports the kernel may hand out: the range minus reserved",
        Some(s.total_port.into()),
    );
    let used = [
        ("all", Some(s.used)),
        ("tcp", s.tcp_used),
        ("udp", s.udp_used),
    ];
    family(
        &mut reg,
        "pool_used_ports",
        "distinct pool ports held, by protocol (all: either)",
        used.iter()
            .filter_map(|&(p, v)| v.map(|v| (vec![("protocol", p.to_string())], i64::from(v)))),
    );
    gauge(
        &mut reg,
        "pool_free_ports",
        "pool ports not held",
        Some(s.free.into()),
    );
    if let Some(states) = s.detail.tcp_states {
        family(
            &mut reg,
            "tcp_sockets",
            "TCP sockets by state, any local port",
            tcp_state::LABELS.iter().map(|&(name, nums)| {
                let n: u32 = nums.iter().map(|&k| states[usize::from(k)]).sum();
                (vec![("state", name.to_string())], i64::from(n))
            }),
        );
    }
    gauge(
        &mut reg,
        "udp_sockets",
        "UDP sockets, any local port",
        s.detail.udp_sockets.map(i64::from),
    );
    family(
        &mut reg,
        "destination_used_ports",
        "distinct pool ports used toward each of the busiest destinations",
        extra
            .destinations
            .iter()
            .map(|d| (vec![("dst", d.dst.to_string())], i64::from(d.used))),
    );
    gauge(
        &mut reg,
        "destination_min_free_ports",
        "the fewest pool ports still usable toward any destination",
        extra.min_dst_free.map(i64::from),
    );
    if let Some(ct) = s.ct {
        gauge(
            &mut reg,
            "conntrack_entries",
            "entries in the namespace's conntrack table",
            ct.used.map(|v| v as i64),
        );
        gauge(
            &mut reg,
            "conntrack_max_entries",
            "nf_conntrack_max (the host's limit)",
            ct.max.map(|v| v as i64),
        );
        counter(
            &mut reg,
            "conntrack_drops",
            "packets dropped because the conntrack table was full",
            extra.ct_drops_total,
        );
    }
    if let Some(f) = s.forecast {
        gauge(
            &mut reg,
            "exhaust_in_seconds",
            "seconds until no pool port is free at the fitted rate",
            f.exhaust_in_sec.map(|v| v as i64),
        );
        gauge(
            &mut reg,
            "destination_exhaust_in_seconds",
            "seconds until the busiest destination has no free port at the fitted rate",
            f.dst_exhaust_in_sec.map(|v| v as i64),
        );
    }
    if let Some(secs) = extra.sample_seconds {
        let g: Gauge<f64, AtomicU64> = Gauge::default();
        g.set(secs);
        reg.register(
            "sample_duration_seconds",
            "how long the last sample took",
            g,
        );
    }
    counter(
        &mut reg,
        "scrape_errors",
        "scrapes whose sample failed",
        extra.scrape_errors,
    );
    counter(
        &mut reg,
        "samples",
        "samples taken: one pass over the kernel's socket tables each",
        extra.samples,
    );
    family(
        &mut reg,
        "alert",
        "1 while the --alert expression holds",
        extra
            .alerts
            .iter()
            .map(|a| (vec![("expr", a.expr.clone())], i64::from(a.holding))),
    );
    let mut text = String::new();
    encode(&mut text, &reg).expect("writing to a String cannot fail");
    text
}

/// The same metrics in the Prometheus text format (0.0.4), which node_exporter's textfile
/// collector, promtool and older scrapers parse: OpenMetrics names a counter family without its
/// `_total` suffix, the text format with it, and has no `# EOF`.
pub fn text_format(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + 16 * counters.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match meta {
            Some((prefix, rest)) => {
                let name = rest.split(' ').next().unwrap_or_default();
                out.push_str(prefix);
                out.push_str(name);
                if counters.contains(&name) {
                    out.push_str("_total");
                }
                out.push_str(&rest[name.len()..]);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_values_and_what_is_left_out() {
        let mut s = crate::report::output::tests::sample(None, Some(46));
        s.detail.range = (32768, 60999);
        let mut states = [0u32; tcp_state::COUNT];
        states[usize::from(tcp_state::SYN_RECV)] = 1;
        states[usize::from(tcp_state::NEW_SYN_RECV)] = 2;
        s.detail.tcp_states = Some(states);
        let alerts = [crate::report::alert::Alert::parse(
            "free < 5",
            crate::report::schema::Groups::default(),
        )
        .unwrap()];
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
            "conntrend_pool_used_ports{protocol=\"all\"} 156",
            "conntrend_pool_used_ports{protocol=\"tcp\"} 138",
            "conntrend_tcp_sockets{state=\"syn_recv\"} 3",
            "conntrend_samples_total 3",
            "conntrend_alert{expr=\"free<5\"} 0",
            "conntrend_build_info{version=\"",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        // UDP was not sampled: no udp series at all, rather than a 0.
        assert!(!text.contains("protocol=\"udp\""), "{text}");
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
}
