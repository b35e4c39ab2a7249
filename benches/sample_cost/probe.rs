//! The two reference samplers that run as re-executions of the bench binary (hidden modes
//! `--floor` and `--procfs`), so their numbers are whole-process numbers like conntrend's and ss's.
//!
//! The floor is the least work one sample can do: four SOCK_DIAG_BY_FAMILY dumps (TCP/UDP ×
//! IPv4/IPv6, every state), drained through one reused 32 KiB buffer, reading only the state
//! (byte 1) and the big-endian source port (bytes 4..6) of each `inet_diag_msg` into a port
//! bitmap and a state histogram. The procfs mode parses local port and state from
//! /proc/net/{tcp,tcp6,udp,udp6}.

use std::fs::File;
use std::io::{self, BufRead, BufReader};

use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_SOCK_DIAG};

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
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

/// nlmsghdr + inet_diag_req_v2 asking for every socket of `family`/`protocol` in every state.
fn request(family: u8, protocol: u8, seq: u32) -> [u8; 72] {
    let mut r = [0u8; 72];
    r[0..4].copy_from_slice(&72u32.to_ne_bytes());
    r[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    r[6..8].copy_from_slice(&flags.to_ne_bytes());
    r[8..12].copy_from_slice(&seq.to_ne_bytes());
    r[16] = family;
    r[17] = protocol;
    let states: u32 = (1 << 14) - 2; // states 1..=13
    r[20..24].copy_from_slice(&states.to_ne_bytes());
    r
}

/// The floor: one sample through sock_diag with nothing but the fold's two reads per socket.
pub fn floor() -> io::Result<Counts> {
    let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let mut buf: Vec<u8> = Vec::with_capacity(32 * 1024);
    let mut counts = Counts::new();
    let dumps = [
        (libc::AF_INET, libc::IPPROTO_TCP),
        (libc::AF_INET6, libc::IPPROTO_TCP),
        (libc::AF_INET, libc::IPPROTO_UDP),
        (libc::AF_INET6, libc::IPPROTO_UDP),
    ];
    for (seq, (family, protocol)) in (1..).zip(dumps) {
        socket.send(&request(family as u8, protocol as u8, seq), 0)?;
        'dump: loop {
            buf.clear();
            let n = socket.recv(&mut buf, 0)?;
            let mut off = 0;
            while off + NLMSG_HDRLEN <= n {
                let len = u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap()) as usize;
                let kind = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
                let payload = off + NLMSG_HDRLEN;
                match kind {
                    SOCK_DIAG_BY_FAMILY => {
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
