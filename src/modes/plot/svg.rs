//! The timeline as one self-contained SVG, written directly: an explicit background (readable in
//! dark and light viewers), axes with time and port ticks, one polyline per series and segment
//! (a gap between runs and across missing values), min/max decimation per pixel column so that no
//! spike is lost however long the log, markers on the peak of `used` and the minimum of `free`,
//! and a legend.

use std::fmt::Write as _;

use super::log::Segment;
use crate::util::time::{self, Zone};

pub const WIDTH: f64 = 1200.0;
pub const HEIGHT: f64 = 600.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 60.0;
const BOTTOM: f64 = 60.0;

/// The main series, then the secondary ones plotted when present.
const DEFAULT_SERIES: [&str; 9] = [
    "total_port",
    "used",
    "free",
    "time_wait",
    "estab",
    "close_wait",
    "syn",
    "worst_dst_used",
    "ct_used",
];

fn color(name: &str, i: usize) -> &'static str {
    match name {
        "used" => "#d62728",
        "free" => "#2ca02c",
        "total_port" => "#555555",
        "time_wait" => "#1f77b4",
        "estab" => "#9467bd",
        "close_wait" => "#ff7f0e",
        "syn" => "#8c564b",
        "worst_dst_used" => "#e377c2",
        "ct_used" => "#17becf",
        _ => ["#bcbd22", "#7f7f7f", "#aec7e8", "#ffbb78", "#98df8a"][i % 5],
    }
}

/// How the chart is drawn.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--series`: these columns instead of the default set.
    pub series: Option<Vec<String>>,
    /// `--local`: times in the local zone instead of UTC.
    pub local: bool,
}

/// A point (time ms, value) with where it was found.
#[derive(Debug, Clone, Copy)]
struct Extreme {
    t: u64,
    v: f32,
}

