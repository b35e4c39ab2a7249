//! inet_diag bytecode (linux/inet_diag.h): a filter the kernel runs on every socket of a dump, so
//! that sockets a query does not want are never formatted or copied to us. A program is a list of
//! conditions that must all hold; each becomes one or two ops whose "no" branch jumps past the
//! end (the kernel rejects the socket) and whose "yes" branch falls through to the next op.
//! Reaching the end exactly accepts the socket.

use std::net::IpAddr;

// Op codes.
const JMP: u8 = 1;
const S_GE: u8 = 2;
const S_LE: u8 = 3;
const D_GE: u8 = 4;
const D_LE: u8 = 5;
const S_COND: u8 = 7;
const D_COND: u8 = 8;

/// sizeof(struct inet_diag_bc_op).
const OP: usize = 4;
/// sizeof(struct inet_diag_hostcond) without its address.
const HOSTCOND: usize = 8;

/// Which end of the connection a condition looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Local,
    Remote,
}

/// One condition on a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// The port of `End` is within `lo..=hi`.
    Port { end: End, lo: u16, hi: u16 },
    /// The address of `End` is in `addr/prefix`. An IPv4 prefix also matches IPv4-mapped IPv6
    /// addresses; an IPv6 prefix never matches an IPv4 socket.
    Addr { end: End, addr: IpAddr, prefix: u8 },
    /// The address of `End` is *not* in `addr/prefix` (same matching rules).
    NotAddr { end: End, addr: IpAddr, prefix: u8 },
}

/// The bytecode that accepts exactly the sockets meeting every condition; empty when there is
/// nothing to check (a query without a filter).
pub fn compile(conds: &[Cond]) -> Vec<u8> {
    let len: usize = conds.iter().map(size).sum();
    let mut out = Vec::with_capacity(len);
    for cond in conds {
        // Jumping this far from the op lands 4 bytes past the end: the kernel's "reject".
        let reject = |out: &Vec<u8>| (len - out.len() + OP) as u16;
        match *cond {
            Cond::Port { end, lo, hi } => {
                let (ge, le) = match end {
                    End::Local => (S_GE, S_LE),
                    End::Remote => (D_GE, D_LE),
                };
                for (code, port) in [(ge, lo), (le, hi)] {
                    let no = reject(&out);
                    op(&mut out, code, 2 * OP as u8, no);
                    // The second op carries the port in its `no` field.
                    op(&mut out, 0, 0, port);
                }
            }
            Cond::Addr { end, addr, prefix } | Cond::NotAddr { end, addr, prefix } => {
                let code = match end {
                    End::Local => S_COND,
                    End::Remote => D_COND,
                };
                let here = hostcond_size(addr) as u8;
                let negated = matches!(cond, Cond::NotAddr { .. });
                // Negated: a match goes on to a jump to "reject", a miss skips over that jump.
                let no = if negated {
                    u16::from(here) + OP as u16
                } else {
                    reject(&out)
                };
                op(&mut out, code, here, no);
                let (family, bytes): (u8, &[u8]) = match &addr {
                    IpAddr::V4(a) => (libc::AF_INET as u8, &a.octets()[..]),
                    IpAddr::V6(a) => (libc::AF_INET6 as u8, &a.octets()[..]),
                };
                out.extend_from_slice(&[family, prefix, 0, 0]);
                out.extend_from_slice(&(-1i32).to_ne_bytes()); // any port
                out.extend_from_slice(bytes);
                if negated {
                    let no = reject(&out);
                    // JMP always takes its `no` branch.
                    op(&mut out, JMP, OP as u8, no);
                }
            }
        }
    }
    debug_assert_eq!(out.len(), len);
    out
}

fn size(cond: &Cond) -> usize {
    match cond {
        Cond::Port { .. } => 4 * OP,
        Cond::Addr { addr, .. } => hostcond_size(*addr),
        Cond::NotAddr { addr, .. } => hostcond_size(*addr) + OP,
    }
}

fn hostcond_size(addr: IpAddr) -> usize {
    OP + HOSTCOND + if addr.is_ipv4() { 4 } else { 16 }
}

