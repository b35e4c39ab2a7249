//! Where a run's sockets come from (`--source`): the kernel's sock_diag netlink interface, counts
//! made in the kernel by BPF programs, the /proc/net text tables, or (auto) netlink with a
//! fall-back to /proc when a sandbox refuses netlink (some seccomp profiles, gVisor-like
//! runtimes, locked-down containers).

use std::path::PathBuf;

use super::bpf::{Counts, Iterators, Walk};
use super::{
    DiagError, DiagSocket, Dump, DumpEnd, Family, ProcNet, Protocol, Protocols, Query, Record,
    tcp_state,
};

/// What `--source` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceChoice {
    /// BPF counts when they load and the run needs only counts (see [`Counting::Untried`]),
    /// netlink otherwise, falling back to /proc/net once when netlink is refused.
    Auto,
    /// Netlink only: a refusal is an error.
    Netlink,
    /// BPF counts (plus a netlink dump of the bound-only TCP sockets): failing to load them, or
    /// a run that needs each socket's record, is an error.
    Bpf,
    /// The /proc/net tables under this proc root (`/proc`, or a saved tree: `--proc-root`).
    Proc(PathBuf),
}

/// The live proc root of the calling thread's network namespace.
pub const LIVE_PROC: &str = "/proc/thread-self";

/// An open source of socket dumps.
pub enum Source {
    Netlink {
        socket: DiagSocket,
        fall_back: bool,
        counting: Counting,
    },
    Proc(ProcNet),
}

/// Whether a netlink source counts in the kernel instead of dumping.
pub enum Counting {
    /// `--source netlink`: never.
    Off,
    /// `--source auto`: not tried yet (loaded at the first sample that needs only counts, so a
    /// run that needs records or has no privilege pays nothing more than one refused call).
    Untried,
    /// Loaded; `forced` for `--source bpf`. `bound` dumps the BOUND_INACTIVE sockets.
    Ready {
        iter: Box<Iterators>,
        bound: Box<DiagSocket>,
        forced: bool,
        /// `-v` was told.
        said: bool,
    },
    /// `--source auto` could not load them (why): netlink for the whole run.
    Unavailable,
}

/// How `-v` says BPF counting started, and why auto did not use it.
const COUNTING: &str = "source: bpf (TCP sockets counted in the kernel by a BPF program that \
                        walks its hash tables in parallel, UDP sockets by a BPF iterator, \
                        bound-only TCP sockets through the open files that hold them)";

const NEEDS_RECORDS: &str = "source: netlink (--source auto: this run looks at each socket's \
                             record, which the BPF counts do not give)";

impl Source {
    /// Opens what `choice` names. With `Auto`, a netlink socket that cannot be opened means
    /// /proc from the start; the reason comes back so the caller can say so once.
    pub fn open(choice: &SourceChoice) -> Result<(Source, Option<String>), DiagError> {
        let netlink = |socket, fall_back, counting| Source::Netlink {
            socket,
            fall_back,
            counting,
        };
        match choice {
            SourceChoice::Netlink => Ok((netlink(DiagSocket::open()?, false, Counting::Off), None)),
            SourceChoice::Bpf => {
                let socket = DiagSocket::open()?;
                let counting = Counting::load(true)
                    .map_err(|why| DiagError::Bpf(format!("--source bpf: {why}")))?;
                Ok((netlink(socket, false, counting), None))
            }
            SourceChoice::Auto => match DiagSocket::open() {
                Ok(socket) => Ok((netlink(socket, true, Counting::Untried), None)),
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
            Source::Netlink {
                counting: Counting::Ready { .. },
                ..
            } => "bpf",
            Source::Netlink { .. } => "netlink",
            Source::Proc(_) => "proc",
        }
    }
}

const OWN_PID_NAMESPACE: &str = "source: netlink (--source auto: conntrend runs in a PID \
                                 namespace of its own, where the BPF counts would miss the \
                                 bound-only sockets of the processes it cannot see)";

/// The initial PID namespace's inode number (PROC_PID_INIT_INO): the one that sees every process.
const INITIAL_PID_NAMESPACE: u64 = 0xEFFF_FFFC;

fn in_initial_pid_namespace() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/ns/pid").is_ok_and(|m| m.ino() == INITIAL_PID_NAMESPACE)
}