/// The chart; an error when there is nothing to draw or a chosen series is not in the log.
pub fn render(segments: &[Segment], opts: &Options) -> Result<String, String> {
    let times = segments.iter().flat_map(|s| s.times.iter().copied());
    let (t0, t1) = times.fold((u64::MAX, 0), |(lo, hi), t| (lo.min(t), hi.max(t)));
    if t0 > t1 {
        return Err("the log has no samples: nothing to plot".into());
    }
    let has = |name: &str| {
        segments.iter().any(|s| {
            s.index(name)
                .is_some_and(|i| s.column(i).any(|v| !v.is_nan()))
        })
    };
    let series: Vec<String> = match &opts.series {
        Some(list) => {
            for name in list {
                if !segments.iter().any(|s| s.index(name).is_some()) {
                    let cols: Vec<&str> = segments
                        .iter()
                        .flat_map(|s| s.columns.iter().map(String::as_str))
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .collect();
                    return Err(format!(
                        "--series: the log has no column '{name}' (it has: {})",
                        cols.join(", ")
                    ));
                }
            }
            list.clone()
        }
        None => DEFAULT_SERIES
            .iter()
            .filter(|n| has(n))
            .map(|n| n.to_string())
            .collect(),
    };
    let y_max = series
        .iter()
        .flat_map(|name| {
            segments
                .iter()
                .filter_map(move |s| s.index(name).map(|i| (s, i)))
                .flat_map(|(s, i)| s.column(i))
        })
        .filter(|v| !v.is_nan())
        .fold(0.0f32, f32::max)
        .max(1.0);
    let y_top = nice_ceiling(f64::from(y_max) * 1.05);
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let span = (t1 - t0).max(1) as f64;
    let x = |t: u64| LEFT + (t - t0) as f64 / span * pw;
    let y = |v: f64| TOP + ph - v / y_top * ph;

    let mut o = String::with_capacity(256 * 1024);
    let _ = write!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect class=\"background\" x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#ffffff\"/>\n"
    );
    // Title: the header's range and sampling, and the time span.
    let first = &segments
        .iter()
        .find(|s| !s.times.is_empty())
        .expect("t0 came from a sample");
    let zone = if opts.local { "local time" } else { "UTC" };
    let _ = writeln!(
        o,
        "<text class=\"title\" x=\"{LEFT}\" y=\"24\" font-size=\"16\" fill=\"#111111\">conntrend: ports over time — range {}, sampling {}, {} to {} {zone}{}</text>",
        esc(first.range.as_deref().unwrap_or("?")),
        esc(first.sampling.as_deref().unwrap_or("?")),
        time::clock(t0, axis_zone(opts.local), true),
        time::clock(t1, axis_zone(opts.local), true),
        if segments.iter().filter(|s| !s.times.is_empty()).count() > 1 {
            format!(
                ", {} runs",
                segments.iter().filter(|s| !s.times.is_empty()).count()
            )
        } else {
            String::new()
        },
    );
    // Axes and grid.
    let _ = writeln!(
        o,
        "<g class=\"axes\" stroke=\"#333333\" fill=\"none\"><rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{pw}\" height=\"{ph}\"/></g>"
    );
    o.push_str("<g class=\"yticks\" fill=\"#333333\">\n");
    let step = nice_step(y_top / 5.0);
    let mut v = 0.0;
    while v <= y_top + 1e-9 {
        let yy = y(v);
        let _ = writeln!(
            o,
            "<line x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#dddddd\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT + pw,
            LEFT - 6.0,
            yy + 4.0,
            v as u64
        );
        v += step;
    }
    o.push_str("</g>\n<g class=\"xticks\" fill=\"#333333\">\n");
    let tick = time_step(span / 6.0);
    let mut t = t0.div_ceil(tick) * tick;
    while t <= t1 {
        let xx = x(t);
        let _ = writeln!(
            o,
            "<line x1=\"{xx:.1}\" y1=\"{TOP}\" x2=\"{xx:.1}\" y2=\"{:.1}\" stroke=\"#eeeeee\"/><text x=\"{xx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            TOP + ph,
            TOP + ph + 18.0,
            time::clock(t, axis_zone(opts.local), span > 86_400_000.0)
        );
        t += tick;
    }
    let _ = writeln!(
        o,
        "</g>\n<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#333333\">time ({zone})</text>\n<text transform=\"translate(18 {:.1}) rotate(-90)\" text-anchor=\"middle\" fill=\"#333333\">ports</text>",
        LEFT + pw / 2.0,
        HEIGHT - 14.0,
        TOP + ph / 2.0
    );
    // Series.
    let columns = pw.floor() as usize;
    for (k, name) in series.iter().enumerate() {
        let dash = if name == "total_port" {
            " stroke-dasharray=\"6 4\""
        } else {
            ""
        };
        let width = if matches!(name.as_str(), "used" | "free") {
            2.0
        } else {
            1.2
        };
        for (si, seg) in segments.iter().enumerate() {
            let Some(ci) = seg.index(name) else { continue };
            for run in runs(seg, ci) {
                let points = decimate(&run, t0, span, columns);
                let _ = write!(
                    o,
                    "<polyline class=\"series\" data-series=\"{}\" data-segment=\"{si}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{width}\"{dash} points=\"",
                    esc(name),
                    color(name, k)
                );
                for p in &points {
                    let _ = write!(o, "{:.1},{:.1} ", x(p.t), y(f64::from(p.v)));
                }
                o.pop();
                o.push_str("\"/>\n");
            }
        }
    }
    // Markers: the peak of used, the minimum of free (exact, from every sample).
    for (name, want_max, label) in [("used", true, "peak used"), ("free", false, "min free")] {
        if !series.iter().any(|s| s == name) {
            continue;
        }
        let best = segments
            .iter()
            .filter_map(|s| s.index(name).map(|i| (s, i)))
            .flat_map(|(s, i)| s.times.iter().copied().zip(s.column(i)))
            .filter(|(_, v)| !v.is_nan())
            .fold(None::<Extreme>, |best, (t, v)| match best {
                Some(b) if (want_max && v <= b.v) || (!want_max && v >= b.v) => Some(b),
                _ => Some(Extreme { t, v }),
            });
        if let Some(e) = best {
            let (xx, yy) = (x(e.t), y(f64::from(e.v)));
            let anchor = if xx > LEFT + pw * 0.7 { "end" } else { "start" };
            let dx = if anchor == "end" { -8.0 } else { 8.0 };
            let dy = if want_max { -8.0 } else { 16.0 };
            let _ = writeln!(
                o,
                "<g class=\"marker\" data-series=\"{name}\" data-value=\"{}\" data-time=\"{}\"><circle cx=\"{xx:.1}\" cy=\"{yy:.1}\" r=\"4\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" fill=\"#111111\">{label} {} at {}</text></g>",
                e.v as u64,
                e.t,
                color(name, 0),
                xx + dx,
                yy + dy,
                e.v as u64,
                time::clock(e.t, axis_zone(opts.local), true)
            );
        }
    }
    // Legend, top right, one entry per series.
    o.push_str("<g class=\"legend\">\n");
    let mut lx = WIDTH - RIGHT;
    for (k, name) in series.iter().enumerate().rev() {
        lx -= 14.0 + 7.0 * name.len() as f64 + 16.0;
        let _ = writeln!(
            o,
            "<rect x=\"{lx:.1}\" y=\"38\" width=\"12\" height=\"4\" fill=\"{}\"/><text x=\"{:.1}\" y=\"44\" fill=\"#111111\" data-series=\"{}\">{}</text>",
            color(name, k),
            lx + 16.0,
            esc(name),
            esc(name)
        );
    }
    o.push_str("</g>\n</svg>\n");
    Ok(o)
}

