//! One tracked connection as ctnetlink describes it (nested CTA_* attributes, numbers in network
//! order), parsed in place into a reused [`Entry`]: no allocation per entry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::diag::attrs::{attrs, be};

// CTA_*.
const TUPLE_ORIG: u16 = 1;
const TUPLE_REPLY: u16 = 2;
const STATUS: u16 = 3;
const PROTOINFO: u16 = 4;
const TIMEOUT: u16 = 7;
const MARK: u16 = 8;
const COUNTERS_ORIG: u16 = 9;
const COUNTERS_REPLY: u16 = 10;
const ID: u16 = 12;
const ZONE: u16 = 18;
// CTA_COUNTERS_*: 64-bit, and the 32-bit forms of old kernels.
const COUNTERS_PACKETS: u16 = 1;
const COUNTERS_BYTES: u16 = 2;
const COUNTERS32_PACKETS: u16 = 3;
const COUNTERS32_BYTES: u16 = 4;
// CTA_TUPLE_*.
const TUPLE_IP: u16 = 1;
const TUPLE_PROTO: u16 = 2;
// CTA_IP_*.
const IP_V4_SRC: u16 = 1;
const IP_V4_DST: u16 = 2;
const IP_V6_SRC: u16 = 3;
const IP_V6_DST: u16 = 4;
// CTA_PROTO_*.
const PROTO_NUM: u16 = 1;
const PROTO_SRC_PORT: u16 = 2;
const PROTO_DST_PORT: u16 = 3;
const PROTO_ICMP_ID: u16 = 4;
const PROTO_ICMP_TYPE: u16 = 5;
const PROTO_ICMP_CODE: u16 = 6;
const PROTO_ICMPV6_ID: u16 = 7;
const PROTO_ICMPV6_TYPE: u16 = 8;
const PROTO_ICMPV6_CODE: u16 = 9;
// CTA_PROTOINFO_TCP, then CTA_PROTOINFO_TCP_STATE.
const PROTOINFO_TCP: u16 = 1;
const PROTOINFO_TCP_STATE: u16 = 1;

// Status bits (IPS_*).
const IPS_SEEN_REPLY: u32 = 1 << 1;
const IPS_ASSURED: u32 = 1 << 2;

/// One direction of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuple {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Ports for TCP, UDP, SCTP, DCCP, UDP-Lite; `None` for protocols without them (ICMP, GRE…).
    pub sport: Option<u16>,
    pub dport: Option<u16>,
    /// ICMP and ICMPv6 entries (echo, timestamp, information, address mask): type, code and
    /// identifier, which stand in for the ports.
    pub icmp: Option<Icmp>,
}

/// The ICMP part of a tuple (CTA_PROTO_ICMP_* or CTA_PROTO_ICMPV6_*).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Icmp {
    pub kind: u8,
    pub code: u8,
    pub id: u16,
}

impl Default for Tuple {
    fn default() -> Self {
        Tuple {
            src: Ipv4Addr::UNSPECIFIED.into(),
            dst: Ipv4Addr::UNSPECIFIED.into(),
            sport: None,
            dport: None,
            icmp: None,
        }
    }
}

/// One direction's packet and byte counters (sent only while `nf_conntrack_acct` was on when the
/// entry was made).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub packets: u64,
    pub bytes: u64,
}

/// One entry of the table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP…).
    pub proto: u8,
    pub orig: Tuple,
    pub reply: Tuple,
    /// IPS_* bits.
    pub status: u32,
    /// TCP conntrack state (enum tcp_conntrack), for TCP entries.
    pub tcp_state: Option<u8>,
    /// Seconds until the entry expires.
    pub timeout: Option<u32>,
    pub mark: Option<u32>,
    pub zone: Option<u16>,
    /// CTA_ID: the kernel's identifier of the entry (what `conntrack -o id` prints).
    pub id: Option<u32>,
    /// Packets and bytes of the original and of the reply direction.
    pub orig_counters: Option<Counters>,
    pub reply_counters: Option<Counters>,
}

