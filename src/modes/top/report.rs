//! One `top` report: the sample's counters, the destination ranking and the socket owners, all
//! from a single pass of the sampler over the dumps (the destination fold and the holdings are
//! two visitors of that pass).

use serde::Serialize;

use super::Sort;
use crate::diag::{Dump, Protocol, Record, tcp_state};
use crate::engine::sampler::Sampler;
use crate::fold::Visit;
use crate::fold::dst::{DstTally, DstUse};
use crate::probes::owners::Owners;
use crate::probes::pool::{Pool, PortSet};

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
    /// Distinct pool ports held by its TCP sockets.
    pub tcp_ports: u32,
    /// Distinct pool ports held by its UDP sockets.
    pub udp_ports: u32,
    /// Its TCP sockets in ESTABLISHED, on any port.
    pub established: u32,
    /// Its TCP sockets in CLOSE_WAIT, on any port: a server that does not close shows here.
    pub close_wait: u32,
}

#[derive(Debug, Serialize)]
pub struct Report {
    /// When the sample was taken, ms since the Unix epoch.
    pub epoch_ms: u64,
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
    /// Sockets are held by processes this one cannot see because it runs in another pid
    /// namespace (a container without `--pid host`): they are grouped as "(other pid namespace)".
    pub owners_in_other_pid_namespace: bool,
    /// The namespace's conntrack table, when it has one (and the sockets are live).
    pub conntrack: Option<CtUse>,
}

/// The conntrack table's usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CtUse {
    pub used: u64,
    pub max: u64,
}

/// Owner groups for sockets without a visible process.
const KERNEL: &str = "(kernel)";
const NOT_VISIBLE: &str = "(not visible)";
const OTHER_PID_NS: &str = "(other pid namespace)";
const UNKNOWN_OWNER: &str = "(owner unknown)";

/// One socket as the process table needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Holding {
    inode: u32,
    udp: bool,
    port: u16,
    state: u8,
}

/// Every owned socket's inode, protocol, local port and state, for the process table. Sockets
/// no process owns (inode 0: TIME_WAIT, request sockets — most of a busy host's) are only
/// counted, for the `(kernel)` row: no row each.
#[derive(Default)]
struct Holdings {
    rows: Vec<Holding>,
    kernel: KernelHold,
}

/// What the sockets without an owner hold.
#[derive(Default)]
struct KernelHold {
    tcp_ports: PortSet,
    udp_ports: PortSet,
    established: u32,
    close_wait: u32,
}

impl Visit for Holdings {
    fn reset(&mut self) {
        self.rows.clear();
        self.kernel.tcp_ports.clear();
        self.kernel.udp_ports.clear();
        self.kernel.established = 0;
        self.kernel.close_wait = 0;
    }

    fn visit(&mut self, _: &Pool, protocol: Protocol, record: &Record<'_>) {
        let udp = protocol == Protocol::Udp;
        if record.inode() == 0 {
            let k = &mut self.kernel;
            if udp {
                k.udp_ports.insert(record.src_port());
            } else {
                k.tcp_ports.insert(record.src_port());
                k.established += u32::from(record.state() == tcp_state::ESTABLISHED);
                k.close_wait += u32::from(record.state() == tcp_state::CLOSE_WAIT);
            }
            return;
        }
        self.rows.push(Holding {
            inode: record.inode(),
            udp,
            port: record.src_port(),
            state: record.state(),
        });
    }
}

/// Takes one sample with `sampler`, stamped `epoch_ms`, and builds the report. `live` is false
/// for a saved proc tree: its sockets' owners are not this host's processes, so none is looked for.
pub fn build<D: Dump>(
    sampler: &mut Sampler<D>,
    epoch_ms: u64,
    rows: usize,
    sort: Sort,
    netns: Option<String>,
    live: bool,
) -> anyhow::Result<Report> {
    let mut fold = (DstTally::default(), Holdings::default());
    let sample = sampler.take(epoch_ms, &mut fold)?;
    let (mut dsts, holdings) = fold;
    let mut inodes: Vec<u32> = holdings
        .rows
        .iter()
        .map(|h| h.inode)
        .filter(|&i| i != 0)
        .collect();
    inodes.sort_unstable();
    inodes.dedup();
    let owners = if live {
        Owners::scan(&inodes)
    } else {
        Owners::unknown()
    };
    drop(inodes);
    let pool = sampler.pool();
    let total = pool.total();
    let tally = sampler.tally();
    let states = States(tcp_state::LABELS.map(|(name, nums)| {
        (
            name,
            nums.iter().map(|&s| tally.tcp_states[usize::from(s)]).sum(),
        )
    }));
    let mut destinations = dsts.ranked(total, &pool.members);
    destinations.truncate(rows);

    let (mut processes, other_pid_ns) = processes(holdings, &pool.members, &owners, sort);
    processes.truncate(rows);
    Ok(Report {
        epoch_ms,
        netns,
        pool: PoolInfo {
            lo: pool.lo,
            hi: pool.hi,
            reserved: u32::from(pool.hi - pool.lo) + 1 - total,
            total,
        },
        used: sample.used,
        free: sample.free,
        tcp_used: sample.tcp_used.unwrap_or(0),
        udp_used: sample.udp_used.unwrap_or(0),
        states,
        destinations,
        processes,
        all_processes_visible: owners.hidden == 0 && !owners.unknown,
        owners_in_other_pid_namespace: other_pid_ns,
        conntrack: None,
    })
}