fn op(out: &mut Vec<u8>, code: u8, yes: u8, no: u16) {
    out.push(code);
    out.push(yes);
    out.extend_from_slice(&no.to_ne_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a program the way the kernel's inet_diag_bc_run does, over one socket.
    fn run(bc: &[u8], sport: u16, dport: u16, src: IpAddr, dst: IpAddr) -> bool {
        let mut at = 0usize;
        let mut len = bc.len() as isize;
        while len > 0 {
            let (code, yes, no) = (
                bc[at],
                bc[at + 1] as isize,
                u16::from_ne_bytes([bc[at + 2], bc[at + 3]]) as isize,
            );
            let arg = || u16::from_ne_bytes([bc[at + 6], bc[at + 7]]);
            let ok = match code {
                JMP => false,
                S_GE => sport >= arg(),
                S_LE => sport <= arg(),
                D_GE => dport >= arg(),
                D_LE => dport <= arg(),
                S_COND | D_COND => {
                    let family = bc[at + 4];
                    let prefix = bc[at + 5] as usize;
                    let addr = if code == S_COND { src } else { dst };
                    let want = &bc[at + 12..];
                    let bits = |have: &[u8]| {
                        (0..prefix).all(|i| (have[i / 8] ^ want[i / 8]) & (0x80 >> (i % 8)) == 0)
                    };
                    match addr {
                        IpAddr::V4(a) if family == libc::AF_INET as u8 => bits(&a.octets()),
                        IpAddr::V6(a) if family == libc::AF_INET6 as u8 => bits(&a.octets()),
                        IpAddr::V6(a) if family == libc::AF_INET as u8 => {
                            a.to_ipv4_mapped().is_some_and(|m| bits(&m.octets()))
                        }
                        _ => false,
                    }
                }
                _ => panic!("unknown op {code}"),
            };
            let step = if ok { yes } else { no };
            assert!(
                step >= 4 && step % 4 == 0,
                "a jump the kernel's audit refuses"
            );
            at += step as usize;
            len -= step;
        }
        len == 0
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn no_conditions_is_no_program() {
        assert!(compile(&[]).is_empty());
    }

    #[test]
    fn every_condition_must_hold() {
        let bc = compile(&[
            Cond::Port {
                end: End::Remote,
                lo: 8000,
                hi: 8999,
            },
            Cond::Addr {
                end: End::Remote,
                addr: ip("10.0.0.0"),
                prefix: 8,
            },
            Cond::NotAddr {
                end: End::Local,
                addr: ip("127.0.0.0"),
                prefix: 8,
            },
        ]);
        let (l, r) = (ip("192.0.2.1"), ip("10.9.8.7"));
        assert!(run(&bc, 1, 8000, l, r));
        assert!(run(&bc, 1, 8999, l, r));
        assert!(!run(&bc, 1, 7999, l, r));
        assert!(!run(&bc, 1, 9000, l, r));
        assert!(!run(&bc, 1, 8080, l, ip("11.0.0.1")));
        assert!(!run(&bc, 1, 8080, ip("127.0.0.5"), r));
        // v4-mapped peers match an IPv4 prefix; an IPv6 peer does not.
        assert!(run(&bc, 1, 8080, ip("::1:2"), ip("::ffff:10.1.1.1")));
        assert!(!run(&bc, 1, 8080, ip("::1:2"), ip("fd00::1")));
    }

    #[test]
    fn local_ports_and_ipv6_prefixes() {
        let bc = compile(&[
            Cond::Port {
                end: End::Local,
                lo: 22,
                hi: 22,
            },
            Cond::Addr {
                end: End::Local,
                addr: ip("fd00::"),
                prefix: 16,
            },
        ]);
        assert!(run(&bc, 22, 5, ip("fd00::9"), ip("::1")));
        assert!(!run(&bc, 23, 5, ip("fd00::9"), ip("::1")));
        assert!(!run(&bc, 22, 5, ip("fd01::9"), ip("::1")));
        assert!(!run(&bc, 22, 5, ip("10.0.0.1"), ip("10.0.0.2")));
    }
}
