//! The chart's axes.
//!
//! Time: the stretches of time that have samples — the runs' spans, merged where they overlap —
//! laid side by side across the plot's width. A gap between two of them is cut out of the axis
//! and drawn as a break [`BREAK_WIDTH`] pixels wide when it lasts a minute or more and either a
//! twentieth of the whole span or more than all the time with samples (so that runs spread far
//! apart are not slivers); at most [`MAX_BREAKS`] are, the longest. Other gaps stay on the axis as
//! empty time. Each stretch gets a
//! width in proportion to the time with samples in it, and at least a twentieth of all that time,
//! so a run of a few samples is still seen; within a stretch time is linear. Without a break this is the plain
//! linear axis from the first sample to the last. Each stretch has its own round ticks.
//!
//! Values: from 0 to a round number above the largest, in round steps.

/// The width of a break between two stretches, in pixels.
pub const BREAK_WIDTH: f64 = 24.0;
/// The most gaps cut out of the time axis.
pub const MAX_BREAKS: usize = 12;
/// The shortest gap cut out (ms).
const MIN_GAP: u64 = 60_000;
/// The most time ticks, whatever the span (there are about six per 1,000 pixels).
const MAX_TICKS: usize = 24;
/// About one time tick per this many pixels.
const TICK_SPACING: f64 = 180.0;

/// A stretch of time with samples and where it is drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Stretch {
    pub from: u64,
    pub to: u64,
    pub x0: f64,
    pub x1: f64,
}

/// A gap cut out between two stretches.
#[derive(Debug, Clone, PartialEq)]
pub struct Break {
    /// The last time before it and the first after it.
    pub from: u64,
    pub to: u64,
    pub x0: f64,
    pub x1: f64,
}

/// A time tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub t: u64,
    pub x: f64,
    /// The first tick of its stretch.
    pub first: bool,
}

#[derive(Debug, Clone)]
pub struct TimeAxis {
    pub stretches: Vec<Stretch>,
}

impl TimeAxis {
    /// The axis for samples covering `spans` (sorted, not overlapping, not empty), drawn from
    /// `left` to `right`.
    pub fn new(spans: &[(u64, u64)], (left, right): (f64, f64)) -> TimeAxis {
        let whole = spans[spans.len() - 1].1 - spans[0].0;
        let covered: u64 = spans.iter().map(|s| s.1 - s.0).sum();
        let mut gaps: Vec<(u64, usize)> = (1..spans.len())
            .map(|i| (spans[i].0 - spans[i - 1].1, i))
            .filter(|&(gap, _)| gap >= MIN_GAP && (gap > whole / 20 || gap > covered))
            .collect();
        gaps.sort_unstable_by(|a, b| b.cmp(a));
        gaps.truncate(MAX_BREAKS);
        // (from, to, time with samples) of each stretch.
        let mut parts: Vec<(u64, u64, u64)> = Vec::new();
        for (i, &(a, b)) in spans.iter().enumerate() {
            match parts.last_mut() {
                Some(last) if !gaps.iter().any(|g| g.1 == i) => {
                    last.1 = b;
                    last.2 += b - a;
                }
                _ => parts.push((a, b, b - a)),
            }
        }
        let weight = |p: &(u64, u64, u64)| (p.2 as f64).max(covered as f64 / 20.0).max(1.0);
        let total: f64 = parts.iter().map(weight).sum();
        let room = right - left - BREAK_WIDTH * (parts.len() - 1) as f64;
        let mut x = left;
        let stretches = parts
            .iter()
            .map(|p| {
                let w = room * weight(p) / total;
                let s = Stretch {
                    from: p.0,
                    to: p.1,
                    x0: x,
                    x1: x + w,
                };
                x += w + BREAK_WIDTH;
                s
            })
            .collect();
        TimeAxis { stretches }
    }

    /// The stretch `t` is drawn in (the nearest before it when it falls in a break).
    pub fn stretch_of(&self, t: u64) -> usize {
        self.stretches
            .partition_point(|s| s.from <= t)
            .saturating_sub(1)
    }

