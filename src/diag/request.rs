//! Dump requests, built once per query and re-sent every sample with a fresh sequence number
//! patched in place. A [`Query`] says what every dump asks the kernel for: which states, which
//! extensions (tcp_info…), and an optional bytecode filter the kernel runs on each socket.

use netlink_packet_core::{NLM_F_DUMP, NLM_F_REQUEST};
use netlink_packet_sock_diag::constants::{
    AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP, SOCK_DIAG_BY_FAMILY,
};

use super::{Family, Protocol, tcp_state};

/// Byte range of nlmsg_seq inside the netlink header.
const SEQ: std::ops::Range<usize> = 8..12;
const NLMSG_HDRLEN: usize = 16;
/// sizeof(struct inet_diag_req).
const INET_DIAG_REQ_LEN: usize = 60;
/// sizeof(struct inet_diag_req_v2).
const INET_DIAG_REQ_V2_LEN: usize = 56;
/// The request attribute that carries a bytecode filter.
const INET_DIAG_REQ_BYTECODE: u16 = 1;
/// nlmsg_type of the older TCP dump request; its answers carry the same type.
pub const TCPDIAG_GETSOCK: u16 = 18;

/// Extension bits of `idiag_ext`: bit (attribute type − 1).
pub mod ext {
    pub const INFO: u8 = 1 << 1;
    pub const CONG: u8 = 1 << 3;
    pub const SKMEMINFO: u8 = 1 << 6;
}

/// Attribute types of the answers (linux/inet_diag.h).
pub mod attr {
    pub const INFO: u16 = 2;
    pub const CONG: u16 = 4;
    pub const SKMEMINFO: u16 = 7;
    pub const CGROUP_ID: u16 = 21;
}

/// What each dump asks for. The default is every state, no extensions, no filter: what a sample
/// needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Bit n set: sockets in state n.
    pub states: u32,
    /// [`ext`] bits.
    pub extensions: u8,
    /// inet_diag bytecode (see [`super::bytecode`]); empty: no filter.
    pub bytecode: Vec<u8>,
    /// Exact local and remote ports in the request's socket id (0: any): the kernel compares
    /// them before anything else, the cheapest filter it has.
    pub sport: u16,
    pub dport: u16,
}

impl Query {
    /// Every state bit, including NEW_SYN_RECV (12) and BOUND_INACTIVE (13).
    pub const ALL_STATES: u32 = (1u32 << tcp_state::COUNT) - 2;
}

impl Default for Query {
    fn default() -> Self {
        Query {
            states: Query::ALL_STATES,
            extensions: 0,
            bytecode: Vec::new(),
            sport: 0,
            dport: 0,
        }
    }
}

/// The serialized bytes of one dump request.
pub struct Request {
    bytes: Vec<u8>,
}

impl Request {
    /// The dump request for `family` and `protocol`; `None` for a UDP dump of both families at
    /// once, which the kernel has no request for.
    pub fn new(family: Family, protocol: Protocol, query: &Query) -> Option<Self> {
        let af = match (family, protocol) {
            (Family::V4, _) => AF_INET,
            (Family::V6, _) => AF_INET6,
            (Family::Both, Protocol::Tcp) => return Some(Self::tcp_both_families(query)),
            (Family::Both, Protocol::Udp) => return None,
        };
        let proto = match protocol {
            Protocol::Tcp => IPPROTO_TCP,
            Protocol::Udp => IPPROTO_UDP,
        };
        // inet_diag_req_v2: family, protocol, ext, pad, states, then the 48-byte socket id
        // (zero: any socket).
        let mut fixed = [0u8; INET_DIAG_REQ_V2_LEN];
        fixed[0] = af;
        fixed[1] = proto;
        fixed[2] = query.extensions;
        fixed[4..8].copy_from_slice(&query.states.to_ne_bytes());
        // The socket id starts at 8: source and destination port, big-endian.
        fixed[8..10].copy_from_slice(&query.sport.to_be_bytes());
        fixed[10..12].copy_from_slice(&query.dport.to_be_bytes());
        Some(Self::message(SOCK_DIAG_BY_FAMILY, &fixed, &query.bytecode))
    }

    /// The older TCPDIAG_GETSOCK dump request (`struct inet_diag_req`, linux/inet_diag.h), which
    /// the kernel runs with AF_UNSPEC: TCP over IPv4 and IPv6 in one walk of the hash tables.
    pub fn tcp_both_families(query: &Query) -> Self {
        // inet_diag_req: family (AF_UNSPEC), src_len, dst_len, ext, the 48-byte socket id (any),
        // then the state mask and dbs.
        let mut fixed = [0u8; INET_DIAG_REQ_LEN];
        fixed[3] = query.extensions;
        // The socket id starts at 4: source and destination port, big-endian.
        fixed[4..6].copy_from_slice(&query.sport.to_be_bytes());
        fixed[6..8].copy_from_slice(&query.dport.to_be_bytes());
        fixed[52..56].copy_from_slice(&query.states.to_ne_bytes());
        Self::message(TCPDIAG_GETSOCK, &fixed, &query.bytecode)
    }

