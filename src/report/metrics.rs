//! The Prometheus view of a sample, shared by `serve` and the textfile output (`--format prom`):
//! one set of metric names, encoded by `prometheus-client` (OpenMetrics text, which Prometheus
//! and node_exporter's textfile collector read). A value that was not measured is left out, not
//! written as 0. The series of a family are written in a fixed order (destinations in rank order,
//! states in the kernel's), never in a hash map's, so two scrapes list them alike.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use crate::diag::tcp_state;
use crate::fold::dst::{Dst, DstUse};
use crate::fold::sample::Sample;
use crate::report::alert::Alert;

/// How many of the busiest destinations are exported when `--dst-top` is not given.
pub const DEFAULT_DST_TOP: usize = 5;

/// What a sample's metrics add beyond the sample.
#[derive(Default)]
pub struct Extra<'a> {
    /// The busiest destinations, most used first (already cut to `--dst-top`).
    pub destinations: &'a [DstUse],
    /// The destination with the fewest free ports, and how many it has.
    pub min_free: Option<(Dst, u32)>,
    /// Packets dropped because the conntrack table was full, over the exporter's life.
    pub ct_drops_total: Option<u64>,
    /// How long the sample took.
    pub sample_seconds: Option<f64>,
    /// Scrapes that failed, and samples taken, over the exporter's life.
    pub scrape_errors: Option<u64>,
    pub samples: Option<u64>,
    pub alerts: &'a [Alert],
}

impl Extra<'_> {
    /// The destination with the fewest free ports, from `s`'s `--dst` fold.
    pub fn min_free_of(s: &Sample) -> Option<(Dst, u32)> {
        s.dst.and_then(|d| Some((d.min_free_dst?, d.min_free?)))
    }
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

/// A gauge family written in the order its series were given. prometheus-client's `Family` keeps
/// its series in a `HashMap` with a random seed, so each render would list them differently.
#[derive(Debug)]
struct Ordered(Vec<(Labels, i64)>);

impl EncodeMetric for Ordered {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (labels, v) in &self.0 {
            encoder.encode_family(labels)?.encode_gauge(v)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

/// A labelled gauge family, its series in the order of `rows`; left out when there are none.
fn family(
    reg: &mut Registry,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (Labels, i64)>,
) {
    let rows: Vec<_> = rows.into_iter().collect();
    if !rows.is_empty() {
        reg.register(name, help, Ordered(rows));
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
    // The union on its own: beside the per-protocol series it would make their sum() count a
    // port twice (and a port held by both TCP and UDP is one port of the union, two here).
    gauge(
        &mut reg,
        "pool_used_ports",
        "distinct pool ports held by any socket (TCP or UDP)",
        Some(s.used.into()),
    );
    family(
        &mut reg,
        "pool_protocol_used_ports",
        "distinct pool ports held, by protocol (a port held by both counts in each)",
        [("tcp", s.tcp_used), ("udp", s.udp_used)]
            .into_iter()
            .filter_map(|(p, v)| v.map(|v| (vec![("protocol", p.to_string())], i64::from(v)))),
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
    family(
        &mut reg,
        "destination_min_free_ports",
        "the fewest pool ports still usable toward any destination, and which one (dst)",
        extra
            .min_free
            .map(|(dst, free)| (vec![("dst", dst.to_string())], i64::from(free))),
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
mod tests;
