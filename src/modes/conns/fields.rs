//! connstat's fields (and Linux's extras): their names, column widths, what each needs from the
//! kernel, and how each is read from one socket. A value the kernel did not give (no tcp_info on a
//! TIME_WAIT socket, a field older kernels lack, a counter Linux does not keep) is `Empty`, never 0.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::diag::{Record, TcpInfo, attr, ext, tcp_state};
use crate::probes::owners::Process;

/// One field of `-o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Laddr,
    Lport,
    Raddr,
    Rport,
    State,
    Inbytes,
    Insegs,
    Inunorderbytes,
    Inunordersegs,
    Outbytes,
    Outsegs,
    Retransbytes,
    Retranssegs,
    Suna,
    Unsent,
    Swnd,
    Cwnd,
    Rwnd,
    Mss,
    Rto,
    Rtt,
    Rtts,
    Rttc,
    Rttvar,
    Minrtt,
    Rqueue,
    Wqueue,
    Retrans,
    Lost,
    Reordering,
    Unacked,
    Sacked,
    Deliveryrate,
    Pacingrate,
    Cong,
    Timer,
    Expires,
    Uid,
    Inode,
    Pid,
    Comm,
    Rmem,
    Wmem,
    Rcvbuf,
    Sndbuf,
}

use Field::*;

/// Every field in `--help`'s order: connstat's first, then Linux's.
pub const ALL: [Field; 45] = [
    Laddr,
    Lport,
    Raddr,
    Rport,
    State,
    Inbytes,
    Insegs,
    Inunorderbytes,
    Inunordersegs,
    Outbytes,
    Outsegs,
    Retransbytes,
    Retranssegs,
    Suna,
    Unsent,
    Swnd,
    Cwnd,
    Rwnd,
    Mss,
    Rto,
    Rtt,
    Rtts,
    Rttc,
    Rttvar,
    Minrtt,
    Rqueue,
    Wqueue,
    Retrans,
    Lost,
    Reordering,
    Unacked,
    Sacked,
    Deliveryrate,
    Pacingrate,
    Cong,
    Timer,
    Expires,
    Uid,
    Inode,
    Pid,
    Comm,
    Rmem,
    Wmem,
    Rcvbuf,
    Sndbuf,
];

/// connstat's default field list.
pub const DEFAULT: [Field; 5] = [Laddr, Lport, Raddr, Rport, State];

/// connstat's `-o all`: its field table in its order (connstat_tcp.c, `tcp_fields`).
const CONNSTAT_ALL: &str = "laddr,raddr,lport,rport,inbytes,insegs,inunorderbytes,inunordersegs,\
    outbytes,outsegs,retransbytes,retranssegs,suna,unsent,swnd,cwnd,rwnd,mss,rto,rtt,rtts,rttc,\
    state";

/// `-o all`: connstat's fields in connstat's order, then Linux's in `--help`'s order.
pub fn every() -> Vec<Field> {
    let mut v: Vec<Field> = CONNSTAT_ALL.split(',').filter_map(Field::parse).collect();
    let linux: Vec<Field> = ALL.into_iter().filter(|f| !v.contains(f)).collect();
    v.extend(linux);
    v
}

/// What a field needs beyond the socket's header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// `idiag_ext` bits to ask the kernel for.
    pub extensions: u8,
    /// The owning process: a /proc scan per report.
    pub owner: bool,
}

/// One field's value for one socket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Empty,
    Num(u64),
    /// Milliseconds with a fraction (rto).
    Ms(f64),
    Addr(IpAddr),
    Str(&'a str),
}

/// One socket as the fields read it.
pub struct Conn<'r, 'a> {
    pub record: &'r Record<'a>,
    pub info: Option<TcpInfo<'a>>,
    pub owner: Option<&'r Process>,
}

impl<'r, 'a> Conn<'r, 'a> {
    pub fn new(record: &'r Record<'a>, owner: Option<&'r Process>) -> Self {
        // A listener's tcp_info is zeros (no peer, no RTT, no window) with its unacked/sacked
        // reused for the accept backlog: nothing in it was measured for a connection.
        let info = (record.state() != tcp_state::LISTEN)
            .then(|| record.attr(attr::INFO).map(TcpInfo::new))
            .flatten();
        Conn {
            record,
            info,
            owner,
        }
    }

