//! The texts printed with `--help` and in the man pages that are written rather than derived: each
//! mode's examples, what `-i` defaults to in each mode, the short flags a mode keeps from the tool
//! it replaces, and the exit statuses. [`super::command`] puts them in the help; generate.rs puts
//! them in the man pages.

use std::fmt::Write as _;

use crate::report::schema::{self, Group};

/// The columns and the flags that add them, as the schema lists them, except that a flag adding
/// no column (`--alert`) says what it adds instead of ending in a dangling "adds".
pub fn columns() -> String {
    let help = schema::help();
    let lines = help.lines().map(|line| {
        let Some(flag) = line.trim().strip_suffix(" adds") else {
            return line.to_string();
        };
        let group = Group::ALL.into_iter().find(|g| g.flag() == Some(flag));
        let summary: Vec<&str> = schema::SUMMARY
            .iter()
            .filter(|f| Some(f.group) == group)
            .map(|f| f.name)
            .collect();
        match summary.as_slice() {
            [] => format!("  {flag} adds no column"),
            names => format!(
                "  {flag} adds no column, only the summary's {}",
                names.join(",")
            ),
        }
    });
    lines.collect::<Vec<_>>().join("\n")
}

pub const EXAMPLES: &str = "\
Examples:
  conntrend -i 5 -d 60                  a sample every 5 s for a minute, CSV on stdout
  conntrend -i 1 -d 0 -o ports.csv      every second until Ctrl-C, appended to ports.csv
  conntrend --format json -c 3 | jq .   three samples as JSON Lines
  conntrend --dst -i 5 -d 0             add the busiest destination's columns
  conntrend --netns blue -c 1           one sample of the namespace `ip netns` calls blue
  conntrend top                         who holds the ports, once
  conntrend top -i 2 --sort close_wait  refreshed every 2 s, processes by CLOSE_WAIT";

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

Lines: connmon's (the default and -m: * for no RTT, - for no duplicate ACK), or conntrend's
--table, --csv and --json: time, ts_rtt, seq_rtt, seq_diff, dupack, bytes, flow_bytes, flow
(src:port+dst:port), a field without a value - (--table), empty (--csv) or null (--json). The
per-flow summary follows the end of the capture, -c, -s, Ctrl-C or SIGTERM: on stderr with
connmon's lines (-q: none), on stdout with the others.";

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

/// `-i`'s help in each mode that samples (`""`: the timeline), each with its own default.
pub const INTERVAL_HELP: [(&str, &str); 4] = [
    ("", "Seconds between samples, at least 1 [default: 5]"),
    (
        "top",
        "Refresh the report in place every SECONDS (at least 1) until interrupted [default: one \
         report]",
    ),
    (
        "states",
        "One object every SECONDS (at least 1), one per line [default: one object; with -c, 5]",
    ),
    (
        "conns",
        "A report every SECONDS (at least 1) [default: one report; -c needs -i]",
    ),
];

/// The short flags a mode keeps from the tool it replaces, where every other mode gives the same
/// letter another meaning: (mode, flag, what it is there).
pub const FLAG_EXCEPTIONS: [(&str, char, &str); 2] = [
    (
        "rtt",
        'i',
        "is the interface to capture on (connmon's and pping's -i), not the interval",
    ),
    (
        "conns",
        'o',
        "names the fields to print (connstat's -o), not an output file",
    ),
];

/// The top-level help's list of [`FLAG_EXCEPTIONS`].
pub fn flag_exceptions() -> String {
    let mut s = String::from(
        "A short flag means the same in every mode, except where a mode keeps its seed tool's:",
    );
    for (mode, flag, what) in FLAG_EXCEPTIONS {
        let _ = write!(s, "\n  {:<9} {what}", format!("{mode} -{flag}"));
    }
    s
}

/// The one line a mode's help has for its entry in [`FLAG_EXCEPTIONS`], if it has one.
pub fn flag_exception(mode: &str) -> Option<String> {
    FLAG_EXCEPTIONS
        .iter()
        .find(|(m, ..)| *m == mode)
        .map(|(_, flag, what)| format!("In {mode}, -{flag} {what}."))
}

/// A mode's examples (with their section title in the man page), by its path below conntrend.
pub fn examples(path: &[&str]) -> Option<(&'static str, &'static str)> {
    Some(match path {
        [] => ("EXAMPLES", EXAMPLES),
        ["top"] => ("EXAMPLES", TOP_EXAMPLES),
        ["states"] => ("EXAMPLES", STATES_EXAMPLES),
        ["conns"] => ("FIELDS AND EXAMPLES", CONNS_EXAMPLES),
        ["conntrack"] => ("EXAMPLES", CONNTRACK_EXAMPLES),
        ["rtt"] => ("EXAMPLES", RTT_EXAMPLES),
        ["serve"] => ("EXAMPLES", SERVE_EXAMPLES),
        ["plot"] => ("EXAMPLES", PLOT_EXAMPLES),
        _ => return None,
    })
}

/// The exit statuses of the command at `path` below conntrend (empty: the timeline); `alerts`:
/// it takes --exit-on-alert. src/app/exit.rs decides them; this says what each means, for
/// `--help` and the man pages alike.
pub fn exit_statuses(path: &[&str], alerts: bool) -> Vec<(u8, String)> {
    let mut failure = String::from(
        "a runtime failure (the message says what): the output cannot be opened or written, a \
         namespace cannot be entered, a read or the netlink dump failed",
    );
    if matches!(path, ["conntrack"] | ["conntrack", "delete"]) {
        failure.push_str("; delete matched no entry (as conntrack -D)");
    }
    let mut statuses = vec![
        (
            0,
            "the run ended normally: it finished (duration, count, end of input), a \
             SIGINT/SIGTERM/SIGHUP stopped it, or the reader of the output went away"
                .to_string(),
        ),
        (1, failure),
        (
            2,
            "bad input: a flag or value that makes no sense, or a run this build or namespace \
             cannot make"
                .to_string(),
        ),
    ];
    if alerts {
        statuses.push((
            3,
            "--exit-on-alert: an --alert started to hold (the summary was written)".to_string(),
        ));
    }
    statuses
}

/// [`exit_statuses`] as `--help` shows them: one status a line, wrapped under its text.
pub fn exit_codes(path: &[&str], alerts: bool) -> String {
    let mut s = String::from("Exit codes:");
    for (code, text) in exit_statuses(path, alerts) {
        let mut line = format!("\n  {code}  ");
        let mut width = line.len() - 1;
        for word in text.split(' ') {
            let space = usize::from(!line.ends_with("  "));
            if width + space + word.len() > 100 {
                line.push_str("\n     ");
                width = 5;
            } else if space == 1 {
                line.push(' ');
                width += 1;
            }
            line.push_str(word);
            width += word.len();
        }
        s.push_str(&line);
    }
    s
}
