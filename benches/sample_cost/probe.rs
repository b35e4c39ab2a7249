//! The two reference samplers that run as re-executions of the bench binary (hidden modes
//! `--floor` and `--procfs`), so their numbers are whole-process numbers like conntrend's and ss's.
//!
//! The floor is the least work one sample can do as the issue defines it: four
//! SOCK_DIAG_BY_FAMILY dumps (TCP/UDP × IPv4/IPv6, every state), drained through one reused 32 KiB
//! buffer, reading only the state (byte 1) and the big-endian source port (bytes 4..6) of each
//! `inet_diag_msg` into a port bitmap and a state histogram. The one-walk floor (`--floor1`) is
//! the same drain with TCP asked for by one TCPDIAG_GETSOCK request (AF_UNSPEC: the kernel walks
//! its TCP hash once for both families) and UDP by the same two dumps. The procfs mode parses
//! local port and state from /proc/net/{tcp,tcp6,udp,udp6}.

use std::fs::File;
use std::io::{self, BufRead, BufReader};

use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_SOCK_DIAG};

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// The older TCP dump request; its answers carry the same type.
const TCPDIAG_GETSOCK: u16 = 18;
/// States 1..=13 (every state the kernel has, NEW_SYN_RECV and BOUND_INACTIVE included).
const ALL_STATES: u32 = (1 << 14) - 2;
const TIME_WAIT: usize = 6;
const ESTABLISHED: usize = 1;

/// What one sample saw: enough to check the load and to keep the work from being optimized away.
#[derive(Default)]
pub struct Counts {
    pub sockets: u64,
    pub states: [u64; 16],
    ports: Vec<u64>,
}

impl Counts {
    fn new() -> Counts {
        Counts {
            ports: vec![0; 65536 / 64], // 8 KiB port bitmap
            ..Counts::default()
        }
    }

    #[inline]
    fn add(&mut self, state: u8, port: u16) {
        self.sockets += 1;
        self.states[usize::from(state) & 15] += 1;
        self.ports[usize::from(port >> 6)] |= 1 << (port & 63);
    }

    /// One line for the parent: `sockets=N time_wait=N estab=N ports=N`.
    pub fn line(&self) -> String {
        let ports: u32 = self.ports.iter().map(|w| w.count_ones()).sum();
        format!(
            "sockets={} time_wait={} estab={} ports={ports}",
            self.sockets, self.states[TIME_WAIT], self.states[ESTABLISHED]
        )
    }

    /// The `sockets=` field of a [`Counts::line`].
    pub fn parse_sockets(line: &str) -> Option<u64> {
        line.split_whitespace()
            .find_map(|f| f.strip_prefix("sockets="))?
            .parse()
            .ok()
    }
}

/// An nlmsghdr of `len` bytes and `kind` asking for a dump, followed by zeros.
fn header(len: usize, kind: u16) -> Vec<u8> {
    let mut r = vec![0u8; len];
    r[0..4].copy_from_slice(&(len as u32).to_ne_bytes());
    r[4..6].copy_from_slice(&kind.to_ne_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    r[6..8].copy_from_slice(&flags.to_ne_bytes());
    r
}

/// nlmsghdr + inet_diag_req_v2 asking for every socket of `family`/`protocol` in every state.
fn request(family: libc::c_int, protocol: libc::c_int) -> Vec<u8> {
    let mut r = header(72, SOCK_DIAG_BY_FAMILY);
    r[16] = family as u8;
    r[17] = protocol as u8;
    r[20..24].copy_from_slice(&ALL_STATES.to_ne_bytes());
    r
}

/// nlmsghdr + the 60-byte legacy `struct inet_diag_req` (family, src_len, dst_len, ext, 48-byte
/// sockid, states, dbs), all zero but the states: AF_UNSPEC, so TCP of both families at once.
fn tcp_one_walk() -> Vec<u8> {
    let mut r = header(16 + 60, TCPDIAG_GETSOCK);
    r[16 + 52..16 + 56].copy_from_slice(&ALL_STATES.to_ne_bytes());
    r
}

/// The floor: one sample through sock_diag (four dumps) with nothing but the fold's two reads
/// per socket.
pub fn floor() -> io::Result<Counts> {
    use libc::{AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP};
    drain(&[
        request(AF_INET, IPPROTO_TCP),
        request(AF_INET6, IPPROTO_TCP),
        request(AF_INET, IPPROTO_UDP),
        request(AF_INET6, IPPROTO_UDP),
    ])
}

/// The one-walk floor: TCP in one legacy dump for both families, UDP in two.
pub fn floor_one_walk() -> io::Result<Counts> {
    use libc::{AF_INET, AF_INET6, IPPROTO_UDP};
    drain(&[
        tcp_one_walk(),
        request(AF_INET, IPPROTO_UDP),
        request(AF_INET6, IPPROTO_UDP),
    ])
}

/// Sends each request in turn and drains its dump.
fn drain(requests: &[Vec<u8>]) -> io::Result<Counts> {
    let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let mut buf: Vec<u8> = Vec::with_capacity(32 * 1024);
    let mut counts = Counts::new();
    for (seq, request) in (1u32..).zip(requests) {
        let mut request = request.clone();
        request[8..12].copy_from_slice(&seq.to_ne_bytes());
        socket.send(&request, 0)?;
        'dump: loop {
            buf.clear();
            let n = socket.recv(&mut buf, 0)?;
            let mut off = 0;
            while off + NLMSG_HDRLEN <= n {
                let len = u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap()) as usize;
                let kind = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
                let payload = off + NLMSG_HDRLEN;
                match kind {
                    SOCK_DIAG_BY_FAMILY | TCPDIAG_GETSOCK => {
                        let port = u16::from_be_bytes([buf[payload + 4], buf[payload + 5]]);
                        counts.add(buf[payload + 1], port);
                    }
                    NLMSG_DONE => break 'dump,
                    NLMSG_ERROR => {
                        let code =
                            i32::from_ne_bytes(buf[payload..payload + 4].try_into().unwrap());
                        return Err(io::Error::from_raw_os_error(-code));
                    }
                    _ => {}
                }
                off += (len.max(NLMSG_HDRLEN) + 3) & !3;
            }
        }
    }
    Ok(counts)
}

/// /proc/net/{tcp,tcp6,udp,udp6} parsed for local port and state, line by line.
pub fn procfs() -> io::Result<Counts> {
    let mut counts = Counts::new();
    let mut line = Vec::with_capacity(256);
    for name in ["tcp", "tcp6", "udp", "udp6"] {
        let mut reader =
            BufReader::with_capacity(64 * 1024, File::open(format!("/proc/net/{name}"))?);
        reader.read_until(b'\n', &mut line)?; // header
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            // "  sl  local_address rem_address   st ..."; local is ADDR:PORT in hex.
            let mut fields = line
                .split(|b| b.is_ascii_whitespace())
                .filter(|f| !f.is_empty());
            let (Some(_), Some(local), Some(_), Some(st)) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                return Err(io::Error::other(format!("/proc/net/{name}: a short line")));
            };
            let port = local.rsplit(|&b| b == b':').next().map_or(0, hex) as u16;
            counts.add(hex(st) as u8, port);
        }
    }
    Ok(counts)
}

fn hex(digits: &[u8]) -> u32 {
    digits
        .iter()
        .fold(0, |n, &d| n << 4 | (d as char).to_digit(16).unwrap_or(0))
}
