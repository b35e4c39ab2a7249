//! Records the raw sock_diag dump bytes of a known socket mix as test fixtures, beside what `ss`
//! says of the same namespace at the same moment, so the fold's unit tests check recorded kernel
//! bytes against an independent reading.
//!
//! Run as root (or under `unshare -rn`) in a FRESH network namespace, never on a real host:
//!
//! ```text
//! unshare -n cargo run --example record_fixture -- tests/fixtures/mix 40
//! ```
//!
//! The second argument scales the mix (connections per kind); 40 gives a few hundred sockets.
//! All traffic stays on loopback.

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::Command;

use conntrend::api::diag::{DiagSocket, Family, Protocol, walk};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: record_fixture DIR [SCALE]");
    let scale: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(40);
    let dir = Path::new(&dir);
    fs::create_dir_all(dir)?;

    let ns_sockets = Command::new("ss").arg("-tuanH").output()?.stdout;
    anyhow::ensure!(
        ns_sockets.is_empty(),
        "not a fresh network namespace: run under `unshare -n`"
    );
    run(&["ip", "link", "set", "lo", "up"])?;
    // Room for every implicit connect of the mix, so the pool never runs dry while recording.
    let hi = 40000 + (scale * 5).max(999);
    fs::write(
        "/proc/sys/net/ipv4/ip_local_port_range",
        format!("40000 {hi}"),
    )?;
    fs::write("/proc/sys/net/ipv4/ip_local_reserved_ports", "40100-40109")?;

    let _held = build_mix(scale)?;

    let mut diag = DiagSocket::open()?;
    for (protocol, pname) in [(Protocol::Tcp, "tcp"), (Protocol::Udp, "udp")] {
        for (family, fname) in [(Family::V4, "4"), (Family::V6, "6")] {
            let mut bytes = Vec::new();
            diag.dump_datagrams(family, protocol, |d, seq, intr| {
                bytes.extend_from_slice(d);
                walk(d, seq, intr, |_| {})
            })?;
            fs::write(dir.join(format!("{pname}{fname}.bin")), bytes)?;
        }
    }
    for (flag, name) in [("-tanH", "ss-tcp.txt"), ("-uanH", "ss-udp.txt")] {
        fs::write(
            dir.join(name),
            Command::new("ss").arg(flag).output()?.stdout,
        )?;
    }
    for name in ["ip_local_port_range", "ip_local_reserved_ports"] {
        fs::copy(
            format!("/proc/sys/net/ipv4/{name}"),
            dir.join(format!("{name}.txt")),
        )?;
    }
    println!("recorded {}", dir.display());
    Ok(())
}

fn run(cmd: &[&str]) -> anyhow::Result<()> {
    let status = Command::new(cmd[0]).args(&cmd[1..]).status()?;
    anyhow::ensure!(status.success(), "{cmd:?} failed");
    Ok(())
}

/// Listeners on v4 and v6, established pairs, TIME_WAIT, FIN_WAIT2/CLOSE_WAIT pairs, a bound-only
/// TCP socket, and UDP sockets connected and not. Returns everything that must stay open.
fn build_mix(scale: usize) -> anyhow::Result<Vec<Box<dyn std::any::Any>>> {
    let mut held: Vec<Box<dyn std::any::Any>> = Vec::new();
    // A bound-only TCP socket inside the pool, and an unconnected UDP socket on the same port;
    // bound before any implicit connect can take the port.
    let bound = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    bound.bind(&"127.0.0.1:40500".parse::<SocketAddr>()?.into())?;
    held.push(Box::new(bound));
    held.push(Box::new(UdpSocket::bind("127.0.0.1:40500")?));
    for addr in ["127.0.0.1:5000", "[::1]:5000"] {
        let listener = TcpListener::bind(addr)?;
        let target: SocketAddr = addr.parse()?;
        for i in 0..scale {
            let client = TcpStream::connect(target)?;
            let (server, _) = listener.accept()?;
            match i % 3 {
                // ESTABLISHED pair
                0 => {
                    held.push(Box::new(client));
                    held.push(Box::new(server));
                }
                // client closes first: client TIME_WAIT once the server closes too
                1 => {
                    drop(client);
                    let mut server = server;
                    let _ = server.read(&mut [0u8; 1]);
                    drop(server);
                }
                // half-close: client FIN_WAIT2, server CLOSE_WAIT
                _ => {
                    client.shutdown(Shutdown::Write)?;
                    let mut server = server;
                    let _ = server.read(&mut [0u8; 1]);
                    held.push(Box::new(client));
                    held.push(Box::new(server));
                }
            }
        }
        held.push(Box::new(listener));
    }
    // UDP connected ones on v4 and v6.
    for addr in ["127.0.0.1:0", "[::1]:0"] {
        for _ in 0..scale / 4 {
            let u = UdpSocket::bind(addr)?;
            let peer = if addr.starts_with('[') {
                "[::1]:53"
            } else {
                "127.0.0.1:53"
            };
            u.connect(peer)?;
            held.push(Box::new(u));
        }
    }
    std::io::stdout().flush()?;
    Ok(held)
}
