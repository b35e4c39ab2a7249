//! One column of the log as it is read, in memory bounded by the chart's width rather than the
//! log's length: its exact extremes (for the markers and the y axis), and its points for drawing.
//!
//! The points are kept exactly, with the breaks between runs (a missing value, a new run of the
//! log), while they number at most [`Limits::exact`]: the chart of such a log is the one the
//! exact points give. Past that they go into time buckets (`t >> shift`), each keeping its minimum
//! and maximum; when the buckets would span more than [`Limits::buckets`] slots, the shift grows by
//! one and neighbours merge pairwise, so the time span need not be known in advance (a log read
//! from a pipe). At the end a bucket is narrower than 2 × span / (buckets − 1): with 16,384 buckets
//! and a chart 1,090 pixels wide, under a seventh of a pixel. A break narrower than one bucket is
//! not kept (nothing could show it); the chart decimates the buckets' points per pixel column.

/// A sample of the column: time (ms since the epoch) and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    pub t: u64,
    pub v: u64,
}

/// How much a track keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Points kept exactly before they are bucketed.
    pub exact: usize,
    /// The most time buckets; a power of two.
    pub buckets: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            exact: 32_768,
            buckets: 16_384,
        }
    }
}

/// A stretch of the column to draw as one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The run of the log it starts in (0-based, over every file read).
    pub segment: usize,
    /// In the log's order while exact; in time order once bucketed.
    pub points: Vec<Point>,
}

#[derive(Debug, Clone)]
struct Bucket {
    idx: u64,
    lo: Point,
    hi: Point,
    /// The earliest and the latest time in the bucket.
    first: u64,
    last: u64,
    /// The line breaks before this bucket.
    brk: bool,
    segment: usize,
}

impl Bucket {
    fn add(&mut self, p: Point) {
        if p.v < self.lo.v {
            self.lo = p;
        }
        if p.v > self.hi.v {
            self.hi = p;
        }
        self.first = self.first.min(p.t);
        self.last = self.last.max(p.t);
    }

    /// Takes in `later`, the next bucket in time (ties keep the earlier point).
    fn absorb(&mut self, later: &Bucket) {
        if later.lo.v < self.lo.v {
            self.lo = later.lo;
        }
        if later.hi.v > self.hi.v {
            self.hi = later.hi;
        }
        self.first = self.first.min(later.first);
        self.last = self.last.max(later.last);
    }
}

/// True when the time from `a` to `b` is at least a bucket wide: a break there can be seen.
fn wide(a: u64, b: u64, shift: u32) -> bool {
    b.saturating_sub(a) >> shift > 0
}

#[derive(Debug, Clone)]
enum Kept {
    /// Every point, and where each line starts: (index into the points, segment).
    Exact {
        points: Vec<Point>,
        starts: Vec<(usize, usize)>,
    },
    /// Min and max per `1 << shift` ms, in time order.
    Buckets { shift: u32, buckets: Vec<Bucket> },
}

/// One column over every run of the log.
#[derive(Debug, Clone)]
pub struct Track {
    limits: Limits,
    /// The first largest and the first smallest value read.
    pub max: Option<Point>,
    pub min: Option<Point>,
    /// The line breaks before the next point.
    broken: bool,
    /// The segment of the last point.
    last_segment: Option<usize>,
    kept: Kept,
}

impl Track {
    pub fn new(limits: Limits) -> Self {
        Track {
            limits,
            max: None,
            min: None,
            broken: true,
            last_segment: None,
            kept: Kept::Exact {
                points: Vec::new(),
                starts: Vec::new(),
            },
        }
    }

    /// A value missing: the line breaks here.
    pub fn gap(&mut self) {
        self.broken = true;
    }

