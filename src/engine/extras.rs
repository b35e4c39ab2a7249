//! What a row may carry beyond the base columns: the destination fold (`--dst`), the owners
//! fold with its memory (`--owners`), the conntrack probe (`--conntrack`, a few reads of /proc per sample, so it lives here and not in the pure
//! fold) and the forecast over the rows so far (`--forecast`).

use crate::diag::{Protocol, Record};
use crate::engine::owners::OwnerFold;
use crate::fold::Visit;
use crate::fold::dst::DstTally;
use crate::fold::forecast::{Forecast, Window};
use crate::fold::groups::{Group, Groups};
use crate::fold::sample::{CtColumns, Sample};
use crate::probes::conntrack::usage::UsageReader;
use crate::probes::pool::Pool;

/// The folds behind the optional column groups, fed by the same pass over the dump as the
/// [`Tally`]. A new group adds its fold here and its columns in the schema.
#[derive(Default)]
pub struct Extras {
    pub dst: Option<DstTally>,
    /// How many of the busiest destinations a sample lists (`--dst-top`; with `dst` only).
    pub dst_top: usize,
    pub ct: Option<CtFold>,
    pub forecast: Option<Forecast>,
    pub owners: Option<OwnerFold>,
}

/// `--conntrack`: not a fold over the dump but a few small reads per sample (the table's count,
/// limit and drop counters), taken in the sampled namespace.
pub struct CtFold {
    reader: Option<UsageReader>,
    /// Drop counters at the previous reading.
    last_drops: Option<u64>,
    /// What to tell the person once (tracking unavailable, a failed read).
    pub note: Option<String>,
}

impl CtFold {
    fn open() -> CtFold {
        let mut fold = match UsageReader::open() {
            Ok(reader) => CtFold {
                reader: Some(reader),
                last_drops: None,
                note: None,
            },
            Err(e) => CtFold {
                reader: None,
                last_drops: None,
                note: Some(format!(
                    "connection tracking is not available in this network namespace ({e}); \
                     the conntrack columns stay empty"
                )),
            },
        };
        // The baseline for the first sample's drops.
        fold.last_drops = fold
            .reader
            .as_mut()
            .and_then(|r| r.read().ok())
            .map(|u| u.drops);
        fold
    }

    fn columns(&mut self) -> CtColumns {
        let Some(reader) = self.reader.as_mut() else {
            return CtColumns::default();
        };
        match reader.read() {
            Ok(u) => {
                let drops = self.last_drops.map(|last| u.drops.saturating_sub(last));
                self.last_drops = Some(u.drops);
                CtColumns {
                    used: Some(u.used),
                    max: Some(u.max),
                    drops,
                }
            }
            Err(e) => {
                self.note = Some(format!("cannot read the conntrack table's usage: {e}"));
                self.last_drops = None;
                CtColumns::default()
            }
        }
    }
}

impl Extras {
    /// The folds the groups of a run need.
    /// Whether the extras of `groups` look at each socket's record (`--dst`, `--owners`), which
    /// counts made in the kernel (`--source bpf`) do not give.
    pub fn need_records(groups: Groups) -> bool {
        groups.contains(Group::Dst) || groups.contains(Group::Owners)
    }

    pub fn for_groups(groups: Groups) -> Extras {
        Extras {
            dst: groups.contains(Group::Dst).then(DstTally::default),
            dst_top: 0,
            ct: groups.contains(Group::Conntrack).then(CtFold::open),
            forecast: None,
            // Lowering refuses --owners with a saved proc tree: the sockets are live.
            owners: groups.contains(Group::Owners).then(|| OwnerFold::new(true)),
        }
    }

    /// Forecasts over `window` (`--forecast`: N samples, or a time span).
    pub fn with_forecast(mut self, window: Option<impl Into<Window>>) -> Extras {
        self.forecast = window.map(|w| Forecast::new(w.into()));
        self
    }

    /// Lists the `k` busiest destinations in each sample's detail (`--dst-top`; 0: none).
    pub fn with_dst_top(mut self, k: usize) -> Extras {
        self.dst_top = k;
        self
    }

    /// A note for the person running conntrend, once per occurrence.
    pub fn take_note(&mut self) -> Option<String> {
        self.ct.as_mut().and_then(|c| c.note.take())
    }

    /// Adds the groups' values to a sample taken with these folds.
    pub fn finish(&mut self, pool: &Pool, sample: &mut Sample) {
        if let Some(dst) = self.dst.as_mut() {
            sample.dst = Some(dst.summary(pool.total(), &pool.members));
            if self.dst_top > 0 {
                let mut ranked = dst.ranked(pool.total(), &pool.members);
                ranked.truncate(self.dst_top);
                sample.detail.destinations = ranked;
            }
        }
        if let Some(ct) = self.ct.as_mut() {
            sample.ct = Some(ct.columns());
        }
        if let Some(o) = self.owners.as_mut() {
            sample.owners = Some(o.finish(pool, sample.epoch_ms).table.columns());
        }
        if let Some(f) = self.forecast.as_mut() {
            let dst = sample.dst.map(|d| d.worst_dst_free);
            sample.forecast = Some(f.columns(sample.epoch_ms, sample.free, dst));
        }
    }
}

impl Visit for Extras {
    fn reset(&mut self) {
        self.dst.reset();
        self.owners.reset();
    }

    #[inline]
    fn visit(&mut self, pool: &Pool, protocol: Protocol, record: &Record<'_>) {
        self.dst.visit(pool, protocol, record);
        self.owners.visit(pool, protocol, record);
    }

    /// `--dst` and `--owners` look at records; the conntrack probe and the forecast work on the
    /// row.
    fn needs_records(&self) -> bool {
        self.dst.needs_records() || self.owners.needs_records()
    }
}
