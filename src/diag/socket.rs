//! One netlink socket and one receive buffer, both kept for the whole run, and the dump loop: send
//! a request, receive datagrams until NLMSG_DONE, walk each in place. [`Channel`] is that loop for
//! any netlink family (ctnetlink uses it too); [`DiagSocket`] is the sock_diag one with its
//! prepared requests.

use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_SOCK_DIAG};

use super::request::{Query, Request};
use super::{DiagError, Dump, Family, Protocol, Record, Walk, walk};

/// The receive buffer. The kernel sizes dump datagrams to at most 32 KiB; twice that leaves room.
const RECV_BUF: usize = 64 * 1024;
/// Socket receive queue, so the kernel can run ahead of us while we fold.
const SO_RCVBUF: usize = 1024 * 1024;

/// How a complete dump ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DumpEnd {
    /// The kernel flagged the dump NLM_F_DUMP_INTR: the table changed while it was read.
    pub interrupted: bool,
}

/// A netlink socket connected to the kernel, with one reusable receive buffer.
pub struct Channel {
    socket: Socket,
    buf: Vec<u8>,
    seq: u32,
}

impl Channel {
    /// Opens and connects a socket of netlink `protocol` (NETLINK_SOCK_DIAG, NETLINK_NETFILTER…).
    pub fn open(protocol: isize) -> Result<Self, DiagError> {
        let mut socket = Socket::new(protocol)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        // Best effort: a smaller queue only means more round trips.
        let _ = socket.set_rx_buf_sz(SO_RCVBUF);
        Ok(Channel {
            socket,
            buf: Vec::with_capacity(RECV_BUF),
            seq: 0,
        })
    }

    /// A fresh sequence number for the next request.
    pub fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Sends `request` (whose header already carries `seq`) and hands every datagram of the
    /// answer to `each` until it says the answer is complete.
    pub fn exchange(
        &mut self,
        request: &[u8],
        seq: u32,
        mut each: impl FnMut(&[u8], u32, &mut bool) -> Result<Walk, DiagError>,
    ) -> Result<DumpEnd, DiagError> {
        // A stop signal (handled without SA_RESTART) interrupts a system call: carry on, the run
        // loop ends the run once this sample is complete.
        while let Err(e) = self.socket.send(request, 0) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e.into());
            }
        }
        let mut interrupted = false;
        loop {
            self.buf.clear();
            let len = match self.socket.recv(&mut self.buf, libc::MSG_TRUNC) {
                Ok(len) => len,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if len > self.buf.len() {
                return Err(DiagError::Truncated {
                    len,
                    capacity: self.buf.capacity(),
                });
            }
            if each(&self.buf, seq, &mut interrupted)? == Walk::Done {
                return Ok(DumpEnd { interrupted });
            }
        }
    }
}

/// A sock_diag socket with its prepared requests.
pub struct DiagSocket {
    channel: Channel,
    /// Indexed by [protocol][family]; `None` where the kernel has no such dump.
    requests: [[Option<Request>; 3]; 2],
}

impl DiagSocket {
    /// Opens and connects the socket to the kernel. Needs no privilege.
    pub fn open() -> Result<Self, DiagError> {
        Ok(DiagSocket {
            channel: Channel::open(NETLINK_SOCK_DIAG)?,
            requests: requests(&Query::default()),
        })
    }

    /// The dump loop, datagram by datagram: `each` gets the raw bytes of every datagram (a
    /// recorder keeps them; [`DiagSocket::dump`] walks them) and says when NLMSG_DONE was seen.
    pub fn dump_datagrams(
        &mut self,
        family: Family,
        protocol: Protocol,
        each: impl FnMut(&[u8], u32, &mut bool) -> Result<Walk, DiagError>,
    ) -> Result<DumpEnd, DiagError> {
        let seq = self.channel.next_seq();
        let Some(request) = self.requests[protocol as usize][family as usize].as_mut() else {
            return Err(DiagError::Kernel(libc::EINVAL));
        };
        self.channel.exchange(request.with_seq(seq), seq, each)
    }
}

/// Every dump request for `query`, indexed by [protocol][family].
fn requests(query: &Query) -> [[Option<Request>; 3]; 2] {
    let req = |p| Family::ALL.map(|f| Request::new(f, p, query));
    [req(Protocol::Tcp), req(Protocol::Udp)]
}

impl Dump for DiagSocket {
    fn set_query(&mut self, query: &Query) {
        self.requests = requests(query);
    }

    fn dump(
        &mut self,
        family: Family,
        protocol: Protocol,
        mut visit: impl FnMut(Record<'_>),
    ) -> Result<DumpEnd, DiagError> {
        self.dump_datagrams(family, protocol, |datagram, seq, interrupted| {
            walk(datagram, seq, interrupted, &mut visit)
        })
    }
}