    /// A value of run `segment` at time `t`.
    pub fn push(&mut self, segment: usize, t: u64, v: u64) {
        let p = Point { t, v };
        if self.max.is_none_or(|m| v > m.v) {
            self.max = Some(p);
        }
        if self.min.is_none_or(|m| v < m.v) {
            self.min = Some(p);
        }
        let brk = self.broken || self.last_segment != Some(segment);
        self.broken = false;
        self.last_segment = Some(segment);
        match &mut self.kept {
            Kept::Exact { points, starts } if points.len() < self.limits.exact => {
                if brk {
                    starts.push((points.len(), segment));
                }
                points.push(p);
                return;
            }
            Kept::Exact { .. } => self.bucket_all(),
            Kept::Buckets { .. } => {}
        }
        self.add(p, brk, segment);
    }

    /// Points kept (a measure of the memory held).
    #[cfg(test)]
    pub fn kept(&self) -> usize {
        match &self.kept {
            Kept::Exact { points, .. } => points.len(),
            Kept::Buckets { buckets, .. } => 2 * buckets.len(),
        }
    }

    /// True once the points are bucketed.
    #[cfg(test)]
    pub fn bucketed(&self) -> bool {
        matches!(self.kept, Kept::Buckets { .. })
    }

    /// The lines to draw.
    pub fn lines(&self) -> Vec<Line> {
        match &self.kept {
            Kept::Exact { points, starts } => starts
                .iter()
                .enumerate()
                .map(|(k, &(from, segment))| {
                    let to = starts.get(k + 1).map_or(points.len(), |s| s.0);
                    Line {
                        segment,
                        points: points[from..to].to_vec(),
                    }
                })
                .collect(),
            Kept::Buckets { buckets, .. } => {
                let mut lines: Vec<Line> = Vec::new();
                for b in buckets {
                    if b.brk || lines.is_empty() {
                        lines.push(Line {
                            segment: b.segment,
                            points: Vec::new(),
                        });
                    }
                    let points = &mut lines.last_mut().expect("pushed above").points;
                    if b.lo == b.hi {
                        points.push(b.lo);
                    } else if b.lo.t <= b.hi.t {
                        points.extend([b.lo, b.hi]);
                    } else {
                        points.extend([b.hi, b.lo]);
                    }
                }
                lines
            }
        }
    }

    /// Moves the exact points into buckets, replaying them in the order read.
    fn bucket_all(&mut self) {
        let Kept::Exact { points, starts } = std::mem::replace(
            &mut self.kept,
            Kept::Buckets {
                shift: 0,
                buckets: Vec::new(),
            },
        ) else {
            return;
        };
        let mut next = starts.iter().peekable();
        let mut segment = 0;
        for (i, &p) in points.iter().enumerate() {
            let brk = next.peek().is_some_and(|s| s.0 == i);
            if brk {
                segment = next.next().expect("peeked").1;
            }
            self.add(p, brk, segment);
        }
    }

