//! Walks the netlink messages of one received datagram (or of a recorded dump) and hands each
//! socket record to a visitor. Pure: no I/O, no allocation; every message is checked.

use netlink_packet_core::{NLM_F_DUMP_INTR, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NetlinkBuffer};
use netlink_packet_sock_diag::constants::SOCK_DIAG_BY_FAMILY;

use super::request::TCPDIAG_GETSOCK;
use super::{DiagError, Record};

const NLMSG_HDRLEN: usize = 16;

/// Where a walk over one datagram left the dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// More datagrams follow.
    More,
    /// NLMSG_DONE was seen: the dump is complete.
    Done,
}

/// Walks every netlink message in `datagram`. Messages whose sequence number is not `seq` are left
/// out (stale answers to an earlier request). `interrupted` is set when a message carries
/// NLM_F_DUMP_INTR: the socket table changed under the dump and the caller may retry it.
pub fn walk(
    datagram: &[u8],
    seq: u32,
    interrupted: &mut bool,
    mut visit: impl FnMut(Record<'_>),
) -> Result<Walk, DiagError> {
    walk_messages(datagram, seq, interrupted, |kind, payload| match kind {
        SOCK_DIAG_BY_FAMILY | TCPDIAG_GETSOCK => {
            let record = Record::new(payload)
                .ok_or(DiagError::Malformed("an inet_diag_msg is cut short"))?;
            visit(record);
            Ok(())
        }
        _ => Err(DiagError::Malformed("an unexpected netlink message type")),
    })
}

/// The netlink framing under [`walk`], for any netlink family (sock_diag, ctnetlink): every data
/// message goes to `visit` as (nlmsg_type, payload); NLMSG_DONE and NLMSG_ERROR end the answer
/// with its status (an acknowledgement, error 0, is a success), NLMSG_NOOP is skipped.
pub fn walk_messages(
    datagram: &[u8],
    seq: u32,
    interrupted: &mut bool,
    mut visit: impl FnMut(u16, &[u8]) -> Result<(), DiagError>,
) -> Result<Walk, DiagError> {
    let mut rest = datagram;
    while !rest.is_empty() {
        if rest.len() < NLMSG_HDRLEN {
            return Err(DiagError::Malformed("a netlink header is cut short"));
        }
        let msg = NetlinkBuffer::new(rest);
        let len = msg.length() as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            return Err(DiagError::Malformed("a netlink message is cut short"));
        }
        let msg = NetlinkBuffer::new(&rest[..len]);
        // Messages are padded to 4 bytes; the last one may not be.
        rest = &rest[((len + 3) & !3).min(rest.len())..];
        if msg.sequence_number() != seq {
            continue;
        }
        if msg.flags() & NLM_F_DUMP_INTR != 0 {
            *interrupted = true;
        }
        let payload = msg.payload();
        match msg.message_type() {
            NLMSG_DONE => {
                // Since Linux 4.x the DONE message carries the dump's final status.
                let code = code_of(payload).unwrap_or(0);
                return status(code);
            }
            NLMSG_ERROR => {
                let code =
                    code_of(payload).ok_or(DiagError::Malformed("an NLMSG_ERROR is cut short"))?;
                // Error 0 is an acknowledgement (asked for with NLM_F_ACK): the answer is complete.
                return status(code);
            }
            NLMSG_NOOP => {}
            kind => visit(kind, payload)?,
        }
    }
    Ok(Walk::More)
}

/// The end of a dump with this status: 0 or more is success, -errno an error. An errno the kernel
/// cannot send (i32::MIN has no positive counterpart) is a malformed answer.
fn status(code: i32) -> Result<Walk, DiagError> {
    match code {
        0.. => Ok(Walk::Done),
        i32::MIN => Err(DiagError::Malformed("an error code out of range")),
        _ => Err(DiagError::Kernel(-code)),
    }
}

fn code_of(payload: &[u8]) -> Option<i32> {
    Some(i32::from_ne_bytes(payload.get(..4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let len = NLMSG_HDRLEN + payload.len();
        let mut m = Vec::new();
        m.extend_from_slice(&(len as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&flags.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(payload);
        while m.len() % 4 != 0 {
            m.push(0);
        }
        m
    }

    fn record(state: u8, port: u16) -> [u8; 72] {
        super::super::raw_record(state, port, std::net::Ipv4Addr::UNSPECIFIED, 0)
    }

    fn ports(datagram: &[u8], seq: u32) -> (Result<Walk, DiagError>, Vec<u16>, bool) {
        let mut seen = Vec::new();
        let mut intr = false;
        let r = walk(datagram, seq, &mut intr, |rec| seen.push(rec.src_port()));
        (r, seen, intr)
    }

    #[test]
    fn visits_records_until_done() {
        let mut d = message(SOCK_DIAG_BY_FAMILY, 2, 9, &record(1, 40000));
        d.extend(message(SOCK_DIAG_BY_FAMILY, 2, 9, &record(6, 40001)));
        let (r, seen, intr) = ports(&d, 9);
        assert_eq!(r.unwrap(), Walk::More);
        assert_eq!(seen, [40000, 40001]);
        assert!(!intr);
        d.extend(message(NLMSG_DONE, 2, 9, &0i32.to_ne_bytes()));
        assert_eq!(ports(&d, 9).0.unwrap(), Walk::Done);
    }

    #[test]
    fn stale_sequence_numbers_are_left_out() {
        let mut d = message(SOCK_DIAG_BY_FAMILY, 2, 8, &record(1, 1));
        d.extend(message(SOCK_DIAG_BY_FAMILY, 2, 9, &record(1, 2)));
        assert_eq!(ports(&d, 9).1, [2]);
    }

    #[test]
    fn done_with_a_negative_code_is_an_error() {
        let d = message(NLMSG_DONE, 2, 1, &(-libc::ENOENT).to_ne_bytes());
        match ports(&d, 1).0 {
            Err(DiagError::Kernel(e)) => assert_eq!(e, libc::ENOENT),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn nlmsg_error_is_an_error() {
        let mut p = (-libc::EINVAL).to_ne_bytes().to_vec();
        p.extend_from_slice(&[0u8; 16]);
        let d = message(NLMSG_ERROR, 0, 1, &p);
        assert!(matches!(ports(&d, 1).0, Err(DiagError::Kernel(e)) if e == libc::EINVAL));
    }

    /// Found by `make fuzz` (the walk target): negating i32::MIN overflowed.
    #[test]
    fn an_error_code_without_an_errno_is_malformed() {
        for kind in [NLMSG_ERROR, NLMSG_DONE] {
            let d = message(kind, 0, 1, &[i32::MIN.to_ne_bytes(), [0; 4]].concat());
            assert!(
                matches!(ports(&d, 1).0, Err(DiagError::Malformed(_))),
                "{kind}"
            );
        }
    }

    #[test]
    fn dump_intr_is_reported() {
        let d = message(SOCK_DIAG_BY_FAMILY, 2 | NLM_F_DUMP_INTR, 1, &record(1, 1));
        assert!(ports(&d, 1).2);
    }

    #[test]
    fn truncation_is_an_error() {
        let d = message(SOCK_DIAG_BY_FAMILY, 2, 1, &record(1, 1));
        assert!(matches!(
            ports(&d[..d.len() - 4], 1).0,
            Err(DiagError::Malformed(_))
        ));
        assert!(matches!(ports(&d[..10], 1).0, Err(DiagError::Malformed(_))));
        let short = message(SOCK_DIAG_BY_FAMILY, 2, 1, &[0u8; 40]);
        assert!(matches!(ports(&short, 1).0, Err(DiagError::Malformed(_))));
    }
}
