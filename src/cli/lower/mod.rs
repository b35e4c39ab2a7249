//! Checked settings built from the typed flags: what the run will do. Every "does this make sense"
//! decision lives here, so the rest of the program never sees an impossible combination.

use std::path::PathBuf;
use std::time::Duration;

use crate::app::netns;
use crate::app::settings::{Sources, Target};
use crate::cli::{
    Cli, Command, ConnsArgs, FormatArg, NsArgs, ProtocolArg, RttArgs, SampleArgs, ServeArgs,
    SortArg, SourceArg, SourceArgs, StampArg, StatesArgs, TimeArg, TopArgs,
};
use crate::diag::{LIVE_PROC, Protocols, SourceChoice};
use crate::modes::conns::{ConnsConfig, Field, Filter, Stamp, Style};
use crate::modes::conntrack::ConntrackConfig;
use crate::modes::plot::{Options as PlotOptions, PlotConfig, Window as PlotWindow};
use crate::modes::rtt::{Format as RttFormat, Input, Limits, RttConfig};
use crate::modes::serve::ServeConfig;
use crate::modes::states::StatesConfig;
use crate::modes::timeline::Config;
use crate::modes::top::{Sort, TopConfig};
use crate::report::alert::Alert;
use crate::report::metrics::DEFAULT_DST_TOP;
use crate::report::output::Format;
use crate::report::schema::{Group, Groups};

mod conntrack;

use conntrack::conntrack_config;

/// The timeline's interval when `-i` is not given.
const DEFAULT_INTERVAL_SEC: u32 = 5;
/// The timeline's duration when neither `-d` nor `-c` is given.
const DEFAULT_DURATION_SEC: u32 = 60;

/// What the command line asked for.
#[derive(Debug, Clone)]
pub enum Action {
    /// The timeline (no subcommand).
    Sample(Config),
    /// `conntrend top`.
    Top(TopConfig),
    /// `conntrend states`.
    States(StatesConfig),
    /// `conntrend conns`.
    Conns(ConnsConfig),
    /// `conntrend conntrack`.
    Conntrack(ConntrackConfig),
    /// `conntrend rtt`.
    Rtt(RttConfig),
    /// `conntrend serve`.
    Serve(ServeConfig),
    /// `conntrend plot`.
    Plot(PlotConfig),
}

impl Action {
    /// Runs the mode asked for: the one dispatch to each mode's `run`.
    pub fn run(&self) -> anyhow::Result<()> {
        use crate::modes;
        match self {
            Action::Sample(config) => modes::timeline::run(config),
            Action::Top(config) => modes::top::run(config),
            Action::States(config) => modes::states::run(config),
            Action::Conns(config) => modes::conns::run(config),
            Action::Conntrack(config) => modes::conntrack::run(config),
            Action::Rtt(config) => modes::rtt::run(config),
            Action::Serve(config) => modes::serve::run(config),
            Action::Plot(config) => modes::plot::run(config),
        }
    }

    pub fn from_cli(cli: Cli) -> Result<Action, String> {
        match cli.command {
            None => Config::from_args(cli.sample).map(Action::Sample),
            Some(Command::Top(top)) => TopConfig::from_args(top).map(Action::Top),
            Some(Command::States(states)) => StatesConfig::from_args(states).map(Action::States),
            Some(Command::Conns(conns)) => conns_config(conns).map(Action::Conns),
            Some(Command::Conntrack(ct)) => conntrack_config(ct).map(Action::Conntrack),
            Some(Command::Rtt(rtt)) => rtt_config(rtt).map(Action::Rtt),
            Some(Command::Serve(serve)) => serve_config(serve).map(Action::Serve),
            Some(Command::Plot(p)) => Ok(Action::Plot(PlotConfig {
                inputs: p.files,
                output: p.output,
                window: PlotWindow::new(p.from, p.to, p.last)?,
                options: PlotOptions {
                    series: p.series,
                    local: p.local,
                },
            })),
        }
    }
}

