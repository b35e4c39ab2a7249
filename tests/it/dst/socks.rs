//! Building and recording TCP connections between loopback addresses, the contract's worst
//! destination over that record, and namespaces kept alive while conntrend samples them from outside.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::net::{IpAddr, SocketAddr};

use socket2::{Domain, SockAddr, Socket, Type};

use super::out::Worst;
use crate::netns::Pool;

/// IPv4-mapped IPv6 addresses as IPv4: the same destination.
fn canon(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v) => match v.ip().to_ipv4_mapped() {
            Some(v4) => (v4, v.port()).into(),
            None => a,
        },
        v4 => v4,
    }
}

/// The contract's worst destination over what was built.
pub(super) fn worst(pool: &Pool, b: &Built) -> Worst {
    let binds: BTreeSet<u16> = b
        .binds
        .iter()
        .copied()
        .filter(|p| pool.contains(*p))
        .collect();
    let mut per: BTreeMap<SocketAddr, BTreeSet<u16>> = BTreeMap::new();
    for (port, peer) in b.conns.iter().filter(|(p, _)| pool.contains(*p)) {
        per.entry(canon(*peer)).or_default().insert(*port);
    }
    let rank = |(dst, ports): (SocketAddr, BTreeSet<u16>)| {
        let used = ports.len() as u64;
        let free = pool.total() - ports.union(&binds).count() as u64;
        let bytes = match dst.ip() {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        let key = (std::cmp::Reverse(used), free, bytes, dst.port());
        (key, (dst.to_string(), used, free))
    };
    per.into_iter()
        .map(rank)
        .min_by(|a, b| a.0.cmp(&b.0))
        .map(|r| r.1)
}

/// The record: connected TCP sockets as (local port, peer), explicit TCP binds as local ports.
#[derive(Default)]
pub(super) struct Built {
    pub(super) conns: Vec<(u16, SocketAddr)>,
    pub(super) binds: Vec<u16>,
}

impl Built {
    /// Distinct pool ports held by the recorded TCP sockets.
    pub(super) fn tcp_used(&self, pool: &Pool) -> u64 {
        let ports = self
            .conns
            .iter()
            .map(|c| c.0)
            .chain(self.binds.iter().copied());
        ports
            .filter(|p| pool.contains(*p))
            .collect::<BTreeSet<_>>()
            .len() as u64
    }
}

pub(super) fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// A socket of type `ty` bound to `local`, SO_REUSEADDR for TCP; v6-only unless bound to `[::]`.
pub(super) fn sock(ty: Type, local: SocketAddr) -> Socket {
    let s = Socket::new(Domain::for_address(local), ty, None).expect("socket");
    if local.is_ipv6() {
        s.set_only_v6(!local.ip().is_unspecified())
            .expect("IPV6_V6ONLY");
    }
    if ty == Type::STREAM {
        s.set_reuse_address(true).expect("SO_REUSEADDR");
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .expect("SO_RCVTIMEO");
    }
    s.bind(&local.into())
        .unwrap_or_else(|e| panic!("bind {ty:?} {local}: {e}"));
    s
}

fn addrs(s: &Socket) -> (SocketAddr, SocketAddr) {
    let get = |a: std::io::Result<SockAddr>| a.expect("address").as_socket().expect("inet");
    (get(s.local_addr()), get(s.peer_addr()))
}

/// Holds the sockets it builds (in the current namespace) and records them in `built`.
#[derive(Default)]
pub(super) struct Socks {
    listeners: BTreeMap<SocketAddr, Socket>,
    pub(super) held: Vec<Socket>,
    pub(super) built: Built,
}

impl Socks {
    pub(super) fn listen(&mut self, at: &str) -> &mut Self {
        let s = sock(Type::STREAM, sa(at));
        s.listen(1024).expect("listen");
        self.built.binds.push(sa(at).port());
        self.listeners.insert(sa(at), s);
        self
    }

    /// A TCP socket only bound to `at`.
    pub(super) fn bound(&mut self, at: &str) -> &mut Self {
        self.held.push(sock(Type::STREAM, sa(at)));
        self.built.binds.push(sa(at).port());
        self
    }

    pub(super) fn udp(&mut self, at: &str) -> &mut Self {
        self.held.push(sock(Type::DGRAM, sa(at)));
        self
    }

    fn record(&mut self, s: &Socket) {
        let (local, peer) = addrs(s);
        self.built.conns.push((local.port(), peer));
    }

    /// Connects from `local` to `dst` (whose listener this holds; a v4-mapped `dst` reaches the v4
    /// listener) and accepts; returns (client, server), the client recorded.
    fn pair(&mut self, local: SocketAddr, dst: SocketAddr) -> (Socket, Socket) {
        let c = sock(Type::STREAM, local);
        c.connect(&dst.into())
            .unwrap_or_else(|e| panic!("connect {local} -> {dst}: {e}"));
        let l = self
            .listeners
            .get(&canon(dst))
            .expect("listen() on dst first");
        let (s, _) = l
            .accept()
            .unwrap_or_else(|e| panic!("accept on {dst}: {e}"));
        assert_eq!(
            addrs(&s).1.port(),
            addrs(&c).0.port(),
            "accepted another client"
        );
        self.record(&c);
        (c, s)
    }

    /// `n` ESTABLISHED connections from `src` ports `first..first+n` to `dst`; both sides held and
    /// recorded (the server side has its local port on `dst`'s port).
    pub(super) fn estab(&mut self, src: &str, first: u16, n: u16, dst: &str) -> &mut Self {
        for port in first..first + n {
            let (c, s) = self.pair((sa(src).ip(), port).into(), sa(dst));
            self.record(&s);
            self.held.extend([c, s]);
        }
        self
    }

    /// As [`Socks::estab`], but the client closes first and is left in TIME_WAIT (60 s).
    pub(super) fn time_wait(&mut self, src: &str, first: u16, n: u16, dst: &str) -> &mut Self {
        for port in first..first + n {
            let (c, s) = self.pair((sa(src).ip(), port).into(), sa(dst));
            drop(c);
            let got = (&s).read(&mut [0u8; 8]).expect("read the client's FIN");
            assert_eq!(got, 0, "expected EOF");
        }
        self
    }

    /// Resets (SO_LINGER 0, no TIME_WAIT) `n` held clients connected to `dst`, dropping them from
    /// the record. The server sides stay held but are closed by the RST.
    pub(super) fn reset(&mut self, n: usize, dst: &str) -> &mut Self {
        let dst = sa(dst);
        let (mut gone, mut kept) = (Vec::new(), Vec::new());
        for s in self.held.drain(..) {
            let to_dst = s.peer_addr().ok().and_then(|a| a.as_socket()) == Some(dst);
            if to_dst && gone.len() < n {
                gone.push(s)
            } else {
                kept.push(s)
            }
        }
        assert_eq!(gone.len(), n, "fewer than {n} clients to {dst}");
        self.held = kept;
        for s in gone {
            let (local, peer) = addrs(&s);
            let server = (peer.port(), local);
            self.built
                .conns
                .retain(|c| *c != (local.port(), peer) && *c != server);
            s.set_linger(Some(std::time::Duration::ZERO))
                .expect("SO_LINGER");
        }
        self
    }
}
