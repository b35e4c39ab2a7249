//! A held mix of TCP sockets between addresses on `lo` (127.0.0.1, 127.0.0.2, 10.9.0.1, ::1,
//! fd00:9::1), each driven into a known state and recorded as the row `conns` must print for it.
//! Connected sockets are recorded from their own `local_addr`/`peer_addr`; `ss -tan` is only the
//! judge of when the namespace holds exactly what was recorded.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

use crate::netns::NetNs;

/// One row of `-o laddr,lport,raddr,rport,state`. Sockets without a peer (listeners, bound-only)
/// have the unspecified address of their family and port 0 as peer, as the kernel reports them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Conn {
    pub laddr: IpAddr,
    pub lport: u16,
    pub raddr: IpAddr,
    pub rport: u16,
    pub state: String,
}

impl Conn {
    /// The row as `-P` prints it for the default fields.
    pub fn parsable(&self) -> String {
        let Conn {
            laddr,
            lport,
            raddr,
            rport,
            state,
        } = self;
        format!("{laddr},{lport},{raddr},{rport},{state}")
    }
}

const NFT_TABLE: &str = "inet conns_mix";
const IO_TIMEOUT: Duration = Duration::from_secs(10);

pub fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn unspecified(like: IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    }
}

/// A TCP socket bound to `at` with timeouts set; IPv6 sockets are v6-only unless `dual`.
pub fn tcp_socket(at: SocketAddr, dual: bool) -> Socket {
    let s = Socket::new(Domain::for_address(at), Type::STREAM, None).expect("socket");
    if at.is_ipv6() {
        s.set_only_v6(!dual).expect("IPV6_V6ONLY");
    }
    s.set_reuse_address(true).expect("SO_REUSEADDR");
    s.set_read_timeout(Some(IO_TIMEOUT)).expect("SO_RCVTIMEO");
    s.set_write_timeout(Some(IO_TIMEOUT)).expect("SO_SNDTIMEO");
    s.bind(&at.into())
        .unwrap_or_else(|e| panic!("bind to {at}: {e}"));
    s
}

fn local(s: &Socket) -> SocketAddr {
    s.local_addr().unwrap().as_socket().expect("an inet socket")
}

fn peer(s: &Socket) -> SocketAddr {
    s.peer_addr().unwrap().as_socket().expect("an inet socket")
}

/// Builds and holds sockets in the current namespace, recording the row each one must produce.
pub struct Mix<'a> {
    ns: &'a NetNs,
    pub rows: Vec<Conn>,
    listeners: Vec<(SocketAddr, Socket)>,
    keep: Vec<Socket>,
}

impl<'a> Mix<'a> {
    /// Adds 10.9.0.1 and fd00:9::1 to `lo` (addresses that are local but not loopback ones) and an
    /// empty nftables input chain for the drops some states need.
    pub fn new(ns: &'a NetNs) -> Self {
        ns.stdout(&["ip", "addr", "add", "10.9.0.1/32", "dev", "lo"]);
        ns.stdout(&["ip", "addr", "add", "fd00:9::1/128", "dev", "lo", "nodad"]);
        ns.nft(&format!(
            "table {NFT_TABLE} {{\n chain input {{\n type filter hook input priority 0;\n }}\n}}\n"
        ));
        Mix {
            ns,
            rows: Vec::new(),
            listeners: Vec::new(),
            keep: Vec::new(),
        }
    }

    fn drop_rule(&self, matcher: &str) {
        self.ns
            .nft(&format!("add rule {NFT_TABLE} input {matcher} drop"));
    }

    fn record(&mut self, l: SocketAddr, r: Option<SocketAddr>, state: &str) {
        let (raddr, rport) = r.map_or((unspecified(l.ip()), 0), |r| (r.ip(), r.port()));
        self.rows.push(Conn {
            laddr: l.ip(),
            lport: l.port(),
            raddr,
            rport,
            state: state.to_string(),
        });
    }

    fn record_pair(&mut self, c: &Socket, s: &Socket, client: &str, server: &str) {
        self.record(local(c), Some(peer(c)), client);
        self.record(local(s), Some(peer(s)), server);
    }

    fn add_listener(&mut self, at: SocketAddr, dual: bool) -> &mut Self {
        let s = tcp_socket(at, dual);
        s.listen(64).expect("listen");
        self.record(local(&s), None, "LISTEN");
        self.listeners.push((at, s));
        self
    }

    /// A listener on `at` ("127.0.0.1:5000", "[::1]:5001").
    pub fn listen(&mut self, at: &str) -> &mut Self {
        self.add_listener(sa(at), false)
    }

    /// A dual-stack listener on [::]:`port`: IPv4 clients it accepts are v4-mapped IPv6 sockets.
    pub fn dual_listen(&mut self, port: u16) -> &mut Self {
        self.add_listener((Ipv6Addr::UNSPECIFIED, port).into(), true)
    }