    /// The `sk_meminfo` counter at `index` (SK_MEMINFO_*, linux/sock_diag.h).
    fn mem(&self, index: usize) -> Value<'a> {
        let at = index * 4;
        self.record
            .attr(attr::SKMEMINFO)
            .and_then(|m| m.get(at..at + 4))
            .map_or(Value::Empty, |b| {
                Value::Num(u32::from_ne_bytes(b.try_into().unwrap()).into())
            })
    }

    /// A socket no process owns (TIME_WAIT, a request socket): its uid is not reported.
    fn ownerless(&self) -> bool {
        matches!(
            self.record.state(),
            tcp_state::TIME_WAIT | tcp_state::NEW_SYN_RECV
        )
    }
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Laddr => "laddr",
            Lport => "lport",
            Raddr => "raddr",
            Rport => "rport",
            State => "state",
            Inbytes => "inbytes",
            Insegs => "insegs",
            Inunorderbytes => "inunorderbytes",
            Inunordersegs => "inunordersegs",
            Outbytes => "outbytes",
            Outsegs => "outsegs",
            Retransbytes => "retransbytes",
            Retranssegs => "retranssegs",
            Suna => "suna",
            Unsent => "unsent",
            Swnd => "swnd",
            Cwnd => "cwnd",
            Rwnd => "rwnd",
            Mss => "mss",
            Rto => "rto",
            Rtt => "rtt",
            Rtts => "rtts",
            Rttc => "rttc",
            Rttvar => "rttvar",
            Minrtt => "minrtt",
            Rqueue => "rqueue",
            Wqueue => "wqueue",
            Retrans => "retrans",
            Lost => "lost",
            Reordering => "reordering",
            Unacked => "unacked",
            Sacked => "sacked",
            Deliveryrate => "deliveryrate",
            Pacingrate => "pacingrate",
            Cong => "cong",
            Timer => "timer",
            Expires => "expires",
            Uid => "uid",
            Inode => "inode",
            Pid => "pid",
            Comm => "comm",
            Rmem => "rmem",
            Wmem => "wmem",
            Rcvbuf => "rcvbuf",
            Sndbuf => "sndbuf",
        }
    }

    /// The field named `name`, in any case.
    pub fn parse(name: &str) -> Option<Field> {
        ALL.into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// Column width in the text report (`addr` for the address fields).
    pub fn width(self, addr: usize) -> usize {
        let w = match self {
            Laddr | Raddr => addr,
            Lport | Rport | Mss | Rtts | Rttc => 5,
            State => 12,
            Inbytes | Outbytes | Retransbytes | Retranssegs => 11,
            Deliveryrate | Pacingrate => 12,
            Comm => 15,
            _ => 10,
        };
        w.max(self.name().len())
    }

    pub fn needs(self) -> Needs {
        let extensions = match self {
            Laddr | Lport | Raddr | Rport | State | Inunorderbytes | Rtts | Rttc | Rqueue
            | Wqueue | Timer | Expires | Uid | Inode | Pid | Comm => 0,
            Cong => ext::CONG,
            Rmem | Wmem | Rcvbuf | Sndbuf => ext::SKMEMINFO,
            _ => ext::INFO,
        };
        Needs {
            extensions,
            owner: matches!(self, Pid | Comm),
        }
    }

    /// True for fields printed as JSON strings.
    pub fn is_text(self) -> bool {
        matches!(self, Laddr | Raddr | State | Cong | Timer | Comm)
    }

    /// This field's value for `c`.
    pub fn value<'a>(self, c: &Conn<'a, 'a>) -> Value<'a> {
        let r = c.record;
        let info = c.info.as_ref();
        let num = |v: Option<u32>| v.map_or(Value::Empty, |n| Value::Num(n.into()));
        let num64 = |v: Option<u64>| v.map_or(Value::Empty, Value::Num);
        let from_info = |f: fn(&TcpInfo<'a>) -> Option<u32>| num(info.and_then(f));
        match self {
            Laddr => Value::Addr(addr(r.src_addr())),
            Raddr => Value::Addr(addr(r.dst_addr())),
            Lport => Value::Num(r.src_port().into()),
            Rport => Value::Num(r.dst_port().into()),
            State => Value::Str(state_name(r.state())),
            Inbytes => num64(info.and_then(TcpInfo::bytes_received)),
            Insegs => from_info(TcpInfo::data_segs_in),
            Inunordersegs => from_info(TcpInfo::rcv_ooopack),
            Outbytes => {
                num64(info.and_then(|i| Some(i.bytes_sent()?.saturating_sub(i.bytes_retrans()?))))
            }
            Outsegs => {
                num(info.and_then(|i| Some(i.data_segs_out()?.saturating_sub(i.total_retrans()?))))
            }
            Retransbytes => num64(info.and_then(TcpInfo::bytes_retrans)),
            Retranssegs => from_info(TcpInfo::total_retrans),
            // Written but unacknowledged, less what was never sent (a listener has no tcp_info
            // here: its send queue is its backlog).
            Suna => num(info
                .and_then(TcpInfo::notsent_bytes)
                .map(|unsent| r.wqueue().saturating_sub(unsent))),
            Unsent => from_info(TcpInfo::notsent_bytes),
            Swnd => from_info(TcpInfo::snd_wnd),
            Cwnd => {
                num64(info.and_then(|i| Some(u64::from(i.snd_cwnd()?) * u64::from(i.snd_mss()?))))
            }
            Rwnd => from_info(TcpInfo::rcv_wnd),
            Mss => from_info(TcpInfo::snd_mss),
            Rto => info
                .and_then(TcpInfo::rto)
                .map_or(Value::Empty, |us| Value::Ms(f64::from(us) / 1000.0)),
            Rtt => from_info(TcpInfo::rtt),
            Rttvar => from_info(TcpInfo::rttvar),
            Minrtt => from_info(TcpInfo::min_rtt),
            Retrans => from_info(TcpInfo::retrans),
            Lost => from_info(TcpInfo::lost),
            Reordering => from_info(TcpInfo::reordering),
            Unacked => from_info(TcpInfo::unacked),
            Sacked => from_info(TcpInfo::sacked),
            Deliveryrate => num64(info.and_then(TcpInfo::delivery_rate)),
            Pacingrate => num64(info.and_then(TcpInfo::pacing_rate)),
            // Linux keeps no such counters.
            Inunorderbytes | Rtts | Rttc => Value::Empty,
            Rqueue => Value::Num(r.rqueue().into()),
            Wqueue => Value::Num(r.wqueue().into()),
            Cong => r
                .attr(attr::CONG)
                .and_then(|b| std::str::from_utf8(b.split(|&c| c == 0).next()?).ok())
                .map_or(Value::Empty, Value::Str),
            Timer => Value::Str(timer_name(r.timer())),
            Expires => Value::Num(r.expires().into()),
            Uid if c.ownerless() => Value::Empty,
            Uid => Value::Num(r.uid().into()),
            Inode if r.inode() == 0 => Value::Empty,
            Inode => Value::Num(r.inode().into()),
            Pid => c.owner.map_or(Value::Empty, |p| Value::Num(p.pid.into())),
            Comm => c.owner.map_or(Value::Empty, |p| Value::Str(&p.comm)),
            Rmem => c.mem(0),
            Rcvbuf => c.mem(1),
            Wmem => c.mem(2),
            Sndbuf => c.mem(3),
        }
    }
}

fn addr(bytes: &[u8]) -> IpAddr {
    match bytes.len() {
        4 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(bytes).unwrap())),
        _ => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).unwrap())),
    }
}

