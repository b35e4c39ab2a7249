//! Who holds the pool's ports, with memory across samples. A socket with an owning process is
//! *current*; a TIME_WAIT, FIN_WAIT or orphaned socket has no process (inode 0), but if an earlier
//! sample saw its 4-tuple owned, that process is its *last known* owner (until the socket is gone:
//! memory holds only 4-tuples still in the dump). Sockets nobody is remembered for stay
//! unattributed, and for their destination the processes that hold or recently held connections
//! to it are named as *likely* — never as owners.
//!
//! Pure: the caller dumps (this is a [`Visit`]or), scans /proc for the owned inodes, and hands the
//! answer to [`Attribution::finish`] with a way to name cgroups.

mod table;

use std::collections::HashMap;
use std::hash::Hasher;

use crate::diag::{Protocol, Record, tcp_state};
use crate::fold::Visit;
use crate::fold::dst::Dst;
use crate::probes::owners::{Owners, Process};
use crate::probes::pool::{Pool, PortSet};
use crate::util::hash::{Fx, FxBuild};

pub use table::{Attributed, DstOwners, Named, OwnerColumns, ProcName, ProcessUse};

/// A process across samples: pid and start time.
pub type Who = (u32, u64);

/// How long a destination remembers who held connections to it (TIME_WAIT lasts 60 s on Linux;
/// twice that covers a socket made just before a long interval).
pub const RECENT_MS: u64 = 120_000;

/// Processes remembered per destination.
const RECENT_PER_DST: usize = 8;

/// No destination (a socket without a peer, or outside the pool).
const NO_DST: u32 = u32::MAX;

/// What the fold asks of the system when it builds the tables.
pub trait World {
    /// The path of cgroup `id` (a socket's `INET_DIAG_CGROUP_ID`).
    fn cgroup(&mut self, id: u64) -> Option<String>;
    /// Whether a process no socket is owned by now still runs.
    fn alive(&mut self, who: Who) -> bool;
}

/// An owned socket, as the scan and the table need it.
#[derive(Debug, Clone, Copy)]
struct Owned {
    key: u64,
    inode: u32,
    dst: u32,
    port: u16,
    state: u8,
    udp: bool,
    cgroup: u64,
}

/// An ownerless TCP socket whose 4-tuple an earlier sample saw owned.
#[derive(Debug, Clone, Copy)]
struct Remembered {
    who: Who,
    dst: u32,
    port: u16,
}

/// A process seen holding connections to a destination lately.
#[derive(Debug, Clone, Copy)]
struct Recent {
    who: Who,
    last_ms: u64,
    /// Its connections there at the last sample that saw it.
    sockets: u32,
}

/// The attribution fold and its memory.
#[derive(Default)]
pub struct Attribution {
    /// 4-tuple → owner, from the last sample: current owners and last known ones still in use.
    last: HashMap<u64, Who, FxBuild>,
    next: HashMap<u64, Who, FxBuild>,
    /// What is known of every process memory refers to (exited ones too).
    people: HashMap<Who, Process, FxBuild>,
    recent: HashMap<Dst, Vec<Recent>, FxBuild>,
    // This sample:
    owned: Vec<Owned>,
    remembered: Vec<Remembered>,
    /// TCP ports of ownerless sockets nobody is remembered for, and their ESTABLISHED and
    /// CLOSE_WAIT sockets (on any port).
    unattributed: PortSet,
    kernel_established: u32,
    kernel_close_wait: u32,
    dsts: Vec<Dst>,
    dst_index: HashMap<Dst, u32, FxBuild>,
    /// Per destination: ownerless sockets, and those nobody is remembered for.
    dst_ownerless: Vec<u32>,
    dst_unattributed: Vec<u32>,
}

/// A key for a socket's 4-tuple (addresses as the kernel gives them, both ports).
fn key(r: &Record<'_>) -> u64 {
    let mut h = Fx::default();
    h.write(r.src_addr());
    h.write(r.dst_addr());
    h.write_u32(u32::from(r.src_port()) << 16 | u32::from(r.dst_port()));
    h.finish()
}

impl Visit for Attribution {
    fn reset(&mut self) {
        self.owned.clear();
        self.remembered.clear();
        self.next.clear();
        self.unattributed.clear();
        self.kernel_established = 0;
        self.kernel_close_wait = 0;
        self.dsts.clear();
        self.dst_index.clear();
        self.dst_ownerless.clear();
        self.dst_unattributed.clear();
    }

