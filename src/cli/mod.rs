//! The command line as typed: clap definitions only, self-contained so the man page, the shell
//! completions and the tests build from the same [`command`]. What the values mean and whether
//! they fit together is lower/. Arguments shared by several modes are defined once, in args.rs.
//!
//! This file holds the top of the tree: [`Cli`], the [`Command`] enum of the modes, [`command`]
//! (which adds the built help texts to every command of the tree), [`Cli::usage_error`] and
//! `--generate`'s values. The argument groups shared by several modes are in args.rs, each mode's
//! flags in modes.rs (conntrack's tree in conntrack.rs), and the examples, exit codes and other
//! texts printed with the help in help.rs (read by generate.rs too). The clap types are re-exported
//! here, so `crate::cli::Name` works for each.

mod args;
mod conntrack;
pub mod generate;
mod help;
pub mod lower;
mod modes;

use clap::error::ErrorKind;
use clap::{ArgMatches, CommandFactory, Parser, Subcommand, ValueEnum};

pub use args::{
    AlertArgs, FormatArg, IntervalArg, NsArgs, ProtocolArg, SourceArg, SourceArgs, TimeArg,
};
pub use conntrack::{ConntrackArgs, CtCommand, CtConfigCommand, CtShowArgs};
pub use modes::{
    ConnsArgs, PlotArgs, RttArgs, SampleArgs, ServeArgs, SortArg, StampArg, StatesArgs, TopArgs,
};

/// Streams an exact timeline of the ephemeral port pool and TCP/UDP socket states, straight from
/// the kernel's sock_diag netlink interface.
#[derive(Debug, Parser)]
#[command(
    name = "conntrend",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub sample: SampleArgs,

    /// Write a man page or a shell completion script to standard output (`make install` writes
    /// them all), then exit
    #[arg(long, value_enum, value_name = "KIND", exclusive = true)]
    pub generate: Option<GenerateArg>,
}

impl Cli {
    /// An error about the command line the run found after clap (a flag that needs another, a
    /// setting the namespace lacks), shown as clap shows its own: the message, then the usage of
    /// the command that was run — `conns -P` shows `conntrend conns`' usage, not the top's.
    pub fn usage_error(matches: &ArgMatches, message: impl std::fmt::Display) -> clap::Error {
        let mut path = Vec::new();
        let mut m = matches;
        while let Some((name, sub)) = m.subcommand() {
            path.push(name.to_string());
            m = sub;
        }
        let mut root = command();
        root.build();
        let mut cmd = &mut root;
        for name in &path {
            cmd = cmd
                .find_subcommand_mut(name)
                .expect("the matches come from this command");
        }
        cmd.error(ErrorKind::ValueValidation, message)
    }
}

/// The whole command line as clap knows it, with the help texts that are built rather than
/// written: parse with this, and generate the man pages and completions from it.
pub fn command() -> clap::Command {
    with_texts(Cli::command(), &[])
}

/// `cmd` (at `path` below conntrend) and every command under it with their built texts: `-i`'s
/// help with the mode's own default, the line for a flag the mode keeps from its seed tool, the
/// examples and the exit codes.
fn with_texts(mut cmd: clap::Command, path: &[&str]) -> clap::Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in &names {
        let sub_path: Vec<&str> = path.iter().copied().chain([name.as_str()]).collect();
        cmd = cmd.mut_subcommand(name, |sub| with_texts(sub, &sub_path));
    }
    let mode = path.first().copied().unwrap_or("");
    if let Some((_, interval)) = help::INTERVAL_HELP.iter().find(|(m, _)| *m == mode)
        && path.len() <= 1
    {
        cmd = cmd.mut_arg("interval_sec", |a| a.help(*interval));
    }
    if let Some(line) = help::flag_exception(mode).filter(|_| path.len() == 1) {
        let about = cmd.get_about().map(ToString::to_string).unwrap_or_default();
        cmd = cmd.long_about(format!("{about}\n\n{line}"));
    }
    let alerts = cmd.get_arguments().any(|a| a.get_id() == "exit_on_alert");
    let mut after = Vec::new();
    if path.is_empty() {
        after.push(help::columns());
        after.push(help::flag_exceptions());
    }
    after.extend(help::examples(path).map(|(_, text)| text.to_string()));
    after.push(help::exit_codes(path, alerts));
    cmd.after_help(after.join("\n\n"))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// A report for a person: the pool, every TCP state, the busiest destinations and the
    /// processes holding the most pool ports
    #[command(version)]
    Top(TopArgs),
    /// Connection counts by protocol, family and state as one JSON object: a drop-in for the
    /// network-connections script (same keys, same numbers)
    #[command(version)]
    States(StatesArgs),
    /// Per-connection TCP statistics with illumos connstat's interface: addresses, state, bytes,
    /// segments, retransmits, RTT, windows, from the kernel's tcp_info
    #[command(version)]
    Conns(ConnsArgs),
    /// The netfilter connection tracking table of the namespace: its entries (show, the default),
    /// usage and timeouts (config), delete, events, flush, and the kernel's statistics (stats)
    #[command(version, visible_alias = "ct", args_conflicts_with_subcommands = true)]
    Conntrack(ConntrackArgs),
    /// Passive round-trip times from packets, live (-i IFACE) or from a capture file (-r FILE):
    /// timestamp and sequence RTTs, holes, reordering, duplicate ACKs, and a per-flow summary
    #[command(version)]
    Rtt(RttArgs),
    /// A Prometheus exporter: GET /metrics answers a fresh sample (shared between concurrent
    /// scrapes and those closer than --min-interval)
    #[command(version)]
    Serve(ServeArgs),
    /// The timeline logs conntrend wrote (CSV or JSON Lines) as one SVG chart
    #[command(version)]
    Plot(PlotArgs),
}

/// `--generate` values: a man page (named as the file `make install` writes), or a completion
/// script. Every command of the tree has its page (generate.rs's tests keep it so).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GenerateArg {
    /// conntrend.1
    Man,
    /// conntrend-top.1
    ManTop,
    /// conntrend-states.1
    ManStates,
    /// conntrend-conns.1
    ManConns,
    /// conntrend-conntrack.1
    ManConntrack,
    /// conntrend-conntrack-show.1
    ManConntrackShow,
    /// conntrend-conntrack-config.1
    ManConntrackConfig,
    /// conntrend-conntrack-config-show.1
    ManConntrackConfigShow,
    /// conntrend-conntrack-config-set.1
    ManConntrackConfigSet,
    /// conntrend-conntrack-delete.1
    ManConntrackDelete,
    /// conntrend-conntrack-events.1
    ManConntrackEvents,
    /// conntrend-conntrack-flush.1
    ManConntrackFlush,
    /// conntrend-conntrack-stats.1
    ManConntrackStats,
    /// conntrend-rtt.1
    ManRtt,
    /// conntrend-serve.1
    ManServe,
    /// conntrend-plot.1
    ManPlot,
    /// bash: share/bash-completion/completions/conntrend
    CompleteBash,
    /// zsh: share/zsh/site-functions/_conntrend
    CompleteZsh,
    /// fish: share/fish/vendor_completions.d/conntrend.fish
    CompleteFish,
}

#[cfg(test)]
mod tests;
