//! connmon's output, as pollere's connmon.cpp prints it: which packets get a line, its human
//! line (local `HH:MM:SS`, times scaled as `50.0ms`) and its `-m` machine line (space-separated,
//! `*` for a missing RTT, `-` for no duplicate ACK, the sequence difference always a number,
//! flow bytes on the wire), the periodic summary of `--sumInt`, and the local addresses whose
//! RTTs connmon hides without `-l`. docs/rtt.md maps each field to connmon's printf.

use std::net::IpAddr;

use super::engine::Line;
use crate::util::text::uint;
use crate::util::time::{self, Civil, Zone};

/// connmon prints a line for an RTT, a hole (a sequence difference above 0) or a duplicate
/// ACK after some time; with `-Q` only for an RTT (connmon.cpp `processPacket`, the
/// `!pd && !sd && !ds && !dp` and `quick` returns).
pub fn prints(l: &Line<'_>, quick: bool) -> bool {
    let rtt = l.has_rtt();
    if quick {
        return rtt;
    }
    rtt || l.seq_diff.is_some_and(|d| d > 0) || l.dupack.is_some_and(|d| d > 0)
}

/// Right-aligns what was written since `from` to `width` (printf's `%Nd`, `%Ns`).
fn right(out: &mut Vec<u8>, from: usize, width: usize) {
    let used = out.len() - from;
    if used < width {
        out.splice(from..from, std::iter::repeat_n(b' ', width - used));
    }
}

/// Nanoseconds as seconds with 6 decimals, rounded to the microsecond (`%f` of a double).
fn fixed6(out: &mut Vec<u8>, ns: i64) {
    let us = (ns.max(0) as u64 + 500) / 1000;
    uint(out, us / 1_000_000, 1);
    out.push(b'.');
    uint(out, us % 1_000_000, 6);
}

fn number(out: &mut Vec<u8>, v: i64, width: usize) {
    let at = out.len();
    if v < 0 {
        out.push(b'-');
    }
    uint(out, v.unsigned_abs(), 1);
    right(out, at, width);
}

/// The flow as connmon names it: `src:port+dst:port`, IPv6 addresses without brackets (libtins'
/// `to_string`).
fn flow(out: &mut Vec<u8>, name: &str) {
    out.extend(name.bytes().filter(|&b| b != b'[' && b != b']'));
}

/// connmon's `fmtTimeDiff`: µs below 1 ms, ms below 1 s, else s; 2 decimals below 10, 1 below
/// 100, else none after a space; at most 9 characters (its `char buf[10]`).
pub fn time_diff(ns: i64) -> String {
    let mut dt = ns as f64 / 1e9;
    let prefix = if dt < 1e-3 {
        dt *= 1e6;
        "u"
    } else if dt < 1.0 {
        dt *= 1e3;
        "m"
    } else {
        ""
    };
    let mut s = if dt < 10.0 {
        format!("{dt:.2}{prefix}s")
    } else if dt < 100.0 {
        format!("{dt:.1}{prefix}s")
    } else {
        format!(" {dt:.0}{prefix}s")
    };
    s.truncate(9);
    s
}

/// The fields after the two RTTs, the same in both of connmon's formats:
/// `" %4d %8s %4d %7.0f %s\n"`.
fn tail(out: &mut Vec<u8>, l: &Line<'_>, dup: Option<&[u8]>) {
    out.push(b' ');
    number(out, l.seq_diff.unwrap_or(0), 4);
    out.push(b' ');
    let at = out.len();
    out.extend_from_slice(dup.unwrap_or(b"   -    "));
    right(out, at, 8);
    out.push(b' ');
    number(out, l.bytes.into(), 4);
    out.push(b' ');
    number(out, l.flow_wire_bytes as i64, 7);
    out.push(b' ');
    flow(out, l.flow);
    out.push(b'\n');
}

/// `-m`: `%PRId64.%06d` epoch seconds (the microsecond truncated), the RTTs as ` %8.6f` or
/// `    *    `, the duplicate-ACK time as `%f`.
pub fn machine(l: &Line<'_>, out: &mut Vec<u8>) {
    let us = l.time_ns.max(0) / 1000;
    uint(out, (us / 1_000_000) as u64, 1);
    out.push(b'.');
    uint(out, (us % 1_000_000) as u64, 6);
    for v in [l.ts_rtt, l.seq_rtt] {
        match v {
            Some(ns) => {
                out.push(b' ');
                let at = out.len();
                fixed6(out, ns);
                right(out, at, 8);
            }
            None => out.extend_from_slice(b"    *    "),
        }
    }
    let mut dup = Vec::new();
    if let Some(ns) = l.dupack {
        fixed6(&mut dup, ns);
    }
    tail(out, l, l.dupack.map(|_| dup.as_slice()));
}

