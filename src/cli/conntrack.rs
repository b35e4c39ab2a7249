//! `conntrend conntrack`'s flags and its commands (show, config, config set, flush, stats,
//! delete, events).

use clap::{Args, Subcommand};

use super::NsArgs;

/// `conntrend conntrack`: a command, or `show`'s flags directly.
#[derive(Debug, Args)]
pub struct ConntrackArgs {
    // Boxed: inline, these commands' flags would make the parsed command line of every mode
    // as large (clippy: large_enum_variant).
    #[command(subcommand)]
    pub command: Option<Box<CtCommand>>,

    #[command(flatten)]
    pub show: CtShowArgs,
}

#[derive(Debug, Subcommand)]
pub enum CtCommand {
    /// grout's table: two rows per tracked connection (fwd: the original direction, rev: the
    /// reply; NAT shows as a rev row that is not the mirror of fwd) with id, state, protocol,
    /// ports (the identifier for ICMP echo), seconds to expiry, mark, zone, and packets and bytes
    /// when nf_conntrack_acct is on
    Show(CtShowArgs),
    /// grout's `used N (x%)`, `max` and six timeouts, then Linux's `buckets` and every
    /// TCP/UDP/ICMP/generic timeout; `config set NAME VALUE...` changes them
    #[command(args_conflicts_with_subcommands = true)]
    Config(CtConfigArgs),
    /// Delete the entries the filters match (all of them without a filter) and print them as
    /// show does; exit 1 when none matched, as `conntrack -D` does (root only)
    Delete(CtShowArgs),
    /// The table's events as they happen (NEW, UPDATE, DESTROY), as `conntrack -E` shows them,
    /// until Ctrl-C or SIGTERM; then a count of each on stderr (root only)
    Events(CtEventsArgs),
    /// Delete every entry of the namespace, both families (root only)
    Flush(CtNsArgs),
    /// The kernel's conntrack counters summed over CPUs. drop and early_drop count packets
    /// dropped because the table was full ("nf_conntrack: table full, dropping packet")
    Stats(CtJsonArgs),
}

/// `conntrack show`'s and `delete`'s flags.
#[derive(Debug, Args)]
pub struct CtShowArgs {
    #[command(flatten)]
    pub filter: CtFilterArgs,

    /// JSON Lines: one object per entry
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub ns: NsArgs,
}

/// `conntrack events`' flags.
#[derive(Debug, Args)]
pub struct CtEventsArgs {
    #[command(flatten)]
    pub filter: CtFilterArgs,

    /// Only these events: NEW, UPDATE, DESTROY, comma-separated, or ALL (conntrack's -e)
    #[arg(short = 'e', long = "event-mask", value_name = "EVENTS")]
    pub event_mask: Option<String>,

    /// The socket's receive queue in bytes (conntrack's -b): a larger one loses fewer events
    /// in a burst
    #[arg(short = 'b', long = "buffer-size", value_name = "BYTES")]
    pub buffer_size: Option<usize>,

    /// JSON Lines: one object per event (its `event`, then the fields of show --json)
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub ns: NsArgs,
}

/// Which entries `show`, `delete` and `events` take.
#[derive(Debug, Args)]
pub struct CtFilterArgs {
    /// Only this protocol: tcp, udp, icmp, icmpv6, sctp, dccp, gre, udplite or a number
    #[arg(short = 'p', long = "proto", value_name = "PROTO")]
    pub proto: Option<String>,

    /// IPv4 entries only
    #[arg(short = '4', long = "ipv4")]
    pub ipv4: bool,

    /// IPv6 entries only
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,

    /// Only entries in this state: a TCP state (ESTABLISHED, TIME_WAIT, SYN_SENT...) or
    /// UNREPLIED, REPLIED, ASSURED
    #[arg(long, value_name = "STATE")]
    pub state: Option<String>,

    /// Only entries whose original source is this address or CIDR prefix
    #[arg(long, value_name = "ADDR[/LEN]")]
    pub src: Option<String>,

    /// Only entries whose original destination is this address or CIDR prefix
    #[arg(long, value_name = "ADDR[/LEN]")]
    pub dst: Option<String>,

    /// Only entries with this source or destination port (original direction)
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,

    /// Only entries with this source port (original direction)
    #[arg(long, value_name = "PORT")]
    pub sport: Option<u16>,

    /// Only entries with this destination port (original direction)
    #[arg(long, value_name = "PORT")]
    pub dport: Option<u16>,

    /// Only entries whose mark, ANDed with MASK, is MARK (decimal or 0x hex, as conntrack's)
    #[arg(long, value_name = "MARK[/MASK]")]
    pub mark: Option<String>,

    /// Only entries in this conntrack zone (0: the default zone)
    #[arg(long, value_name = "ZONE")]
    pub zone: Option<u16>,
}

/// `conntrack config`.
#[derive(Debug, Args)]
pub struct CtConfigArgs {
    #[command(subcommand)]
    pub command: Option<CtConfigCommand>,

    #[command(flatten)]
    pub show: CtJsonArgs,
}

#[derive(Debug, Subcommand)]
pub enum CtConfigCommand {
    /// Usage, limits and timeouts (the default)
    Show(CtJsonArgs),
    /// Set grout's settings (max, closed-timeout, new-timeout, established-udp-timeout,
    /// established-tcp-timeout, half-close-timeout, time-wait-timeout: each writes the sysctls
    /// it stands for) or sysctls by the names `config show` prints: all are checked first, 0
    /// keeps a value as in grout, and if one write fails the ones already written are put back
    Set(CtSetArgs),
}

/// A `--json` flag and the namespace.
#[derive(Debug, Args)]
pub struct CtJsonArgs {
    /// One JSON object
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub ns: NsArgs,
}

/// The namespace only.
#[derive(Debug, Args)]
pub struct CtNsArgs {
    #[command(flatten)]
    pub ns: NsArgs,
}

/// `conntrack config set NAME VALUE [NAME VALUE]...`.
#[derive(Debug, Args)]
pub struct CtSetArgs {
    /// Pairs of a name and a whole number of seconds (or entries, for max and buckets); 0 keeps
    /// the value it had
    #[arg(value_name = "NAME VALUE", required = true, num_args = 2..)]
    pub pairs: Vec<String>,

    #[command(flatten)]
    pub ns: NsArgs,
}