/// Per owner: distinct pool ports and TCP sockets in ESTABLISHED and CLOSE_WAIT; in `sort` order.
/// Also whether owners were found in another pid namespace.
///
/// A socket with an inode that no scanned process holds is, in this order: held by a process we
/// may not inspect (some were hidden), held by a process of another pid namespace (we run in a
/// nested one), or closed between the dump and the scan (then it is left out).
fn processes(
    holdings: Holdings,
    pool: &PortSet,
    owners: &Owners,
    sort: Sort,
) -> (Vec<ProcessUse>, bool) {
    let Holdings {
        mut rows,
        kernel: k,
    } = holdings;
    // Owner key: index into owners.processes, or one of the groups after them.
    let kernel = owners.processes.len();
    let hidden = kernel + 1;
    let other_ns = kernel + 2;
    let closed = kernel + 3;
    let unowned = if owners.hidden > 0 || owners.unknown {
        hidden
    } else if owners.nested_pid_namespace {
        other_ns
    } else {
        closed
    };
    let key = |h: &Holding| match h.inode {
        0 => kernel,
        i => owners.owner(i).unwrap_or(unowned),
    };
    rows.retain(|h| key(h) != closed);
    rows.sort_unstable_by_key(|h| (key(h), h.udp, h.port));
    let mut out: Vec<ProcessUse> = Vec::new();
    for chunk in rows.chunk_by(|a, b| key(a) == key(b)) {
        let owner = key(&chunk[0]);
        let (mut tcp_ports, mut udp_ports, mut established, mut close_wait) = (0, 0, 0, 0);
        let mut last = None;
        for h in chunk {
            if pool.contains(h.port) && last != Some((h.udp, h.port)) {
                if h.udp {
                    udp_ports += 1;
                } else {
                    tcp_ports += 1;
                }
                last = Some((h.udp, h.port));
            }
            if !h.udp {
                established += u32::from(h.state == tcp_state::ESTABLISHED);
                close_wait += u32::from(h.state == tcp_state::CLOSE_WAIT);
            }
        }
        if tcp_ports + udp_ports + established + close_wait == 0 {
            continue;
        }
        let (pid, comm, uid) = match owners.processes.get(owner) {
            Some(p) => (Some(p.pid), p.comm.clone(), Some(p.uid)),
            None if owner == kernel => (None, KERNEL.to_string(), None),
            None if owner == other_ns => (None, OTHER_PID_NS.to_string(), None),
            None if owners.unknown => (None, UNKNOWN_OWNER.to_string(), None),
            None => (None, NOT_VISIBLE.to_string(), None),
        };
        out.push(ProcessUse {
            pid,
            comm,
            uid,
            tcp_ports,
            udp_ports,
            established,
            close_wait,
        });
    }
    let kernel_row = ProcessUse {
        pid: None,
        comm: KERNEL.to_string(),
        uid: None,
        tcp_ports: pool.count_and(&k.tcp_ports),
        udp_ports: pool.count_and(&k.udp_ports),
        established: k.established,
        close_wait: k.close_wait,
    };
    if kernel_row.tcp_ports + kernel_row.udp_ports + kernel_row.established + kernel_row.close_wait
        > 0
    {
        out.push(kernel_row);
    }
    let by = |p: &ProcessUse| match sort {
        Sort::Ports => p.tcp_ports + p.udp_ports,
        Sort::CloseWait => p.close_wait,
        Sort::Established => p.established,
    };
    out.sort_by(|a, b| by(b).cmp(&by(a)).then(a.pid.cmp(&b.pid)));
    let other = out.iter().any(|p| p.comm == OTHER_PID_NS);
    (out, other)
}
