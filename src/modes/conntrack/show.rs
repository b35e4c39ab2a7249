//! `conntrack show`: which entries to list, and each as a row (text under a header, or a JSON
//! object per line) written into one reused buffer as the dump arrives. Numbers and IPv4
//! addresses are written digit by digit, not through `core::fmt`, which cost more than half of
//! the listing's own time at 100k entries.

use std::io::Write as _;
use std::net::IpAddr;

use crate::diag::ctnetlink::entry::{Entry, Tuple, proto_name, tcp_state_name};
use crate::util::prefix::Prefix;
use crate::util::text;

/// What `show` lists.
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

impl CtFilter {
    pub fn matches(&self, e: &Entry) -> bool {
        self.proto.is_none_or(|p| p == e.proto)
            && self.v4_only.is_none_or(|v4| v4 == e.is_v4())
            && self.state.as_deref().is_none_or(|s| {
                s == e.state()
                    || (s == "ASSURED" && e.assured())
                    || (s == "UNREPLIED" && e.unreplied())
            })
            && self.src.is_none_or(|p| p.contains_ip(e.orig.src))
            && self.dst.is_none_or(|p| p.contains_ip(e.orig.dst))
            && self
                .port
                .is_none_or(|p| e.orig.sport == Some(p) || e.orig.dport == Some(p))
    }
}

const WIDTHS: [usize; 6] = [7, 12, 46, 46, 8, 10];

/// The header line of the text listing.
pub fn header(out: &mut Vec<u8>) {
    let names = [
        "PROTO", "STATE", "ORIGINAL", "REPLY", "EXPIRES", "MARK", "ZONE",
    ];
    for (name, w) in names.iter().zip(WIDTHS) {
        let _ = write!(out, "{name:<w$} ");
    }
    let _ = writeln!(out, "{}", names[6]);
}

/// One entry as a text row.
pub fn text_row(e: &Entry, out: &mut Vec<u8>, scratch: &mut Vec<u8>) {
    for (i, w) in WIDTHS.into_iter().enumerate() {
        scratch.clear();
        match i {
            0 => proto(e.proto, scratch),
            1 => scratch.extend_from_slice(e.state().as_bytes()),
            2 => tuple(&e.orig, scratch),
            3 => tuple(&e.reply, scratch),
            4 => opt(e.timeout, scratch),
            _ => opt(e.mark, scratch),
        }
        out.extend_from_slice(scratch);
        out.resize(out.len() + w.saturating_sub(scratch.len()) + 1, b' ');
    }
    // The default zone (0) is not sent by the kernel.
    text::uint(out, u64::from(e.zone.unwrap_or(0)), 1);
    out.push(b'\n');
}

/// One entry as a JSON object on its own line.
pub fn json_row(e: &Entry, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"proto\":\"");
    proto(e.proto, out);
    out.extend_from_slice(b"\",\"state\":\"");
    out.extend_from_slice(e.state().as_bytes());
    out.push(b'"');
    for (dir, t) in [(&b"orig"[..], &e.orig), (b"reply", &e.reply)] {
        key(dir, b"_src\":\"", out);
        text::ip(out, t.src);
        out.push(b'"');
        key(dir, b"_dst\":\"", out);
        text::ip(out, t.dst);
        out.push(b'"');
        key(dir, b"_sport\":", out);
        json_opt(t.sport.map(u32::from), out);
        key(dir, b"_dport\":", out);
        json_opt(t.dport.map(u32::from), out);
    }
    out.extend_from_slice(b",\"expires\":");
    json_opt(e.timeout, out);
    out.extend_from_slice(b",\"mark\":");
    json_opt(e.mark, out);
    out.extend_from_slice(b",\"zone\":");
    text::uint(out, u64::from(e.zone.unwrap_or(0)), 1);
    out.extend_from_slice(if e.assured() {
        b",\"assured\":true}\n"
    } else {
        b",\"assured\":false}\n"
    });
}

fn proto(p: u8, out: &mut Vec<u8>) {
    match proto_name(p) {
        Some(name) => out.extend_from_slice(name.as_bytes()),
        None => text::uint(out, u64::from(p), 1),
    }
}

/// `,"` then `dir` and `rest`: a JSON key of one direction, up to its value.
fn key(dir: &[u8], rest: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(dir);
    out.extend_from_slice(rest);
}

fn opt(v: Option<u32>, out: &mut Vec<u8>) {
    if let Some(v) = v {
        text::uint(out, u64::from(v), 1);
    }
}

fn json_opt(v: Option<u32>, out: &mut Vec<u8>) {
    match v {
        Some(v) => text::uint(out, u64::from(v), 1),
        None => out.extend_from_slice(b"null"),
    }
}

/// `src:sport -> dst:dport` (IPv6 in brackets), or `src -> dst` without ports.
fn tuple(t: &Tuple, out: &mut Vec<u8>) {
    endpoint(t.src, t.sport, out);
    out.extend_from_slice(b" -> ");
    endpoint(t.dst, t.dport, out);
}

fn endpoint(addr: IpAddr, port: Option<u16>, out: &mut Vec<u8>) {
    let v6 = addr.is_ipv6() && port.is_some();
    if v6 {
        out.push(b'[');
    }
    text::ip(out, addr);
    if v6 {
        out.push(b']');
    }
    if let Some(p) = port {
        out.push(b':');
        text::uint(out, u64::from(p), 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::ctnetlink::entry::tests::tcp_entry;

    fn entry() -> Entry {
        let mut e = Entry::default();
        assert!(e.parse(&tcp_entry([10, 0, 0, 1], [10, 0, 0, 2], 40000, 80, 3)));
        e
    }

    #[test]
    fn rows_show_both_directions() {
        let (mut out, mut scratch) = (Vec::new(), Vec::new());
        header(&mut out);
        text_row(&entry(), &mut out, &mut scratch);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("PROTO   STATE        ORIGINAL"),
            "{text}"
        );
        assert!(
            lines[1].starts_with("tcp     ESTABLISHED  10.0.0.1:40000 -> 10.0.0.2:80 "),
            "{text}"
        );
        assert!(lines[1].contains("10.0.0.2:80 -> 10.0.0.1:40000"));
        let mut json = Vec::new();
        json_row(&entry(), &mut json);
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["orig_sport"], 40000);
        assert_eq!(v["reply_src"], "10.0.0.2");
        assert_eq!(v["expires"], 120);
        assert_eq!(v["assured"], true);
    }

    #[test]
    fn endpoints_read_as_display_writes_them() {
        for (addr, port, want) in [
            ("0.0.0.0", Some(0), "0.0.0.0:0"),
            ("255.255.255.255", Some(65535), "255.255.255.255:65535"),
            ("127.40.3.209", None, "127.40.3.209"),
            ("::1", Some(443), "[::1]:443"),
            ("fe80::1:2", None, "fe80::1:2"),
        ] {
            let mut out = Vec::new();
            endpoint(addr.parse().unwrap(), port, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
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
}
