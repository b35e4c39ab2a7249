//! The timeline as one self-contained SVG, written directly: an explicit background (readable in
//! dark and light viewers), one panel per kind of count — ports of the pool (`total_port`, `used`,
//! `free`, `worst_dst_used`), sockets and other counts (`time_wait`, `estab`, `ct_used`…), seconds
//! (the forecasts) — each with its own value axis, over one time axis whose long gaps between runs
//! are cut out (axis.rs). One polyline per series, run and stretch, min/max decimated per pixel
//! column so that no spike is lost however long the log; markers on the peak of `used` and the
//! minimum of `free`; a legend per panel that names the worst destination. No two labels overlap
//! (text.rs).
//!
//! This file lays the chart out (the panels, their heights and value scales, the title) and
//! writes it in order: frames and axes (grid.rs), lines (lines.rs), legends and markers
//! (marks.rs).

use std::fmt::Write as _;

use super::axis::{self, TimeAxis};
use super::log::Log;
use super::text::{self, Anchor, Rect, Taken};
use super::{grid, lines, marks};
use crate::util::time::{self, Civil, Zone};

pub const WIDTH: f64 = 1200.0;
pub const LEFT: f64 = 80.0;
const RIGHT: f64 = 30.0;
/// The plot's width: one pixel column per 1/1090 of the time shown.
pub const PW: f64 = WIDTH - LEFT - RIGHT;
/// The top of the first panel's legend.
const HEAD: f64 = 30.0;
/// A legend row's height.
const ROW: f64 = 16.0;
/// Below the last panel: tick labels, break labels, the axis title.
const FOOT: f64 = 60.0;

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

/// The TCP state columns: sockets.
const SOCKET_STATES: [&str; 6] = [
    "time_wait",
    "estab",
    "syn",
    "close_wait",
    "last_ack",
    "fin_wait",
];

pub fn color(name: &str, i: usize) -> &'static str {
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

/// What a column counts, which decides its panel (in this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unit {
    Ports,
    Counts,
    Seconds,
}

fn unit(name: &str) -> Unit {
    match name {
        "total_port" | "used" | "free" | "udp_used" | "tcp_used" | "worst_dst_used"
        | "worst_dst_free" => Unit::Ports,
        "exhaust_in_sec" | "dst_exhaust_in_sec" => Unit::Seconds,
        _ => Unit::Counts,
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

/// A panel: its series (with their index among all, for colours) and its value axis.
pub struct Panel<'a> {
    pub unit: Unit,
    pub series: Vec<(usize, &'a str)>,
    /// The plot area.
    pub area: Rect,
    /// The value at the top of the area, and the tick step.
    pub top: f64,
    pub step: f64,
}

impl Panel<'_> {
    pub fn y(&self, v: f64) -> f64 {
        self.area.y1 - v / self.top * (self.area.y1 - self.area.y0)
    }

    pub fn title(&self) -> &'static str {
        match self.unit {
            Unit::Ports => "ports",
            Unit::Seconds => "seconds",
            Unit::Counts if self.series.iter().all(|s| SOCKET_STATES.contains(&s.1)) => "sockets",
            Unit::Counts => "count",
        }
    }
}

/// The clock of the chart and how it is named.
pub struct Clock {
    pub zone: Zone,
}

impl Clock {
    /// The zone's name at `t`: `UTC`, or the local abbreviation (`CET`, `CEST`).
    pub fn name(&self, t: u64) -> String {
        match self.zone {
            Zone::Utc => "UTC".into(),
            Zone::Local => Some(Civil::at(t, Zone::Local).zone)
                .filter(|z| !z.is_empty())
                .unwrap_or_else(|| "local time".into()),
        }
    }

    pub fn at(&self, t: u64, date: bool) -> String {
        time::clock(t, self.zone, date)
    }
}