    /// nlmsghdr + the fixed request + the bytecode attribute when there is a filter.
    fn message(kind: u16, fixed: &[u8], bytecode: &[u8]) -> Self {
        let attr_len = if bytecode.is_empty() {
            0
        } else {
            4 + bytecode.len()
        };
        let len = NLMSG_HDRLEN + fixed.len() + attr_len;
        let mut bytes = Vec::with_capacity(len);
        bytes.extend_from_slice(&(len as u32).to_ne_bytes());
        bytes.extend_from_slice(&kind.to_ne_bytes());
        bytes.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        bytes.extend_from_slice(&[0; 8]); // seq, pid
        bytes.extend_from_slice(fixed);
        if attr_len > 0 {
            bytes.extend_from_slice(&(attr_len as u16).to_ne_bytes());
            bytes.extend_from_slice(&INET_DIAG_REQ_BYTECODE.to_ne_bytes());
            bytes.extend_from_slice(bytecode);
        }
        Request { bytes }
    }

    /// The request with `seq` written into its header.
    pub fn with_seq(&mut self, seq: u32) -> &[u8] {
        self.bytes[SEQ].copy_from_slice(&seq.to_ne_bytes());
        &self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_both_families_is_a_legacy_inet_diag_req() {
        let mut r = Request::tcp_both_families(&Query::default());
        let b = r.with_seq(9).to_vec();
        assert_eq!(b.len(), 76);
        assert_eq!(u32::from_ne_bytes(b[0..4].try_into().unwrap()), 76);
        assert_eq!(
            u16::from_ne_bytes(b[4..6].try_into().unwrap()),
            TCPDIAG_GETSOCK
        );
        assert_eq!(u16::from_ne_bytes(b[6..8].try_into().unwrap()), 0x301);
        assert_eq!(u32::from_ne_bytes(b[8..12].try_into().unwrap()), 9);
        assert_eq!(b[16], 0, "AF_UNSPEC");
        assert_eq!(&b[17..68], &[0u8; 51][..], "no extensions, any socket");
        let states = u32::from_ne_bytes(b[68..72].try_into().unwrap());
        assert_eq!(states, 0b11_1111_1111_1110, "states 1..=13");
        assert_eq!(&b[72..76], &[0u8; 4], "dbs");
    }

    #[test]
    fn request_is_an_inet_diag_req_v2_for_every_state() {
        assert!(Request::new(Family::Both, Protocol::Udp, &Query::default()).is_none());
        let mut r = Request::new(Family::V6, Protocol::Udp, &Query::default()).unwrap();
        let b = r.with_seq(7).to_vec();
        // nlmsghdr (16) + inet_diag_req_v2 (56)
        assert_eq!(b.len(), 72);
        assert_eq!(u32::from_ne_bytes(b[0..4].try_into().unwrap()), 72);
        assert_eq!(u16::from_ne_bytes(b[4..6].try_into().unwrap()), 20); // SOCK_DIAG_BY_FAMILY
        assert_eq!(u16::from_ne_bytes(b[6..8].try_into().unwrap()), 0x301); // REQUEST|DUMP
        assert_eq!(u32::from_ne_bytes(b[8..12].try_into().unwrap()), 7);
        assert_eq!(b[16], AF_INET6);
        assert_eq!(b[17], IPPROTO_UDP);
        assert_eq!(b[18], 0, "no extensions");
        let states = u32::from_ne_bytes(b[20..24].try_into().unwrap());
        assert_eq!(states, 0b11_1111_1111_1110, "states 1..=13");
    }

    #[test]
    fn a_query_sets_states_extensions_and_a_bytecode_attribute() {
        let query = Query {
            states: 1 << tcp_state::ESTABLISHED,
            extensions: ext::INFO | ext::CONG,
            bytecode: vec![1, 2, 3, 4, 5, 6, 7, 8],
            sport: 0,
            dport: 443,
        };
        let b = Request::new(Family::V4, Protocol::Tcp, &query)
            .unwrap()
            .with_seq(1)
            .to_vec();
        assert_eq!(b.len(), 16 + 56 + 4 + 8);
        assert_eq!(
            u32::from_ne_bytes(b[0..4].try_into().unwrap()) as usize,
            b.len()
        );
        assert_eq!(b[18], ext::INFO | ext::CONG);
        assert_eq!(u32::from_ne_bytes(b[20..24].try_into().unwrap()), 2);
        assert_eq!(
            u16::from_ne_bytes(b[72..74].try_into().unwrap()),
            12,
            "rta_len"
        );
        assert_eq!(
            u16::from_ne_bytes(b[74..76].try_into().unwrap()),
            1,
            "BYTECODE"
        );
        assert_eq!(&b[76..], &[1, 2, 3, 4, 5, 6, 7, 8]);
        let both = Request::tcp_both_families(&query).with_seq(1).to_vec();
        assert_eq!(both.len(), 16 + 60 + 12);
        assert_eq!(both[19], ext::INFO | ext::CONG);
        assert_eq!(u32::from_ne_bytes(both[68..72].try_into().unwrap()), 2);
        assert_eq!(&both[22..24], &443u16.to_be_bytes(), "idiag_dport");
        assert_eq!(&b[26..28], &443u16.to_be_bytes(), "idiag_dport");
    }
}
