//! The processes that own a load's long-lived sockets, and the addresses every load connects to.
//!
//! A server (`--serve INDEX EXPECTED`) listens on its four ESTABLISHED destinations (two on
//! 127.0.0.1, two on ::1), accepts `EXPECTED` connections and keeps the server ends. Holders
//! (`--hold INDEX PAIRS UDP SERVER`) connect `PAIRS` clients to that server's destinations, bind
//! `UDP` sockets, and keep them: their local ports come from the namespace's
//! `ip_local_port_range`, so they are pool ports owned by many processes, as `conntrend top`
//! expects. Both say "ready" on stdout and hold their sockets until stdin ends.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;

use socket2::{Domain, Socket, Type};

/// Connections made to a listener before the other side accepts them.
pub const BATCH: usize = 1024;
/// Connections per source address and builder (the port range holds about 64k per destination).
pub const PER_ADDR: usize = 16_000;
/// Listener ports of server `s` are `EST_PORT + 10 s + k`, below the ephemeral range.
const EST_PORT: u16 = 600;
/// TIME_WAIT destination ports; builder thread `t` listens on 127.0.`t+1`.1 at each.
pub const TW_PORTS: [u16; 3] = [80, 443, 993];
/// Most servers: their ports must stay below the ephemeral range (1024).
pub const MAX_SERVERS: usize = 40;

/// The four ESTABLISHED destinations of server `s`: 127.0.0.1 and ::1, two ports each.
pub fn est_dsts(s: usize) -> [SocketAddr; 4] {
    let port = |k: u16| EST_PORT + 10 * s as u16 + k;
    [
        SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port(0)),
        SocketAddr::new(Ipv6Addr::LOCALHOST.into(), port(0)),
        SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port(1)),
        SocketAddr::new(Ipv6Addr::LOCALHOST.into(), port(1)),
    ]
}

/// The TIME_WAIT destinations of builder thread `t`.
pub fn tw_dsts(t: usize) -> [SocketAddr; 3] {
    let ip = Ipv4Addr::new(127, 0, 1 + t as u8, 1);
    TW_PORTS.map(|p| SocketAddr::new(ip.into(), p))
}

pub fn listener(addr: SocketAddr) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.bind(&addr.into())
        .map_err(|e| io::Error::new(e.kind(), format!("bind {addr}: {e}")))?;
    s.listen(8192)?;
    Ok(s)
}

/// A client socket bound to `src` with the port left to connect(), connected to `dst`.
pub fn connect_from(src: IpAddr, dst: SocketAddr) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(dst), Type::STREAM, None)?;
    if src.is_ipv4() {
        let one: libc::c_int = 1;
        // SAFETY: setsockopt reads one c_int from a valid pointer.
        let rc = unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::IPPROTO_IP,
                libc::IP_BIND_ADDRESS_NO_PORT,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    s.bind(&SocketAddr::new(src, 0).into())?;
    s.connect(&dst.into())
        .map_err(|e| io::Error::new(e.kind(), format!("connect {src} -> {dst}: {e}")))?;
    Ok(s)
}

/// 127.`second`.`third`.`1 + index / PER_ADDR`.
pub fn source(second: usize, third: usize, index: usize) -> io::Result<IpAddr> {
    let octet = |n: usize, top: usize| {
        u8::try_from(n)
            .ok()
            .filter(|&b| usize::from(b) <= top)
            .ok_or_else(|| io::Error::other("load too large for the source address plan"))
    };
    Ok(IpAddr::V4(Ipv4Addr::new(
        127,
        octet(second, 255)?,
        octet(third, 255)?,
        octet(1 + index / PER_ADDR, 254)?,
    )))
}

fn ready() -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "ready")?;
    out.flush()
}

/// Keeps everything until stdin ends (the bench closes it when the load is dropped).
fn wait_for_eof() -> io::Result<()> {
    io::copy(&mut io::stdin().lock(), &mut io::sink())?;
    Ok(())
}

/// Server mode: "listening" once bound, "ready" once `expected` connections are accepted.
pub fn serve(index: usize, expected: usize) -> io::Result<()> {
    if index >= MAX_SERVERS {
        return Err(io::Error::other("too many servers for the port plan"));
    }
    let listeners = est_dsts(index)
        .into_iter()
        .map(listener)
        .collect::<io::Result<Vec<_>>>()?;
    println!("listening");
    io::stdout().flush()?;
    let mut polls: Vec<libc::pollfd> = listeners
        .iter()
        .map(|l| libc::pollfd {
            fd: l.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let mut held = Vec::with_capacity(expected);
    while held.len() < expected {
        // SAFETY: poll reads and writes `polls.len()` valid pollfd structs.
        let rc = unsafe { libc::poll(polls.as_mut_ptr(), polls.len() as libc::nfds_t, 30_000) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if rc == 0 {
            return Err(io::Error::other(format!(
                "server {index}: {} of {expected} connections after 30 s",
                held.len()
            )));
        }
        for (p, l) in polls.iter().zip(&listeners) {
            if p.revents & libc::POLLIN != 0 {
                held.push(l.accept()?.0);
            }
        }
    }
    ready()?;
    wait_for_eof()
}

/// Holder mode: `pairs` clients to server `server`'s destinations (in turn, so half over ::1)
/// and `udp` bound UDP sockets (half on ::1).
pub fn hold(index: usize, pairs: usize, udp: usize, server: usize) -> io::Result<()> {
    let mut held = Vec::with_capacity(pairs + udp);
    let dsts = est_dsts(server);
    let (second, third) = (20 + index / 256, index % 256);
    for i in 0..pairs {
        let dst = dsts[i % dsts.len()];
        let src = match dst.ip() {
            IpAddr::V4(_) => source(second, third, i)?,
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        };
        held.push(connect_from(src, dst)?);
    }
    for i in 0..udp {
        let ip = if i % 2 == 0 {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        };
        let s = Socket::new(
            Domain::for_address(SocketAddr::new(ip, 0)),
            Type::DGRAM,
            None,
        )?;
        s.bind(&SocketAddr::new(ip, 0).into())?;
        held.push(s);
    }
    ready()?;
    wait_for_eof()
}
