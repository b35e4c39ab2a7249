//! The benchmark's command line: which loads and sections, how many runs, which binaries.

use std::io;

/// What to measure; every load of 0 leaves its section out.
pub struct Options {
    pub loads: Vec<usize>,
    pub runs: usize,
    pub idle_secs: u64,
    pub idle_runs: usize,
    /// The load at which `--dst` and `top` are measured (0: none), and its holder processes.
    pub dst_load: usize,
    pub procs: usize,
    /// The loads of the `conns` rows: ESTABLISHED sockets, and sockets around the filtered 100
    /// (0: left out).
    pub conns_estab: usize,
    pub conns_million: usize,
    /// The load of the `--source` rows (issue 22; 0: left out), and the same rows on a load of
    /// ESTABLISHED connections only, every socket an open file (0: left out).
    pub source_load: usize,
    pub source_estab: usize,
    /// UDP entries for the `conntrack show` rows, and the load for the `--conntrack` rows (0: none).
    pub ct_entries: usize,
    pub ct_load: usize,
    /// The `serve` rows: the load of the scrape-latency rows (0: left out), and how many scrapes
    /// at which load the exporter's memory is followed over (0 scrapes: left out).
    pub serve_load: usize,
    pub serve_scrapes: usize,
    pub serve_rss_load: usize,
    pub conntrend: String,
    /// network_connections.py, for the `states` rows (none: left out).
    pub network_connections: Option<String>,
}

/// The options from the arguments after `--` (and `--bench`, which cargo adds); the defaults are
/// a whole run as BENCHMARKS.md describes it.
pub fn parse(args: &[String]) -> io::Result<Options> {
    let default_bin = option_env!("CARGO_BIN_EXE_conntrend")
        .map(str::to_string)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/target/release/conntrend").into());
    let mut o = Options {
        loads: vec![1_000, 10_000, 100_000, 500_000],
        runs: 7,
        idle_secs: 60,
        idle_runs: 2,
        dst_load: 100_000,
        procs: 500,
        conns_estab: 100_000,
        conns_million: 1_000_000,
        source_load: 1_000_000,
        source_estab: 200_000,
        ct_entries: 100_000,
        ct_load: 100_000,
        serve_load: 100_000,
        serve_scrapes: 10_000,
        serve_rss_load: 1_000,
        conntrend: default_bin,
        network_connections: std::env::var("NETWORK_CONNECTIONS").ok(),
    };
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, what.to_string());
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| bad(&format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--bench" => {} // added by `cargo bench`
            "--loads" => {
                let v = value()?;
                o.loads = match v.as_str() {
                    "none" => Vec::new(),
                    _ => v
                        .split(',')
                        .map(count)
                        .collect::<Option<_>>()
                        .ok_or_else(|| bad("--loads takes counts like 1000,10k,500k, or none"))?,
                };
            }
            "--dst-load" => {
                o.dst_load = count(value()?)
                    .ok_or_else(|| bad("--dst-load takes a load like 100k (0 skips)"))?
            }
            "--conns-estab" => {
                o.conns_estab = count(value()?)
                    .ok_or_else(|| bad("--conns-estab takes a load like 100k (0 skips)"))?
            }
            "--conns-million" => {
                o.conns_million = count(value()?)
                    .ok_or_else(|| bad("--conns-million takes a load like 1m (0 skips)"))?
            }
            "--source-load" => {
                o.source_load = count(value()?)
                    .ok_or_else(|| bad("--source-load takes a load like 1m (0 skips)"))?
            }
            "--source-estab" => {
                o.source_estab = count(value()?)
                    .ok_or_else(|| bad("--source-estab takes a load like 200k (0 skips)"))?
            }
            "--ct-entries" => {
                o.ct_entries = count(value()?)
                    .ok_or_else(|| bad("--ct-entries takes a count like 100k (0 skips)"))?
            }
            "--ct-load" => {
                o.ct_load = count(value()?)
                    .ok_or_else(|| bad("--ct-load takes a load like 100k (0 skips)"))?
            }
            "--serve-load" => {
                o.serve_load = count(value()?)
                    .ok_or_else(|| bad("--serve-load takes a load like 100k (0 skips)"))?
            }
            "--serve-scrapes" => {
                o.serve_scrapes = count(value()?)
                    .ok_or_else(|| bad("--serve-scrapes takes a count like 10k (0 skips)"))?
            }
            "--serve-rss-load" => {
                o.serve_rss_load = count(value()?)
                    .filter(|&n| n > 0)
                    .ok_or_else(|| bad("--serve-rss-load takes a load like 1k"))?
            }
            "--procs" => o.procs = value()?.parse().map_err(|_| bad("--procs takes a count"))?,
            "--idle-runs" => {
                o.idle_runs = value()?
                    .parse()
                    .map_err(|_| bad("--idle-runs takes a count"))?
            }
            "--runs" => o.runs = value()?.parse().map_err(|_| bad("--runs takes a count"))?,
            "--idle-secs" => {
                o.idle_secs = value()?
                    .parse()
                    .map_err(|_| bad("--idle-secs takes seconds (0 skips)"))?
            }
            "--conntrend" => o.conntrend = value()?.clone(),
            "--network-connections" => o.network_connections = Some(value()?.clone()),
            other => return Err(bad(&format!("unknown argument {other:?}"))),
        }
    }
    let sections = [
        o.loads.len(),
        o.conns_estab,
        o.conns_million,
        o.source_load,
        o.source_estab,
        o.ct_entries,
        o.ct_load,
        o.serve_load,
        o.serve_scrapes,
    ];
    if o.runs == 0 || sections.iter().all(|&n| n == 0) {
        return Err(bad("need one run and something to measure"));
    }
    Ok(o)
}

/// "10k" → 10000, "1m" → 1000000.
pub fn count(v: &str) -> Option<usize> {
    let (digits, unit) = match v.strip_suffix('k') {
        Some(k) => (k, 1000),
        None => match v.strip_suffix(['m', 'M']) {
            Some(m) => (m, 1_000_000),
            None => (v, 1),
        },
    };
    digits.parse::<usize>().ok()?.checked_mul(unit)
}
