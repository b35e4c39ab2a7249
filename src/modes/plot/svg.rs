//! The timeline as one self-contained SVG, written directly: an explicit background (readable in
//! dark and light viewers), axes with time and port ticks, one polyline per series and segment
//! (a gap between runs and across missing values), min/max decimation per pixel column so that no
//! spike is lost however long the log, markers on the peak of `used` and the minimum of `free`,
//! and a legend.

use std::fmt::Write as _;

use super::log::Log;
use super::track::Point;
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

/// The most time ticks drawn, whatever the span (there are about six).
const MAX_TICKS: usize = 24;

/// The chart; an error when there is nothing to draw or a chosen series is not in the log.
pub fn render(log: &Log, opts: &Options) -> Result<String, String> {
    let Some((t0, t1)) = log.span else {
        return Err("the log has no samples: nothing to plot".into());
    };
    let has = |name: &str| log.track(name).is_some_and(|t| t.max.is_some());
    let series: Vec<String> = match &opts.series {
        Some(list) => {
            for name in list {
                if log.track(name).is_none() {
                    let cols: Vec<&str> = log
                        .columns
                        .iter()
                        .map(|c| c.0.as_str())
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
        .filter_map(|name| log.track(name)?.max)
        .map(|p| p.v as f64)
        .fold(0.0, f64::max)
        .max(1.0);
    let y_top = nice_ceiling(y_max * 1.05);
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
    let first = log.first.as_ref().expect("the span came from a sample");
    let zone = if opts.local { "local time" } else { "UTC" };
    let _ = writeln!(
        o,
        "<text class=\"title\" x=\"{LEFT}\" y=\"24\" font-size=\"16\" fill=\"#111111\">conntrend: ports over time — range {}, sampling {}, {} to {} {zone}{}</text>",
        esc(first.range.as_deref().unwrap_or("?")),
        esc(first.sampling.as_deref().unwrap_or("?")),
        time::clock(t0, axis_zone(opts.local), true),
        time::clock(t1, axis_zone(opts.local), true),
        if log.runs_with_samples > 1 {
            format!(", {} runs", log.runs_with_samples)
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
            tick_label(v)
        );
        v += step;
    }
    o.push_str("</g>\n<g class=\"xticks\" fill=\"#333333\">\n");
    let tick = time_step(span / 6.0);
    let mut t = t0.div_ceil(tick) * tick;
    for _ in 0..MAX_TICKS {
        if t > t1 {
            break;
        }
        let xx = x(t);
        let _ = writeln!(
            o,
            "<line x1=\"{xx:.1}\" y1=\"{TOP}\" x2=\"{xx:.1}\" y2=\"{:.1}\" stroke=\"#eeeeee\"/><text x=\"{xx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            TOP + ph,
            TOP + ph + 18.0,
            time::clock(t, axis_zone(opts.local), span > 86_400_000.0)
        );
        t = t.saturating_add(tick);
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
        let Some(track) = log.track(name) else {
            continue;
        };
        for line in track.lines() {
            let points = decimate(&line.points, t0, span, columns);
            let _ = write!(
                o,
                "<polyline class=\"series\" data-series=\"{}\" data-segment=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{width}\"{dash} points=\"",
                esc(name),
                line.segment,
                color(name, k)
            );
            for p in &points {
                let _ = write!(o, "{:.1},{:.1} ", x(p.t), y(p.v as f64));
            }
            o.pop();
            o.push_str("\"/>\n");
        }
    }
    // Markers: the peak of used, the minimum of free (exact, from every sample).
    for (name, want_max, label) in [("used", true, "peak used"), ("free", false, "min free")] {
        if !series.iter().any(|s| s == name) {
            continue;
        }
        let best = log
            .track(name)
            .and_then(|t| if want_max { t.max } else { t.min });
        if let Some(e) = best {
            let (xx, yy) = (x(e.t), y(e.v as f64));
            let anchor = if xx > LEFT + pw * 0.7 { "end" } else { "start" };
            let dx = if anchor == "end" { -8.0 } else { 8.0 };
            let dy = if want_max { -8.0 } else { 16.0 };
            let _ = writeln!(
                o,
                "<g class=\"marker\" data-series=\"{name}\" data-value=\"{}\" data-time=\"{}\"><circle cx=\"{xx:.1}\" cy=\"{yy:.1}\" r=\"4\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" fill=\"#111111\">{label} {} at {}</text></g>",
                e.v,
                e.t,
                color(name, 0),
                xx + dx,
                yy + dy,
                e.v,
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

/// At most two points per pixel column: its minimum and maximum, in time order; a line that
/// fits is kept whole.
fn decimate(run: &[Point], t0: u64, span: f64, columns: usize) -> Vec<Point> {
    if run.len() <= 2 * columns {
        return run.to_vec();
    }
    let mut out = Vec::with_capacity(2 * columns + 2);
    let col = |t: u64| (((t - t0) as f64 / span) * columns as f64) as usize;
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

/// A y tick's label (a tick past u64::MAX is written in full, not clamped).
fn tick_label(v: f64) -> String {
    if v < 18_446_744_073_709_551_616.0 {
        (v as u64).to_string()
    } else {
        format!("{v:.0}")
    }
}

/// A tick interval (ms) near `raw`, from seconds to weeks; past that, 2, 5, 10, 20, 50… weeks,
/// so that any span has a handful of ticks. A week stays the step up to 12 ticks.
fn time_step(raw: f64) -> u64 {
    const WEEK: u64 = 604_800_000;
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
        let mut run: Vec<Point> = (0..100_000).map(|t| Point { t, v: 10 }).collect();
        run[54_321].v = 9_999;
        let pts = decimate(&run, 0, 99_999.0, 1000);
        assert!(pts.len() <= 2000, "{}", pts.len());
        assert!(pts.iter().any(|p| p.v == 9_999 && p.t == 54_321));
        assert!(pts.windows(2).all(|w| w[0].t <= w[1].t), "time order kept");
    }

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
        assert_eq!(tick_label(2e19), "20000000000000000000");
        assert_eq!(time::clock(0, Zone::Utc, true), "1970-01-01 00:00:00");
    }
}
