//! Netlink attributes (struct nlattr / rtattr: u16 length, u16 type, payload padded to 4 bytes),
//! walked in place: no allocation. A malformed attribute ends the walk.

/// The type bits of `nla_type` (without NLA_F_NESTED and NLA_F_NET_BYTEORDER).
const TYPE_MASK: u16 = 0x3fff;

/// Every attribute in `bytes` as (type, payload), in order.
pub fn attrs(bytes: &[u8]) -> Attrs<'_> {
    Attrs { rest: bytes }
}

/// The payload of the first attribute of type `kind` in `bytes`.
pub fn find(bytes: &[u8], kind: u16) -> Option<&[u8]> {
    attrs(bytes).find(|&(t, _)| t == kind).map(|(_, p)| p)
}

/// See [`attrs`].
#[derive(Clone)]
pub struct Attrs<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Attrs<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest;
        if rest.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        let kind = u16::from_ne_bytes([rest[2], rest[3]]) & TYPE_MASK;
        if len < 4 || len > rest.len() {
            self.rest = &[];
            return None;
        }
        self.rest = &rest[((len + 3) & !3).min(rest.len())..];
        Some((kind, &rest[4..len]))
    }
}

/// A big-endian u8/u16/u32/u64 attribute payload (ctnetlink sends its numbers in network order).
pub fn be(payload: &[u8]) -> Option<u64> {
    match payload.len() {
        1 => Some(payload[0].into()),
        2 => Some(u16::from_be_bytes(payload.try_into().ok()?).into()),
        4 => Some(u32::from_be_bytes(payload.try_into().ok()?).into()),
        8 => Some(u64::from_be_bytes(payload.try_into().ok()?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_nested_and_padded_attributes() {
        let mut b = Vec::new();
        b.extend_from_slice(&5u16.to_ne_bytes());
        b.extend_from_slice(&(0x8000u16 | 3).to_ne_bytes());
        b.extend_from_slice(&[9, 0, 0, 0]);
        b.extend_from_slice(&8u16.to_ne_bytes());
        b.extend_from_slice(&7u16.to_ne_bytes());
        b.extend_from_slice(&300u32.to_be_bytes());
        let all: Vec<_> = attrs(&b).collect();
        assert_eq!(all, [(3, &[9u8][..]), (7, &300u32.to_be_bytes()[..])]);
        assert_eq!(find(&b, 7).and_then(be), Some(300));
        b[8] = 200; // the second length runs past the end
        assert_eq!(attrs(&b).count(), 1);
    }
}