impl Entry {
    /// Reads one message's attributes; false when a tuple is missing.
    pub fn parse(&mut self, bytes: &[u8]) -> bool {
        *self = Entry::default();
        let (mut orig, mut reply) = (false, false);
        for (kind, payload) in attrs(bytes) {
            match kind {
                TUPLE_ORIG => orig = tuple(payload, &mut self.orig, &mut self.proto),
                TUPLE_REPLY => reply = tuple(payload, &mut self.reply, &mut 0),
                STATUS => self.status = be(payload).unwrap_or(0) as u32,
                PROTOINFO => {
                    self.tcp_state = attrs(payload)
                        .find(|&(k, _)| k == PROTOINFO_TCP)
                        .and_then(|(_, tcp)| attrs(tcp).find(|&(k, _)| k == PROTOINFO_TCP_STATE))
                        .and_then(|(_, s)| s.first().copied());
                }
                TIMEOUT => self.timeout = be(payload).map(|v| v as u32),
                MARK => self.mark = be(payload).map(|v| v as u32),
                ZONE => self.zone = be(payload).map(|v| v as u16),
                ID => self.id = be(payload).map(|v| v as u32),
                COUNTERS_ORIG => self.orig_counters = counters(payload),
                COUNTERS_REPLY => self.reply_counters = counters(payload),
                _ => {}
            }
        }
        orig && reply
    }

    pub fn is_v4(&self) -> bool {
        self.orig.src.is_ipv4()
    }

    pub fn assured(&self) -> bool {
        self.status & IPS_ASSURED != 0
    }

    pub fn unreplied(&self) -> bool {
        self.status & IPS_SEEN_REPLY == 0
    }

    /// The TCP state as conntrack names it, or for other protocols the status: UNREPLIED (no
    /// answer seen yet), ASSURED (answered and kept), or REPLIED (answered, not yet assured).
    /// `None` for a TCP entry sent without its state (a DESTROY event carries none).
    pub fn state(&self) -> Option<&'static str> {
        match self.tcp_state {
            Some(s) => Some(tcp_state_name(s)),
            None if self.proto == TCP => None,
            None if self.unreplied() => Some("UNREPLIED"),
            None if self.assured() => Some("ASSURED"),
            None => Some("REPLIED"),
        }
    }

    /// The state as the grout router spells it, where Linux's state means the same: TCP
    /// SYN_SENT is grout's `new` and SYN_SENT2 its `simsyn_sent`, CLOSE is `closed`, the other
    /// TCP states in lowercase (`none` has no grout counterpart); other protocols are `new` until
    /// a reply is seen, then `established`. `None` as for [`Entry::state`].
    pub fn grout_state(&self) -> Option<&'static str> {
        Some(match self.tcp_state {
            Some(1) => "new",
            Some(2) => "syn_recv",
            Some(3) => "established",
            Some(4) => "fin_wait",
            Some(5) => "close_wait",
            Some(6) => "last_ack",
            Some(7) => "time_wait",
            Some(8) => "closed",
            Some(9) => "simsyn_sent",
            Some(0) => "none",
            Some(_) => "unknown",
            None if self.proto == TCP => return None,
            None if self.unreplied() => "new",
            None => "established",
        })
    }
}

const TCP: u8 = 6;

/// A CTA_COUNTERS_* nest; `None` without both numbers.
fn counters(bytes: &[u8]) -> Option<Counters> {
    let (mut packets, mut octets) = (None, None);
    for (kind, payload) in attrs(bytes) {
        match kind {
            COUNTERS_PACKETS | COUNTERS32_PACKETS => packets = be(payload),
            COUNTERS_BYTES | COUNTERS32_BYTES => octets = be(payload),
            _ => {}
        }
    }
    Some(Counters {
        packets: packets?,
        bytes: octets?,
    })
}

