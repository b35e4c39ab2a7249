//! The command line as typed: clap definitions only, self-contained so the man page, the shell
//! completions and the tests build from the same [`command`]. What the values mean and whether
//! they fit together is config.rs. Arguments shared by several modes are defined once here.

pub mod generate;
pub mod lower;

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

pub const EXAMPLES: &str = "\
Examples:
  conntrend -i 5 -d 60                  a sample every 5 s for a minute, CSV on stdout
  conntrend -i 1 -d 0 -o ports.csv      every second until Ctrl-C, appended to ports.csv
  conntrend --format json -c 3 | jq .   three samples as JSON Lines
  conntrend --dst -i 5 -d 0             add the busiest destination's columns
  conntrend --netns blue -c 1           one sample of the namespace `ip netns` calls blue
  conntrend top                         who holds the ports, once
  conntrend top -i 2 --sort close_wait  refreshed every 2 s, processes by CLOSE_WAIT";

pub const EXIT_CODES: &str = "\
Exit codes: 0 the run ended normally (duration, count, SIGINT/SIGTERM/SIGHUP, or the reader of the
output went away); 1 a runtime failure (output cannot be opened or written, netlink dump failed);
2 bad command-line input.";

pub const STATES_EXAMPLES: &str = "\
Examples:
  conntrend states                       one object, as network-connections prints it
  conntrend states --all --pretty        listeners and unconnected UDP too, indented
  conntrend states -i 10 -o states.json  one line every 10 s, appended to states.json
  conntrend states --proc-root sos/proc  the tables of a saved /proc tree (sosreport)";

pub const CONNS_EXAMPLES: &str = "\
Fields for -o (any case; connstat's, then Linux's):
  laddr lport raddr rport state inbytes insegs inunorderbytes inunordersegs outbytes outsegs
  retransbytes retranssegs suna unsent swnd cwnd rwnd mss rto rtt rtts rttc
  rttvar minrtt rqueue wqueue retrans lost reordering unacked sacked deliveryrate pacingrate
  cong timer expires uid inode pid comm rmem wmem rcvbuf sndbuf
  Units: bytes (cwnd = segments x mss), rto ms, rtt/rttvar/minrtt us, rates bytes/s.
  inunorderbytes, rtts and rttc are always empty: Linux does not keep them.
Filter fields for -F: laddr, raddr (an address or CIDR prefix), lport, rport (a port or LO-HI),
  state (connstat's or Linux's names, any case).

Examples:
  conntrend conns                                  every TCP socket, connstat's default fields
  conntrend conns -e -o laddr,lport,raddr,rport,rtt,cwnd,retranssegs
  conntrend conns -F raddr=10.0.0.0/8,rport=443 -P -o raddr,rtt
  conntrend conns -L -e --json | jq 'select(.retranssegs > 0)'
  conntrend conns -T u -i 10 -c 6 -e -P -o laddr,lport,raddr,rport,inbytes,outbytes";

pub const CONNTRACK_EXAMPLES: &str = "\
Examples:
  conntrend conntrack                         every tracked connection (show)
  conntrend ct show -p tcp --state time_wait  TCP entries in TIME_WAIT
  conntrend ct show --dst 10.0.0.0/8 --json   JSON Lines, for jq
  conntrend ct config                         used N (x%), max, buckets, every timeout
  sudo conntrend ct config set tcp_timeout_time_wait 30 udp_timeout 15
  sudo conntrend ct flush                     delete every entry of the namespace
  conntrend ct stats                          drop/early_drop: packets dropped, table full
  conntrend ct config --netns blue            another namespace's table

Inside a container, `used` counts the namespace's own entries while `max` (nf_conntrack_max) is
the host's limit, shared by every namespace: the percentage is of that shared limit.";

pub const RTT_EXAMPLES: &str = "\
Examples:
  sudo conntrend rtt -i eth0 -f 'tcp port 443'    live, RTT of HTTPS traffic
  conntrend rtt -r capture.pcapng -Q              only the lines with an RTT, from a file
  tcpdump -w - -i eth0 | conntrend rtt -r - -m    machine lines from a pipe
  conntrend rtt -r capture.pcap --json | jq -c 'select(.ts_rtt != null)'
  conntrend rtt -r capture.pcap -e                replay at the recorded pace

Lines: time, ts_rtt, seq_rtt, seq_diff, dupack, bytes, flow_bytes, flow (src:port+dst:port). A
field without a value is - (human), empty (-m) or null (--json). The per-flow summary follows the
end of the capture, -c, -s, Ctrl-C or SIGTERM.";