impl Config {
    fn from_args(args: SampleArgs) -> Result<Config, String> {
        if let Some(stray) = args.stray {
            return Err(if stray == "top" {
                "the mode `top` comes first: conntrend top [OPTIONS]".to_string()
            } else {
                format!("unexpected argument '{stray}': conntrend takes no operands (see --help)")
            });
        }
        let target = target(args.output);
        let protocols = match args.protocol {
            ProtocolArg::Tcp => Protocols::TCP,
            ProtocolArg::Udp => Protocols::UDP,
            ProtocolArg::All => Protocols::ALL,
        };
        if args.dst && !protocols.tcp {
            return Err(
                "--dst follows TCP destinations; it cannot be used with --protocol udp".into(),
            );
        }
        if args.conntrack && args.source.proc_root.is_some() {
            return Err(
                "--conntrack reads the live conntrack table; it cannot go with --proc-root".into(),
            );
        }
        if args.owners && args.source.proc_root.is_some() {
            return Err(
                "--owners looks for the processes of live sockets; it cannot go with --proc-root"
                    .into(),
            );
        }
        // -c alone ends the run by count; the default duration applies only when neither is given.
        let duration_sec = match (args.duration_sec, args.count) {
            (Some(d), _) => d,
            (None, Some(_)) => 0,
            (None, None) => DEFAULT_DURATION_SEC,
        };
        let format = match args.format {
            FormatArg::Csv => Format::Csv,
            FormatArg::Json => Format::Json,
            FormatArg::Prom => Format::Prom,
        };
        if format == Format::Prom && target == Target::Stdout {
            return Err("--format prom rewrites a file for node_exporter's textfile collector: give -o FILE".into());
        }
        if args.dst_top.is_some() && format != Format::Prom {
            return Err(
                "--dst-top chooses the destinations --format prom writes; the CSV and \
                 JSON columns name the busiest one only"
                    .into(),
            );
        }
        let dst_top = match format {
            Format::Prom if args.dst => args.dst_top.unwrap_or(DEFAULT_DST_TOP),
            _ => 0,
        };
        let groups = Groups::default()
            .with_if(Group::Time, args.time == TimeArg::Iso)
            .with_if(Group::Dst, args.dst)
            .with_if(Group::Conntrack, args.conntrack)
            .with_if(Group::Owners, args.owners)
            .with_if(Group::Forecast, args.forecast.is_some())
            .with_if(Group::ForecastDst, args.forecast.is_some() && args.dst);
        let alerts = alerts(&args.alerts.alert, groups)?;
        Ok(Config {
            interval: secs(args.interval.interval_sec.unwrap_or(DEFAULT_INTERVAL_SEC)),
            duration: (duration_sec > 0).then(|| secs(duration_sec)),
            count: args.count,
            target,
            protocols,
            format,
            groups: groups.with_if(Group::Alert, !alerts.is_empty()),
            dst_top,
            forecast: args.forecast,
            alerts,
            exit_on_alert: args.alerts.exit_on_alert,
            netns: namespace(&args.ns)?,
            source: sources(args.source)?,
            verbose: args.verbose,
        })
    }
}

impl TopConfig {
    fn from_args(args: TopArgs) -> Result<TopConfig, String> {
        Ok(TopConfig {
            rows: args.rows as usize,
            refresh: args.interval.interval_sec.map(secs),
            sort: match args.sort {
                SortArg::Ports => Sort::Ports,
                SortArg::CloseWait => Sort::CloseWait,
                SortArg::Established => Sort::Established,
            },
            json: args.json,
            netns: namespace(&args.ns)?,
            source: sources(args.source)?,
        })
    }
}

/// `--alert` expressions, checked against the columns a run with `groups` writes.
pub fn alerts(exprs: &[String], groups: Groups) -> Result<Vec<Alert>, String> {
    exprs.iter().map(|e| Alert::parse(e, groups)).collect()
}