    /// Adds a point to the buckets. A break survives only where the gap it stands for is at
    /// least a bucket wide (checked again as the buckets widen).
    fn add(&mut self, p: Point, brk: bool, segment: usize) {
        let Kept::Buckets { shift, buckets } = &mut self.kept else {
            unreachable!("bucketed before adding");
        };
        let idx = p.t >> *shift;
        let at = match buckets.last() {
            Some(b) if b.idx < idx => Err(buckets.len()),
            Some(b) if b.idx == idx => Ok(buckets.len() - 1),
            None => Err(0),
            Some(_) => buckets.binary_search_by_key(&idx, |b| b.idx),
        };
        match at {
            Ok(i) => buckets[i].add(p),
            Err(i) => {
                let seen = i == 0 || wide(buckets[i - 1].last, p.t, *shift);
                let new = Bucket {
                    idx,
                    lo: p,
                    hi: p,
                    first: p.t,
                    last: p.t,
                    brk: brk && seen,
                    segment,
                };
                buckets.insert(i, new);
            }
        }
        let spread = |b: &[Bucket]| b[b.len() - 1].idx - b[0].idx + 1;
        while spread(buckets) > self.limits.buckets {
            *shift += 1;
            let mut merged: Vec<Bucket> = Vec::with_capacity(buckets.len() / 2 + 1);
            for mut b in buckets.drain(..) {
                b.idx >>= 1;
                match merged.last_mut() {
                    Some(m) if m.idx == b.idx => m.absorb(&b),
                    Some(m) => {
                        b.brk &= wide(m.last, b.first, *shift);
                        merged.push(b);
                    }
                    None => merged.push(b),
                }
            }
            *buckets = merged;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(exact: usize, buckets: u64) -> Limits {
        Limits { exact, buckets }
    }

    #[test]
    fn within_the_exact_limit_every_point_and_break_is_kept_in_order() {
        let mut tr = Track::new(limits(10, 4));
        tr.push(0, 5, 1);
        tr.push(0, 3, 9); // time going back: kept as read
        tr.gap();
        tr.push(0, 7, 2);
        tr.push(1, 8, 2); // a new run: a new line
        assert!(!tr.bucketed());
        let lines = tr.lines();
        let pts = |l: &Line| l.points.iter().map(|p| (p.t, p.v)).collect::<Vec<_>>();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            (lines[0].segment, pts(&lines[0])),
            (0, vec![(5, 1), (3, 9)])
        );
        assert_eq!((lines[1].segment, pts(&lines[1])), (0, vec![(7, 2)]));
        assert_eq!((lines[2].segment, pts(&lines[2])), (1, vec![(8, 2)]));
        assert_eq!(tr.max, Some(Point { t: 3, v: 9 }));
        assert_eq!(tr.min, Some(Point { t: 5, v: 1 }));
    }

    #[test]
    fn past_the_limit_memory_stays_bounded_and_extremes_survive() {
        let mut tr = Track::new(limits(1000, 256));
        let n = 1_000_000u64;
        let mut most = 0;
        for i in 0..n {
            let v = match i {
                123_457 => 5_000,
                777_777 => 0,
                _ => 100 + i % 17,
            };
            tr.push(0, 1_700_000_000_000 + i * 1000, v);
            most = most.max(tr.kept());
        }
        assert!(tr.bucketed());
        assert!(most <= 1000, "{most} points kept at most");
        assert_eq!(
            tr.max,
            Some(Point {
                t: 1_700_000_000_000 + 123_457_000,
                v: 5_000
            })
        );
        assert_eq!(
            tr.min,
            Some(Point {
                t: 1_700_000_000_000 + 777_777_000,
                v: 0
            })
        );
        let lines = tr.lines();
        assert_eq!(lines.len(), 1, "no gap, one line");
        let pts = &lines[0].points;
        assert!(pts.len() <= 2 * 256 && pts.len() > 256, "{}", pts.len());
        assert!(pts.windows(2).all(|w| w[0].t < w[1].t), "in time order");
        assert!(pts.contains(&tr.max.unwrap()) && pts.contains(&tr.min.unwrap()));
    }

    #[test]
    fn gaps_and_runs_stay_bounded_and_wide_gaps_stay_breaks() {
        // A value missing every other sample (a million lines of one point each), then a second
        // run a day later: the buckets hold a few hundred points, the gaps narrower than a bucket
        // are gone, and the day is still a gap.
        let mut tr = Track::new(limits(100, 256));
        for i in 0..1_000_000u64 {
            tr.push(0, i * 2000, i % 7);
            tr.gap();
            assert!(tr.kept() <= 2 * 256, "{}", tr.kept());
        }
        let next = 2_000_000_000 + 86_400_000;
        tr.push(1, next, 3);
        tr.push(1, next + 1000, 4);
        let lines = tr.lines();
        assert_eq!(lines.len(), 2, "two runs");
        assert_eq!((lines[0].segment, lines[1].segment), (0, 1));
        assert_eq!(lines[1].points[0].t, next, "the second run starts a line");
    }

    #[test]
    fn times_out_of_order_are_bucketed_in_time_order() {
        let mut tr = Track::new(limits(2, 1024));
        for t in [50_000u64, 10_000, 90_000, 20_000, 70_000] {
            tr.push(0, t, t / 1000);
        }
        let ts: Vec<u64> = tr
            .lines()
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.t))
            .collect();
        assert_eq!(ts, [10_000, 20_000, 50_000, 70_000, 90_000]);
    }
}
