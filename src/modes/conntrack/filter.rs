//! Which entries `show`, `delete` and `events` take: conntrack(8)'s filters (protocol, family,
//! state, addresses, ports, mark, zone), checked against each entry as it is parsed.

use crate::diag::ctnetlink::entry::{Entry, proto_name, tcp_state_name};
use crate::util::prefix::Prefix;

/// The filters; `Default` takes every entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CtFilter {
    /// IP protocol number.
    pub proto: Option<u8>,
    /// `None`: both families.
    pub v4_only: Option<bool>,
    /// An uppercase state: a TCP state or UNREPLIED / REPLIED / ASSURED.
    pub state: Option<String>,
    /// The original direction's source and destination.
    pub src: Option<Prefix>,
    pub dst: Option<Prefix>,
    /// Either port of the original direction.
    pub port: Option<u16>,
    /// The original direction's source port and destination port.
    pub sport: Option<u16>,
    pub dport: Option<u16>,
    /// (mark, mask): the entry's mark ANDed with mask equals mark.
    pub mark: Option<(u32, u32)>,
    /// The zone (0 is the default zone, which the kernel does not send).
    pub zone: Option<u16>,
}

/// The states `--state` takes.
pub fn known_state(name: &str) -> Option<String> {
    let up = name.to_ascii_uppercase().replace('-', "_");
    let tcp = (0..=9).any(|s| tcp_state_name(s) == up);
    (tcp || matches!(up.as_str(), "UNREPLIED" | "REPLIED" | "ASSURED")).then_some(up)
}

/// `-p`: a name conntrack uses or a protocol number.
pub fn parse_proto(s: &str) -> Result<u8, String> {
    if let Ok(n) = s.parse::<u8>() {
        return Ok(n);
    }
    (0..=255u8)
        .find(|&p| proto_name(p).is_some_and(|n| n.eq_ignore_ascii_case(s)))
        .ok_or_else(|| {
            format!(
                "-p: unknown protocol '{s}' (a number, or tcp, udp, icmp, icmpv6, sctp, dccp, gre, udplite)"
            )
        })
}

/// `--mark MARK[/MASK]`: each a 32-bit number, decimal or 0x hex, as conntrack reads them; the
/// mask defaults to every bit.
pub fn parse_mark(s: &str) -> Result<(u32, u32), String> {
    let number = |t: &str| {
        let t = t.trim();
        match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => t.parse().ok(),
        }
    };
    let (mark, mask) = match s.split_once('/') {
        Some((m, k)) => (number(m), number(k)),
        None => (number(s), Some(u32::MAX)),
    };
    match (mark, mask) {
        (Some(mark), Some(mask)) => Ok((mark, mask)),
        _ => Err(format!(
            "--mark: '{s}' is not MARK[/MASK] (32-bit numbers, decimal or 0x hex)"
        )),
    }
}

impl CtFilter {
    pub fn matches(&self, e: &Entry) -> bool {
        let port = |want: Option<u16>, have: Option<u16>| want.is_none_or(|p| have == Some(p));
        self.proto.is_none_or(|p| p == e.proto)
            && self.v4_only.is_none_or(|v4| v4 == e.is_v4())
            && self.state.as_deref().is_none_or(|s| {
                e.state() == Some(s)
                    || (s == "ASSURED" && e.assured())
                    || (s == "UNREPLIED" && e.unreplied())
            })
            && self.src.is_none_or(|p| p.contains_ip(e.orig.src))
            && self.dst.is_none_or(|p| p.contains_ip(e.orig.dst))
            && self
                .port
                .is_none_or(|p| e.orig.sport == Some(p) || e.orig.dport == Some(p))
            && port(self.sport, e.orig.sport)
            && port(self.dport, e.orig.dport)
            // The kernel leaves a zero mark out of events.
            && self
                .mark
                .is_none_or(|(m, mask)| e.mark.unwrap_or(0) & mask == m)
            && self.zone.is_none_or(|z| e.zone.unwrap_or(0) == z)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::ctnetlink::entry::tests::{icmp_entry, tcp_entry};

    fn entry() -> Entry {
        let mut e = Entry::default();
        assert!(e.parse(&tcp_entry([10, 0, 0, 1], [10, 0, 0, 2], 40000, 80, 3)));
        e
    }

    #[test]
    fn filters_every_element() {
        let e = entry();
        let f = |f: CtFilter| f.matches(&e);
        assert!(f(CtFilter::default()));
        assert!(f(CtFilter {
            proto: Some(6),
            port: Some(80),
            ..Default::default()
        }));
        assert!(!f(CtFilter {
            proto: Some(17),
            ..Default::default()
        }));
        assert!(!f(CtFilter {
            v4_only: Some(false),
            ..Default::default()
        }));
        assert!(f(CtFilter {
            state: known_state("established"),
            ..Default::default()
        }));
        assert!(f(CtFilter {
            state: known_state("assured"),
            ..Default::default()
        }));
        assert!(!f(CtFilter {
            state: known_state("time_wait"),
            ..Default::default()
        }));
        let net = |s: &str| Some(Prefix::parse(s).unwrap());
        assert!(f(CtFilter {
            src: net("10.0.0.0/24"),
            dst: net("10.0.0.2"),
            ..Default::default()
        }));
        assert!(!f(CtFilter {
            dst: net("10.0.0.1"),
            ..Default::default()
        }));
        assert!(known_state("bogus").is_none());
        assert_eq!(parse_proto("UDP"), Ok(17));
        assert_eq!(parse_proto("132"), Ok(132));
        assert!(parse_proto("foo").is_err());
    }

    #[test]
    fn ports_mark_and_zone() {
        let e = entry();
        let f = |f: CtFilter| f.matches(&e);
        assert!(f(CtFilter {
            sport: Some(40000),
            dport: Some(80),
            ..Default::default()
        }));
        // --sport and --dport are the original direction's, not either port.
        assert!(!f(CtFilter {
            sport: Some(80),
            ..Default::default()
        }));
        assert!(f(CtFilter {
            mark: Some((0, u32::MAX)),
            zone: Some(0),
            ..Default::default()
        }));
        let mut icmp = Entry::default();
        assert!(icmp.parse(&icmp_entry([10, 0, 0, 1], [10, 0, 0, 2], 9)));
        let g = |f: CtFilter| f.matches(&icmp);
        assert!(g(CtFilter {
            mark: Some(parse_mark("0x7").unwrap()),
            zone: Some(3),
            ..Default::default()
        }));
        assert!(g(CtFilter {
            mark: Some(parse_mark("7/0x0f").unwrap()),
            ..Default::default()
        }));
        assert!(!g(CtFilter {
            mark: Some(parse_mark("0x7/0x3").unwrap()),
            ..Default::default()
        }));
        assert!(!g(CtFilter {
            mark: Some(parse_mark("6").unwrap()),
            ..Default::default()
        }));
        assert!(!g(CtFilter {
            zone: Some(0),
            ..Default::default()
        }));
        assert_eq!(parse_mark("42"), Ok((42, u32::MAX)));
        assert_eq!(parse_mark("0x2a/0xff"), Ok((42, 255)));
        for bad in ["", "x", "1/", "0x1g", "4294967296"] {
            assert!(parse_mark(bad).is_err(), "{bad}");
        }
    }
}
