//! The conntrack table's events: a NETLINK_NETFILTER socket subscribed to the ctnetlink
//! multicast groups (NFNLGRP_CONNTRACK_NEW, _UPDATE, _DESTROY), read without blocking whenever it
//! polls readable. Each message is parsed in place into one reused [`Entry`], as the dump does.
//!
//! When the socket's receive queue overflows the kernel drops events and says so once, with
//! ENOBUFS on the next read (until the queue drains): that is counted as an overrun and reading
//! goes on. How many events were dropped is the socket's drop counter (SO_MEMINFO).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use netlink_sys::Socket;

use super::entry::Entry;
use super::{MSG_DELETE, NETLINK_NETFILTER, SUBSYS_CTNETLINK};
use crate::diag::DiagError;

/// IPCTNL_MSG_CT_NEW: a new entry (with NLM_F_CREATE) or a changed one (without).
const MSG_NEW: u16 = 0;
const NLM_F_CREATE: u16 = 0x400;
const NLMSG_HDRLEN: usize = 16;
/// sizeof(struct nfgenmsg).
const NFGENMSG: usize = 4;
/// The receive buffer: an event is one message in one datagram, far below this.
const RECV_BUF: usize = 64 * 1024;
/// SO_MEMINFO and the index of SK_MEMINFO_DROPS in its answer (linux/sock_diag.h).
const SO_MEMINFO: libc::c_int = 55;
const SK_MEMINFO_DROPS: usize = 8;
const SK_MEMINFO_VARS: usize = 9;

/// What happened to an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventKind {
    New,
    Update,
    Destroy,
}

impl EventKind {
    pub const ALL: [EventKind; 3] = [EventKind::New, EventKind::Update, EventKind::Destroy];

    /// As `conntrack -E` names it.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::New => "NEW",
            EventKind::Update => "UPDATE",
            EventKind::Destroy => "DESTROY",
        }
    }

    /// The multicast group (NFNLGRP_CONNTRACK_*) that carries it.
    fn group(self) -> u32 {
        self as u32 + 1
    }
}

/// What one read of the socket brought.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Batch {
    /// Events handed to the visitor.
    pub events: u64,
    /// ENOBUFS seen: the queue overflowed and events were dropped.
    pub overruns: u64,
}

/// A socket subscribed to the table's events.
pub struct EventSocket {
    socket: Socket,
    buf: Vec<u8>,
    entry: Entry,
}

impl EventSocket {
    /// Subscribes to `kinds`. `rcvbuf`: the receive queue's size in bytes (SO_RCVBUFFORCE, which
    /// root may set past rmem_max, else SO_RCVBUF), or the system's default.
    pub fn open(kinds: &[EventKind], rcvbuf: Option<usize>) -> Result<Self, DiagError> {
        let mut socket = Socket::new(NETLINK_NETFILTER)?;
        // A port id of our own: the kernel sends an event caused by a request to every member
        // but the requester, and an unbound socket would share the kernel's port id 0.
        socket.bind_auto()?;
        socket.set_non_blocking(true)?;
        if let Some(size) = rcvbuf {
            let size = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
            if setsockopt_int(&socket, libc::SO_RCVBUFFORCE, size).is_err() {
                setsockopt_int(&socket, libc::SO_RCVBUF, size)?;
            }
        }
        for kind in kinds {
            // The kernel checks CAP_NET_ADMIN here: EPERM without it.
            socket
                .add_membership(kind.group())
                .map_err(|e| match e.raw_os_error() {
                    Some(errno) => DiagError::Kernel(errno),
                    None => DiagError::Io(e),
                })?;
        }
        Ok(EventSocket {
            socket,
            buf: Vec::with_capacity(RECV_BUF),
            entry: Entry::default(),
        })
    }

    /// The socket's receive queue size as the kernel keeps it (twice what was asked).
    pub fn rcvbuf(&self) -> Option<usize> {
        self.socket.get_rx_buf_sz().ok()
    }

    /// Events the kernel dropped because the queue was full, since the socket was opened;
    /// `None` if the kernel does not say (SO_MEMINFO, Linux 4.12).
    pub fn dropped(&self) -> Option<u64> {
        let mut info = [0u32; SK_MEMINFO_VARS];
        let mut len = std::mem::size_of_val(&info) as libc::socklen_t;
        // SAFETY: `info` is writable for `len` bytes, and the kernel writes at most that.
        let rc = unsafe {
            libc::getsockopt(
                self.socket.as_raw_fd(),
                libc::SOL_SOCKET,
                SO_MEMINFO,
                info.as_mut_ptr().cast(),
                &mut len,
            )
        };
        (rc == 0 && len as usize > SK_MEMINFO_DROPS * 4).then(|| u64::from(info[SK_MEMINFO_DROPS]))
    }

