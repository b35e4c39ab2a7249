//! The tables of one sample's attribution: per holder (a process, or a group of sockets whose
//! process cannot be seen, named by cgroup), its current and last known pool ports; per
//! destination, its ownerless sockets and who they are attributed to.

use std::collections::HashMap;

use serde::Serialize;

use super::{Attribution, NO_DST, Who, World};
use crate::diag::tcp_state;
use crate::fold::dst::Dst;
use crate::probes::owners::Owners;
use crate::probes::pool::PortSet;
use crate::util::hash::FxBuild;

/// Groups of sockets without a visible process.
pub const KERNEL: &str = "(kernel)";
pub const NOT_VISIBLE: &str = "(not visible)";
pub const OTHER_PID_NS: &str = "(other pid namespace)";
pub const UNKNOWN_OWNER: &str = "(owner unknown)";

/// A row of the process table. `pid`, `cmdline` and `uid` are absent for the groups of sockets
/// no visible process owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessUse {
    pub pid: Option<u32>,
    pub comm: String,
    pub cmdline: Option<String>,
    pub uid: Option<u32>,
    /// The cgroup (v2) path: the process's, or for a group the sockets' own.
    pub cgroup: Option<String>,
    /// The process has exited: what it holds is all last known.
    pub exited: bool,
    /// Distinct pool ports held by its TCP sockets now.
    pub tcp_ports: u32,
    /// Distinct pool ports held by its UDP sockets now.
    pub udp_ports: u32,
    /// Distinct pool ports of ownerless TCP sockets (TIME_WAIT, FIN_WAIT, orphans) whose 4-tuple
    /// an earlier sample saw it own: last known, not current.
    pub last_known_ports: u32,
    /// Its TCP sockets in ESTABLISHED, on any port.
    pub established: u32,
    /// Its TCP sockets in CLOSE_WAIT, on any port: a server that does not close shows here.
    pub close_wait: u32,
}

impl ProcessUse {
    /// Current and last known pool ports.
    pub fn ports(&self) -> u32 {
        self.tcp_ports + self.udp_ports + self.last_known_ports
    }
}

/// A process named for a destination, with a count of sockets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Named {
    pub pid: u32,
    pub comm: String,
    pub cmdline: String,
    pub sockets: u32,
}

/// Who a destination's ownerless sockets are attributed to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DstOwners {
    /// Its sockets from pool ports that no process owns now (TIME_WAIT, FIN_WAIT, orphans).
    pub ownerless: u32,
    /// Of those, the ones whose last owner is known, by process (`sockets` each).
    pub last_known: Vec<Named>,
    /// Of those, the ones nobody is remembered for.
    pub unattributed: u32,
    /// When some are unattributed: processes that hold connections to it now (`sockets` > 0) or
    /// did within the last two minutes (`sockets` 0). Likely makers, never owners.
    pub likely: Vec<Named>,
}

/// A process as a timeline column names it: `comm[pid]`, the command name reduced to letters,
/// digits and `._-:/+@` (anything else as `_`), so a CSV field needs no quoting and grep finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcName {
    comm: [u8; 16],
    len: u8,
    pid: u32,
}

impl ProcName {
    pub fn new(comm: &str, pid: u32) -> ProcName {
        let mut name = ProcName {
            comm: [0; 16],
            len: 0,
            pid,
        };
        for (slot, c) in name.comm.iter_mut().zip(comm.chars()) {
            *slot = if c.is_ascii_alphanumeric() || "._-:/+@".contains(c) {
                c as u8
            } else {
                b'_'
            };
            name.len += 1;
        }
        name
    }
}

impl std::fmt::Display for ProcName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let comm = std::str::from_utf8(&self.comm[..usize::from(self.len)]).unwrap_or("?");
        write!(f, "{comm}[{}]", self.pid)
    }
}