/// A CTA_TUPLE_* nest into `t`; the protocol number into `proto`. True when it had addresses.
fn tuple(bytes: &[u8], t: &mut Tuple, proto: &mut u8) -> bool {
    let mut has_ip = false;
    for (kind, payload) in attrs(bytes) {
        match kind {
            TUPLE_IP => {
                for (k, a) in attrs(payload) {
                    let addr = match (k, a.len()) {
                        (IP_V4_SRC | IP_V4_DST, 4) => {
                            IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(a).unwrap()))
                        }
                        (IP_V6_SRC | IP_V6_DST, 16) => {
                            IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(a).unwrap()))
                        }
                        _ => continue,
                    };
                    if matches!(k, IP_V4_SRC | IP_V6_SRC) {
                        t.src = addr;
                    } else {
                        t.dst = addr;
                    }
                    has_ip = true;
                }
            }
            TUPLE_PROTO => {
                for (k, p) in attrs(payload) {
                    match k {
                        PROTO_NUM => *proto = p.first().copied().unwrap_or(0),
                        PROTO_SRC_PORT => t.sport = be(p).map(|v| v as u16),
                        PROTO_DST_PORT => t.dport = be(p).map(|v| v as u16),
                        PROTO_ICMP_ID | PROTO_ICMPV6_ID => {
                            if let Some(id) = be(p) {
                                t.icmp.get_or_insert_default().id = id as u16;
                            }
                        }
                        PROTO_ICMP_TYPE | PROTO_ICMPV6_TYPE => {
                            if let Some(&v) = p.first() {
                                t.icmp.get_or_insert_default().kind = v;
                            }
                        }
                        PROTO_ICMP_CODE | PROTO_ICMPV6_CODE => {
                            if let Some(&v) = p.first() {
                                t.icmp.get_or_insert_default().code = v;
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    has_ip
}

/// enum tcp_conntrack, as `conntrack -L` names it.
pub fn tcp_state_name(state: u8) -> &'static str {
    match state {
        0 => "NONE",
        1 => "SYN_SENT",
        2 => "SYN_RECV",
        3 => "ESTABLISHED",
        4 => "FIN_WAIT",
        5 => "CLOSE_WAIT",
        6 => "LAST_ACK",
        7 => "TIME_WAIT",
        8 => "CLOSE",
        9 => "SYN_SENT2",
        _ => "UNKNOWN",
    }
}

/// The protocol's name as conntrack prints it, or its number.
pub fn proto_name(proto: u8) -> Option<&'static str> {
    Some(match proto {
        1 => "icmp",
        6 => "tcp",
        17 => "udp",
        33 => "dccp",
        47 => "gre",
        58 => "icmpv6",
        132 => "sctp",
        136 => "udplite",
        _ => return None,
    })
}

#[cfg(test)]
pub mod tests {
    use super::*;

    pub fn nla(out: &mut Vec<u8>, kind: u16, payload: &[u8]) {
        out.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(payload);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }

    fn ipv4(s: [u8; 4], d: [u8; 4], proto: &[u8]) -> Vec<u8> {
        let (mut ip, mut t) = (Vec::new(), Vec::new());
        nla(&mut ip, IP_V4_SRC, &s);
        nla(&mut ip, IP_V4_DST, &d);
        nla(&mut t, 0x8000 | TUPLE_IP, &ip);
        nla(&mut t, 0x8000 | TUPLE_PROTO, proto);
        t
    }

    fn counted(m: &mut Vec<u8>, kind: u16, packets: u64, bytes: u64) {
        let mut c = Vec::new();
        nla(&mut c, COUNTERS_PACKETS, &packets.to_be_bytes());
        nla(&mut c, COUNTERS_BYTES, &bytes.to_be_bytes());
        nla(m, 0x8000 | kind, &c);
    }

    /// The attributes of a TCP entry as ctnetlink sends them: id 0x5caefe40, counters 3
    /// packets / 180 bytes one way and 2 / 120 back, mark 0, 120 s left.
    pub fn tcp_entry(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, state: u8) -> Vec<u8> {
        let tuple = |s: [u8; 4], d: [u8; 4], sp: u16, dp: u16| {
            let mut proto = Vec::new();
            nla(&mut proto, PROTO_NUM, &[6]);
            nla(&mut proto, PROTO_SRC_PORT, &sp.to_be_bytes());
            nla(&mut proto, PROTO_DST_PORT, &dp.to_be_bytes());
            ipv4(s, d, &proto)
        };
        let (mut m, mut tcp, mut info) = (Vec::new(), Vec::new(), Vec::new());
        nla(&mut m, 0x8000 | TUPLE_ORIG, &tuple(src, dst, sport, dport));
        nla(&mut m, 0x8000 | TUPLE_REPLY, &tuple(dst, src, dport, sport));
        nla(
            &mut m,
            STATUS,
            &(IPS_SEEN_REPLY | IPS_ASSURED).to_be_bytes(),
        );
        nla(&mut m, TIMEOUT, &120u32.to_be_bytes());
        nla(&mut m, MARK, &0u32.to_be_bytes());
        nla(&mut m, ID, &0x5caefe40u32.to_be_bytes());
        counted(&mut m, COUNTERS_ORIG, 3, 180);
        counted(&mut m, COUNTERS_REPLY, 2, 120);
        nla(&mut tcp, PROTOINFO_TCP_STATE, &[state]);
        nla(&mut info, 0x8000 | PROTOINFO_TCP, &tcp);
        nla(&mut m, 0x8000 | PROTOINFO, &info);
        m
    }

    /// An ICMP echo entry as ctnetlink sends it (no counters, no reply yet, mark 7, zone 3).
    pub fn icmp_entry(src: [u8; 4], dst: [u8; 4], id: u16) -> Vec<u8> {
        let tuple = |s, d, kind: u8| {
            let mut proto = Vec::new();
            nla(&mut proto, PROTO_NUM, &[1]);
            nla(&mut proto, PROTO_ICMP_ID, &id.to_be_bytes());
            nla(&mut proto, PROTO_ICMP_TYPE, &[kind]);
            nla(&mut proto, PROTO_ICMP_CODE, &[0]);
            ipv4(s, d, &proto)
        };
        let mut m = Vec::new();
        nla(&mut m, 0x8000 | TUPLE_ORIG, &tuple(src, dst, 8));
        nla(&mut m, 0x8000 | TUPLE_REPLY, &tuple(dst, src, 0));
        nla(&mut m, STATUS, &0u32.to_be_bytes());
        nla(&mut m, TIMEOUT, &29u32.to_be_bytes());
        nla(&mut m, MARK, &7u32.to_be_bytes());
        nla(&mut m, ZONE, &3u16.to_be_bytes());
        nla(&mut m, ID, &1u32.to_be_bytes());
        m
    }

    #[test]
    fn parses_a_tcp_entry() {
        let bytes = tcp_entry([10, 0, 0, 1], [10, 0, 0, 2], 40000, 80, 3);
        let mut e = Entry::default();
        assert!(e.parse(&bytes));
        assert_eq!(e.proto, 6);
        assert_eq!(e.orig.src, IpAddr::from([10, 0, 0, 1]));
        assert_eq!((e.orig.sport, e.orig.dport), (Some(40000), Some(80)));
        assert_eq!((e.reply.sport, e.reply.dport), (Some(80), Some(40000)));
        assert_eq!(e.state(), Some("ESTABLISHED"));
        assert_eq!(e.grout_state(), Some("established"));
        assert_eq!(e.timeout, Some(120));
        assert_eq!(e.id, Some(0x5caefe40));
        let c = |packets, bytes| Some(Counters { packets, bytes });
        assert_eq!((e.orig_counters, e.reply_counters), (c(3, 180), c(2, 120)));
        assert!(e.assured() && !e.unreplied());
        assert!(!e.parse(&bytes[..8]), "no tuples");
    }

    #[test]
    fn parses_an_icmp_echo_entry_with_its_identifier() {
        let mut e = Entry::default();
        assert!(e.parse(&icmp_entry([10, 0, 0, 1], [10, 0, 0, 2], 4321)));
        let echo = |kind| {
            Some(Icmp {
                kind,
                code: 0,
                id: 4321,
            })
        };
        assert_eq!((e.orig.icmp, e.reply.icmp), (echo(8), echo(0)));
        assert_eq!((e.orig.sport, e.orig.dport), (None, None));
        assert_eq!((e.mark, e.zone, e.id), (Some(7), Some(3), Some(1)));
        assert_eq!((e.orig_counters, e.reply_counters), (None, None));
        assert_eq!(
            (e.state(), e.grout_state()),
            (Some("UNREPLIED"), Some("new"))
        );
    }

    /// Each TCP state in grout's spelling; a TCP entry without its state (a DESTROY event) has
    /// none rather than a status that would read as a UDP one.
    #[test]
    fn grout_spells_the_tcp_states() {
        let mut e = Entry::default();
        let names: Vec<_> = (0..=9)
            .map(|s| {
                e.parse(&tcp_entry([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, s));
                e.grout_state().unwrap()
            })
            .collect();
        assert_eq!(
            names,
            [
                "none",
                "new",
                "syn_recv",
                "established",
                "fin_wait",
                "close_wait",
                "last_ack",
                "time_wait",
                "closed",
                "simsyn_sent"
            ]
        );
        e.tcp_state = None;
        assert_eq!((e.state(), e.grout_state()), (None, None));
    }
}
