//! What can go wrong at the kernel seam, worded for the person reading stderr.

use std::fmt;
use std::io;

/// A failed dump.
#[derive(Debug)]
pub enum DiagError {
    /// The netlink socket itself failed (open, send, receive).
    Io(io::Error),
    /// The kernel answered with an error code (positive errno).
    Kernel(i32),
    /// A datagram was larger than the receive buffer.
    Truncated { len: usize, capacity: usize },
    /// A message did not have the shape netlink promises.
    Malformed(&'static str),
    /// A /proc/net file could not be read or has a line that cannot be understood (the message
    /// names the file and the line).
    Proc(String),
    /// The BPF programs could not be loaded or run (`--source bpf`); the message says why.
    Bpf(String),
}

impl DiagError {
    /// True when the kernel has no sock_diag handler for the requested protocol (for example the
    /// udp_diag module is not loaded or not built).
    pub fn is_unsupported(&self) -> bool {
        matches!(self, DiagError::Kernel(e) if *e == libc::ENOENT || *e == libc::EOPNOTSUPP)
    }
}

impl DiagError {
    /// True when the kernel or a sandbox refuses sock_diag as such (not a passing failure):
    /// permission, protocol or family not available, no handler.
    pub fn is_refusal(&self) -> bool {
        let code = match self {
            DiagError::Kernel(e) => Some(*e),
            DiagError::Io(e) => e.raw_os_error(),
            _ => None,
        };
        matches!(
            code,
            Some(
                libc::EPERM
                    | libc::EACCES
                    | libc::EPROTONOSUPPORT
                    | libc::EAFNOSUPPORT
                    | libc::ENOENT
                    | libc::EOPNOTSUPP
                    | libc::ENOSYS
            )
        )
    }
}

impl fmt::Display for DiagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiagError::Io(e) => write!(f, "netlink socket error: {e}"),
            DiagError::Kernel(e) if *e == libc::ENOENT => {
                write!(
                    f,
                    "the kernel has no sock_diag support for it (ENOENT: module not loaded?)"
                )
            }
            DiagError::Kernel(e) => {
                write!(
                    f,
                    "the kernel refused the dump: {}",
                    io::Error::from_raw_os_error(*e)
                )
            }
            DiagError::Truncated { len, capacity } => write!(
                f,
                "a netlink datagram of {len} bytes did not fit the {capacity}-byte receive buffer"
            ),
            DiagError::Malformed(what) => write!(f, "malformed netlink answer: {what}"),
            DiagError::Proc(what) | DiagError::Bpf(what) => write!(f, "{what}"),
        }
    }
}

impl std::error::Error for DiagError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DiagError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for DiagError {
    fn from(e: io::Error) -> Self {
        DiagError::Io(e)
    }
}
