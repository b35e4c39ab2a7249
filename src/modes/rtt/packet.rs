//! One captured frame down to its TCP header, read in place: link layer (Ethernet with VLAN tags,
//! Linux cooked v1/v2, raw IP, BSD loopback), IPv4 or IPv6 (extension headers skipped), TCP with
//! its timestamp option. Lengths come from the IP header, so a capture cut short by its snap
//! length still counts every payload byte. Anything else is `None`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The link types (pcap LINKTYPE_*) conntrend reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Ethernet,
    LinuxSll,
    LinuxSll2,
    /// Raw IP (v4 or v6 from the version nibble).
    Raw,
    /// BSD loopback: a 4-byte address family in host order (NULL) or network order (LOOP).
    Null,
    Loop,
}

impl Link {
    /// From a pcap link-type number.
    pub fn from_linktype(lt: i32) -> Option<Link> {
        Some(match lt {
            1 => Link::Ethernet,
            113 => Link::LinuxSll,
            276 => Link::LinuxSll2,
            12 | 14 | 101 | 228 | 229 => Link::Raw,
            0 => Link::Null,
            108 => Link::Loop,
            _ => return None,
        })
    }
}

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const ACK: u8 = 0x10;

/// One TCP segment as the RTT engine needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// Payload bytes (from the IP length).
    pub payload: u32,
    /// (TSval, TSecr) of the timestamp option.
    pub ts: Option<(u32, u32)>,
}

impl Segment {
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The TCP segment in `frame`, if it carries one.
pub fn parse(link: Link, frame: &[u8]) -> Option<Segment> {
    parse_sized(link, frame).map(|(s, _)| s)
}

/// The TCP segment in `frame` and its wire size as connmon counts it: the link-layer header
/// (VLAN tags included) plus the IP datagram's length from its header (IPv4 total length; IPv6
/// 40 + payload length), so a capture cut by its snap length still counts every byte.
pub fn parse_sized(link: Link, frame: &[u8]) -> Option<(Segment, u32)> {
    // Where the IP header starts, and the IP version the link layer announces (0: read it).
    let (at, version) = match link {
        Link::Ethernet => {
            let mut at = 12;
            let mut ethertype = be16(frame, at)?;
            // 802.1Q / 802.1ad tags.
            while matches!(ethertype, 0x8100 | 0x88a8 | 0x9100) {
                at += 4;
                ethertype = be16(frame, at)?;
            }
            (at + 2, by_ethertype(ethertype)?)
        }
        Link::LinuxSll => (16, by_ethertype(be16(frame, 14)?)?),
        Link::LinuxSll2 => (20, by_ethertype(be16(frame, 0)?)?),
        Link::Raw => (0, 0),
        Link::Null | Link::Loop => {
            let raw: [u8; 4] = frame.get(..4)?.try_into().ok()?;
            let family = if link == Link::Null {
                u32::from_ne_bytes(raw)
            } else {
                u32::from_be_bytes(raw)
            };
            let version = match family {
                2 => 4,
                10 | 24 | 28 | 30 => 6,
                _ => return None,
            };
            (4, version)
        }
    };
    let ip = frame.get(at..)?;
    let version = if version == 0 {
        ip.first()? >> 4
    } else {
        version
    };
    let (seg, ip_len) = match version {
        4 => (ipv4(ip)?, u32::from(be16(ip, 2)?)),
        6 => (ipv6(ip)?, 40 + u32::from(be16(ip, 4)?)),
        _ => return None,
    };
    Some((seg, at as u32 + ip_len))
}

fn by_ethertype(ethertype: u16) -> Option<u8> {
    match ethertype {
        0x0800 => Some(4),
        0x86dd => Some(6),
        _ => None,
    }
}

fn ipv4(ip: &[u8]) -> Option<Segment> {
    let ihl = usize::from(ip.first()? & 0x0f) * 4;
    let total = usize::from(be16(ip, 2)?);
    // Only the first fragment has the TCP header; later ones have an offset.
    let frag = be16(ip, 6)? & 0x1fff;
    if ip[0] >> 4 != 4 || ihl < 20 || ip.get(9) != Some(&6) || frag != 0 || total < ihl {
        return None;
    }
    let src = IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(ip.get(12..16)?).ok()?));
    let dst = IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(ip.get(16..20)?).ok()?));
    tcp(src, dst, ip.get(ihl..)?, total - ihl)
}

fn ipv6(ip: &[u8]) -> Option<Segment> {
    if ip.first()? >> 4 != 6 {
        return None;
    }
    let mut left = usize::from(be16(ip, 4)?);
    let src = IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(ip.get(8..24)?).ok()?));
    let dst = IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(ip.get(24..40)?).ok()?));
    let (mut next, mut at) = (*ip.get(6)?, 40);
    loop {
        match next {
            6 => return tcp(src, dst, ip.get(at..)?, left),
            // Hop-by-hop, routing, destination options: (next, length in 8-byte units - 1).
            0 | 43 | 60 => {
                let len = (usize::from(*ip.get(at + 1)?) + 1) * 8;
                next = *ip.get(at)?;
                at += len;
                left = left.checked_sub(len)?;
            }
            // Fragment: only the first fragment carries the TCP header.
            44 => {
                if be16(ip, at + 2)? & 0xfff8 != 0 {
                    return None;
                }
                next = *ip.get(at)?;
                at += 8;
                left = left.checked_sub(8)?;
            }
            _ => return None,
        }
    }
}