/// The local `HH:MM:SS` of the last second asked, kept: a line costs no time-zone lookup.
#[derive(Default)]
pub struct Clock {
    second: Option<i64>,
    text: String,
}

impl Clock {
    fn at(&mut self, time_ns: i64) -> &str {
        let second = time_ns.max(0) / 1_000_000_000;
        if self.second != Some(second) {
            let c = Civil::at(second as u64 * 1000, Zone::Local);
            self.text = format!("{:02}:{:02}:{:02}", c.hour, c.minute, c.second);
            self.second = Some(second);
        }
        &self.text
    }
}

/// The human line: `%T` local time, the RTTs as ` %6s` of `fmtTimeDiff` or `   *   `.
pub fn human(l: &Line<'_>, clock: &mut Clock, out: &mut Vec<u8>) {
    out.extend_from_slice(clock.at(l.time_ns).as_bytes());
    for v in [l.ts_rtt, l.seq_rtt] {
        match v {
            Some(ns) => {
                out.push(b' ');
                let at = out.len();
                out.extend_from_slice(time_diff(ns).as_bytes());
                right(out, at, 6);
            }
            None => out.extend_from_slice(b"   *   "),
        }
    }
    let dup = l.dupack.map(time_diff);
    tail(out, l, dup.as_deref().map(str::as_bytes));
}

/// `--sumInt`: connmon's `printSummary` line on stderr every interval of capture time, the
/// counts since the last one.
pub struct Periodic {
    every_ns: i64,
    next: Option<i64>,
    packets: u64,
    no_ts: u64,
    not_tcp: u64,
    one_way_before: u64,
}

impl Periodic {
    pub fn new(every_ns: i64) -> Self {
        Periodic {
            every_ns,
            next: None,
            packets: 0,
            no_ts: 0,
            not_tcp: 0,
            one_way_before: 0,
        }
    }

    /// One frame read: `Some(has timestamps)` for a TCP segment, `None` for anything else.
    pub fn count(&mut self, tcp: Option<bool>) {
        self.packets += 1;
        match tcp {
            None => self.not_tcp += 1,
            Some(false) => self.no_ts += 1,
            Some(true) => {}
        }
    }

    /// After the packet at `t`: the summary line when an interval has passed (never at the
    /// first packet, which starts the first interval). `flows`: directions followed;
    /// `one_way`: the engine's running count of packets without a reverse direction.
    pub fn tick(&mut self, t: i64, flows: usize, one_way: u64) -> Option<String> {
        let line = match self.next {
            Some(next) if t >= next => {
                let nz = |v: u64, s: &str| {
                    if v > 0 {
                        format!("{v}{s}")
                    } else {
                        String::new()
                    }
                };
                let line = format!(
                    "{flows} flows, {} packets, {}{}{}\n",
                    self.packets,
                    nz(self.no_ts, " no TS opt, "),
                    nz(one_way - self.one_way_before, " uni-directional, "),
                    nz(self.not_tcp, " not TCP over IPv4 or IPv6, "),
                );
                (self.packets, self.no_ts, self.not_tcp) = (0, 0, 0);
                self.one_way_before = one_way;
                Some(line)
            }
            Some(_) => return None,
            None => None,
        };
        self.next = Some(t.saturating_add(self.every_ns));
        line
    }
}

/// connmon's `First packet at ` line: `asctime` of the local time, which ends in a newline, then
/// another.
pub fn first_packet(time_ns: i64) -> String {
    let ms = (time_ns.max(0) / 1_000_000_000) as u64 * 1000;
    format!("First packet at {}\n\n", time::asctime(ms))
}

/// The addresses of `iface` (both families; connmon takes its first IPv4 only): packets to them
/// are not timed unless `-l`. None for an interface without addresses (`any`), as connmon.
pub fn local_addresses(iface: &str) -> Vec<IpAddr> {
    let mut found = Vec::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list freed below with freeifaddrs; each
    // entry's name is a NUL-terminated string and its address, when not null, a sockaddr of the
    // family it names.
    unsafe {
        if libc::getifaddrs(&mut list) != 0 {
            return found;
        }
        let mut at = list;
        while !at.is_null() {
            let ifa = &*at;
            at = ifa.ifa_next;
            if ifa.ifa_addr.is_null()
                || std::ffi::CStr::from_ptr(ifa.ifa_name).to_bytes() != iface.as_bytes()
            {
                continue;
            }
            match i32::from((*ifa.ifa_addr).sa_family) {
                libc::AF_INET => {
                    let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    found.push(IpAddr::from(
                        u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                    ));
                }
                libc::AF_INET6 => {
                    let sin6 = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                    found.push(IpAddr::from(sin6.sin6_addr.s6_addr));
                }
                _ => {}
            }
        }
        libc::freeifaddrs(list);
    }
    found
}

#[cfg(test)]
#[path = "connmon_tests.rs"]
mod tests;
