//! The argument groups several modes share (interval, namespace, source, alerts), the value enums
//! of the timeline's flags, and the value parsers the flags use to name a bad value.

use crate::fold::forecast::Window;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// How often to sample, shared by every mode that repeats. Its help is each mode's own (with that
/// mode's default): `command()` sets it from help.rs's `INTERVAL_HELP`.
#[derive(Debug, Args)]
pub struct IntervalArg {
    /// Seconds between samples, at least 1
    #[arg(
        short = 'i',
        long = "interval-sec",
        aliases = ["interval_sec", "interval"],
        value_name = "SECONDS",
        allow_negative_numbers = true,
        value_parser = at_least_one_u32
    )]
    pub interval_sec: Option<u32>,
}

/// Which network namespace to look at, shared by every mode.
#[derive(Debug, Args)]
pub struct NsArgs {
    /// Sample this network namespace: a name under /run/netns, or a path such as /proc/PID/ns/net
    #[arg(
        long,
        value_name = "NAME|PATH",
        conflicts_with = "pid",
        value_parser = clap::builder::NonEmptyStringValueParser::new()
    )]
    pub netns: Option<String>,

    /// Sample the network namespace of this process
    #[arg(long, value_name = "PID", allow_negative_numbers = true, value_parser = pid)]
    pub pid: Option<u32>,
}

/// Where sockets are read from, shared by every mode.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Where sockets are read: netlink (sock_diag), bpf (counted in the kernel by BPF programs;
    /// root or CAP_BPF+CAP_PERFMON; counts only: not with --dst, --owners, serve's --dst-top,
    /// top, conns), proc (/proc/net), or auto: bpf when it loads and the run needs only counts,
    /// else netlink, falling back to /proc/net once if netlink is refused [default: auto]
    #[arg(long, value_enum, value_name = "SOURCE")]
    pub source: Option<SourceArg>,

    /// Read a saved proc tree instead of /proc: DIR/net/{tcp,tcp6,udp,udp6} and
    /// DIR/sys/net/ipv4/ip_local_port_range (implies --source proc)
    #[arg(long, value_name = "DIR", conflicts_with_all = ["netns", "pid"])]
    pub proc_root: Option<PathBuf>,
}

/// `--source` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceArg {
    Auto,
    Netlink,
    Bpf,
    Proc,
}

/// `--alert` and `--exit-on-alert`, shared by the timeline and `serve`.
#[derive(Debug, Args)]
pub struct AlertArgs {
    /// Tell on stderr when COLUMN OP NUMBER starts to hold and when it clears (OP: < <= > >= ==
    /// !=; COLUMN: any column of the run, or used_pct); repeatable
    #[arg(long = "alert", value_name = "EXPR")]
    pub alert: Vec<String>,

    /// End the run at the first alert, after the summary, with exit status 3
    #[arg(long, requires = "alert")]
    pub exit_on_alert: bool,
}

/// `-p` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProtocolArg {
    Tcp,
    Udp,
    All,
}

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Csv,
    Json,
    /// Prometheus text for node_exporter's textfile collector: -o FILE rewritten atomically
    /// each sample
    Prom,
}

/// `--time` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TimeArg {
    /// epoch_ms only
    Epoch,
    /// epoch_ms and an ISO-8601 UTC time column
    Iso,
}

pub(super) fn at_least_one_u64(s: &str) -> Result<u64, String> {
    match s.parse::<i128>() {
        Ok(n) if n >= 1 => u64::try_from(n).map_err(|_| "too large".to_string()),
        Ok(_) => Err("must be at least 1".into()),
        Err(_) => Err("not a whole number".into()),
    }
}

pub(super) fn at_least_one_u32(s: &str) -> Result<u32, String> {
    at_least_one_u64(s).and_then(|n| u32::try_from(n).map_err(|_| "too large".into()))
}

pub(super) fn non_negative_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=86_400.0).contains(&v) => Ok(v),
        _ => Err("seconds from 0 to 86400".into()),
    }
}

/// `--forecast`'s window: N samples (at least 3), or a span such as `90s`, `5m`, `1h`.
pub(super) fn forecast_window(s: &str) -> Result<Window, String> {
    if let Ok(n) = s.parse::<usize>() {
        return match n {
            3.. => Ok(Window::Samples(n)),
            _ => Err("a line needs at least 3 samples".into()),
        };
    }
    let unit = |u: &str| match u {
        "s" => Some(1),
        "m" => Some(60),
        "h" => Some(3600),
        _ => None,
    };
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, u) = s.split_at(split);
    match (num.parse::<u64>(), unit(u)) {
        (Ok(n), Some(k)) if (1..=86_400).contains(&(n * k)) => {
            Ok(Window::Time(std::time::Duration::from_secs(n * k)))
        }
        (Ok(_), Some(_)) => Err("a span from 1s to 24h".into()),
        _ => Err("a number of samples (at least 3) or a span such as 90s, 5m, 1h".into()),
    }
}

fn pid(s: &str) -> Result<u32, String> {
    match s.parse::<i64>() {
        Ok(n) if n >= 1 => u32::try_from(n).map_err(|_| "no such process id".into()),
        Ok(_) => Err("a process id is a positive number".into()),
        Err(_) => Err("not a process id".into()),
    }
}
