//! `-F field=value,...`, `-e`, `-L`, `-4`/`-6`: which connections a report shows. Every element
//! must match. The same filter runs twice over: as the dump's state mask and inet_diag bytecode
//! in the kernel (so unwanted sockets are never formatted or copied), and here, on every record
//! shown (a /proc source has no kernel filter, and a check costs nothing next to a row).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::diag::bytecode::{Cond, End};
use crate::diag::{Query, Record, tcp_state};
pub use crate::util::prefix::Prefix;

/// The fields `-F` filters on.
pub const FIELDS: [&str; 5] = ["laddr", "lport", "raddr", "rport", "state"];

/// A prefix as a bytecode condition on one end of the connection.
fn cond(prefix: &Prefix, end: End) -> Cond {
    Cond::Addr {
        end,
        addr: prefix.addr,
        prefix: prefix.len,
    }
}

/// Loopback, as `-L` drops it: 127.0.0.0/8 (and its IPv4-mapped form) and ::1.
const LOOPBACK: [Prefix; 2] = [
    Prefix {
        addr: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)),
        len: 8,
    },
    Prefix {
        addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
        len: 128,
    },
];

/// A port or an inclusive range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub lo: u16,
    pub hi: u16,
}

impl Ports {
    fn parse(s: &str) -> Result<Ports, String> {
        let port = |p: &str| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| format!("'{s}' is not a port (0-65535) or a range LO-HI"))
        };
        let (lo, hi) = match s.split_once('-') {
            Some((lo, hi)) => (port(lo)?, port(hi)?),
            None => (port(s)?, port(s)?),
        };
        if lo > hi {
            return Err(format!("'{s}': the range runs backwards"));
        }
        Ok(Ports { lo, hi })
    }

    fn contains(&self, port: u16) -> bool {
        (self.lo..=self.hi).contains(&port)
    }
}

/// What a report shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub v4: bool,
    pub v6: bool,
    /// Bit n: TCP state n.
    pub states: u32,
    pub laddr: Option<Prefix>,
    pub lport: Option<Ports>,
    pub raddr: Option<Prefix>,
    pub rport: Option<Ports>,
    pub no_loopback: bool,
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            v4: true,
            v6: true,
            states: Query::ALL_STATES,
            laddr: None,
            lport: None,
            raddr: None,
            rport: None,
            no_loopback: false,
        }
    }
}

impl Filter {
    /// Adds the elements of one `-F` value (`field=value[,field=value]...`). `seen` holds the
    /// fields already given (by an earlier element, another `-F`, or `-e` for `state`).
    pub fn add(&mut self, spec: &str, seen: &mut Vec<&'static str>) -> Result<(), String> {
        for element in spec.split(',') {
            let (name, value) = element.split_once('=').ok_or_else(|| {
                format!(
                    "-F: '{element}' is not field=value (fields: {})",
                    FIELDS.join(", ")
                )
            })?;
            let name = name.trim().to_ascii_lowercase();
            let Some(&field) = FIELDS.iter().find(|&&f| f == name) else {
                return Err(format!(
                    "-F: unknown field '{name}' (valid fields: {})",
                    FIELDS.join(", ")
                ));
            };
            if seen.contains(&field) {
                return Err(format!("-F: the field '{field}' is given more than once"));
            }
            seen.push(field);
            let value = value.trim();
            let bad = |why: String| format!("-F {field}: {why}");
            match field {
                "laddr" => self.laddr = Some(Prefix::parse(value).map_err(bad)?),
                "raddr" => self.raddr = Some(Prefix::parse(value).map_err(bad)?),
                "lport" => self.lport = Some(Ports::parse(value).map_err(bad)?),
                "rport" => self.rport = Some(Ports::parse(value).map_err(bad)?),
                _ => self.states = state_bits(value).map_err(bad)?,
            }
        }
        Ok(())
    }

    /// True when `r` passes every element.
    pub fn matches(&self, r: &Record<'_>) -> bool {
        let v4 = r.family() == libc::AF_INET as u8;
        (if v4 { self.v4 } else { self.v6 })
            && self.states & (1 << r.state().min(31)) != 0
            && self.lport.is_none_or(|p| p.contains(r.src_port()))
            && self.rport.is_none_or(|p| p.contains(r.dst_port()))
            && self.laddr.is_none_or(|p| p.contains(r.src_addr()))
            && self.raddr.is_none_or(|p| p.contains(r.dst_addr()))
            && !(self.no_loopback
                && LOOPBACK
                    .iter()
                    .any(|p| p.contains(r.src_addr()) || p.contains(r.dst_addr())))
    }