/// The `--owners` columns of a timeline row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnerColumns {
    /// The process with the most pool ports, current and last known together.
    pub owner: Option<ProcName>,
    pub owner_ports: Option<u32>,
    /// Of those, the last known ones.
    pub owner_last_known: Option<u32>,
    /// Pool ports held only by ownerless sockets nobody is remembered for.
    pub unattributed_ports: u32,
    /// The likely maker of the unattributed sockets of the destination with the most of them.
    pub likely: Option<ProcName>,
}

impl Attributed {
    /// The timeline's columns of this attribution.
    pub fn columns(&self) -> OwnerColumns {
        let top = self
            .processes
            .iter()
            .filter(|p| p.pid.is_some())
            .max_by(|a, b| a.ports().cmp(&b.ports()).then(b.pid.cmp(&a.pid)))
            .filter(|p| p.ports() > 0);
        let likely = self
            .destinations
            .values()
            .filter(|d| d.unattributed > 0 && !d.likely.is_empty())
            .max_by_key(|d| d.unattributed)
            .map(|d| ProcName::new(&d.likely[0].comm, d.likely[0].pid));
        OwnerColumns {
            owner: top.map(|p| ProcName::new(&p.comm, p.pid.unwrap_or(0))),
            owner_ports: top.map(ProcessUse::ports),
            owner_last_known: top.map(|p| p.last_known_ports),
            unattributed_ports: self
                .processes
                .iter()
                .find(|p| p.comm == KERNEL && p.pid.is_none())
                .map_or(0, |p| p.tcp_ports),
            likely,
        }
    }
}

/// One sample's attribution.
#[derive(Debug, Default)]
pub struct Attributed {
    /// One row per holder, unordered.
    pub processes: Vec<ProcessUse>,
    /// Destinations with ownerless sockets.
    pub destinations: HashMap<Dst, DstOwners, FxBuild>,
    /// Owners were found in another pid namespace (grouped as such).
    pub other_pid_namespace: bool,
}

/// Who holds a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Holder {
    Process(Who),
    /// Not visible to us (another user's), by cgroup id (0: unknown).
    Hidden(u64),
    OtherPidNs(u64),
    /// A saved proc tree: no process can be known.
    Unknown(u64),
}

/// What a port entry counts.
const TCP: u64 = 0;
const UDP: u64 = 1;
const LAST: u64 = 2;

