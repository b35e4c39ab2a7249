//! A builder that holds a known mix of sockets in the current namespace and records it.
//!
//! [`Mix`] creates sockets on loopback only (127.0.0.1 and ::1) with explicitly bound local ports,
//! drives each into a given TCP state (dropping packets with nftables on `lo` where a state needs a
//! missing segment), waits until `ss` shows that state, and records what it built as [`Sock`]s.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr};
use std::time::Duration;

use socket2::{Domain, SockAddr, Socket, Type};

use super::{NetNs, Proto, Sock, State};

fn loopback(v6: bool, port: u16) -> SockAddr {
    let addr: SocketAddr = if v6 {
        (Ipv6Addr::LOCALHOST, port).into()
    } else {
        (Ipv4Addr::LOCALHOST, port).into()
    };
    addr.into()
}

/// A socket of type `ty` bound to loopback:`port` (v6-only for ::1, so families never share).
fn bound_socket(v6: bool, ty: Type, port: u16, reuseport: bool) -> Socket {
    let s = Socket::new(if v6 { Domain::IPV6 } else { Domain::IPV4 }, ty, None).expect("socket");
    if v6 {
        s.set_only_v6(true).expect("IPV6_V6ONLY");
    }
    if ty == Type::STREAM {
        s.set_reuse_address(true).expect("SO_REUSEADDR");
        s.set_read_timeout(Some(IO_TIMEOUT)).expect("SO_RCVTIMEO");
        s.set_write_timeout(Some(IO_TIMEOUT)).expect("SO_SNDTIMEO");
    }
    s.set_reuse_port(reuseport).expect("SO_REUSEPORT");
    let addr = loopback(v6, port);
    s.bind(&addr)
        .unwrap_or_else(|e| panic!("bind {ty:?} to {addr:?}: {e}"));
    s
}

const NFT_TABLE: &str = "inet conntrend_test";
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Builds and holds a socket mix in the current namespace, recording every socket it holds.
/// Each method returns only once `ss` shows the state it promises.
pub struct Mix<'a> {
    ns: &'a NetNs,
    /// What was built, in the state each socket is held in.
    pub socks: Vec<Sock>,
    listeners: BTreeMap<(bool, u16), Socket>,
    keep: Vec<Socket>,
    rules: BTreeSet<String>,
}

impl<'a> Mix<'a> {
    /// Starts an empty mix and an (empty) nftables input chain for the drops it will need.
    pub fn new(ns: &'a NetNs) -> Self {
        ns.nft(&format!(
            "table {NFT_TABLE} {{\n chain input {{\n type filter hook input priority 0;\n }}\n}}\n"
        ));
        let (socks, keep) = (Vec::new(), Vec::new());
        let (listeners, rules) = (BTreeMap::new(), BTreeSet::new());
        Mix {
            ns,
            socks,
            listeners,
            keep,
            rules,
        }
    }

    /// Drops, on input to this namespace, every packet `matcher` matches (added once).
    fn drop_rule(&mut self, matcher: String) {
        if self.rules.insert(matcher.clone()) {
            self.ns
                .nft(&format!("add rule {NFT_TABLE} input {matcher} drop"));
        }
    }

    fn record(&mut self, proto: Proto, v6: bool, port: u16, peer: Option<u16>, state: State) {
        let sock = Sock {
            proto,
            v6,
            port,
            peer,
            state,
        };
        self.socks.push(sock);
    }

    /// Records a TCP connection: client `cport` in `client`, server side on `lport` in `server`.
    fn conn(&mut self, v6: bool, (cport, lport): (u16, u16), client: State, server: Option<State>) {
        self.record(Proto::Tcp, v6, cport, Some(lport), client);
        if let Some(state) = server {
            self.record(Proto::Tcp, v6, lport, Some(cport), state);
        }
    }

    /// Waits until `ss` shows TCP `port` (peer `peer`) in `state`.
    fn wait(&self, v6: bool, port: u16, peer: u16, state: State) {
        let want = Sock {
            proto: Proto::Tcp,
            v6,
            port,
            peer: Some(peer),
            state,
        };
        self.ns
            .wait_until(&format!("{want:?}"), || self.ns.ss_socks().contains(&want));
    }

