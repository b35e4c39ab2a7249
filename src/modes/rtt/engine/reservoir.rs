//! The bounded RTT sample per flow: min, max and a reservoir of up to [`RESERVOIR`] samples
//! for the percentiles.

use super::RESERVOIR;

/// Min, max and a bounded uniform sample of the RTTs (algorithm R, deterministic).
#[derive(Default)]
pub(super) struct Reservoir {
    pub(super) kept: Vec<f64>,
    pub(super) seen: u64,
    pub(super) min: Option<f64>,
    pub(super) max: Option<f64>,
    rng: u64,
}

impl Reservoir {
    pub(super) fn add(&mut self, rtt: f64) {
        self.seen += 1;
        self.min = Some(self.min.map_or(rtt, |m| m.min(rtt)));
        self.max = Some(self.max.map_or(rtt, |m| m.max(rtt)));
        if self.kept.len() < RESERVOIR {
            self.kept.push(rtt);
            return;
        }
        // xorshift64*
        self.rng = if self.rng == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            self.rng
        };
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) % self.seen;
        if (r as usize) < RESERVOIR {
            self.kept[r as usize] = rtt;
        }
    }

    /// The nearest-rank percentile `p` (0 < p ≤ 100) of the kept samples.
    pub(super) fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
        let n = sorted.len();
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        sorted.get(rank.clamp(1, n.max(1)) - 1).copied()
    }
}