/// `len` is the TCP header and payload length the IP header declares.
fn tcp(src: IpAddr, dst: IpAddr, t: &[u8], len: usize) -> Option<Segment> {
    let off = usize::from(t.get(12)? >> 4) * 4;
    if off < 20 || len < off {
        return None;
    }
    let mut ts = None;
    let mut opts = t.get(20..off).unwrap_or(&[]);
    while let Some(&kind) = opts.first() {
        match kind {
            0 => break,
            1 => opts = &opts[1..],
            _ => {
                let l = usize::from(*opts.get(1)?);
                if l < 2 || l > opts.len() {
                    break;
                }
                if kind == 8 && l == 10 {
                    ts = Some((be32(opts, 2)?, be32(opts, 6)?));
                }
                opts = &opts[l..];
            }
        }
    }
    Some(Segment {
        src,
        dst,
        sport: be16(t, 0)?,
        dport: be16(t, 2)?,
        seq: be32(t, 4)?,
        ack: be32(t, 8)?,
        flags: *t.get(13)?,
        window: be16(t, 14)?,
        payload: (len - off) as u32,
        ts,
    })
}

/// The Ethernet frame carrying `seg` (IPv4 or IPv6, TCP with the timestamp option if it has one,
/// zero checksums): what the tests and the benchmark write into synthetic captures.
pub fn frame(seg: &Segment) -> Vec<u8> {
    let mut tcp = Vec::new();
    tcp.extend_from_slice(&seg.sport.to_be_bytes());
    tcp.extend_from_slice(&seg.dport.to_be_bytes());
    tcp.extend_from_slice(&seg.seq.to_be_bytes());
    tcp.extend_from_slice(&seg.ack.to_be_bytes());
    let hl = if seg.ts.is_some() { 32 } else { 20 };
    tcp.push((hl / 4) << 4);
    tcp.push(seg.flags);
    tcp.extend_from_slice(&seg.window.to_be_bytes());
    tcp.extend_from_slice(&[0; 4]);
    if let Some((v, e)) = seg.ts {
        tcp.extend_from_slice(&[1, 1, 8, 10]);
        tcp.extend_from_slice(&v.to_be_bytes());
        tcp.extend_from_slice(&e.to_be_bytes());
    }
    tcp.resize(tcp.len() + seg.payload as usize, 0xaa);
    let mut f = vec![0u8; 12];
    match (seg.src, seg.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            f.extend_from_slice(&0x0800u16.to_be_bytes());
            f.extend_from_slice(&[0x45, 0]);
            f.extend_from_slice(&((20 + tcp.len()) as u16).to_be_bytes());
            f.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
            f.extend_from_slice(&s.octets());
            f.extend_from_slice(&d.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            f.extend_from_slice(&0x86ddu16.to_be_bytes());
            f.extend_from_slice(&[0x60, 0, 0, 0]);
            f.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
            f.extend_from_slice(&[6, 64]);
            f.extend_from_slice(&s.octets());
            f.extend_from_slice(&d.octets());
        }
        _ => panic!("one family"),
    }
    f.extend_from_slice(&tcp);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(src: &str, dst: &str, ts: Option<(u32, u32)>, payload: u32) -> Segment {
        Segment {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            sport: 40000,
            dport: 443,
            seq: 1000,
            ack: 2000,
            flags: ACK,
            window: 512,
            payload,
            ts,
        }
    }

    #[test]
    fn ethernet_v4_and_v6_round_trip() {
        for s in [
            seg("10.0.0.1", "10.0.0.2", Some((7, 9)), 100),
            seg("fd00::1", "fd00::2", None, 0),
        ] {
            assert_eq!(parse(Link::Ethernet, &frame(&s)), Some(s));
        }
    }

    #[test]
    fn other_links_and_a_snapped_payload() {
        let s = seg("10.0.0.1", "10.0.0.2", Some((7, 9)), 1000);
        let f = frame(&s);
        // Raw IP; Linux cooked (16-byte header, protocol at 14).
        assert_eq!(parse(Link::Raw, &f[14..]), Some(s));
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&f[12..]);
        assert_eq!(parse(Link::LinuxSll, &sll), Some(s));
        // Cut to 96 bytes: the payload length still comes from the IP header.
        assert_eq!(
            parse(Link::Ethernet, &f[..96]).map(|s| s.payload),
            Some(1000)
        );
        // Not TCP: UDP protocol number.
        let mut udp = f.clone();
        udp[14 + 9] = 17;
        assert_eq!(parse(Link::Ethernet, &udp), None);
        assert_eq!(Link::from_linktype(276), Some(Link::LinuxSll2));
    }

    /// connmon's flow bytes: link header + IP length (20 IPv4 + 32 TCP with timestamps + 1000
    /// payload; IPv6 40 + 20 TCP), whatever the snap length kept.
    #[test]
    fn wire_sizes_count_the_headers() {
        let s = seg("10.0.0.1", "10.0.0.2", Some((7, 9)), 1000);
        let f = frame(&s);
        assert_eq!(
            parse_sized(Link::Ethernet, &f[..96]),
            Some((s, 14 + 20 + 32 + 1000))
        );
        assert_eq!(
            parse_sized(Link::Raw, &f[14..96]),
            Some((s, 20 + 32 + 1000))
        );
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&f[12..]);
        assert_eq!(
            parse_sized(Link::LinuxSll, &sll).map(|x| x.1),
            Some(16 + 1052)
        );
        let s6 = seg("fd00::1", "fd00::2", None, 0);
        assert_eq!(
            parse_sized(Link::Ethernet, &frame(&s6)),
            Some((s6, 14 + 40 + 20))
        );
        // A VLAN tag is on the wire too.
        let mut tagged = f[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0, 0, 5]);
        tagged.extend_from_slice(&f[12..]);
        assert_eq!(
            parse_sized(Link::Ethernet, &tagged).map(|x| x.1),
            Some(18 + 1052)
        );
        assert_eq!(Link::from_linktype(147), None);
    }
}