/// `--source` and `--proc-root` together.
fn sources(args: SourceArgs) -> Result<Sources, String> {
    let choice = match (args.source, &args.proc_root) {
        (Some(SourceArg::Netlink | SourceArg::Auto | SourceArg::Bpf), Some(_)) => {
            return Err(
                "--proc-root reads a saved /proc tree: it goes with --source proc only".into(),
            );
        }
        (_, Some(root)) => SourceChoice::Proc(root.clone()),
        (None | Some(SourceArg::Auto), None) => SourceChoice::Auto,
        (Some(SourceArg::Netlink), None) => SourceChoice::Netlink,
        (Some(SourceArg::Bpf), None) => SourceChoice::Bpf,
        (Some(SourceArg::Proc), None) => SourceChoice::Proc(PathBuf::from(LIVE_PROC)),
    };
    Ok(Sources {
        choice,
        proc_root: args.proc_root,
    })
}

impl StatesConfig {
    fn from_args(mut args: StatesArgs) -> Result<StatesConfig, String> {
        // network-connections' positional PATH is a proc root: --proc-root (clap has refused
        // the two together).
        if let Some(path) = args.path.take() {
            args.source.proc_root = Some(path);
        }
        let streaming = args.interval.interval_sec.is_some() || args.count.is_some();
        Ok(StatesConfig {
            all: args.all,
            interval: streaming
                .then(|| secs(args.interval.interval_sec.unwrap_or(DEFAULT_INTERVAL_SEC))),
            count: args.count,
            pretty: args.pretty,
            target: target(args.output),
            netns: namespace(&args.ns)?,
            source: sources(args.source)?,
        })
    }
}

/// `conntrend serve`'s flags checked.
fn serve_config(a: ServeArgs) -> Result<ServeConfig, String> {
    if a.conntrack && a.source.proc_root.is_some() {
        return Err(
            "--conntrack reads the live conntrack table; it cannot go with --proc-root".into(),
        );
    }
    let mut config = ServeConfig {
        listen: a.listen,
        netns: namespace(&a.ns)?,
        source: sources(a.source)?,
        dst_top: a.dst_top,
        conntrack: a.conntrack,
        min_interval: Duration::from_secs_f64(a.min_interval),
        forecast: a.forecast,
        alerts: Vec::new(),
        exit_on_alert: a.alerts.exit_on_alert,
    };
    config.alerts = alerts(&a.alerts.alert, config.groups())?;
    Ok(config)
}

/// `conntrend rtt`'s flags checked.
fn rtt_config(a: RttArgs) -> Result<RttConfig, String> {
    let input = match (a.interface, a.read) {
        (Some(i), None) => Input::Live(i),
        (None, Some(r)) => Input::File(r),
        _ => return Err("give one of -i IFACE (live) or -r FILE (a capture file)".into()),
    };
    if a.emulate && matches!(input, Input::Live(_)) {
        return Err("-e replays a file at its recorded pace: it goes with -r".into());
    }
    // connmon's --sumInt: seconds as a number, 0 for none; -v is its default of 10.
    let sum_int_ns = match a.sum_int {
        Some(s) if !s.is_finite() || s < 0.0 => {
            return Err(format!("--sumInt takes seconds, 0 or more: not {s}"));
        }
        Some(0.0) => None,
        Some(s) => Some((s * 1e9).min(i64::MAX as f64).max(1.0) as i64),
        None => a.verbose.then_some(10_000_000_000),
    };
    Ok(RttConfig {
        input,
        filter: a.filter,
        count: a.count,
        seconds: a.seconds,
        quick: a.quick,
        format: if a.json {
            RttFormat::Json
        } else if a.machine {
            RttFormat::Machine
        } else if a.csv {
            RttFormat::Csv
        } else if a.table {
            RttFormat::Table
        } else {
            RttFormat::Human
        },
        show_local: a.show_local,
        quiet: a.quiet,
        sum_int_ns,
        emulate: a.emulate,
        limits: Limits {
            max_flows: usize::try_from(a.max_flows).unwrap_or(usize::MAX),
            ts_timeout_ns: i64::try_from(a.ts_timeout.saturating_mul(1_000_000_000))
                .unwrap_or(i64::MAX),
            idle_ns: i64::try_from(a.flow_idle.saturating_mul(1_000_000_000)).unwrap_or(i64::MAX),
        },
        netns: namespace(&a.ns)?,
    })
}

