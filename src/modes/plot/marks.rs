//! What the chart says beside the lines: each panel's legend (which names the worst destination
//! when the log has `worst_dst`), and the markers on the peak of `used` and the minimum of `free`
//! (exact, from every sample kept), whose labels go to the nearest place inside their panel that
//! no other text takes (within the point's stretch of the time axis when there is room) — with a
//! leader line when that is not next to the point.

use std::fmt::Write as _;

use super::axis::TimeAxis;
use super::log::Log;
use super::svg::{Clock, LEFT, PW, Panel, Unit, color, esc};
use super::text::{self, Anchor, Rect, Taken};

/// Where the legends end.
const RIGHT_EDGE: f64 = LEFT + PW;

/// A series' name in the legend: `worst_dst_used` with the destination at its peak.
pub fn label(log: &Log, name: &str) -> String {
    if name != "worst_dst_used" {
        return name.to_string();
    }
    let w = &log.worst;
    let Some(peak) = &w.at_peak else {
        return match w.names.len() {
            0 => name.to_string(),
            n => format!("{name} ({n}{} destinations)", if w.more { "+" } else { "" }),
        };
    };
    let others = w.names.iter().filter(|n| *n != peak).count();
    match (others, w.more) {
        (0, false) => format!("{name} ({peak})"),
        (1, false) => format!("{name} ({peak} at its peak, 1 other)"),
        (n, more) => format!(
            "{name} ({peak} at its peak, {n}{} others)",
            if more { "+" } else { "" }
        ),
    }
}

/// A panel's legend, in rows from `top` (wrapped at the plot's width); the rows it took.
pub fn legend(
    o: &mut String,
    taken: &mut Taken,
    log: &Log,
    members: &[(usize, &str)],
    top: f64,
) -> usize {
    o.push_str("<g class=\"legend\">\n");
    let (mut x, mut row) = (LEFT, 0);
    for &(k, name) in members {
        let text = label(log, name);
        let w = 16.0 + text::width(&text, 12.0);
        if x > LEFT && x + w > RIGHT_EDGE {
            row += 1;
            x = LEFT;
        }
        let y = top + 14.0 + 16.0 * row as f64;
        taken.take(text::line_box(x + 16.0, y, 12.0, Anchor::Start, &text));
        let _ = writeln!(
            o,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"12\" height=\"4\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{y:.1}\" fill=\"#111111\" data-series=\"{}\">{}</text>",
            y - 6.0,
            color(name, k),
            x + 16.0,
            esc(name),
            esc(&text)
        );
        x += w + 16.0;
    }
    o.push_str("</g>\n");
    row + 1
}

/// The peak of `used` and the minimum of `free`, on the ports panel.
pub fn markers(
    o: &mut String,
    taken: &mut Taken,
    log: &Log,
    panels: &[Panel],
    axis: &TimeAxis,
    clock: &Clock,
) {
    let Some(p) = panels.iter().find(|p| p.unit == Unit::Ports) else {
        return;
    };
    let mut found = Vec::new();
    for (name, want_max, what) in [("used", true, "peak used"), ("free", false, "min free")] {
        if !p.series.iter().any(|s| s.1 == name) {
            continue;
        }
        let best = log
            .track(name)
            .and_then(|t| if want_max { t.max } else { t.min });
        if let Some(e) = best {
            let (x, y) = (axis.x(e.t), p.y(e.v as f64));
            found.push((name, want_max, what, e, x, y));
        }
    }
    // Both dots first, so that neither label covers the other's dot.
    for &(.., x, y) in &found {
        taken.take(Rect {
            x0: x - 5.0,
            y0: y - 5.0,
            x1: x + 5.0,
            y1: y + 5.0,
        });
    }
    let inset = |x0: f64, x1: f64| Rect {
        x0: x0 + 2.0,
        y0: p.area.y0 + 2.0,
        x1: x1 - 2.0,
        y1: p.area.y1 - 2.0,
    };
    for (name, want_max, what, e, x, y) in found {
        let text = format!("{what} {} at {}", e.v, clock.at(e.t, true));
        // Within the point's stretch of the time axis if it fits there, else anywhere in the
        // panel; on the side with more room first.
        let s = &axis.stretches[axis.stretch_of(e.t)];
        let areas = [inset(s.x0, s.x1), inset(p.area.x0, p.area.x1)];
        let sides = if x > s.x0 + (s.x1 - s.x0) * 0.7 {
            [(-8.0, Anchor::End), (8.0, Anchor::Start)]
        } else {
            [(8.0, Anchor::Start), (-8.0, Anchor::End)]
        };
        let place = areas.iter().find_map(|area| {
            (0..24)
                .flat_map(|k| {
                    let k = f64::from(k);
                    let (up, down) = (-(8.0 + 14.0 * k), 16.0 + 14.0 * k);
                    let dys = if want_max { [up, down] } else { [down, up] };
                    dys.into_iter()
                        .flat_map(move |dy| sides.map(|(dx, anchor)| (dx, dy, anchor, k > 0.0)))
                })
                .map(|(dx, dy, anchor, far)| {
                    let b = text::line_box(x + dx, y + dy, 12.0, anchor, &text);
                    (dx, dy, anchor, far, b)
                })
                .find(|(.., b)| b.within(area) && taken.free(b))
        });
        let _ = write!(
            o,
            "<g class=\"marker\" data-series=\"{name}\" data-value=\"{}\" data-time=\"{}\"><title>{}</title><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{}\"/>",
            e.v,
            e.t,
            esc(&text),
            color(name, 0),
        );
        if let Some((dx, dy, anchor, far, b)) = place {
            taken.take(b);
            if far {
                let _ = write!(
                    o,
                    "<line class=\"leader\" x1=\"{x:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#888888\"/>",
                    x + dx,
                    y + dy - 4.0
                );
            }
            let _ = write!(
                o,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{}\" fill=\"#111111\">{}</text>",
                x + dx,
                y + dy,
                anchor.svg(),
                esc(&text)
            );
        }
        o.push_str("</g>\n");
    }
}