pub const SERVE_EXAMPLES: &str = "\
Examples:
  conntrend serve                                  127.0.0.1:9959, GET /metrics
  conntrend serve --listen 0.0.0.0:9959 --conntrack --forecast
  conntrend serve --netns blue --listen 127.0.0.1:9960
  conntrend serve --alert 'free<1000'              conntrend_alert{expr=\"free<1000\"} 0/1

Prometheus scrape config:
  scrape_configs:
    - job_name: conntrend
      static_configs: [{targets: ['HOST:9959']}]";

pub const PLOT_EXAMPLES: &str = "\
Examples:
  conntrend -i 1 -d 3600 -o ports.csv; conntrend plot ports.csv -o ports.svg
  conntrend plot --series used,time_wait,worst_dst_used ports.csv > focus.svg
  conntrend --format json -c 60 | conntrend plot -o last-minute.svg";

pub const TOP_EXAMPLES: &str = "\
Examples:
  conntrend top                         one report of this namespace
  sudo conntrend top -n 20              20 rows per table, every process visible
  conntrend top -i 2                    refreshed in place every 2 s until Ctrl-C
  conntrend top --sort close_wait       processes by CLOSE_WAIT sockets (a leaking server)
  conntrend top --json | jq .processes  the report as one JSON object";

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
    /// usage and timeouts (config), flush, and the kernel's statistics (stats)
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

/// How often to sample, shared by every mode that repeats.
#[derive(Debug, Args)]
pub struct IntervalArg {
    /// Seconds between samples, at least 1 [timeline default: 5; top: one report unless given]
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
    /// Where sockets are read: netlink (sock_diag), proc (/proc/net), or auto: netlink, falling
    /// back to /proc/net once if netlink is refused [default: auto]
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
    Proc,
}

/// The timeline's flags (no subcommand).
#[derive(Debug, Args)]
pub struct SampleArgs {
    #[command(flatten)]
    pub interval: IntervalArg,

    /// Total run time in seconds; 0 runs until interrupted [default: 60, unless -c is given]
    #[arg(
        short = 'd',
        long = "duration-sec",
        alias = "duration_sec",
        value_name = "SECONDS",
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(u32)
    )]
    pub duration_sec: Option<u32>,

    /// Stop after this many samples (with -d, whichever comes first)
    #[arg(
        short = 'c',
        long,
        value_name = "N",
        allow_negative_numbers = true,
        value_parser = at_least_one_u64
    )]
    pub count: Option<u64>,

    /// Output file (appended to, never truncated), or - for standard output
    #[arg(short = 'o', long, value_name = "PATH", default_value = "-")]
    pub output: PathBuf,

    /// Protocols to count
    #[arg(short = 'p', long, value_enum, default_value_t = ProtocolArg::All)]
    pub protocol: ProtocolArg,

    /// Output format: CSV, JSON Lines, or Prometheus text (prom, with -o FILE)
    #[arg(long, value_enum, default_value_t = FormatArg::Csv)]
    pub format: FormatArg,

    /// Add the busiest destination's columns: worst_dst, worst_dst_used, worst_dst_free
    #[arg(long)]
    pub dst: bool,

    /// Add the conntrack table's columns: ct_used, ct_max, ct_drops
    #[arg(long)]
    pub conntrack: bool,

    /// Add exhaust_in_sec (with --dst also dst_exhaust_in_sec): seconds until free reaches 0 at
    /// the rate fitted over the last N samples [default N: 12]
    #[arg(long, value_name = "N", num_args = 0..=1, require_equals = true, default_missing_value = "12", value_parser = at_least_three)]
    pub forecast: Option<usize>,

    #[command(flatten)]
    pub alerts: AlertArgs,

    /// Time columns: epoch_ms only, or also an ISO-8601 UTC `time` column beside it
    #[arg(long, value_enum, value_name = "KIND", default_value_t = TimeArg::Epoch)]
    pub time: TimeArg,

    #[command(flatten)]
    pub ns: NsArgs,

    #[command(flatten)]
    pub source: SourceArgs,

    /// Diagnostics on standard error (never on the data stream)
    #[arg(short = 'v', long)]
    pub verbose: bool,

    /// Anything left over, refused with a clear message (conntrend takes no operands).
    #[arg(hide = true)]
    pub stray: Option<String>,
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
        value_parser = at_least_one_u32
    )]
    pub rows: u32,

    #[command(flatten)]
    pub interval: IntervalArg,

    /// Order of the process table
    #[arg(long, value_enum, value_name = "KEY", default_value_t = SortArg::Ports)]
    pub sort: SortArg,

    /// One JSON object instead of the report
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub ns: NsArgs,

    #[command(flatten)]
    pub source: SourceArgs,
}