    /// The x of time `t`.
    pub fn x(&self, t: u64) -> f64 {
        let s = &self.stretches[self.stretch_of(t)];
        if s.to == s.from {
            return (s.x0 + s.x1) / 2.0;
        }
        let t = t.clamp(s.from, s.to);
        s.x0 + (t - s.from) as f64 / (s.to - s.from) as f64 * (s.x1 - s.x0)
    }

    pub fn breaks(&self) -> Vec<Break> {
        self.stretches
            .windows(2)
            .map(|w| Break {
                from: w[0].to,
                to: w[1].from,
                x0: w[0].x1,
                x1: w[1].x0,
            })
            .collect()
    }

    /// Round ticks in each stretch (one at its start when none falls in it), at most
    /// [`MAX_TICKS`] in all.
    pub fn ticks(&self) -> Vec<Tick> {
        let mut ticks = Vec::new();
        for s in &self.stretches {
            let per = ((s.x1 - s.x0) / TICK_SPACING).max(1.0);
            let step = time_step((s.to - s.from) as f64 / per);
            let mut t = s.from.div_ceil(step).saturating_mul(step);
            let before = ticks.len();
            while t <= s.to && ticks.len() < MAX_TICKS {
                ticks.push(Tick {
                    t,
                    x: self.x(t),
                    first: ticks.len() == before,
                });
                t = t.saturating_add(step);
            }
            if ticks.len() == before && ticks.len() < MAX_TICKS {
                ticks.push(Tick {
                    t: s.from,
                    x: self.x(s.from),
                    first: true,
                });
            }
        }
        ticks
    }
}

/// A tick interval (ms) near `raw`, from seconds to weeks; past that, 2, 5, 10, 20, 50… weeks,
/// so that any span has a handful of ticks. A week stays the step up to 12 ticks.
pub fn time_step(raw: f64) -> u64 {
    const WEEK: u64 = 604_800_000;
    const STEPS: [u64; 19] = [
        1_000,
        5_000,
        10_000,
        15_000,
        30_000,
        60_000,
        120_000,
        300_000,
        600_000,
        900_000,
        1_800_000,
        3_600_000,
        7_200_000,
        10_800_000,
        21_600_000,
        43_200_000,
        86_400_000,
        172_800_000,
        604_800_000,
    ];
    if let Some(s) = STEPS.iter().copied().find(|&s| s as f64 >= raw) {
        return s;
    }
    if raw <= 2.0 * WEEK as f64 {
        return WEEK;
    }
    let mut weeks = 1u64;
    loop {
        for m in [2, 5, 10] {
            if (weeks * m * WEEK) as f64 >= raw {
                return weeks * m * WEEK;
            }
        }
        weeks *= 10;
    }
}

/// A span of time in its two largest units: `4d 2h`, `3h 5m`, `15m`, `1m 30s`, `250ms`.
pub fn duration(ms: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
    ];
    let Some(i) = UNITS.iter().position(|u| ms >= u.0) else {
        return format!("{ms}ms");
    };
    let (big, name) = UNITS[i];
    let mut out = format!("{}{name}", ms / big);
    if let Some(&(small, sname)) = UNITS.get(i + 1)
        && ms % big >= small
    {
        out += &format!(" {}{sname}", ms % big / small);
    }
    out
}

/// A round number at or above `v` (1, 2, 2.5, 5 × 10^k).
pub fn nice_ceiling(v: f64) -> f64 {
    let step = nice_step(v / 5.0);
    (v / step).ceil() * step
}