    /// Reads every datagram waiting, without blocking; each event goes to `visit`. An
    /// interrupted read ends the batch (the caller looks at the stop signal and polls again).
    pub fn read(&mut self, mut visit: impl FnMut(EventKind, &Entry)) -> Result<Batch, DiagError> {
        let mut batch = Batch::default();
        loop {
            self.buf.clear();
            let len = match self.socket.recv(&mut self.buf, libc::MSG_TRUNC) {
                Ok(len) => len,
                Err(e) => match e.raw_os_error() {
                    Some(libc::EAGAIN | libc::EINTR) => return Ok(batch),
                    Some(libc::ENOBUFS) => {
                        batch.overruns += 1;
                        continue;
                    }
                    _ => return Err(e.into()),
                },
            };
            if len > self.buf.len() {
                return Err(DiagError::Truncated {
                    len,
                    capacity: self.buf.capacity(),
                });
            }
            let EventSocket { buf, entry, .. } = self;
            batch.events += messages(buf, entry, &mut visit)?;
        }
    }
}

impl AsFd for EventSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor lives as long as the socket, which outlives the borrow.
        unsafe { BorrowedFd::borrow_raw(self.socket.as_raw_fd()) }
    }
}

fn setsockopt_int(socket: &Socket, option: libc::c_int, value: libc::c_int) -> std::io::Result<()> {
    // SAFETY: the value is a c_int of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Walks the netlink messages of one datagram: every ctnetlink event is parsed into `entry` and
/// handed to `visit` with its kind (NEW when the kernel created the entry, NLM_F_CREATE; UPDATE
/// otherwise; DESTROY for a deletion), as conntrack(8) tells them apart. Other messages are left
/// out. Returns how many events were visited.
pub fn messages(
    datagram: &[u8],
    entry: &mut Entry,
    mut visit: impl FnMut(EventKind, &Entry),
) -> Result<u64, DiagError> {
    let (mut rest, mut seen) = (datagram, 0);
    while rest.len() >= NLMSG_HDRLEN {
        let len = u32::from_ne_bytes(rest[..4].try_into().unwrap()) as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            return Err(DiagError::Malformed("a netlink message is cut short"));
        }
        let kind = u16::from_ne_bytes([rest[4], rest[5]]);
        let flags = u16::from_ne_bytes([rest[6], rest[7]]);
        let payload = &rest[NLMSG_HDRLEN..len];
        rest = &rest[len.next_multiple_of(4).min(rest.len())..];
        let event = match kind {
            k if k == SUBSYS_CTNETLINK | MSG_NEW && flags & NLM_F_CREATE != 0 => EventKind::New,
            k if k == SUBSYS_CTNETLINK | MSG_NEW => EventKind::Update,
            k if k == SUBSYS_CTNETLINK | MSG_DELETE => EventKind::Destroy,
            _ => continue,
        };
        let Some(attrs) = payload.get(NFGENMSG..) else {
            return Err(DiagError::Malformed("an nfgenmsg is cut short"));
        };
        if !entry.parse(attrs) {
            return Err(DiagError::Malformed("a conntrack event without its tuples"));
        }
        visit(event, entry);
        seen += 1;
    }
    if !rest.is_empty() {
        return Err(DiagError::Malformed("a netlink header is cut short"));
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::ctnetlink::entry::tests::tcp_entry;

    fn message(kind: u16, flags: u16, attrs: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((NLMSG_HDRLEN + NFGENMSG + attrs.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&flags.to_ne_bytes());
        m.extend_from_slice(&[0; 8]);
        m.extend_from_slice(&[libc::AF_INET as u8, 0, 0, 0]);
        m.extend_from_slice(attrs);
        m
    }

    #[test]
    fn tells_new_update_and_destroy_apart_as_conntrack_does() {
        let attrs = tcp_entry([10, 0, 0, 1], [10, 0, 0, 2], 40000, 80, 3);
        let ct = |m| SUBSYS_CTNETLINK | m;
        let mut d = message(ct(MSG_NEW), NLM_F_CREATE | 0x200, &attrs);
        d.extend(message(ct(MSG_NEW), 0, &attrs));
        d.extend(message(ct(MSG_DELETE), 0, &attrs));
        // An expectation event (another subsystem) is not a conntrack event.
        d.extend(message(2 << 8, NLM_F_CREATE, &attrs));
        let mut seen = Vec::new();
        let mut entry = Entry::default();
        let n = messages(&d, &mut entry, |k, e| seen.push((k, e.orig.sport))).unwrap();
        assert_eq!(n, 3);
        let port = Some(40000);
        assert_eq!(
            seen,
            [
                (EventKind::New, port),
                (EventKind::Update, port),
                (EventKind::Destroy, port)
            ]
        );
        assert!(messages(&d[..d.len() - 3], &mut entry, |_, _| {}).is_err());
        let empty = message(ct(MSG_NEW), NLM_F_CREATE, &[]);
        assert!(messages(&empty, &mut entry, |_, _| {}).is_err());
    }
}