/// `conntrend serve`'s flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (all interfaces only when asked: 0.0.0.0:PORT)
    #[arg(long, value_name = "ADDR:PORT", default_value = crate::modes::serve::DEFAULT_LISTEN)]
    pub listen: std::net::SocketAddr,

    /// Export the used ports of the K busiest destinations (label dst); 0 for none
    #[arg(long, value_name = "K", default_value_t = 5)]
    pub dst_top: usize,

    /// Export the conntrack table's entries, limit and drops
    #[arg(long)]
    pub conntrack: bool,

    /// Scrapes closer together than this reuse the last sample
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0, value_parser = non_negative_seconds)]
    pub min_interval: f64,

    /// Export exhaust_in_seconds, fitted over the last N samples [default N: 12]
    #[arg(long, value_name = "N", num_args = 0..=1, require_equals = true, default_missing_value = "12", value_parser = at_least_three)]
    pub forecast: Option<usize>,

    #[command(flatten)]
    pub alerts: AlertArgs,

    #[command(flatten)]
    pub ns: NsArgs,

    #[command(flatten)]
    pub source: SourceArgs,
}

/// `conntrend plot`'s flags.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// Logs to read (CSV or JSON Lines, told apart by their first line); - or none for stdin
    #[arg(value_name = "FILE")]
    pub files: Vec<String>,

    /// Write the SVG here (replaced whole) instead of standard output
    #[arg(short = 'o', long, value_name = "OUT.svg")]
    pub output: Option<PathBuf>,

    /// The columns to draw, comma-separated [default: total_port, used, free and the TCP state,
    /// worst_dst_used and ct_used columns the log has]
    #[arg(long, value_name = "COLUMN[,...]", value_delimiter = ',')]
    pub series: Option<Vec<String>>,

    /// Times in the local time zone instead of UTC
    #[arg(long)]
    pub local: bool,
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

/// `conntrend states`'s flags.
#[derive(Debug, Args)]
pub struct StatesArgs {
    /// Also count sockets without a peer (listeners, unconnected UDP, bound-only sockets, these
    /// as CLOSE), like `netstat -a`
    #[arg(long)]
    pub all: bool,

    #[command(flatten)]
    pub interval: IntervalArg,

    /// Stop after this many objects (streams one per line, like -i; default interval 5 s)
    #[arg(
        short = 'c',
        long,
        value_name = "N",
        allow_negative_numbers = true,
        value_parser = at_least_one_u64
    )]
    pub count: Option<u64>,

    /// Indent the JSON
    #[arg(long)]
    pub pretty: bool,

    /// Output file (appended to, never truncated), or - for standard output
    #[arg(short = 'o', long, value_name = "PATH", default_value = "-")]
    pub output: PathBuf,

    #[command(flatten)]
    pub ns: NsArgs,

    #[command(flatten)]
    pub source: SourceArgs,
}

/// `conntrend conns`'s flags: connstat's, plus the other modes' namespace and source flags.
#[derive(Debug, Args)]
pub struct ConnsArgs {
    /// IPv4 connections only
    #[arg(short = '4', long = "ipv4")]
    pub ipv4: bool,

    /// IPv6 connections only
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,

    /// ESTABLISHED connections only (the same as -F state=established)
    #[arg(short = 'e', long)]
    pub established: bool,

    /// Leave out connections whose local or remote address is loopback
    #[arg(short = 'L', long = "no-loopback")]
    pub no_loopback: bool,

    /// Only connections matching every field=value: laddr, raddr (address or CIDR), lport, rport
    /// (port or LO-HI), state
    #[arg(short = 'F', long, value_name = "FIELD=VALUE[,...]")]
    pub filter: Vec<String>,

    /// The fields to print, comma-separated (as in connstat: not an output file) [default:
    /// laddr,lport,raddr,rport,state]
    #[arg(short = 'o', long = "output", value_name = "FIELD[,...]")]
    pub fields: Option<String>,

    /// Comma-separated values without a header (needs -o, as in connstat)
    #[arg(short = 'P', long, conflicts_with = "json")]
    pub parsable: bool,

