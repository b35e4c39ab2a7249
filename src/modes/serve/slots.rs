//! The connection slots: the connections being served, oldest first, each reading its request
//! head, answering, or closed to make room, and the count of their threads. A newcomer takes a free
//! slot, or that of the oldest connection still reading with nothing unread (see the module header
//! of `serve`).

use std::collections::VecDeque;
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::MAX_CONNECTIONS;

/// Connection threads alive at once, those of closed idle connections still ending included.
const MAX_THREADS: usize = 4 * MAX_CONNECTIONS;

/// Where a connection is: reading its request head (it may be closed to make room), answering,
/// or closed to make room (its thread ends without a word).
const READING: u8 = 0;
const ANSWERING: u8 = 1;
const CLOSED: u8 = 2;

/// One connection as the accept loop sees it.
pub(super) struct Conn {
    phase: AtomicU8,
    /// The connection's socket (a second descriptor), to close it from the accept loop.
    stream: TcpStream,
}

impl Conn {
    /// Moves it from reading to answering; false when it was closed to make room.
    pub(super) fn answer(&self) -> bool {
        self.phase
            .compare_exchange(READING, ANSWERING, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// Closes it if it is still reading its request; true if so.
    fn close_if_reading(&self) -> bool {
        let closed = self
            .phase
            .compare_exchange(READING, CLOSED, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        if closed {
            // Its thread's read returns at once, and the thread ends.
            let _ = self.stream.shutdown(Shutdown::Both);
        }
        closed
    }

    /// Request bytes have arrived that its thread has not read yet: it is not idle, only not yet
    /// scheduled.
    fn has_unread(&self) -> bool {
        let mut byte = 0u8;
        // SAFETY: recv(2) writes at most 1 byte into `byte`, which outlives the call; the
        // descriptor is open (owned by `self.stream`). MSG_DONTWAIT: it never blocks.
        let n = unsafe {
            libc::recv(
                self.stream.as_raw_fd(),
                (&raw mut byte).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        n > 0
    }
}

/// The connections being served, oldest first, and their threads.
#[derive(Default)]
pub(super) struct Slots {
    open: Mutex<VecDeque<Arc<Conn>>>,
    /// Connection threads alive, including those of closed connections still ending.
    pub(super) threads: AtomicUsize,
}

impl Slots {
    pub(super) fn lock(&self) -> MutexGuard<'_, VecDeque<Arc<Conn>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for `stream`: a free one, or that of the oldest connection still reading its
    /// request with nothing unread, closed to make room. `None`: every slot is answering.
    pub(super) fn admit(&self, stream: &TcpStream) -> Option<Arc<Conn>> {
        if self.threads.load(Ordering::SeqCst) >= MAX_THREADS {
            return None;
        }
        let mut open = self.lock();
        if open.len() >= MAX_CONNECTIONS {
            let oldest_idle = open
                .iter()
                .position(|c| !c.has_unread() && c.close_if_reading())?;
            open.remove(oldest_idle);
        }
        let conn = Arc::new(Conn {
            phase: AtomicU8::new(READING),
            stream: stream.try_clone().ok()?,
        });
        open.push_back(conn.clone());
        Some(conn)
    }

    /// Gives `conn`'s slot back (if it was not taken from it).
    pub(super) fn leave(&self, conn: &Arc<Conn>) {
        let mut open = self.lock();
        if let Some(i) = open.iter().position(|c| Arc::ptr_eq(c, conn)) {
            open.remove(i);
        }
    }

    /// Closes every connection still reading its request.
    pub(super) fn close_idle(&self) {
        self.lock().retain(|c| !c.close_if_reading());
    }
}
