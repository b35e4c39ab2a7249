//! One `top` report: the sample's counters, the destination ranking and the socket owners, all
//! from a single pass of the sampler over the dumps (the destination fold and the owners fold
//! are two visitors of that pass; the owners fold remembers across refreshes).

use serde::Serialize;

use super::Sort;
use crate::diag::{Dump, tcp_state};
use crate::engine::owners::OwnerFold;
use crate::engine::sampler::Sampler;
use crate::fold::dst::{DstTally, DstUse};
use crate::fold::owners::DstOwners;

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

pub use crate::fold::owners::ProcessUse;

/// A row of the destination table: its use of the pool and states, and who its ownerless
/// sockets are attributed to.
#[derive(Debug, Serialize)]
pub struct DstRow {
    #[serde(flatten)]
    pub usage: DstUse,
    #[serde(flatten)]
    pub owners: DstOwners,
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
    pub destinations: Vec<DstRow>,
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

/// The folds a report keeps from one refresh to the next: the destinations (buffers reused) and
/// the owners (memory of who owned which 4-tuple).
pub struct Folds {
    dsts: DstTally,
    owners: OwnerFold,
}

impl Folds {
    /// `live` is false for a saved proc tree: its sockets' owners are not this host's processes,
    /// so none is looked for.
    pub fn new(live: bool) -> Folds {
        Folds {
            dsts: DstTally::default(),
            owners: OwnerFold::new(live),
        }
    }
}

/// Takes one sample with `sampler`, stamped `epoch_ms`, and builds the report.
pub fn build<D: Dump>(
    sampler: &mut Sampler<D>,
    folds: &mut Folds,
    epoch_ms: u64,
    rows: usize,
    sort: Sort,
    netns: Option<String>,
) -> anyhow::Result<Report> {
    let mut fold = (&mut folds.dsts, &mut folds.owners);
    let sample = sampler.take(epoch_ms, &mut fold)?;
    let pool = sampler.pool();
    let total = pool.total();
    let tally = sampler.tally();
    let states = States(tcp_state::LABELS.map(|(name, nums)| {
        (
            name,
            nums.iter().map(|&s| tally.tcp_states[usize::from(s)]).sum(),
        )
    }));
    let mut ranked = folds.dsts.ranked(total, &pool.members);
    ranked.truncate(rows);
    let seen = folds.owners.finish(pool, epoch_ms);
    let all_processes_visible = seen.owners.hidden == 0 && !seen.owners.unknown;
    let mut table = seen.table;
    let destinations = ranked
        .into_iter()
        .map(|usage| DstRow {
            owners: table.destinations.remove(&usage.dst).unwrap_or_default(),
            usage,
        })
        .collect();
    let by = |p: &ProcessUse| match sort {
        Sort::Ports => p.ports(),
        Sort::CloseWait => p.close_wait,
        Sort::Established => p.established,
    };
    let mut processes = table.processes;
    processes.sort_by(|a, b| {
        by(b)
            .cmp(&by(a))
            .then(a.pid.is_none().cmp(&b.pid.is_none()))
            .then(a.pid.cmp(&b.pid))
    });
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
        all_processes_visible,
        owners_in_other_pid_namespace: table.other_pid_namespace,
        conntrack: None,
    })
}