pub(super) fn build(
    a: &Attribution,
    owners: &Owners,
    pool: &PortSet,
    world: &mut dyn World,
) -> Attributed {
    let mut holders: Vec<Holder> = Vec::new();
    let mut index: HashMap<Holder, u32, FxBuild> = HashMap::default();
    let mut slot = |h: Holder| -> u64 {
        let next = holders.len() as u32;
        let i = *index.entry(h).or_insert(next);
        if i == next {
            holders.push(h);
        }
        u64::from(i)
    };
    // `holder << 20 | kind << 16 | port`, for distinct ports per holder and kind.
    let mut ports: Vec<u64> = Vec::new();
    let mut states: HashMap<u64, (u32, u32), FxBuild> = HashMap::default();
    let mut current: HashMap<Who, (), FxBuild> = HashMap::default();
    for o in &a.owned {
        let holder = match owners.owner(o.inode) {
            Some(i) => {
                let p = &owners.processes[i];
                current.insert((p.pid, p.start), ());
                Holder::Process((p.pid, p.start))
            }
            None if owners.unknown => Holder::Unknown(o.cgroup),
            None if owners.hidden > 0 => Holder::Hidden(o.cgroup),
            None if owners.nested_pid_namespace => Holder::OtherPidNs(o.cgroup),
            // Closed between the dump and the scan.
            None => continue,
        };
        let h = slot(holder);
        if pool.contains(o.port) {
            ports.push(h << 20 | (if o.udp { UDP } else { TCP }) << 16 | u64::from(o.port));
        }
        if !o.udp {
            let s = states.entry(h).or_default();
            s.0 += u32::from(o.state == tcp_state::ESTABLISHED);
            s.1 += u32::from(o.state == tcp_state::CLOSE_WAIT);
        }
    }
    for r in &a.remembered {
        let h = slot(Holder::Process(r.who));
        if pool.contains(r.port) {
            ports.push(h << 20 | LAST << 16 | u64::from(r.port));
        }
    }
    ports.sort_unstable();
    ports.dedup();
    let mut counts = vec![[0u32; 3]; holders.len()];
    for &e in &ports {
        counts[(e >> 20) as usize][((e >> 16) & 0xf) as usize] += 1;
    }

    let mut out = Attributed::default();
    for (h, holder) in holders.iter().enumerate() {
        let [tcp_ports, udp_ports, last_known_ports] = counts[h];
        let (established, close_wait) = states.get(&(h as u64)).copied().unwrap_or_default();
        let mut row = ProcessUse {
            pid: None,
            comm: String::new(),
            cmdline: None,
            uid: None,
            cgroup: None,
            exited: false,
            tcp_ports,
            udp_ports,
            last_known_ports,
            established,
            close_wait,
        };
        if row.ports() + established + close_wait == 0 {
            continue;
        }
        let (group, id) = match *holder {
            Holder::Process(who) => {
                let Some(p) = a.people.get(&who) else {
                    continue;
                };
                row.pid = Some(p.pid);
                row.comm = p.comm.clone();
                row.cmdline = Some(p.cmdline.clone());
                row.uid = Some(p.uid);
                row.cgroup = p.cgroup.clone();
                row.exited = !current.contains_key(&who) && !world.alive(who);
                out.processes.push(row);
                continue;
            }
            Holder::Hidden(id) => (NOT_VISIBLE, id),
            Holder::OtherPidNs(id) => {
                out.other_pid_namespace = true;
                (OTHER_PID_NS, id)
            }
            Holder::Unknown(id) => (UNKNOWN_OWNER, id),
        };
        row.comm = group.to_string();
        row.cgroup = (id != 0).then(|| world.cgroup(id)).flatten();
        out.processes.push(row);
    }
    let kernel = ProcessUse {
        pid: None,
        comm: KERNEL.to_string(),
        cmdline: None,
        uid: None,
        cgroup: None,
        exited: false,
        tcp_ports: pool.count_and(&a.unattributed),
        udp_ports: 0,
        last_known_ports: 0,
        established: a.kernel_established,
        close_wait: a.kernel_close_wait,
    };
    if kernel.tcp_ports + kernel.established + kernel.close_wait > 0 {
        out.processes.push(kernel);
    }
    out.destinations = destinations(a);
    out
}

/// Per destination with ownerless sockets: their last known owners and the likely makers of the
/// rest.
fn destinations(a: &Attribution) -> HashMap<Dst, DstOwners, FxBuild> {
    let named = |who: &Who, sockets: u32| {
        a.people.get(who).map(|p| Named {
            pid: p.pid,
            comm: p.comm.clone(),
            cmdline: p.cmdline.clone(),
            sockets,
        })
    };
    let mut last: HashMap<(u32, Who), u32, FxBuild> = HashMap::default();
    for r in a.remembered.iter().filter(|r| r.dst != NO_DST) {
        *last.entry((r.dst, r.who)).or_default() += 1;
    }
    let mut out: HashMap<Dst, DstOwners, FxBuild> = HashMap::default();
    for (d, &dst) in a.dsts.iter().enumerate() {
        let ownerless = a.dst_ownerless[d];
        if ownerless == 0 {
            continue;
        }
        let unattributed = a.dst_unattributed[d];
        let mut last_known: Vec<Named> = last
            .iter()
            .filter(|((i, _), _)| *i as usize == d)
            .filter_map(|((_, who), &n)| named(who, n))
            .collect();
        last_known.sort_by(|x, y| y.sockets.cmp(&x.sockets).then(x.pid.cmp(&y.pid)));
        let likely = if unattributed > 0 {
            a.recent
                .get(&dst)
                .into_iter()
                .flatten()
                .filter_map(|r| named(&r.who, r.sockets))
                .collect()
        } else {
            Vec::new()
        };
        out.insert(
            dst,
            DstOwners {
                ownerless,
                last_known,
                unattributed,
                likely,
            },
        );
    }
    out
}