/// The stretches of a column without missing values, as (time, value).
fn runs(seg: &Segment, ci: usize) -> Vec<Vec<(u64, f32)>> {
    let mut out: Vec<Vec<(u64, f32)>> = Vec::new();
    let mut current = Vec::new();
    for (&t, v) in seg.times.iter().zip(seg.column(ci)) {
        if v.is_nan() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else {
            current.push((t, v));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// At most two points per pixel column: its minimum and maximum, in time order; a run that
/// fits is kept whole.
fn decimate(run: &[(u64, f32)], t0: u64, span: f64, columns: usize) -> Vec<Extreme> {
    if run.len() <= 2 * columns {
        return run.iter().map(|&(t, v)| Extreme { t, v }).collect();
    }
    let mut out = Vec::with_capacity(2 * columns + 2);
    let col = |t: u64| (((t - t0) as f64 / span) * columns as f64) as usize;
    let mut i = 0;
    while i < run.len() {
        let c = col(run[i].0);
        let (mut lo, mut hi) = (
            Extreme {
                t: run[i].0,
                v: run[i].1,
            },
            Extreme {
                t: run[i].0,
                v: run[i].1,
            },
        );
        while i < run.len() && col(run[i].0) == c {
            let (t, v) = run[i];
            if v < lo.v {
                lo = Extreme { t, v };
            }
            if v > hi.v {
                hi = Extreme { t, v };
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

/// A round number at or above `v` (1, 2, 2.5, 5 × 10^k).
fn nice_ceiling(v: f64) -> f64 {
    let step = nice_step(v / 5.0);
    (v / step).ceil() * step
}

fn nice_step(raw: f64) -> f64 {
    let raw = raw.max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

/// A tick interval (ms) near `raw`, from seconds to days.
fn time_step(raw: f64) -> u64 {
    const STEPS: [u64; 16] = [
        1_000,
        5_000,
        10_000,
        30_000,
        60_000,
        300_000,
        600_000,
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
    STEPS
        .iter()
        .copied()
        .find(|&s| s as f64 >= raw)
        .unwrap_or(604_800_000)
}

/// Text made safe inside XML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The clock the axis reads: local time with `--local`, UTC otherwise.
fn axis_zone(local: bool) -> Zone {
    if local { Zone::Local } else { Zone::Utc }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_sample_spike_survives_decimation() {
        let mut run: Vec<(u64, f32)> = (0..100_000).map(|t| (t, 10.0)).collect();
        run[54_321].1 = 9_999.0;
        let pts = decimate(&run, 0, 99_999.0, 1000);
        assert!(pts.len() <= 2000, "{}", pts.len());
        assert!(pts.iter().any(|p| p.v == 9_999.0 && p.t == 54_321));
        assert!(pts.windows(2).all(|w| w[0].t <= w[1].t), "time order kept");
    }

    #[test]
    fn nice_numbers() {
        assert_eq!(nice_step(17.0), 20.0);
        assert_eq!(nice_step(230.0), 250.0);
        assert_eq!(nice_ceiling(29_643.0), 30_000.0);
        assert_eq!(time_step(50_000.0), 60_000);
        assert_eq!(time::clock(0, Zone::Utc, true), "1970-01-01 00:00:00");
    }
}
