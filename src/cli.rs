//! The command line as typed: clap definitions only, self-contained so tests (and later a man page
//! or completions) can reuse it. What the values mean and whether they fit together is config.rs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::output::Format;

const AFTER_HELP: &str = "\
Columns: epoch_ms,total_port,used,free,udp_used,tcp_used,time_wait,estab,syn,close_wait,last_ack,fin_wait
(see the README for what each one counts). A field that was not sampled is empty (CSV) or null (JSON).

Exit codes: 0 the run ended normally (duration, count, SIGINT/SIGTERM/SIGHUP, or the reader of the
output went away); 1 a runtime failure (output cannot be opened or written, netlink dump failed);
2 bad command-line input.";

/// Streams an exact timeline of the ephemeral port pool and TCP/UDP socket states, straight from
/// the kernel's sock_diag netlink interface.
#[derive(Debug, Parser)]
#[command(
    name = "conntrend",
    version,
    about,
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub sample: SampleArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// A report for a person: the pool, every TCP state, the busiest destinations and the
    /// processes holding the most pool ports
    Top(TopArgs),
}

/// The timeline's flags (no subcommand).
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Seconds between samples (at least 1)
    #[arg(
        short = 'i',
        long = "interval_sec",
        visible_alias = "interval-sec",
        value_name = "SECONDS",
        default_value_t = 5,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub interval_sec: u32,

    /// Total run time in seconds; 0 runs until interrupted
    #[arg(
        short = 'd',
        long = "duration_sec",
        visible_alias = "duration-sec",
        value_name = "SECONDS",
        default_value_t = 60,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(u32)
    )]
    pub duration_sec: u32,

    /// Stop after this many samples (with -d, whichever comes first)
    #[arg(
        short = 'c',
        long,
        value_name = "N",
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub count: Option<u64>,

    /// Output file (appended to, never truncated), or - for standard output
    #[arg(short = 'o', long, value_name = "PATH", default_value = "-")]
    pub output: PathBuf,

    /// Protocols to count
    #[arg(short = 'p', long, value_enum, default_value_t = ProtocolArg::All)]
    pub protocol: ProtocolArg,

    /// Output format: CSV, or JSON Lines
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,

    /// Add the busiest destination's columns: worst_dst, worst_dst_used, worst_dst_free
    #[arg(long)]
    pub dst: bool,

    #[command(flatten)]
    pub ns: NsArgs,

    /// Diagnostics on standard error (never on the data stream)
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

/// Which network namespace to look at.
#[derive(Debug, Args)]
pub struct NsArgs {
    /// Sample this network namespace: a name under /run/netns, or a path such as /proc/PID/ns/net
    #[arg(long, value_name = "NAME|PATH", conflicts_with = "pid")]
    pub netns: Option<String>,

    /// Sample the network namespace of this process
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
}

/// `conntrend top`'s flags.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// Rows per table
    #[arg(
        short = 'n',
        long = "rows",
        value_name = "N",
        default_value_t = 10,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub rows: u32,

    /// Refresh in place every SECONDS until interrupted (default: one report)
    #[arg(
        short = 'i',
        long = "interval_sec",
        visible_alias = "interval-sec",
        value_name = "SECONDS",
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub interval_sec: Option<u32>,

    /// One JSON object instead of the report
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub ns: NsArgs,
}

/// `-p` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProtocolArg {
    Tcp,
    Udp,
    All,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn both_spellings_of_long_flags() {
        let a = Cli::try_parse_from(["conntrend", "--interval_sec", "2", "--duration-sec", "0"])
            .unwrap()
            .sample;
        let b = Cli::try_parse_from(["conntrend", "--interval-sec", "2", "--duration_sec", "0"])
            .unwrap()
            .sample;
        assert_eq!((a.interval_sec, a.duration_sec), (2, 0));
        assert_eq!((b.interval_sec, b.duration_sec), (2, 0));
    }

    #[test]
    fn bad_values_name_their_flag() {
        for (args, flag) in [
            (&["-i", "0"][..], "--interval_sec"),
            (&["-i", "-1"], "--interval_sec"),
            (&["-d", "-5"], "--duration_sec"),
            (&["-c", "0"], "--count"),
            (&["-p", "icmp"], "--protocol"),
            (&["--format", "xml"], "--format"),
            (&["--netns", "a", "--pid", "1"], "--pid"),
            (&["top", "-n", "0"], "--rows"),
            (&["-i", "2", "top"], "top"),
        ] {
            let err = Cli::try_parse_from(std::iter::once("conntrend").chain(args.iter().copied()))
                .unwrap_err();
            assert!(err.to_string().contains(flag), "{args:?}: {err}");
        }
    }
}