    /// A listener on `port` (connections made by this mix to `port` are accepted from it).
    pub fn listen(&mut self, v6: bool, port: u16) -> &mut Self {
        let s = bound_socket(v6, Type::STREAM, port, false);
        s.listen(16).expect("listen");
        self.listeners.insert((v6, port), s);
        self.record(Proto::Tcp, v6, port, None, State::Listen);
        self
    }

    /// `n` SO_REUSEPORT listeners sharing `port` (never connected to).
    pub fn reuseport_listeners(&mut self, v6: bool, port: u16, n: usize) -> &mut Self {
        for _ in 0..n {
            let s = bound_socket(v6, Type::STREAM, port, true);
            s.listen(16).expect("listen");
            self.keep.push(s);
            self.record(Proto::Tcp, v6, port, None, State::Listen);
        }
        self
    }

    /// Connects a client bound to `cport` to this mix's listener on `lport`; returns (client, accepted).
    fn pair(&mut self, v6: bool, cport: u16, lport: u16) -> (Socket, Socket) {
        let c = bound_socket(v6, Type::STREAM, cport, false);
        c.connect(&loopback(v6, lport))
            .unwrap_or_else(|e| panic!("connect {cport} -> {lport}: {e}"));
        let l = self
            .listeners
            .get(&(v6, lport))
            .expect("listen() on lport first");
        let (s, peer) = l
            .accept()
            .unwrap_or_else(|e| panic!("accept on {lport}: {e}"));
        assert_eq!(
            peer.as_socket().map(|a| a.port()),
            Some(cport),
            "accepted another client"
        );
        s.set_read_timeout(Some(IO_TIMEOUT)).expect("SO_RCVTIMEO");
        (c, s)
    }

    fn read_eof(s: &Socket) {
        let n = (&*s)
            .read(&mut [0u8; 16])
            .expect("read until the peer's FIN");
        assert_eq!(n, 0, "expected EOF, got data");
    }

    /// ESTABLISHED on both sides.
    pub fn estab(&mut self, v6: bool, cport: u16, lport: u16) -> &mut Self {
        let (c, s) = self.pair(v6, cport, lport);
        self.keep.extend([c, s]);
        self.conn(v6, (cport, lport), State::Estab, Some(State::Estab));
        self
    }

    /// The client closes first and ends in TIME_WAIT (60 s); the server side goes away.
    pub fn time_wait(&mut self, v6: bool, cport: u16, lport: u16) -> &mut Self {
        let (c, s) = self.pair(v6, cport, lport);
        drop(c);
        Self::read_eof(&s);
        drop(s);
        self.wait(v6, cport, lport, State::TimeWait);
        self.conn(v6, (cport, lport), State::TimeWait, None);
        self
    }

    /// Client SYN_SENT towards `dport`, whose SYNs are dropped (nothing needs to listen there).
    pub fn syn_sent(&mut self, v6: bool, cport: u16, dport: u16) -> &mut Self {
        self.drop_rule(format!("tcp dport {dport}"));
        let c = bound_socket(v6, Type::STREAM, cport, false);
        c.set_nonblocking(true).expect("O_NONBLOCK");
        let _ = c.connect(&loopback(v6, dport)); // EINPROGRESS
        self.keep.push(c);
        self.wait(v6, cport, dport, State::SynSent);
        self.conn(v6, (cport, dport), State::SynSent, None);
        self
    }

    /// A new listener on `lport` whose handshakes never complete: the client's final ACK is dropped,
    /// so the server holds a request socket (SYN_RECV) while the client is ESTABLISHED.
    pub fn syn_recv(&mut self, v6: bool, cport: u16, lport: u16) -> &mut Self {
        self.listen(v6, lport);
        self.drop_rule(format!("tcp dport {lport} tcp flags & (syn | ack) == ack"));
        let c = bound_socket(v6, Type::STREAM, cport, false);
        c.set_nonblocking(true).expect("O_NONBLOCK");
        let _ = c.connect(&loopback(v6, lport)); // EINPROGRESS
        self.keep.push(c);
        self.wait(v6, cport, lport, State::Estab);
        self.wait(v6, lport, cport, State::SynRecv);
        self.conn(v6, (cport, lport), State::Estab, Some(State::SynRecv));
        self
    }