pub fn nice_step(raw: f64) -> f64 {
    let raw = raw.max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

/// A value tick's label: in full up to 999,999, then with a unit (1.5M, 250G, 20E), so that a
/// label stays within the left margin.
pub fn tick_label(v: f64) -> String {
    if v < 1e6 {
        return (v as u64).to_string();
    }
    let (scaled, unit) = [
        (1e18, "E"),
        (1e15, "P"),
        (1e12, "T"),
        (1e9, "G"),
        (1e6, "M"),
    ]
    .into_iter()
    .find(|u| v >= u.0)
    .map(|(div, unit)| (v / div, unit))
    .expect("v is at least 1e6");
    let text = format!("{scaled:.1}");
    format!("{}{unit}", text.trim_end_matches(".0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_numbers() {
        assert_eq!(nice_step(17.0), 20.0);
        assert_eq!(nice_step(230.0), 250.0);
        assert_eq!(nice_ceiling(29_643.0), 30_000.0);
        assert_eq!(time_step(50_000.0), 60_000);
        // A week up to 12 ticks, then 2, 5, 10… weeks: a handful of ticks over 8,000 years.
        let week = 604_800_000;
        assert_eq!(time_step(2.0 * week as f64), week);
        assert_eq!(time_step(2.1 * week as f64), 5 * week);
        let longest = super::super::log::LAST_MS as f64;
        assert!(longest / time_step(longest / 6.0) as f64 <= 12.0);
        assert_eq!(tick_label(25_000.0), "25000");
        assert_eq!(tick_label(2_500_000.0), "2.5M");
        assert_eq!(tick_label(2e19), "20E");
        assert_eq!(duration(4 * 86_400_000 + 7_300_000), "4d 2h");
        assert_eq!(duration(90_000), "1m 30s");
        assert_eq!(duration(900_000), "15m");
        assert_eq!(duration(250), "250ms");
    }

    #[test]
    fn a_long_gap_is_cut_out_and_a_short_one_kept() {
        let day = 86_400_000;
        // Two runs of a minute, four days apart: two stretches of equal width, one break.
        let axis = TimeAxis::new(&[(0, 60_000), (4 * day, 4 * day + 60_000)], (0.0, 1024.0));
        assert_eq!(axis.stretches.len(), 2);
        let b = &axis.breaks()[0];
        assert_eq!((b.x0, b.x1), (500.0, 524.0));
        assert_eq!(axis.x(30_000), 250.0);
        assert_eq!(axis.x(4 * day), 524.0);
        // Two runs of a day, an hour apart: one linear axis.
        let axis = TimeAxis::new(&[(0, day), (day + 3_600_000, 2 * day)], (0.0, 1000.0));
        assert_eq!(axis.stretches.len(), 1);
        assert_eq!(axis.x(day), 1000.0 * 24.0 / 48.0);
        // Runs a day apart covering less than a day between them: each gap is cut.
        let spread: Vec<(u64, u64)> = (0..5).map(|k| (k * day, k * day + 3_600_000)).collect();
        assert_eq!(TimeAxis::new(&spread, (0.0, 1000.0)).breaks().len(), 4);
        // Under a minute is never cut.
        let axis = TimeAxis::new(&[(0, 1000), (50_000, 51_000)], (0.0, 1000.0));
        assert_eq!(axis.stretches.len(), 1);
        // A single sample: the middle.
        let axis = TimeAxis::new(&[(5, 5)], (0.0, 100.0));
        assert_eq!(axis.x(5), 50.0);
        assert_eq!(axis.ticks().len(), 1);
    }

    #[test]
    fn a_short_run_gets_a_twentieth_and_breaks_are_capped() {
        let day = 86_400_000;
        // A day, then fifteen one-sample runs a day apart each.
        let mut spans = vec![(0, day)];
        spans.extend((2..17).map(|k| (k * day, k * day)));
        let axis = TimeAxis::new(&spans, (0.0, 1000.0));
        assert_eq!(axis.breaks().len(), MAX_BREAKS);
        let w: Vec<f64> = axis.stretches.iter().map(|s| s.x1 - s.x0).collect();
        assert!(w.iter().all(|&w| w > 20.0), "{w:?}");
        assert!(axis.ticks().len() <= 24);
    }
}
