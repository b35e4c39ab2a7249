//! `conntrend conntrack`'s flags and its commands (show, config, config set, flush, stats).

use clap::{Args, Subcommand};

use super::NsArgs;

/// `conntrend conntrack`: a command, or `show`'s flags directly.
#[derive(Debug, Args)]
pub struct ConntrackArgs {
    #[command(subcommand)]
    pub command: Option<CtCommand>,

    #[command(flatten)]
    pub show: CtShowArgs,
}

#[derive(Debug, Subcommand)]
pub enum CtCommand {
    /// One row per tracked connection: protocol, state, original and reply direction (NAT shows
    /// as a reply that is not the mirror of the original), seconds to expiry, mark, zone
    Show(CtShowArgs),
    /// `used N (x%)`, `max`, `buckets` and every TCP/UDP/ICMP/generic timeout; `config set NAME
    /// VALUE...` changes them
    #[command(args_conflicts_with_subcommands = true)]
    Config(CtConfigArgs),
    /// Delete every entry of the namespace, both families (root only)
    Flush(CtNsArgs),
    /// The kernel's conntrack counters summed over CPUs. drop and early_drop count packets
    /// dropped because the table was full ("nf_conntrack: table full, dropping packet")
    Stats(CtJsonArgs),
}

/// `conntrack show`'s flags.
#[derive(Debug, Args)]
pub struct CtShowArgs {
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

    /// JSON Lines: one object per entry
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub ns: NsArgs,
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
    /// Set sysctls by the names `config show` prints (and max, buckets): all are checked first,
    /// and if one write fails the ones already written are put back
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
    /// Pairs of a name and a positive whole number of seconds (or entries, for max and buckets)
    #[arg(value_name = "NAME VALUE", required = true, num_args = 2..)]
    pub pairs: Vec<String>,

    #[command(flatten)]
    pub ns: NsArgs,
}
