//! An address prefix as users type it (`10.0.0.0/8`, `::1`), for the filters of `conns` and
//! `conntrack`.

use std::net::{IpAddr, Ipv6Addr};

/// An address prefix (`10.0.0.0/8`, `::1`). An IPv4 prefix also matches IPv4-mapped IPv6
/// addresses; an IPv6 prefix never matches an IPv4 socket (the kernel's bytecode rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    pub addr: IpAddr,
    pub len: u8,
}

impl Prefix {
    pub fn parse(s: &str) -> Result<Prefix, String> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("'{s}' is not an address or ADDRESS/PREFIX"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|&l| l <= max)
                .ok_or_else(|| format!("'{s}': the prefix length must be 0 to {max}"))?,
        };
        Ok(Prefix { addr, len })
    }

    /// True when the address bytes of a record (4 or 16) fall inside.
    pub fn contains(&self, bytes: &[u8]) -> bool {
        match (self.addr, bytes.len()) {
            (IpAddr::V4(p), 4) => bits_match(&p.octets(), bytes, self.len),
            (IpAddr::V4(p), 16) => {
                let a = Ipv6Addr::from(<[u8; 16]>::try_from(bytes).unwrap());
                a.to_ipv4_mapped()
                    .is_some_and(|m| bits_match(&p.octets(), &m.octets(), self.len))
            }
            (IpAddr::V6(p), 16) => bits_match(&p.octets(), bytes, self.len),
            _ => false,
        }
    }

    /// True when `addr` falls inside.
    pub fn contains_ip(&self, addr: std::net::IpAddr) -> bool {
        match addr {
            IpAddr::V4(a) => self.contains(&a.octets()),
            IpAddr::V6(a) => self.contains(&a.octets()),
        }
    }
}

fn bits_match(want: &[u8], have: &[u8], len: u8) -> bool {
    let (bytes, bits) = (len as usize / 8, len % 8);
    want[..bytes] == have[..bytes]
        && (bits == 0 || (want[bytes] ^ have[bytes]) & (0xffu8 << (8 - bits)) == 0)
}