    /// Connects a client bound to `from` to this mix's listener serving `to` and accepts it; records
    /// nothing. Returns (client, server).
    pub fn connect(&mut self, from: &str, to: &str) -> (Socket, Socket) {
        let (from, to) = (sa(from), sa(to));
        let c = tcp_socket(from, false);
        c.connect(&to.into())
            .unwrap_or_else(|e| panic!("connect {from} -> {to}: {e}"));
        let l = self
            .listeners
            .iter()
            .find(|(at, _)| {
                at.port() == to.port() && (at.ip() == to.ip() || at.ip().is_unspecified())
            })
            .map(|(_, l)| l)
            .unwrap_or_else(|| panic!("no listener for {to}"));
        let (s, _) = l.accept().unwrap_or_else(|e| panic!("accept {to}: {e}"));
        assert_eq!(peer(&s).port(), from.port(), "accepted another client");
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        (c, s)
    }

    /// A connection whose two sockets the caller keeps (recorded ESTABLISHED on both sides).
    pub fn pair(&mut self, from: &str, to: &str) -> (Socket, Socket) {
        let (c, s) = self.connect(from, to);
        self.record_pair(&c, &s, "ESTABLISHED", "ESTABLISHED");
        (c, s)
    }

    /// ESTABLISHED on both sides, held by the mix.
    pub fn estab(&mut self, from: &str, to: &str) -> &mut Self {
        let (c, s) = self.pair(from, to);
        self.keep.extend([c, s]);
        self
    }

    fn read_eof(s: &Socket) {
        let n = (&*s).read(&mut [0u8; 16]).expect("read until the FIN");
        assert_eq!(n, 0, "expected EOF, got data");
    }

    /// The client closes first and is left in TIME_WAIT; the server side goes away.
    pub fn time_wait(&mut self, from: &str, to: &str) -> &mut Self {
        let (c, s) = self.connect(from, to);
        self.record(local(&c), Some(peer(&c)), "TIME_WAIT");
        drop(c);
        Self::read_eof(&s);
        drop(s);
        self
    }

    /// The client half-closes: client FIN_WAIT_2, server (EOF read, fd kept) CLOSE_WAIT.
    pub fn fin_wait2(&mut self, from: &str, to: &str) -> &mut Self {
        let (c, s) = self.half_closed(from, to);
        self.record_pair(&c, &s, "FIN_WAIT_2", "CLOSE_WAIT");
        self.keep.extend([c, s]);
        self
    }

    fn half_closed(&mut self, from: &str, to: &str) -> (Socket, Socket) {
        let (c, s) = self.connect(from, to);
        c.shutdown(Shutdown::Write).expect("shutdown");
        Self::read_eof(&s);
        // The server's ACK of that FIN may be delayed: wait for FIN_WAIT_2 before dropping anything.
        let port = local(&c).port();
        self.ns.wait_until(&format!("{port} in FIN-WAIT-2"), || {
            ss_conns(self.ns)
                .iter()
                .any(|r| r.lport == port && r.state == "FIN_WAIT_2")
        });
        (c, s)
    }

    /// Then the server's FIN is dropped: server LAST_ACK, client stays FIN_WAIT_2.
    pub fn last_ack(&mut self, from: &str, to: &str) -> &mut Self {
        let (c, s) = self.half_closed(from, to);
        self.drop_rule(&format!("tcp dport {}", local(&c).port()));
        s.shutdown(Shutdown::Write).expect("shutdown");
        self.record_pair(&c, &s, "FIN_WAIT_2", "LAST_ACK");
        self.keep.extend([c, s]);
        self
    }

    /// The client's FIN (and everything else it sends) is dropped: client FIN_WAIT_1, server
    /// ESTABLISHED.
    pub fn fin_wait1(&mut self, from: &str, to: &str) -> &mut Self {
        let (c, s) = self.connect(from, to);
        self.drop_rule(&format!("tcp sport {}", local(&c).port()));
        c.shutdown(Shutdown::Write).expect("shutdown");
        self.record_pair(&c, &s, "FIN_WAIT_1", "ESTABLISHED");
        self.keep.extend([c, s]);
        self
    }

    /// A client whose SYNs to `to` (where nothing listens) are dropped: SYN_SENT.
    pub fn syn_sent(&mut self, from: &str, to: &str) -> &mut Self {
        let (from, to) = (sa(from), sa(to));
        self.drop_rule(&format!("tcp dport {}", to.port()));
        let c = tcp_socket(from, false);
        c.set_nonblocking(true).unwrap();
        let _ = c.connect(&to.into()); // EINPROGRESS
        self.record(from, Some(to), "SYN_SENT");
        self.keep.push(c);
        self
    }