    /// Client FIN_WAIT1 (its FIN is dropped), server still ESTABLISHED.
    pub fn fin_wait1(&mut self, v6: bool, cport: u16, lport: u16) -> &mut Self {
        let (c, s) = self.pair(v6, cport, lport);
        self.drop_rule(format!("tcp sport {cport}"));
        c.shutdown(Shutdown::Write).expect("shutdown");
        self.wait(v6, cport, lport, State::FinWait1);
        self.keep.extend([c, s]);
        self.conn(v6, (cport, lport), State::FinWait1, Some(State::Estab));
        self
    }

    /// Client half-closes: client FIN_WAIT2, server (read EOF, fd kept) CLOSE_WAIT.
    pub fn fin_wait2(&mut self, v6: bool, cport: u16, lport: u16) -> &mut Self {
        let (c, s) = self.half_closed(v6, cport, lport);
        self.keep.extend([c, s]);
        self.conn(v6, (cport, lport), State::FinWait2, Some(State::CloseWait));
        self
    }

    /// As `fin_wait2`, then the client's descriptor is closed: the kernel keeps its end as a
    /// TIME_WAIT socket in substate FIN_WAIT2 (shown as FIN_WAIT2); the server stays CLOSE_WAIT.
    pub fn orphan_fin_wait2(&mut self, v6: bool, cport: u16, lport: u16) -> &mut Self {
        let (c, s) = self.half_closed(v6, cport, lport);
        drop(c);
        self.keep.push(s);
        self.wait(v6, cport, lport, State::FinWait2);
        self.conn(v6, (cport, lport), State::FinWait2, Some(State::CloseWait));
        self
    }

    fn half_closed(&mut self, v6: bool, cport: u16, lport: u16) -> (Socket, Socket) {
        let (c, s) = self.pair(v6, cport, lport);
        c.shutdown(Shutdown::Write).expect("shutdown");
        Self::read_eof(&s);
        // The server's ACK of that FIN may be delayed: wait for it before anything is dropped.
        self.wait(v6, cport, lport, State::FinWait2);
        self.wait(v6, lport, cport, State::CloseWait);
        (c, s)
    }

    /// As `fin_wait2`, then the server's FIN is dropped: server LAST_ACK, client stays FIN_WAIT2.
    pub fn last_ack(&mut self, v6: bool, cport: u16, lport: u16) -> &mut Self {
        let (c, s) = self.half_closed(v6, cport, lport);
        self.drop_rule(format!("tcp dport {cport}"));
        s.shutdown(Shutdown::Write).expect("shutdown");
        self.wait(v6, lport, cport, State::LastAck);
        self.keep.extend([c, s]);
        self.conn(v6, (cport, lport), State::FinWait2, Some(State::LastAck));
        self
    }

    /// A TCP socket that is bound to `port` and nothing else.
    pub fn bound(&mut self, v6: bool, port: u16) -> &mut Self {
        self.keep.push(bound_socket(v6, Type::STREAM, port, false));
        self.record(Proto::Tcp, v6, port, None, State::Bound);
        self
    }

    /// A UDP socket on `port`, connected to `peer` if given; `reuseport` sets SO_REUSEPORT.
    pub fn udp(&mut self, v6: bool, port: u16, peer: Option<u16>, reuseport: bool) -> &mut Self {
        let s = bound_socket(v6, Type::DGRAM, port, reuseport);
        if let Some(p) = peer {
            s.connect(&loopback(v6, p)).expect("connect udp");
        }
        self.keep.push(s);
        let state = peer.map_or(State::Unconn, |_| State::Estab);
        self.record(Proto::Udp, v6, port, peer, state);
        self
    }

    /// What `ss` should show: everything recorded except bound-only sockets, sorted.
    pub fn visible_to_ss(&self) -> Vec<Sock> {
        let mut v = self.socks.clone();
        v.retain(|s| s.state != State::Bound);
        v.sort();
        v
    }

    /// Waits until `ss` shows exactly the recorded mix (transient sockets gone).
    pub fn settle(&self) {
        let want = self.visible_to_ss();
        let what = format!("ss to show exactly {want:#?}");
        self.ns.wait_until(&what, || self.ns.ss_socks() == want);
    }
}
