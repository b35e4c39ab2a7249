//! Dump requests, built once with netlink-packet-sock-diag's types and re-sent every sample with
//! a fresh sequence number patched in place.

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_sock_diag::{
    SockDiagMessage,
    constants::{AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP},
    inet::{ExtensionFlags, InetRequest, SocketId, StateFlags},
};

use super::{Family, Protocol, tcp_state};

/// Byte range of nlmsg_seq inside the netlink header.
const SEQ: std::ops::Range<usize> = 8..12;
const NLMSG_HDRLEN: usize = 16;
/// sizeof(struct inet_diag_req).
const INET_DIAG_REQ_LEN: usize = 60;
/// nlmsg_type of the older TCP dump request; its answers carry the same type.
pub const TCPDIAG_GETSOCK: u16 = 18;

/// Every state bit, including NEW_SYN_RECV (12) and BOUND_INACTIVE (13) which `StateFlags` does
/// not name.
fn all_states() -> StateFlags {
    StateFlags::from_bits_retain((1u32 << tcp_state::COUNT) - 2)
}

/// The serialized bytes of one SOCK_DIAG_BY_FAMILY dump request.
pub struct Request {
    bytes: Vec<u8>,
}

impl Request {
    /// The dump request for `family` and `protocol`; `None` for a UDP dump of both families at
    /// once, which the kernel has no request for.
    pub fn new(family: Family, protocol: Protocol) -> Option<Self> {
        let (af, socket_id) = match (family, protocol) {
            (Family::V4, _) => (AF_INET, SocketId::new_v4()),
            (Family::V6, _) => (AF_INET6, SocketId::new_v6()),
            (Family::Both, Protocol::Tcp) => return Some(Self::tcp_both_families()),
            (Family::Both, Protocol::Udp) => return None,
        };
        let proto = match protocol {
            Protocol::Tcp => IPPROTO_TCP,
            Protocol::Udp => IPPROTO_UDP,
        };
        let request = InetRequest {
            family: af,
            protocol: proto,
            extensions: ExtensionFlags::empty(),
            states: all_states(),
            socket_id,
        };
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        let mut message = NetlinkMessage::new(
            header,
            NetlinkPayload::InnerMessage(SockDiagMessage::InetRequest(request)),
        );
        message.finalize();
        let mut bytes = vec![0; message.buffer_len()];
        message.serialize(&mut bytes);
        Some(Request { bytes })
    }

    /// The older TCPDIAG_GETSOCK dump request (`struct inet_diag_req`, linux/inet_diag.h), which
    /// the kernel runs with AF_UNSPEC: TCP over IPv4 and IPv6 in one walk of the hash tables.
    /// netlink-packet-sock-diag models only the v2 request, so these 76 bytes are laid out here.
    pub fn tcp_both_families() -> Self {
        const LEN: usize = NLMSG_HDRLEN + INET_DIAG_REQ_LEN;
        let mut bytes = vec![0u8; LEN];
        bytes[0..4].copy_from_slice(&(LEN as u32).to_ne_bytes());
        bytes[4..6].copy_from_slice(&TCPDIAG_GETSOCK.to_ne_bytes());
        bytes[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        // inet_diag_req: family, src_len, dst_len, ext (all 0: AF_UNSPEC, no extensions), the
        // 48-byte socket id (zero: any), then the state mask and dbs.
        let states = NLMSG_HDRLEN + 4 + 48;
        bytes[states..states + 4].copy_from_slice(&all_states().bits().to_ne_bytes());
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
        let mut r = Request::tcp_both_families();
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
        assert!(Request::new(Family::Both, Protocol::Udp).is_none());
        let mut r = Request::new(Family::V6, Protocol::Udp).unwrap();
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
}