    fn visit(&mut self, pool: &Pool, protocol: Protocol, record: &Record<'_>) {
        let udp = protocol == Protocol::Udp;
        let port = record.src_port();
        let state = record.state();
        let peer = !udp
            && pool.members.contains(port)
            && !matches!(
                state,
                tcp_state::LISTEN | tcp_state::CLOSE | tcp_state::BOUND_INACTIVE
            );
        let dst = if peer { self.dst(record) } else { NO_DST };
        if record.inode() != 0 {
            self.owned.push(Owned {
                key: if udp { 0 } else { key(record) },
                inode: record.inode(),
                dst,
                port,
                state,
                udp,
                cgroup: record.cgroup_id().unwrap_or(0),
            });
            return;
        }
        if udp {
            return;
        }
        let k = key(record);
        if dst != NO_DST {
            self.dst_ownerless[dst as usize] += 1;
        }
        match self.last.get(&k) {
            Some(&who) => {
                self.next.insert(k, who);
                self.remembered.push(Remembered { who, dst, port });
            }
            None => {
                self.unattributed.insert(port);
                self.kernel_established += u32::from(state == tcp_state::ESTABLISHED);
                self.kernel_close_wait += u32::from(state == tcp_state::CLOSE_WAIT);
                if dst != NO_DST {
                    self.dst_unattributed[dst as usize] += 1;
                }
            }
        }
    }
}

impl Attribution {
    fn dst(&mut self, record: &Record<'_>) -> u32 {
        let dst = Dst::of(record);
        let next = self.dsts.len() as u32;
        let i = *self.dst_index.entry(dst).or_insert(next);
        if i == next {
            self.dsts.push(dst);
            self.dst_ownerless.push(0);
            self.dst_unattributed.push(0);
        }
        i
    }

    /// The inodes of this sample's owned sockets, sorted, for the owners scan.
    pub fn inodes(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.owned.iter().map(|o| o.inode).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Ends the sample: sockets get their owners from `owners` (the scan of [`Self::inodes`]),
    /// memory moves on to this sample's 4-tuples, and the tables are built. `world` answers what
    /// the fold cannot know itself. `now_ms` ages the recent holders.
    pub fn finish(
        &mut self,
        owners: &Owners,
        pool: &PortSet,
        world: &mut dyn World,
        now_ms: u64,
    ) -> Attributed {
        // Current owners into memory and into the destinations' recent holders.
        let mut here: HashMap<(u32, Who), u32, FxBuild> = HashMap::default();
        for o in &self.owned {
            let Some(i) = owners.owner(o.inode) else {
                continue;
            };
            let p = &owners.processes[i];
            let who = (p.pid, p.start);
            self.people.entry(who).or_insert_with(|| p.clone());
            if o.udp || matches!(o.state, tcp_state::LISTEN | tcp_state::CLOSE) {
                continue;
            }
            self.next.insert(o.key, who);
            if o.dst != NO_DST {
                *here.entry((o.dst, who)).or_default() += 1;
            }
        }
        for (&(d, who), &sockets) in &here {
            let list = self.recent.entry(self.dsts[d as usize]).or_default();
            match list.iter_mut().find(|r| r.who == who) {
                Some(r) => {
                    r.last_ms = now_ms;
                    r.sockets = sockets;
                }
                None => list.push(Recent {
                    who,
                    last_ms: now_ms,
                    sockets,
                }),
            }
        }
        // Holders not seen now hold nothing there now.
        for list in self.recent.values_mut() {
            for r in list.iter_mut().filter(|r| r.last_ms != now_ms) {
                r.sockets = 0;
            }
            list.sort_by(|a, b| b.sockets.cmp(&a.sockets).then(b.last_ms.cmp(&a.last_ms)));
        }
        let table = table::build(self, owners, pool, world);
        self.age(now_ms);
        std::mem::swap(&mut self.last, &mut self.next);
        self.next.clear();
        table
    }

    /// Forgets holders not seen for [`RECENT_MS`] (those with connections now stay), keeps at
    /// most [`RECENT_PER_DST`] per destination, and the processes nothing refers to any more.
    fn age(&mut self, now_ms: u64) {
        self.recent.retain(|_, list| {
            list.retain(|r| now_ms.saturating_sub(r.last_ms) <= RECENT_MS);
            list.truncate(RECENT_PER_DST);
            !list.is_empty()
        });
        let mut keep: HashMap<Who, (), FxBuild> = HashMap::default();
        for &who in self.next.values() {
            keep.insert(who, ());
        }
        for r in self.recent.values().flatten() {
            keep.insert(r.who, ());
        }
        self.people.retain(|who, _| keep.contains_key(who));
    }

    /// 4-tuples remembered: memory is bounded by the dump.
    #[cfg(test)]
    pub fn remembered(&self) -> usize {
        self.last.len()
    }
}

#[cfg(test)]
mod tests;