    /// A new listener on `to` whose handshake with `from` never completes (the final ACK is
    /// dropped): the server holds a request socket (SYN_RECEIVED), the client is ESTABLISHED.
    pub fn syn_recv(&mut self, from: &str, to: &str) -> &mut Self {
        self.listen(to);
        let (from, to) = (sa(from), sa(to));
        self.drop_rule(&format!(
            "tcp dport {} tcp flags & (syn | ack) == ack",
            to.port()
        ));
        let c = tcp_socket(from, false);
        c.set_nonblocking(true).unwrap();
        let _ = c.connect(&to.into()); // EINPROGRESS
        self.record(from, Some(to), "ESTABLISHED");
        self.record(to, Some(from), "SYN_RECEIVED");
        self.keep.push(c);
        self
    }

    /// A TCP socket bound to `at` and nothing else (BOUND; `ss` 6.1 cannot show it).
    pub fn bound(&mut self, at: &str) -> &mut Self {
        let s = tcp_socket(sa(at), false);
        self.record(local(&s), None, "BOUND");
        self.keep.push(s);
        self
    }

    /// The recorded rows, sorted.
    pub fn want(&self) -> Vec<Conn> {
        let mut v = self.rows.clone();
        v.sort();
        v
    }

    /// The recorded rows `keep` selects, sorted; panics if that is none or all of them, so every
    /// filter case really filters something.
    pub fn select(&self, what: &str, keep: impl Fn(&Conn) -> bool) -> Vec<Conn> {
        let mut v = self.want();
        let all = v.len();
        v.retain(|c| keep(c));
        assert!(
            !v.is_empty() && v.len() < all,
            "the test's own case {what} selects {} of {all} rows: make it discriminate",
            v.len()
        );
        v
    }

    /// Waits until `ss -tan` shows exactly the recorded rows (bound-only sockets aside).
    pub fn settle(&self) {
        let mut want = self.want();
        want.retain(|c| c.state != "BOUND");
        let what = format!("ss to show exactly {want:#?}");
        self.ns.wait_until(&what, || ss_conns(self.ns) == want);
    }
}

/// Every TCP socket `ss -tanH` shows, as rows with connstat's state names, sorted.
pub fn ss_conns(ns: &NetNs) -> Vec<Conn> {
    let mut v: Vec<Conn> = ns
        .stdout(&["ss", "-tanH"])
        .lines()
        .map(parse_ss_line)
        .collect();
    v.sort();
    v
}

fn parse_ss_line(line: &str) -> Conn {
    let f: Vec<&str> = line.split_whitespace().collect();
    assert!(f.len() >= 5, "unexpected ss line: {line}");
    let state = match f[0] {
        "ESTAB" => "ESTABLISHED",
        "SYN-SENT" => "SYN_SENT",
        "SYN-RECV" => "SYN_RECEIVED",
        "FIN-WAIT-1" => "FIN_WAIT_1",
        "FIN-WAIT-2" => "FIN_WAIT_2",
        "TIME-WAIT" => "TIME_WAIT",
        "CLOSE-WAIT" => "CLOSE_WAIT",
        "LAST-ACK" => "LAST_ACK",
        "LISTEN" => "LISTEN",
        "CLOSING" => "CLOSING",
        other => panic!("unexpected ss state {other:?}: {line}"),
    };
    // "127.0.0.1:5000", "[::1]:5001", "*:7000" (a dual-stack [::]), peers "0.0.0.0:*", "[::]:*".
    let split = |s: &str| -> (Option<IpAddr>, u16) {
        let (a, p) = s
            .rsplit_once(':')
            .unwrap_or_else(|| panic!("no port in {s}: {line}"));
        let a = a.trim_start_matches('[').trim_end_matches(']');
        let ip = (a != "*").then(|| a.parse().unwrap_or_else(|_| panic!("{a}: {line}")));
        let port = if p == "*" { 0 } else { p.parse().unwrap() };
        (ip, port)
    };
    let (l, lport) = split(f[3]);
    let laddr = l.unwrap_or(Ipv6Addr::UNSPECIFIED.into());
    let (r, rport) = split(f[4]);
    Conn {
        laddr,
        lport,
        raddr: r.unwrap_or(unspecified(laddr)),
        rport,
        state: state.to_string(),
    }
}

/// Whether `ip` lies in `net` ("a.b.c.d/len", "x::/len" or a bare address); an IPv4 prefix also
/// covers v4-mapped IPv6 addresses, as the spec says.
pub fn within(ip: IpAddr, net: &str) -> bool {
    let (a, len) = match net.split_once('/') {
        Some((a, l)) => (a, l.parse::<u32>().unwrap()),
        None => (net, if net.contains(':') { 128 } else { 32 }),
    };
    let net: IpAddr = a.parse().unwrap();
    let ip = match ip {
        IpAddr::V6(v6) if net.is_ipv4() => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        _ => ip,
    };
    match (ip, net) {
        (IpAddr::V4(i), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            u32::from(i) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(i), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            u128::from(i) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Loopback as `-L` means it: 127/8, ::1 and ::ffff:127.0.0.0/104.
pub fn loopback(ip: IpAddr) -> bool {
    within(ip, "127.0.0.0/8") || ip == IpAddr::V6(Ipv6Addr::LOCALHOST)
}
