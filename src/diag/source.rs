//! Where a run's sockets come from (`--source`): the kernel's sock_diag netlink interface, the
//! /proc/net text tables, or netlink with a fall-back to /proc when a sandbox refuses netlink
//! (some seccomp profiles, gVisor-like runtimes, locked-down containers).

use std::path::PathBuf;

use super::{DiagError, DiagSocket, Dump, DumpEnd, Family, ProcNet, Protocol, Query, Record};

/// What `--source` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceChoice {
    /// Netlink, falling back to /proc/net once when netlink is refused.
    Auto,
    /// Netlink only: a refusal is an error.
    Netlink,
    /// The /proc/net tables under this proc root (`/proc`, or a saved tree: `--proc-root`).
    Proc(PathBuf),
}

/// The live proc root of the calling thread's network namespace.
pub const LIVE_PROC: &str = "/proc/thread-self";

/// An open source of socket dumps.
pub enum Source {
    Netlink { socket: DiagSocket, fall_back: bool },
    Proc(ProcNet),
}

impl Source {
    /// Opens what `choice` names. With `Auto`, a netlink socket that cannot be opened means
    /// /proc from the start; the reason comes back so the caller can say so once.
    pub fn open(choice: &SourceChoice) -> Result<(Source, Option<String>), DiagError> {
        match choice {
            SourceChoice::Netlink => Ok((
                Source::Netlink {
                    socket: DiagSocket::open()?,
                    fall_back: false,
                },
                None,
            )),
            SourceChoice::Auto => match DiagSocket::open() {
                Ok(socket) => Ok((
                    Source::Netlink {
                        socket,
                        fall_back: true,
                    },
                    None,
                )),
                Err(e) => {
                    let proc = ProcNet::new(LIVE_PROC.as_ref());
                    proc.check()?;
                    let why = format!(
                        "cannot open a NETLINK_SOCK_DIAG socket ({e}); reading /proc/net instead"
                    );
                    Ok((Source::Proc(proc), Some(why)))
                }
            },
            SourceChoice::Proc(root) => {
                let proc = ProcNet::new(root);
                proc.check()?;
                Ok((Source::Proc(proc), None))
            }
        }
    }

    /// How messages name the source in use.
    pub fn name(&self) -> &'static str {
        match self {
            Source::Netlink { .. } => "netlink",
            Source::Proc(_) => "proc",
        }
    }
}

impl Dump for Source {
    fn dump(
        &mut self,
        family: Family,
        protocol: Protocol,
        visit: impl FnMut(Record<'_>),
    ) -> Result<DumpEnd, DiagError> {
        match self {
            Source::Netlink { socket, .. } => socket.dump(family, protocol, visit),
            Source::Proc(p) => p.dump(family, protocol, visit),
        }
    }

    fn set_query(&mut self, query: &Query) {
        if let Source::Netlink { socket, .. } = self {
            socket.set_query(query);
        }
    }

    fn fall_back(&mut self, err: &DiagError) -> bool {
        match self {
            Source::Netlink {
                fall_back: true, ..
            } if err.is_refusal() => {
                *self = Source::Proc(ProcNet::new(LIVE_PROC.as_ref()));
                true
            }
            _ => false,
        }
    }
}