/// `conntrend conns`'s flags checked: the filter parsed, the fields named, connstat's rules.
fn conns_config(args: ConnsArgs) -> Result<ConnsConfig, String> {
    let mut filter = Filter {
        // clap has refused -4 with -6, as connstat does.
        v4: !args.ipv6,
        v6: !args.ipv4,
        no_loopback: args.no_loopback,
        ..Filter::default()
    };
    let mut seen = Vec::new();
    if args.established {
        filter.add("state=established", &mut seen)?;
    }
    for spec in &args.filter {
        filter.add(spec, &mut seen).map_err(|e| {
            if args.established && e.contains("'state'") {
                format!("{e} (-e already means state=established)")
            } else {
                e
            }
        })?;
    }
    if args.parsable && args.fields.is_none() {
        return Err("-P needs -o: name the fields to print (as connstat requires)".into());
    }
    let fields = match &args.fields {
        None => crate::modes::conns::fields::DEFAULT.to_vec(),
        // connstat's (libofmt's) rule: `all` alone, and never with -P, whose rows are read by
        // position and must not change when fields are added.
        Some(list) if list.trim().eq_ignore_ascii_case("all") => {
            if args.parsable {
                return Err(
                    "\"-o all\" is invalid with parsable output (-P): name the fields, \
                            as connstat requires"
                        .into(),
                );
            }
            crate::modes::conns::fields::every()
        }
        Some(list) => list
            .split(',')
            .map(|name| {
                let name = name.trim();
                Field::parse(name).ok_or_else(|| {
                    if name.eq_ignore_ascii_case("all") {
                        return format!("-o {list}: all stands alone (-o all)");
                    }
                    let valid: Vec<_> = crate::modes::conns::fields::ALL
                        .iter()
                        .map(|f| f.name())
                        .collect();
                    format!(
                        "-o: unknown field '{name}' (valid fields: all, {})",
                        valid.join(", ")
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    if args.count.is_some() && args.interval.interval_sec.is_none() {
        return Err("-c counts reports made every -i seconds: give -i too".into());
    }
    Ok(ConnsConfig {
        style: if args.json {
            Style::Json
        } else if args.parsable {
            Style::Parsable
        } else {
            Style::Text {
                addr_width: if filter.v6 { 39 } else { 15 },
            }
        },
        filter,
        fields,
        stamp: args.timestamp.map(|t| match t {
            StampArg::D => Stamp::Date,
            StampArg::U => Stamp::Unix,
        }),
        interval: args.interval.interval_sec.map(secs),
        count: args.count,
        kernel_filter: !args.no_kernel_filter,
        netns: namespace(&args.ns)?,
        source: sources(args.source)?,
    })
}

/// `-o`: standard output for `-`, else a file to append to (clap has refused an empty path).
fn target(output: PathBuf) -> Target {
    match output.to_str() {
        Some("-") => Target::Stdout,
        _ => Target::File(output),
    }
}

fn secs(s: u32) -> Duration {
    Duration::from_secs(s.into())
}

/// The namespace file `--netns`/`--pid` name, checked to exist.
fn namespace(ns: &NsArgs) -> Result<Option<PathBuf>, String> {
    match (&ns.netns, ns.pid) {
        (Some(name), _) => {
            let path = netns::path_for_name(name);
            // A file we may not look at exists; entering it reports why not.
            if let Ok(false) = path.try_exists() {
                return Err(format!(
                    "--netns: no network namespace at {}",
                    path.display()
                ));
            }
            Ok(Some(path))
        }
        (None, Some(pid)) => {
            let path = netns::path_for_pid(pid);
            if let Ok(false) = path.try_exists() {
                let proc_dir = PathBuf::from(format!("/proc/{pid}"));
                return Err(if proc_dir.exists() {
                    format!(
                        "--pid: process {pid} has no network namespace any more (it has exited and is a zombie)"
                    )
                } else {
                    format!("--pid: no process {pid}")
                });
            }
            Ok(Some(path))
        }
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests;