    /// What to ask the kernel for: this filter's states and, unless `kernel_filter` is off, its
    /// addresses and ports as bytecode; plus the `extensions` the fields need.
    pub fn query(&self, extensions: u8, kernel_filter: bool) -> Query {
        if !kernel_filter {
            return Query {
                extensions,
                ..Query::default()
            };
        }
        // Listeners and bound-only sockets have no peer: remote port 0, remote address all
        // zeros. A remote filter that excludes those cannot match them, so the kernel is not
        // asked for them (BOUND_INACTIVE alone makes it walk its whole bind hash).
        let unspecified: [&[u8]; 2] = [&[0; 4], &[0; 16]];
        let peerless_excluded = self.rport.is_some_and(|p| p.lo > 0)
            || self
                .raddr
                .is_some_and(|p| !unspecified.iter().any(|z| p.contains(z)));
        let mut states = self.states;
        if peerless_excluded {
            states &= !((1 << tcp_state::LISTEN)
                | (1 << tcp_state::CLOSE)
                | (1 << tcp_state::BOUND_INACTIVE));
        }
        let exact = |p: Option<Ports>| p.filter(|p| p.lo == p.hi).map_or(0, |p| p.lo);
        let mut conds = Vec::new();
        let port = |end, p: Ports| Cond::Port {
            end,
            lo: p.lo,
            hi: p.hi,
        };
        conds.extend(self.lport.map(|p| port(End::Local, p)));
        conds.extend(self.rport.map(|p| port(End::Remote, p)));
        conds.extend(self.laddr.map(|p| cond(&p, End::Local)));
        conds.extend(self.raddr.map(|p| cond(&p, End::Remote)));
        if self.no_loopback {
            for end in [End::Local, End::Remote] {
                conds.extend(LOOPBACK.iter().map(|p| Cond::NotAddr {
                    end,
                    addr: p.addr,
                    prefix: p.len,
                }));
            }
        }
        Query {
            states,
            extensions,
            bytecode: crate::diag::bytecode::compile(&conds),
            sport: exact(self.lport),
            dport: exact(self.rport),
        }
    }
}

