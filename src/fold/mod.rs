//! How a mode joins the one pass over a dump: a [`Visit`]or sees every record of a sample beside
//! the built-in counters (`--dst`'s destinations, `top`'s owners, and the modes to come). Visitors
//! compose (`Option`, tuples), so a mode asks for several without a second walk.
//!
//! Everything under fold/ is pure: records and numbers in, counters out, no I/O (the tests feed
//! it hand-made records). What needs a read per sample (the conntrack probe) is in engine/.

pub mod dst;
pub mod forecast;
pub mod groups;
pub mod owners;
pub mod pairs;
pub mod sample;

use crate::diag::bpf::Counts;
use crate::diag::{Protocol, Record};
use crate::probes::pool::Pool;

/// Something that wants to see every record of a sample.
pub trait Visit {
    /// Forget what was seen: a new attempt at the sample starts (the counters restart too).
    fn reset(&mut self);
    /// One socket of `protocol`, with the pool this sample is counted against.
    fn visit(&mut self, pool: &Pool, protocol: Protocol, record: &Record<'_>);
    /// False when the visitor never looks at a record, so that a sample may be counted in the
    /// kernel (`--source bpf`) instead of dumped socket by socket.
    fn needs_records(&self) -> bool {
        true
    }
    /// The sample was counted in the kernel instead (only for a visitor that needs no records).
    fn add_counts(&mut self, _counts: &Counts) {}
}

/// Nothing extra: the timeline's own path.
impl Visit for () {
    fn reset(&mut self) {}
    #[inline]
    fn visit(&mut self, _: &Pool, _: Protocol, _: &Record<'_>) {}
    fn needs_records(&self) -> bool {
        false
    }
}

/// A visitor that is only there when asked for.
impl<V: Visit> Visit for Option<V> {
    fn reset(&mut self) {
        if let Some(v) = self {
            v.reset();
        }
    }
    #[inline]
    fn visit(&mut self, pool: &Pool, protocol: Protocol, record: &Record<'_>) {
        if let Some(v) = self {
            v.visit(pool, protocol, record);
        }
    }
    fn needs_records(&self) -> bool {
        self.as_ref().is_some_and(V::needs_records)
    }
    fn add_counts(&mut self, counts: &Counts) {
        if let Some(v) = self {
            v.add_counts(counts);
        }
    }
}

/// Two visitors in the same pass.
impl<A: Visit, B: Visit> Visit for (A, B) {
    fn reset(&mut self) {
        self.0.reset();
        self.1.reset();
    }
    #[inline]
    fn visit(&mut self, pool: &Pool, protocol: Protocol, record: &Record<'_>) {
        self.0.visit(pool, protocol, record);
        self.1.visit(pool, protocol, record);
    }
    fn needs_records(&self) -> bool {
        self.0.needs_records() || self.1.needs_records()
    }
    fn add_counts(&mut self, counts: &Counts) {
        self.0.add_counts(counts);
        self.1.add_counts(counts);
    }
}

/// A visitor lent to one pass and kept by its owner for the next (memory across samples).
impl<V: Visit> Visit for &mut V {
    fn reset(&mut self) {
        (**self).reset();
    }
    #[inline]
    fn visit(&mut self, pool: &Pool, protocol: Protocol, record: &Record<'_>) {
        (**self).visit(pool, protocol, record);
    }
    fn needs_records(&self) -> bool {
        (**self).needs_records()
    }
    fn add_counts(&mut self, counts: &Counts) {
        (**self).add_counts(counts);
    }
}