/// The chart; an error when there is nothing to draw or a chosen series is not in the log.
pub fn render(log: &Log, opts: &Options) -> Result<String, String> {
    let Some((t0, t1)) = log.span else {
        return Err("the log has no samples: nothing to plot".into());
    };
    let series = chosen(log, opts)?;
    let clock = Clock {
        zone: if opts.local { Zone::Local } else { Zone::Utc },
    };
    let axis = TimeAxis::new(&log.spans(), (LEFT, LEFT + PW));
    let mut taken = Taken::default();

    // The panels, top to bottom, each under its legend.
    let mut units: Vec<Unit> = series.iter().map(|s| unit(s)).collect();
    units.sort_unstable();
    units.dedup();
    if units.is_empty() {
        units.push(Unit::Ports); // none of the default series: the axes alone
    }
    let mut panels = Vec::new();
    let mut legends = String::new();
    let mut y = HEAD;
    for &u in &units {
        let members: Vec<(usize, &str)> = series
            .iter()
            .enumerate()
            .filter(|s| unit(s.1) == u)
            .map(|(k, s)| (k, s.as_str()))
            .collect();
        let rows = marks::legend(&mut legends, &mut taken, log, &members, y);
        let top = y + ROW * rows as f64 + 14.0;
        let height = match (units.len(), u) {
            (1, _) => 480.0,
            (_, Unit::Ports) => 300.0,
            (_, Unit::Counts) => 200.0,
            (_, Unit::Seconds) => 160.0,
        };
        let most = members
            .iter()
            .filter_map(|s| log.track(s.1)?.max)
            .map(|p| p.v as f64)
            .fold(0.0, f64::max)
            .max(1.0);
        let top_value = axis::nice_ceiling(most * 1.05);
        panels.push(Panel {
            unit: u,
            series: members,
            area: Rect {
                x0: LEFT,
                y0: top,
                x1: LEFT + PW,
                y1: top + height,
            },
            top: top_value,
            step: axis::nice_step(top_value / 5.0),
        });
        y = top + height + 14.0;
    }
    let base = panels.last().expect("a series at least").area.y1;
    let height = base + FOOT;

    let mut o = String::with_capacity(256 * 1024);
    let _ = writeln!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect class=\"background\" x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{height}\" fill=\"#ffffff\"/>"
    );
    title(&mut o, &mut taken, log, &clock, (t0, t1));
    for p in &panels {
        grid::frame(&mut o, &mut taken, p);
    }
    grid::time_axis(&mut o, &mut taken, &panels, &axis, &clock, (t0, t1));
    lines::series(&mut o, log, &panels, &axis);
    o.push_str(&legends);
    marks::markers(&mut o, &mut taken, log, &panels, &axis, &clock);
    o.push_str("</svg>\n");
    Ok(o)
}

/// The series to draw: `--series`, checked against the log, or the default ones it has.
fn chosen(log: &Log, opts: &Options) -> Result<Vec<String>, String> {
    let has = |name: &str| log.track(name).is_some_and(|t| t.max.is_some());
    Ok(match &opts.series {
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
    })
}

/// The title: the header's range and sampling, the time span with its zone, the runs; its size
/// brought down until it fits the width.
fn title(o: &mut String, taken: &mut Taken, log: &Log, clock: &Clock, (t0, t1): (u64, u64)) {
    let first = log.first.as_ref().expect("the span came from a sample");
    let (z0, z1) = (clock.name(t0), clock.name(t1));
    let from = if z0 == z1 {
        clock.at(t0, true)
    } else {
        format!("{} {z0}", clock.at(t0, true))
    };
    let text = format!(
        "conntrend — range {}, sampling {} — {from} to {} {z1}{}",
        cut(first.range.as_deref().unwrap_or("?")),
        cut(first.sampling.as_deref().unwrap_or("?")),
        clock.at(t1, true),
        if log.runs_with_samples > 1 {
            format!(", {} runs", log.runs_with_samples)
        } else {
            String::new()
        },
    );
    let size = (16.0f64).min(((WIDTH - LEFT - RIGHT) / text::width(&text, 1.0)).floor());
    taken.take(text::line_box(LEFT, 22.0, size, Anchor::Start, &text));
    let _ = writeln!(
        o,
        "<text class=\"title\" x=\"{LEFT}\" y=\"22\" font-size=\"{size}\" fill=\"#111111\">{}</text>",
        esc(&text)
    );
}

/// A header's word, cut to 24 characters.
fn cut(s: &str) -> String {
    match s.char_indices().nth(24) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

/// Text made safe inside XML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_decide_panels() {
        assert_eq!(unit("used"), Unit::Ports);
        assert_eq!(unit("worst_dst_used"), Unit::Ports);
        assert_eq!(unit("estab"), Unit::Counts);
        assert_eq!(unit("ct_used"), Unit::Counts);
        assert_eq!(unit("a_new_column"), Unit::Counts);
        assert_eq!(unit("exhaust_in_sec"), Unit::Seconds);
        assert_eq!(cut("abc"), "abc");
        assert_eq!(cut(&"x".repeat(30)), format!("{}…", "x".repeat(24)));
    }
}