    /// A timestamp line before each report: u seconds since the epoch, d date(1)'s format (with
    /// -P the line starts with "= ", as connstat's does)
    #[arg(
        short = 'T',
        long,
        value_enum,
        value_name = "d|u",
        conflicts_with = "json"
    )]
    pub timestamp: Option<StampArg>,

    #[command(flatten)]
    pub interval: IntervalArg,

    /// Number of reports (with -i)
    #[arg(
        short = 'c',
        long,
        value_name = "N",
        allow_negative_numbers = true,
        value_parser = at_least_one_u64
    )]
    pub count: Option<u64>,

    /// JSON Lines: one object per connection, with epoch_ms
    #[arg(long)]
    pub json: bool,

    /// Filter in user space only, never in the kernel (to check that both give the same rows)
    #[arg(long, hide = true)]
    pub no_kernel_filter: bool,

    #[command(flatten)]
    pub ns: NsArgs,

    #[command(flatten)]
    pub source: SourceArgs,
}

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

/// `conntrend rtt`'s flags (connmon's and pping's).
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["interface", "read"])))]
pub struct RttArgs {
    /// Capture live on this interface (needs CAP_NET_RAW)
    #[arg(short = 'i', long, value_name = "IFACE")]
    pub interface: Option<String>,

    /// Read a pcap or pcapng file (tcpdump -w, Wireshark); - for standard input
    #[arg(short = 'r', long, value_name = "FILE")]
    pub read: Option<String>,

    /// A filter in tcpdump's syntax (run in the kernel for a live capture)
    #[arg(short = 'f', long, value_name = "FILTER")]
    pub filter: Option<String>,

    /// Stop after this many packets
    #[arg(short = 'c', long, value_name = "N", allow_negative_numbers = true, value_parser = at_least_one_u64)]
    pub count: Option<u64>,

    /// Stop after this many seconds (capture time when reading a file)
    #[arg(short = 's', long, value_name = "SECONDS", allow_negative_numbers = true, value_parser = at_least_one_u64)]
    pub seconds: Option<u64>,

    /// Quick: only lines with an RTT
    #[arg(short = 'Q', long)]
    pub quick: bool,

    /// Machine-friendly lines: eight comma-separated fields (see the README)
    #[arg(short = 'm', long, conflicts_with = "json")]
    pub machine: bool,

    /// Emulation: replay a file at its recorded pace
    #[arg(short = 'e', long, requires = "read")]
    pub emulate: bool,

    /// JSON Lines: one object per line, the summary as a last {"flows":[...]} object
    #[arg(long)]
    pub json: bool,

    /// Flows followed at most (further flows are counted, not followed)
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = at_least_one_u64)]
    pub max_flows: u64,

    /// Seconds a TSval waits for its echo
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = at_least_one_u64)]
    pub ts_timeout: u64,

    /// Seconds without packets after which a flow is forgotten (its summary kept)
    #[arg(long, value_name = "SECONDS", default_value_t = 300, value_parser = at_least_one_u64)]
    pub flow_idle: u64,

    #[command(flatten)]
    pub ns: NsArgs,
}

/// `conns -T` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StampArg {
    /// date(1)'s default format
    D,
    /// Seconds since the epoch
    U,
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

/// `top --sort` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortArg {
    /// Distinct pool ports held (TCP + UDP)
    Ports,
    /// TCP sockets in CLOSE_WAIT (a server that does not close)
    #[value(name = "close_wait", alias = "close-wait")]
    CloseWait,
    /// TCP sockets in ESTABLISHED
    Established,
}

fn at_least_one_u64(s: &str) -> Result<u64, String> {
    match s.parse::<i128>() {
        Ok(n) if n >= 1 => u64::try_from(n).map_err(|_| "too large".to_string()),
        Ok(_) => Err("must be at least 1".into()),
        Err(_) => Err("not a whole number".into()),
    }
}

fn at_least_one_u32(s: &str) -> Result<u32, String> {
    at_least_one_u64(s).and_then(|n| u32::try_from(n).map_err(|_| "too large".into()))
}

fn non_negative_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=86_400.0).contains(&v) => Ok(v),
        _ => Err("seconds from 0 to 86400".into()),
    }
}

fn at_least_three(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 3 => Ok(n),
        Ok(_) => Err("a line needs at least 3 samples".into()),
        Err(_) => Err("not a whole number".into()),
    }
}

fn pid(s: &str) -> Result<u32, String> {
    match s.parse::<i64>() {
        Ok(n) if n >= 1 => u32::try_from(n).map_err(|_| "no such process id".into()),
        Ok(_) => Err("a process id is a positive number".into()),
        Err(_) => Err("not a process id".into()),
    }
}

#[cfg(test)]
mod tests;
