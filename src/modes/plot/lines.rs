//! The series as lines: one polyline per series, run and stretch (a line never crosses a break),
//! decimated to at most two points per pixel column — its minimum and maximum — so that no spike
//! is lost however long the log.

use std::fmt::Write as _;

use super::axis::TimeAxis;
use super::log::Log;
use super::svg::{LEFT, PW, Panel, color, esc};
use super::track::Point;

/// One polyline per series, run and stretch, decimated per pixel column; a line of one point is
/// a dot (a polyline of one point draws nothing).
pub fn series(o: &mut String, log: &Log, panels: &[Panel], axis: &TimeAxis) {
    let columns = PW.floor() as usize;
    for p in panels {
        for &(k, name) in &p.series {
            let Some(track) = log.track(name) else {
                continue;
            };
            let dash = if name == "total_port" {
                " stroke-dasharray=\"6 4\""
            } else {
                ""
            };
            let width = if matches!(name, "used" | "free") {
                2.0
            } else {
                1.2
            };
            for line in track.lines() {
                // A line never crosses a break: a run is within one stretch, but a run whose
                // clock went back could straddle two.
                let mut rest = &line.points[..];
                while !rest.is_empty() {
                    let s = axis.stretch_of(rest[0].t);
                    let n = rest
                        .iter()
                        .position(|q| axis.stretch_of(q.t) != s)
                        .unwrap_or(rest.len());
                    let col = |t: u64| ((axis.x(t) - LEFT).max(0.0) as usize).min(columns - 1);
                    let points = decimate(&rest[..n], col, columns);
                    rest = &rest[n..];
                    let _ = write!(
                        o,
                        "<polyline class=\"series\" data-series=\"{}\" data-segment=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{width}\"{dash} points=\"",
                        esc(name),
                        line.segment,
                        color(name, k)
                    );
                    for q in &points {
                        let _ = write!(o, "{:.1},{:.1} ", axis.x(q.t), p.y(q.v as f64));
                    }
                    o.pop();
                    o.push_str("\"/>\n");
                    if let [q] = points[..] {
                        let _ = writeln!(
                            o,
                            "<circle class=\"point\" data-series=\"{}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"{width}\" fill=\"{}\"/>",
                            esc(name),
                            axis.x(q.t),
                            p.y(q.v as f64),
                            color(name, k)
                        );
                    }
                }
            }
        }
    }
}

/// At most two points per pixel column (`col` gives a time's): its minimum and maximum, in time
/// order; a line that fits is kept whole.
fn decimate(run: &[Point], col: impl Fn(u64) -> usize, columns: usize) -> Vec<Point> {
    if run.len() <= 2 * columns {
        return run.to_vec();
    }
    let mut out = Vec::with_capacity(2 * columns + 2);
    let mut i = 0;
    while i < run.len() {
        let c = col(run[i].t);
        let (mut lo, mut hi) = (run[i], run[i]);
        while i < run.len() && col(run[i].t) == c {
            let p = run[i];
            if p.v < lo.v {
                lo = p;
            }
            if p.v > hi.v {
                hi = p;
            }
            i += 1;
        }
        if lo.t <= hi.t {
            out.push(lo);
            if hi.t != lo.t {
                out.push(hi);
            }
        } else {
            out.push(hi);
            out.push(lo);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_sample_spike_survives_decimation() {
        let mut run: Vec<Point> = (0..100_000).map(|t| Point { t, v: 10 }).collect();
        run[54_321].v = 9_999;
        let col = |t: u64| (t as f64 / 99_999.0 * 1000.0) as usize;
        let pts = decimate(&run, col, 1000);
        assert!(pts.len() <= 2000, "{}", pts.len());
        assert!(pts.iter().any(|p| p.v == 9_999 && p.t == 54_321));
        assert!(pts.windows(2).all(|w| w[0].t <= w[1].t), "time order kept");
    }
}
