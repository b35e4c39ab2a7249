//! Each mode's own flags: the timeline's (no subcommand), top, states, conns, rtt, serve and plot,
//! with the value enums only one mode uses. Conntrack's tree is in conntrack.rs.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::args::{at_least_one_u32, at_least_one_u64, forecast_window, non_negative_seconds};
use super::{AlertArgs, FormatArg, IntervalArg, NsArgs, ProtocolArg, SourceArgs, TimeArg};
use crate::fold::forecast::Window;

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

    /// With --format prom: write the used ports of the K busiest destinations (label dst), as
    /// serve does; 0 for none [default: 5]
    #[arg(long, value_name = "K", requires = "dst")]
    pub dst_top: Option<usize>,

    /// Add the conntrack table's columns: ct_used, ct_max, ct_drops
    #[arg(long)]
    pub conntrack: bool,

    /// Add who holds the pool's ports: owner, owner_ports, owner_last_known (TIME_WAIT sockets
    /// of connections it was seen owning), unattributed_ports, likely (see `top`)
    #[arg(long)]
    pub owners: bool,

    /// Add exhaust_in_sec (with --dst also dst_exhaust_in_sec): seconds until free reaches 0 at
    /// the rate fitted over the last N samples or the last SPAN (90s, 5m, 1h), given only when
    /// the decline is significant [default: 12 samples]
    #[arg(long, value_name = "N|SPAN", num_args = 0..=1, require_equals = true, default_missing_value = "12", value_parser = forecast_window)]
    pub forecast: Option<Window>,

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

    /// A proc root to read, as network-connections takes it: the same as --proc-root PATH
    #[arg(value_name = "PATH", conflicts_with_all = ["proc_root", "netns", "pid"])]
    pub path: Option<PathBuf>,
}

/// `conntrend conns`'s flags: connstat's, plus the other modes' namespace and source flags.
#[derive(Debug, Args)]
pub struct ConnsArgs {
    /// IPv4 connections only (not with -6, as in connstat)
    #[arg(
        short = '4',
        long = "ipv4",
        conflicts_with = "ipv6",
        overrides_with = "ipv4"
    )]
    pub ipv4: bool,

    /// IPv6 connections only (not with -4, as in connstat)
    #[arg(short = '6', long = "ipv6", overrides_with = "ipv6")]
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

    /// The fields to print, comma-separated, or all (as in connstat: not an output file)
    /// [default: laddr,lport,raddr,rport,state]
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

/// `conns -T` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StampArg {
    /// date(1)'s default format
    D,
    /// Seconds since the epoch
    U,
}

/// `conntrend rtt`'s flags (connmon's and pping's).
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["interface", "read"])))]
pub struct RttArgs {
    /// Capture live on this interface (needs CAP_NET_RAW); -i as in connmon and pping, not the
    /// interval it is in other modes
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

    /// connmon's machine lines: space-separated, * for no RTT (see docs/rtt.md)
    #[arg(short = 'm', long, conflicts_with_all = ["json", "csv", "table"])]
    pub machine: bool,

    /// Eight comma-separated fields (conntrend's former -m), the summary on stdout
    #[arg(long, conflicts_with_all = ["json", "table"])]
    pub csv: bool,

    /// The aligned table with a header (conntrend's former default), the summary on stdout
    #[arg(long, conflicts_with = "json")]
    pub table: bool,

    /// Show RTTs through local host applications (live; connmon hides them by default)
    #[arg(short = 'l', long = "showLocal", alias = "show-local")]
    pub show_local: bool,

    /// No summary reports on stderr, nor the per-flow summary at the end
    #[arg(short = 'q', long, conflicts_with_all = ["verbose", "sum_int"])]
    pub quiet: bool,

    /// connmon's summary line on stderr every 10 seconds (as --sumInt 10)
    #[arg(short = 'v', long)]
    pub verbose: bool,

    /// connmon's summary line on stderr every this many seconds of capture time (0: none)
    #[arg(
        long = "sumInt",
        alias = "sum-int",
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub sum_int: Option<f64>,

    /// Emulation: replay a file at its recorded pace
    #[arg(short = 'e', long, requires = "read")]
    pub emulate: bool,

    /// JSON Lines: one object per line, the summary as a last {"flows":[...]} object
    #[arg(long)]
    pub json: bool,

    /// Flows followed at most (further flows are counted, not followed)
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = at_least_one_u64)]
    pub max_flows: u64,

    /// Seconds a TSval waits for its echo (connmon's --rtdMaxAge)
    #[arg(long, alias = "rtdMaxAge", value_name = "SECONDS", default_value_t = 10, value_parser = at_least_one_u64)]
    pub ts_timeout: u64,

    /// Seconds without packets after which a flow is forgotten, its summary kept (connmon's
    /// --flowMaxIdle)
    #[arg(long, alias = "flowMaxIdle", value_name = "SECONDS", default_value_t = 300, value_parser = at_least_one_u64)]
    pub flow_idle: u64,

    #[command(flatten)]
    pub ns: NsArgs,
}

/// `conntrend serve`'s flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (all interfaces only when asked: 0.0.0.0:PORT)
    #[arg(long, value_name = "ADDR:PORT", default_value = crate::modes::serve::DEFAULT_LISTEN)]
    pub listen: std::net::SocketAddr,

    /// Export the used ports of the K busiest destinations (label dst); 0 for none
    #[arg(long, value_name = "K", default_value_t = crate::report::metrics::DEFAULT_DST_TOP)]
    pub dst_top: usize,

    /// Export the conntrack table's entries, limit and drops
    #[arg(long)]
    pub conntrack: bool,

    /// Scrapes closer together than this reuse the last sample
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0, value_parser = non_negative_seconds)]
    pub min_interval: f64,

    /// Export exhaust_in_seconds, fitted over the last N samples or the last SPAN (90s, 5m, 1h),
    /// only when the decline is significant [default: 12 samples]
    #[arg(long, value_name = "N|SPAN", num_args = 0..=1, require_equals = true, default_missing_value = "12", value_parser = forecast_window)]
    pub forecast: Option<Window>,

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

    /// Only samples from WHEN on: epoch ms, ISO-8601 with its zone (2026-12-07T03:00:00Z), or a
    /// span back from the log's last sample (90s, 15m, 2h, 1d)
    #[arg(long, value_name = "WHEN", value_parser = crate::modes::plot::window::parse_when)]
    pub from: Option<crate::modes::plot::window::When>,

    /// Only samples up to WHEN (as for --from)
    #[arg(long, value_name = "WHEN", value_parser = crate::modes::plot::window::parse_when)]
    pub to: Option<crate::modes::plot::window::When>,

    /// Only the last SPAN of the log (15m, 2h, 1d), or the SPAN before --to
    #[arg(long, value_name = "SPAN", conflicts_with = "from", value_parser = crate::modes::plot::window::parse_span)]
    pub last: Option<u64>,
}