/// The state bits a `state=` value names: connstat's names and Linux's, in any case, `-` or `_`.
pub fn state_bits(name: &str) -> Result<u32, String> {
    use tcp_state::*;
    let bit = |s: u8| 1u32 << s;
    let norm = name.to_ascii_uppercase().replace('-', "_");
    Ok(match norm.as_str() {
        "ESTABLISHED" => bit(ESTABLISHED),
        "SYN_SENT" => bit(SYN_SENT),
        "SYN_RECEIVED" | "SYN_RECV" | "SYN_RCVD" => bit(SYN_RECV) | bit(NEW_SYN_RECV),
        "FIN_WAIT_1" | "FIN_WAIT1" => bit(FIN_WAIT1),
        "FIN_WAIT_2" | "FIN_WAIT2" => bit(FIN_WAIT2),
        "TIME_WAIT" => bit(TIME_WAIT),

        "CLOSE_WAIT" => bit(CLOSE_WAIT),
        "LAST_ACK" => bit(LAST_ACK),
        "LISTEN" => bit(LISTEN),
        "CLOSING" => bit(CLOSING),
        // A bound-only socket: asked for as BOUND_INACTIVE, reported in state CLOSE.
        "BOUND" | "BOUND_INACTIVE" | "CLOSED" | "CLOSE" => bit(CLOSE) | bit(BOUND_INACTIVE),
        // connstat's IDLE (opened, not bound): Linux lists no such socket, so nothing matches.
        "IDLE" => 0,
        _ => {
            return Err(format!(
                "unknown state '{name}' (states: ESTABLISHED, SYN_SENT, SYN_RECEIVED, \
                 FIN_WAIT_1, FIN_WAIT_2, TIME_WAIT, CLOSED, CLOSE_WAIT, LAST_ACK, LISTEN, \
                 CLOSING, BOUND, IDLE; Linux's names such as SYN_RECV and FIN_WAIT1 too)"
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::RecordBuf;

    fn filter(spec: &str) -> Result<Filter, String> {
        let mut f = Filter::default();
        f.add(spec, &mut Vec::new())?;
        Ok(f)
    }

    fn rec(state: u8, src: &str, sport: u16, dst: &str, dport: u16) -> RecordBuf {
        let (s, d): (IpAddr, IpAddr) = (src.parse().unwrap(), dst.parse().unwrap());
        let mut b = RecordBuf::default();
        match (s, d) {
            (IpAddr::V4(s), IpAddr::V4(d)) => b
                .reset(libc::AF_INET as u8, state)
                .addrs(&s.octets(), &d.octets()),
            (IpAddr::V6(s), IpAddr::V6(d)) => b
                .reset(libc::AF_INET6 as u8, state)
                .addrs(&s.octets(), &d.octets()),
            _ => panic!("one family"),
        };
        b.ports(sport, dport);
        b
    }

    #[test]
    fn every_element_must_match() {
        let f = filter("raddr=10.0.0.0/8,rport=8000-8999,state=established").unwrap();
        let yes = rec(1, "192.0.2.1", 40000, "10.1.2.3", 8080);
        assert!(f.matches(&yes.record()));
        for no in [
            rec(1, "192.0.2.1", 40000, "11.1.2.3", 8080),
            rec(1, "192.0.2.1", 40000, "10.1.2.3", 9000),
            rec(6, "192.0.2.1", 40000, "10.1.2.3", 8080),
        ] {
            assert!(!f.matches(&no.record()));
        }
        let mapped = rec(1, "::ffff:192.0.2.1", 1, "::ffff:10.9.9.9", 8999);
        assert!(
            f.matches(&mapped.record()),
            "v4-mapped peers match v4 prefixes"
        );
    }

    #[test]
    fn state_names_are_connstat_s_and_linux_s() {
        assert_eq!(state_bits("fin_wait_1"), state_bits("FIN-WAIT1"));
        assert_eq!(state_bits("SYN_RECEIVED").unwrap(), (1 << 3) | (1 << 12));
        assert_eq!(state_bits("syn_recv").unwrap(), (1 << 3) | (1 << 12));
        assert_eq!(state_bits("Closed").unwrap(), (1 << 7) | (1 << 13));
        assert_eq!(state_bits("bound").unwrap(), (1 << 7) | (1 << 13));
        assert!(state_bits("open").unwrap_err().contains("ESTABLISHED"));
        assert_eq!(
            state_bits("idle").unwrap(),
            0,
            "accepted, matches nothing on Linux"
        );
    }

    #[test]
    fn bad_input_is_named() {
        assert!(filter("lport=1,lport=2").unwrap_err().contains("'lport'"));
        let e = filter("dport=80").unwrap_err();
        assert!(
            e.contains("'dport'") && e.contains("laddr, lport, raddr, rport, state"),
            "{e}"
        );
        assert!(filter("rport=9-1").unwrap_err().contains("backwards"));
        assert!(filter("rport=70000").is_err());
        assert!(filter("raddr=10.0.0.0/33").unwrap_err().contains("0 to 32"));
        assert!(filter("raddr=host").is_err());
        assert!(filter("rport").is_err());
    }

    #[test]
    fn no_loopback_drops_either_end_on_loopback() {
        let f = Filter {
            no_loopback: true,
            ..Filter::default()
        };
        assert!(!f.matches(&rec(1, "127.0.0.1", 1, "10.0.0.1", 2).record()));
        assert!(!f.matches(&rec(1, "10.0.0.1", 1, "127.5.0.1", 2).record()));
        assert!(!f.matches(&rec(1, "::1", 1, "fd00::1", 2).record()));
        assert!(!f.matches(&rec(1, "fd00::2", 1, "::ffff:127.0.0.1", 2).record()));
        assert!(f.matches(&rec(1, "10.0.0.1", 1, "10.0.0.2", 2).record()));
    }

    #[test]
    fn the_kernel_query_carries_states_and_bytecode_unless_off() {
        let f = filter("rport=8000-8999,state=established").unwrap();
        let q = f.query(0, true);
        assert_eq!(q.states, 1 << 1);
        assert_eq!(q.bytecode.len(), 16);
        assert_eq!((q.sport, q.dport), (0, 0), "a range is bytecode only");
        // A remote port other than 0 cannot match a peerless socket: those states are not asked
        // for; an exact port goes into the request's socket id too.
        let peerless = (1 << 10) | (1 << 7) | (1 << 13);
        let q = filter("rport=443").unwrap().query(0, true);
        assert_eq!(q.states, Query::ALL_STATES & !peerless);
        assert_eq!(q.dport, 443);
        let q = filter("raddr=10.0.0.0/8").unwrap().query(0, true);
        assert_eq!(q.states, Query::ALL_STATES & !peerless);
        // 0.0.0.0/0 and rport=0-10 include the peerless sockets: every state stays.
        let all = |spec| filter(spec).unwrap().query(0, true).states;
        assert_eq!(all("raddr=0.0.0.0/0"), Query::ALL_STATES);
        assert_eq!(all("rport=0-10"), Query::ALL_STATES);
        let q = filter("lport=22").unwrap().query(0, true);
        assert_eq!((q.sport, q.states), (22, Query::ALL_STATES));
        let off = f.query(2, false);
        assert_eq!(off.states, Query::ALL_STATES);
        assert!(off.bytecode.is_empty());
        assert_eq!(off.extensions, 2);
        assert!(Filter::default().query(0, true).bytecode.is_empty());
    }
}
