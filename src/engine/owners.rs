//! Owners with memory, as `top` and the timeline's `--owners` take them: the attribution fold
//! (pure, fed by the sample's pass over the dump) plus what it needs from the system after the
//! dump — a /proc scan that remembers its last answer, cgroup names and whether a process lives.

use crate::diag::{Protocol, Record};
use crate::fold::Visit;
use crate::fold::owners::{Attributed, Attribution, Who, World};
use crate::probes::cgroup::Cgroups;
use crate::probes::owners::{Owners, Tracker, start_time};
use crate::probes::pool::Pool;

/// The owners fold of a run.
pub struct OwnerFold {
    attribution: Attribution,
    tracker: Tracker,
    cgroups: Cgroups,
    /// False for a saved proc tree: its sockets' processes are not this host's.
    live: bool,
    unknown: Owners,
}

/// What a sample's owners are, and how far they could be seen.
pub struct OwnersSeen<'a> {
    pub table: Attributed,
    pub owners: &'a Owners,
}

impl OwnerFold {
    pub fn new(live: bool) -> OwnerFold {
        OwnerFold {
            attribution: Attribution::default(),
            tracker: Tracker::default(),
            cgroups: if live {
                Cgroups::open()
            } else {
                Cgroups::default()
            },
            live,
            unknown: Owners::unknown(),
        }
    }

    /// Ends the sample this fold visited: scans for the owners and attributes.
    pub fn finish(&mut self, pool: &Pool, now_ms: u64) -> OwnersSeen<'_> {
        let owners = if self.live {
            let inodes = self.attribution.inodes();
            self.tracker.scan(&inodes)
        } else {
            &self.unknown
        };
        self.cgroups.refresh();
        let mut world = System {
            cgroups: &mut self.cgroups,
        };
        let table = self
            .attribution
            .finish(owners, &pool.members, &mut world, now_ms);
        OwnersSeen { table, owners }
    }
}

impl Visit for OwnerFold {
    fn reset(&mut self) {
        self.attribution.reset();
    }

    #[inline]
    fn visit(&mut self, pool: &Pool, protocol: Protocol, record: &Record<'_>) {
        self.attribution.visit(pool, protocol, record);
    }
}

struct System<'a> {
    cgroups: &'a mut Cgroups,
}

impl World for System<'_> {
    fn cgroup(&mut self, id: u64) -> Option<String> {
        self.cgroups.path(id).map(str::to_string)
    }

    fn alive(&mut self, (pid, start): Who) -> bool {
        start_time(pid) == Some(start)
    }
}