/// connstat's name for a TCP state. A request socket (NEW_SYN_RECV) is SYN_RECEIVED. A socket that
/// is only bound is BOUND: the kernel dumps it (when asked for BOUND_INACTIVE) in state CLOSE, the
/// only way a CLOSE socket appears in a dump.
pub fn state_name(state: u8) -> &'static str {
    match state {
        tcp_state::ESTABLISHED => "ESTABLISHED",
        tcp_state::SYN_SENT => "SYN_SENT",
        tcp_state::SYN_RECV | tcp_state::NEW_SYN_RECV => "SYN_RECEIVED",
        tcp_state::FIN_WAIT1 => "FIN_WAIT_1",
        tcp_state::FIN_WAIT2 => "FIN_WAIT_2",
        tcp_state::TIME_WAIT => "TIME_WAIT",

        tcp_state::CLOSE_WAIT => "CLOSE_WAIT",
        tcp_state::LAST_ACK => "LAST_ACK",
        tcp_state::LISTEN => "LISTEN",
        tcp_state::CLOSING => "CLOSING",
        tcp_state::CLOSE | tcp_state::BOUND_INACTIVE => "BOUND",
        _ => "UNKNOWN",
    }
}

/// The pending timer, as `ss` names it.
fn timer_name(timer: u8) -> &'static str {
    match timer {
        0 => "off",
        1 => "on",
        2 => "keepalive",
        3 => "timewait",
        4 => "persist",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_any_case_and_are_unique() {
        for f in ALL {
            assert_eq!(Field::parse(f.name()), Some(f));
            assert_eq!(Field::parse(&f.name().to_uppercase()), Some(f));
            assert!(f.width(15) >= f.name().len());
        }
        let mut names: Vec<_> = ALL.iter().map(|f| f.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        assert_eq!(Field::parse("nope"), None);
    }

    #[test]
    fn all_is_connstat_s_table_then_linux_s_fields_each_once() {
        let every = every();
        assert_eq!(every.len(), ALL.len());
        let names: Vec<&str> = every.iter().map(|f| f.name()).collect();
        assert_eq!(
            names[..23].join(","),
            CONNSTAT_ALL.replace(char::is_whitespace, "")
        );
        assert_eq!(names[23..26], ["rttvar", "minrtt", "rqueue"]);
        assert!(ALL.iter().all(|f| every.contains(f)));
    }

    #[test]
    fn a_socket_without_tcp_info_has_empty_info_fields() {
        let raw = crate::diag::raw_record(tcp_state::TIME_WAIT, 40000, Ipv4Addr::LOCALHOST, 80);
        let r = Record::new(&raw).unwrap();
        let c = Conn::new(&r, None);
        for f in ALL {
            if f.needs().extensions != 0 || matches!(f, Uid | Inode | Pid | Comm) {
                assert_eq!(f.value(&c), Value::Empty, "{}", f.name());
            }
        }
        assert_eq!(State.value(&c), Value::Str("TIME_WAIT"));
        assert_eq!(Rport.value(&c), Value::Num(80));
        assert_eq!(Raddr.value(&c), Value::Addr(Ipv4Addr::LOCALHOST.into()));
    }
}
