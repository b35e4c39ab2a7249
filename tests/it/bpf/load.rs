//! Many sockets quickly, for the equality tests: TIME_WAIT from ephemeral ports toward ten
//! loopback listeners (IPv4 and IPv6), ESTABLISHED pairs and UDP sockets held by this process.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::{Domain, Socket, Type};

use crate::netns::NetNs;

/// What the load holds; the TIME_WAIT sockets are the kernel's (60 s).
pub struct Bulk {
    _keep: Vec<Socket>,
}

fn sysctl(name: &str, value: &str) {
    let path = format!("/proc/sys/net/ipv4/{name}");
    std::fs::write(&path, value).unwrap_or_else(|e| panic!("write {value} to {path}: {e}"));
}

fn listener(addr: SocketAddr) -> Socket {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, None).expect("socket");
    if addr.is_ipv6() {
        s.set_only_v6(true).expect("IPV6_V6ONLY");
    }
    s.bind(&addr.into()).expect("bind listener");
    s.listen(4096).expect("listen");
    s
}

/// Holds about `total` sockets in `ns`: 2% ESTABLISHED pairs, 1% UDP, the rest TIME_WAIT, with
/// ephemeral ports from 10000-39999, clear of the ports the mix's nftables rules drop packets to
/// (the caller sets the pool it wants afterwards).
pub fn bulk(ns: &NetNs, total: usize) -> Bulk {
    sysctl("tcp_tw_reuse", "0");
    sysctl("tcp_max_tw_buckets", "2000000");
    ns.set_port_range(10000, 39999);
    // connect() tries even ports first: a destination with more than half of the range in
    // TIME_WAIT makes each new connection scan them all, so ten destinations share the load.
    let v4 = [80, 443, 993, 995, 8000, 8001, 8002].map(|p| (Ipv4Addr::LOCALHOST, p).into());
    let v6 = [8080, 8443, 8444].map(|p| (Ipv6Addr::LOCALHOST, p).into());
    let dsts: Vec<SocketAddr> = v4.into_iter().chain(v6).collect();
    let listeners: Vec<Socket> = dsts.iter().map(|&a| listener(a)).collect();
    let (pairs, udp) = (total / 50, total / 100);
    let time_wait = total - 2 * pairs - udp - listeners.len();
    let mut keep = Vec::with_capacity(2 * pairs + udp);
    for i in 0..time_wait + pairs {
        let k = i % dsts.len();
        let c = Socket::new(Domain::for_address(dsts[k]), Type::STREAM, None).expect("socket");
        c.connect(&dsts[k].into())
            .unwrap_or_else(|e| panic!("connection {i} to {}: {e}", dsts[k]));
        let (s, _) = listeners[k].accept().expect("accept");
        if i < time_wait {
            // The client closes first: its end stays in TIME_WAIT.
            drop(c);
            drop(s);
        } else {
            keep.extend([c, s]);
        }
    }
    for i in 0..udp {
        let addr: SocketAddr = match i % 2 {
            0 => (Ipv4Addr::LOCALHOST, 0).into(),
            _ => (Ipv6Addr::LOCALHOST, 0).into(),
        };
        let s = Socket::new(Domain::for_address(addr), Type::DGRAM, None).expect("udp");
        s.bind(&addr.into()).expect("bind udp");
        keep.push(s);
    }
    keep.extend(listeners);
    Bulk { _keep: keep }
}
