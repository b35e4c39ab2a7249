//! One `top` report: the sample's counters, the destination ranking and the socket owners, all
//! from a single pass of the sampler over the dumps.

use serde::Serialize;

use super::procs::Owners;
use crate::diag::{Protocol, Record, tcp_state};
use crate::dst::DstUse;
use crate::pool::PortSet;
use crate::sampler::{Sampler, Visit};

/// Names of the TCP states, indexed by state number (NEW_SYN_RECV is folded into syn_recv).
pub const STATE_NAMES: [(&str, &[u8]); 12] = [
    ("established", &[tcp_state::ESTABLISHED]),
    ("syn_sent", &[tcp_state::SYN_SENT]),
    ("syn_recv", &[tcp_state::SYN_RECV, tcp_state::NEW_SYN_RECV]),
    ("fin_wait1", &[tcp_state::FIN_WAIT1]),
    ("fin_wait2", &[tcp_state::FIN_WAIT2]),
    ("time_wait", &[tcp_state::TIME_WAIT]),
    ("close", &[tcp_state::CLOSE]),
    ("close_wait", &[tcp_state::CLOSE_WAIT]),
    ("last_ack", &[tcp_state::LAST_ACK]),
    ("listen", &[tcp_state::LISTEN]),
    ("closing", &[tcp_state::CLOSING]),
    ("bound_inactive", &[tcp_state::BOUND_INACTIVE]),
];

/// Every TCP state's count, in the kernel's order.
#[derive(Debug)]
pub struct States(pub [(&'static str, u32); 12]);

impl Serialize for States {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (*k, *v)))
    }
}

#[derive(Debug, Serialize)]
pub struct PoolInfo {
    pub lo: u16,
    pub hi: u16,
    /// Reserved ports inside the range.
    pub reserved: u32,
    pub total: u32,
}

/// A row of the process table. `pid`, `comm` and `uid` are absent for the groups of sockets no
/// visible process owns.
#[derive(Debug, Serialize)]
pub struct ProcessUse {
    pub pid: Option<u32>,
    pub comm: String,
    pub uid: Option<u32>,
    pub tcp_ports: u32,
    pub udp_ports: u32,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub netns: Option<String>,
    pub pool: PoolInfo,
    pub used: u32,
    pub free: u32,
    pub tcp_used: u32,
    pub udp_used: u32,
    pub states: States,
    pub destinations: Vec<DstUse>,
    pub processes: Vec<ProcessUse>,
    /// False when some processes could not be inspected (not root): their sockets are grouped
    /// as "(not visible)" instead of being attributed.
    pub all_processes_visible: bool,
}

/// Owner groups for sockets without a visible process.
const KERNEL: &str = "(kernel)";
const NOT_VISIBLE: &str = "(not visible)";

/// (inode, is UDP, local port) of every socket, for the process table.
#[derive(Default)]
struct Holdings {
    rows: Vec<(u32, bool, u16)>,
}

impl Visit for Holdings {
    fn reset(&mut self) {
        self.rows.clear();
    }

    fn visit(&mut self, protocol: Protocol, record: &Record<'_>) {
        self.rows
            .push((record.inode(), protocol == Protocol::Udp, record.src_port()));
    }
}

/// Takes one sample with `sampler` (which tracks destinations) and builds the report.
pub fn build(sampler: &mut Sampler, rows: usize, netns: Option<String>) -> anyhow::Result<Report> {
    let mut holdings = Holdings::default();
    let sample = sampler.take_with(&mut holdings)?;
    let owners = Owners::scan();
    let pool = sampler.pool();
    let total = pool.total();
    let members = pool.members.clone();
    let (lo, hi) = (pool.lo, pool.hi);
    let tally = sampler.tally();
    let states = States(STATE_NAMES.map(|(name, nums)| {
        (
            name,
            nums.iter().map(|&s| tally.tcp_states[usize::from(s)]).sum(),
        )
    }));
    let mut destinations = sampler
        .destinations()
        .map(|d| d.ranked(total, &members))
        .unwrap_or_default();
    destinations.truncate(rows);

    let mut processes = processes(&holdings.rows, &members, &owners);
    processes.truncate(rows);
    Ok(Report {
        netns,
        pool: PoolInfo {
            lo,
            hi,
            reserved: u32::from(hi - lo) + 1 - total,
            total,
        },
        used: sample.used,
        free: sample.free,
        tcp_used: sample.tcp_used.unwrap_or(0),
        udp_used: sample.udp_used.unwrap_or(0),
        states,
        destinations,
        processes,
        all_processes_visible: owners.hidden == 0,
    })
}

/// Distinct pool ports per owner, busiest first.
fn processes(rows: &[(u32, bool, u16)], pool: &PortSet, owners: &Owners) -> Vec<ProcessUse> {
    // Owner key: index into owners.processes, or one of the two groups after them.
    let kernel = owners.processes.len();
    let hidden = kernel + 1;
    let mut keyed: Vec<(usize, bool, u16)> = rows
        .iter()
        .filter(|(_, _, port)| pool.contains(*port))
        .map(|&(inode, udp, port)| {
            let key = match inode {
                0 => kernel,
                i => owners.owner(i).unwrap_or(hidden),
            };
            (key, udp, port)
        })
        .collect();
    keyed.sort_unstable();
    keyed.dedup();
    let mut out: Vec<ProcessUse> = Vec::new();
    for chunk in keyed.chunk_by(|a, b| a.0 == b.0) {
        let key = chunk[0].0;
        let udp_ports = chunk.iter().filter(|r| r.1).count() as u32;
        let tcp_ports = chunk.len() as u32 - udp_ports;
        let (pid, comm, uid) = match owners.processes.get(key) {
            Some(p) => (Some(p.pid), p.comm.clone(), Some(p.uid)),
            None if key == kernel => (None, KERNEL.to_string(), None),
            None => (None, NOT_VISIBLE.to_string(), None),
        };
        out.push(ProcessUse {
            pid,
            comm,
            uid,
            tcp_ports,
            udp_ports,
        });
    }
    out.sort_by(|a, b| {
        (b.tcp_ports + b.udp_ports)
            .cmp(&(a.tcp_ports + a.udp_ports))
            .then(a.pid.cmp(&b.pid))
    });
    out
}
