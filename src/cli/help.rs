//! The texts printed after `--help` (and in the man pages): each mode's examples and the exit
//! codes. [`super::command`] appends them; generate.rs puts them in the man pages.

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
