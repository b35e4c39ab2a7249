//! The command line as typed: clap definitions only, self-contained so the man page, the shell
//! completions and the tests build from the same [`command`]. What the values mean and whether
//! they fit together is lower/. Arguments shared by several modes are defined once, in args.rs.
//!
//! This file holds the top of the tree: [`Cli`], the [`Command`] enum of the modes, [`command`]
//! (which adds the built help texts) and `--generate`'s values. The argument groups shared by
//! several modes are in args.rs, each mode's flags in modes.rs (conntrack's tree in conntrack.rs),
//! and the examples and exit codes printed after the help in help.rs. Everything is re-exported
//! here, so `crate::cli::Name` works for every item.

mod args;
mod conntrack;
pub mod generate;
mod help;
pub mod lower;
mod modes;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

pub use args::{
    AlertArgs, FormatArg, IntervalArg, NsArgs, ProtocolArg, SourceArg, SourceArgs, TimeArg,
};
pub use conntrack::{ConntrackArgs, CtCommand, CtConfigCommand, CtShowArgs};
pub use help::{
    CONNS_EXAMPLES, CONNTRACK_EXAMPLES, EXAMPLES, EXIT_CODES, PLOT_EXAMPLES, RTT_EXAMPLES,
    SERVE_EXAMPLES, STATES_EXAMPLES, TOP_EXAMPLES,
};
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

    /// Write a man page or a shell completion script to standard output, for packagers
    #[arg(long, value_enum, value_name = "KIND", hide = true, exclusive = true)]
    pub generate: Option<GenerateArg>,
}

/// The whole command line as clap knows it, with the help texts that are built rather than
/// written: parse with this, and generate the man page and completions from it.
pub fn command() -> clap::Command {
    Cli::command()
        .after_help(format!(
            "{}\n\n{EXAMPLES}\n\n{EXIT_CODES}",
            crate::report::schema::help()
        ))
        .mut_subcommand("top", |top| {
            top.after_help(format!("{TOP_EXAMPLES}\n\n{EXIT_CODES}"))
        })
        .mut_subcommand("states", |states| {
            states.after_help(format!("{STATES_EXAMPLES}\n\n{EXIT_CODES}"))
        })
        .mut_subcommand("conns", |conns| {
            conns.after_help(format!("{CONNS_EXAMPLES}\n\n{EXIT_CODES}"))
        })
        .mut_subcommand("plot", |plot| {
            plot.after_help(format!("{PLOT_EXAMPLES}\n\n{EXIT_CODES}"))
        })
        .mut_subcommand("serve", |serve| {
            serve.after_help(format!("{SERVE_EXAMPLES}\n\n{EXIT_CODES}"))
        })
        .mut_subcommand("rtt", |rtt| {
            rtt.after_help(format!("{RTT_EXAMPLES}\n\n{EXIT_CODES}"))
        })
        .mut_subcommand("conntrack", |ct| {
            ct.after_help(format!("{CONNTRACK_EXAMPLES}\n\n{EXIT_CODES}"))
        })
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
    #[command(version, alias = "ct", args_conflicts_with_subcommands = true)]
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

/// `--generate` values.
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
    /// conntrend-rtt.1
    ManRtt,
    /// conntrend-serve.1
    ManServe,
    /// conntrend-plot.1
    ManPlot,
    CompleteBash,
    CompleteZsh,
    CompleteFish,
}

#[cfg(test)]
mod tests;
