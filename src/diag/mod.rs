//! The kernel seam: inet_diag dump requests over one NETLINK_SOCK_DIAG socket, a borrowed view of
//! each `inet_diag_msg`, and netlink errors decoded for people. Nothing here counts or interprets
//! sockets; that is the fold's job.

pub mod attrs;
pub mod bpf;
pub mod bytecode;
pub mod ctnetlink;
mod error;
pub mod procnet;
mod record;
pub mod replay;
mod request;
mod socket;
mod source;
mod tcp_info;
mod walk;

pub use error::DiagError;
pub use procnet::ProcNet;
#[cfg(test)]
pub use record::raw_record;
pub use record::{Record, RecordBuf};
pub use replay::Replay;
pub use request::{Query, attr, ext};
pub use socket::{Channel, DiagSocket, DumpEnd};
pub use source::{LIVE_PROC, Source, SourceChoice};
pub use tcp_info::TcpInfo;
pub use walk::{Walk, walk, walk_messages};

/// A source of socket dumps: the kernel ([`DiagSocket`]) or recorded bytes ([`Replay`]).
pub trait Dump {
    /// Dumps every socket of `protocol` over `family`, calling `visit` once per socket.
    fn dump(
        &mut self,
        family: Family,
        protocol: Protocol,
        visit: impl FnMut(Record<'_>),
    ) -> Result<DumpEnd, DiagError>;

    /// Asks every later dump for `query`'s states, extensions and filter. Sources without a
    /// kernel behind them (/proc/net, recordings) ignore it: they dump everything, and whoever
    /// asked filters what it is shown.
    fn set_query(&mut self, _query: &Query) {}

    /// After `err`, switch to another way of dumping if this source has one (netlink refused by a
    /// sandbox → /proc/net); true when the sample should be taken again that way.
    fn fall_back(&mut self, _err: &DiagError) -> bool {
        false
    }

    /// Whether the next sample is counted in the kernel ([`Dump::counts`]) instead of dumped,
    /// for a run that `needs_records` (each socket shown to a visitor) or not, and what `-v`
    /// should say about that choice, once. Sources that cannot count: never.
    fn counting(&mut self, _needs_records: bool) -> Result<(bool, Option<String>), DiagError> {
        Ok((false, None))
    }

    /// After counting in the kernel failed with `err`: when auto chose it (not `--source bpf`),
    /// count by dumping from now on, and the line `-v` says about it; `None` keeps the error.
    fn stop_counting(&mut self, _err: &DiagError) -> Option<String> {
        None
    }

    /// Every socket of `protocols` counted in the kernel ([`bpf`]), and whether the socket table
    /// changed during the part that still dumps.
    fn counts(&mut self, _protocols: Protocols) -> Result<(&bpf::Counts, bool), DiagError> {
        Err(DiagError::Bpf(
            "this source cannot count in the kernel".into(),
        ))
    }
}

/// Transport protocols conntrend can dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        }
    }

    /// The other one.
    pub fn other(self) -> Protocol {
        match self {
            Protocol::Tcp => Protocol::Udp,
            Protocol::Udp => Protocol::Tcp,
        }
    }
}

/// Which protocols a run samples (`-p`), and which a sample really measured: a protocol the
/// kernel cannot dump is dropped from the set, and its fields stay empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocols {
    pub tcp: bool,
    pub udp: bool,
}

impl Protocols {
    pub const ALL: Protocols = Protocols {
        tcp: true,
        udp: true,
    };
    pub const TCP: Protocols = Protocols {
        tcp: true,
        udp: false,
    };
    pub const UDP: Protocols = Protocols {
        tcp: false,
        udp: true,
    };

    pub fn has(self, protocol: Protocol) -> bool {
        match protocol {
            Protocol::Tcp => self.tcp,
            Protocol::Udp => self.udp,
        }
    }

    /// The set without `protocol`.
    pub fn without(self, protocol: Protocol) -> Protocols {
        match protocol {
            Protocol::Tcp => Protocols { tcp: false, ..self },
            Protocol::Udp => Protocols { udp: false, ..self },
        }
    }

    /// How the header names the set (`-p`'s value).
    pub fn name(self) -> &'static str {
        match (self.tcp, self.udp) {
            (true, true) => "all",
            (true, false) => "tcp",
            (false, true) => "udp",
            (false, false) => "none",
        }
    }
}

/// Address families conntrend dumps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
    /// IPv4 and IPv6 in one dump. TCP only: the kernel's older TCPDIAG_GETSOCK request dumps with
    /// AF_UNSPEC, walking the shared TCP hash tables once instead of once per family.
    Both,
}

impl Family {
    pub const EACH: [Family; 2] = [Family::V4, Family::V6];
    pub const ALL: [Family; 3] = [Family::V4, Family::V6, Family::Both];

    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
            Family::Both => "IPv4+IPv6",
        }
    }
}

/// TCP states as the kernel numbers them (include/net/tcp_states.h).
pub mod tcp_state {
    pub const ESTABLISHED: u8 = 1;
    pub const SYN_SENT: u8 = 2;
    pub const SYN_RECV: u8 = 3;
    pub const FIN_WAIT1: u8 = 4;
    pub const FIN_WAIT2: u8 = 5;
    pub const TIME_WAIT: u8 = 6;
    pub const CLOSE: u8 = 7;
    pub const CLOSE_WAIT: u8 = 8;
    pub const LAST_ACK: u8 = 9;
    pub const LISTEN: u8 = 10;
    pub const CLOSING: u8 = 11;
    /// A request socket (half-open connection on a listener); `ss` shows it as SYN-RECV.
    pub const NEW_SYN_RECV: u8 = 12;
    /// A socket that is bound but neither listening nor connected (Linux 6.5+).
    pub const BOUND_INACTIVE: u8 = 13;
    /// One past the highest state number.
    pub const COUNT: usize = 14;

    /// Lowercase labels for the TCP states, each with the state numbers it counts (request
    /// sockets, NEW_SYN_RECV, count as syn_recv): `top`'s JSON keys and the metrics' `state`.
    pub const LABELS: [(&str, &[u8]); 12] = [
        ("established", &[ESTABLISHED]),
        ("syn_sent", &[SYN_SENT]),
        ("syn_recv", &[SYN_RECV, NEW_SYN_RECV]),
        ("fin_wait1", &[FIN_WAIT1]),
        ("fin_wait2", &[FIN_WAIT2]),
        ("time_wait", &[TIME_WAIT]),
        ("close", &[CLOSE]),
        ("close_wait", &[CLOSE_WAIT]),
        ("last_ack", &[LAST_ACK]),
        ("listen", &[LISTEN]),
        ("closing", &[CLOSING]),
        ("bound_inactive", &[BOUND_INACTIVE]),
    ];
}