impl Counting {
    fn load(forced: bool) -> Result<Counting, String> {
        let iter = Iterators::open().map_err(|e| e.to_string())?;
        let mut bound = DiagSocket::open().map_err(|e| e.to_string())?;
        bound.set_query(&Query {
            states: 1 << tcp_state::BOUND_INACTIVE,
            ..Query::default()
        });
        Ok(Counting::Ready {
            iter: Box::new(iter),
            bound: Box::new(bound),
            forced,
            said: false,
        })
    }
}

/// One walk of each protocol asked for and of the bound-only TCP sockets; should those be too
/// many for the dedup map, the walks again without them and a netlink dump of that state.
fn count<'a>(
    iter: &'a mut Iterators,
    bound: &mut DiagSocket,
    protocols: Protocols,
) -> Result<(&'a Counts, bool), DiagError> {
    let failed = |e: std::io::Error| DiagError::Bpf(format!("BPF counting: {e}"));
    let mut walks = vec![];
    if protocols.tcp {
        walks.push(Walk::Tcp);
        walks.extend(iter.lists_bound.then_some(Walk::Bound));
    }
    if protocols.udp {
        walks.push(Walk::Udp);
    }
    let mut by_files = true;
    loop {
        iter.zero().map_err(failed)?;
        if !by_files {
            walks.retain(|&w| w != Walk::Bound);
        }
        iter.walk(&walks).map_err(failed)?;
        if !by_files || !iter.read().map_err(failed)?.bound_overflowed() {
            break;
        }
        by_files = false;
    }
    let counts = iter.read().map_err(failed)?;
    let mut interrupted = !counts.settled();
    if protocols.tcp && !by_files {
        let add = |r: Record<'_>| counts.add_tcp(&r);
        interrupted |= bound.dump(Family::Both, Protocol::Tcp, add)?.interrupted;
    }
    Ok((counts, interrupted))
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
        if let Source::Netlink {
            socket, counting, ..
        } = self
        {
            socket.set_query(query);
            // A narrower query is a mode that looks at records: never counts.
            if *query != Query::default() && matches!(counting, Counting::Untried) {
                *counting = Counting::Unavailable;
            }
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

    fn counting(&mut self, needs_records: bool) -> Result<(bool, Option<String>), DiagError> {
        let Source::Netlink { counting, .. } = self else {
            return Ok((false, None));
        };
        match counting {
            Counting::Ready { forced: true, .. } if needs_records => Err(DiagError::Bpf(
                "--source bpf counts sockets in the kernel: it cannot give the per-socket \
                 records this run needs (--dst, --owners, serve's --dst-top, top, conns); \
                 use --source netlink or auto"
                    .into(),
            )),
            Counting::Ready { said, forced, .. } => {
                let note = (!*said).then(|| match forced {
                    true => format!("{COUNTING}: --source bpf"),
                    false => format!("{COUNTING}: --source auto, and this run needs only counts"),
                });
                *said = true;
                Ok((!needs_records, note))
            }
            Counting::Untried if needs_records => {
                *counting = Counting::Unavailable;
                Ok((false, Some(NEEDS_RECORDS.to_string())))
            }
            Counting::Untried if !in_initial_pid_namespace() => {
                *counting = Counting::Unavailable;
                Ok((false, Some(OWN_PID_NAMESPACE.to_string())))
            }
            Counting::Untried => match Counting::load(false) {
                Ok(ready) => {
                    *counting = ready;
                    self.counting(needs_records)
                }
                Err(why) => {
                    *counting = Counting::Unavailable;
                    let note = format!(
                        "source: netlink (--source auto could not load the BPF programs: {why})"
                    );
                    Ok((false, Some(note)))
                }
            },
            Counting::Off | Counting::Unavailable => Ok((false, None)),
        }
    }

    fn stop_counting(&mut self, err: &DiagError) -> Option<String> {
        match self {
            Source::Netlink {
                counting: counting @ Counting::Ready { forced: false, .. },
                ..
            } => {
                *counting = Counting::Unavailable;
                Some(format!(
                    "source: netlink (--source auto stopped counting in the kernel: {err})"
                ))
            }
            _ => None,
        }
    }

    fn counts(&mut self, protocols: Protocols) -> Result<(&Counts, bool), DiagError> {
        match self {
            Source::Netlink {
                counting: Counting::Ready { iter, bound, .. },
                ..
            } => count(iter, bound, protocols),
            _ => Err(DiagError::Bpf("no BPF programs loaded".into())),
        }
    }
}
