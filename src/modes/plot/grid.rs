//! The axes as drawn: each panel's frame, value ticks and axis title; the time axis under the
//! last panel — the breaks (a grey band across every panel, `//` on their edges, the gap's length
//! below the axis), the time ticks (the first of each stretch placed first, each only where its
//! label fits beside the labels already placed) with their gridlines in every panel, and the
//! axis's title with its zone.

use std::fmt::Write as _;

use super::axis::{self, BREAK_WIDTH, TimeAxis};
use super::svg::{Clock, LEFT, PW, Panel, Unit, WIDTH, esc};
use super::text::{self, Anchor, Taken};

/// The time axis, its breaks and gridlines.
pub fn time_axis(
    o: &mut String,
    taken: &mut Taken,
    panels: &[Panel],
    axis: &TimeAxis,
    clock: &Clock,
    (t0, t1): (u64, u64),
) {
    let base = panels.last().expect("a panel at least").area.y1;
    // The zone's names at the ends of the time shown and of each stretch (`CET/CEST`).
    let mut zones: Vec<String> = Vec::new();
    let ends = axis.stretches.iter().flat_map(|s| [s.from, s.to]);
    for t in [t0].into_iter().chain(ends).chain([t1]) {
        let name = clock.name(t);
        if !zones.contains(&name) {
            zones.push(name);
        }
    }
    let zones = zones.join("/");
    let axis_title = format!("time ({zones})");
    let (ax, ay) = (LEFT + PW, base + 46.0);
    taken.take(text::line_box(ax, ay, 12.0, Anchor::End, &axis_title));
    let breaks = axis.breaks();
    let mut foot = String::new();
    for b in &breaks {
        let label = axis::duration(b.to - b.from);
        let (bx, by) = ((b.x0 + b.x1) / 2.0, base + 32.0);
        let about = format!(
            "no samples for {label}: {} to {}",
            clock.at(b.from, true),
            clock.at(b.to, true)
        );
        let _ = write!(
            foot,
            "<g class=\"break\" data-from=\"{}\" data-to=\"{}\"><title>{}</title>",
            b.from,
            b.to,
            esc(&about)
        );
        for p in panels {
            let (top, bottom) = (p.area.y0, p.area.y1);
            let _ = write!(
                foot,
                "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{BREAK_WIDTH:.1}\" height=\"{:.1}\" fill=\"#f2f2f2\"/>",
                b.x0,
                bottom - top
            );
            for x in [b.x0, b.x1] {
                for edge in [top, bottom] {
                    let _ = write!(
                        foot,
                        "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#333333\"/>",
                        x - 3.0,
                        edge + 5.0,
                        x + 3.0,
                        edge - 5.0
                    );
                }
            }
        }
        if taken.try_take(text::line_box(bx, by, 10.0, Anchor::Middle, &label)) {
            let _ = write!(
                foot,
                "<text class=\"break-label\" x=\"{bx:.1}\" y=\"{by:.1}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#555555\">{label}</text>"
            );
        }
        foot.push_str("</g>\n");
    }
    // Ticks: the first of each stretch before the others, each only where its label fits.
    let date = t1 - t0 > 86_400_000;
    let mut ticks = axis.ticks();
    ticks.sort_by_key(|t| !t.first);
    let mut kept: Vec<(f64, String)> = ticks
        .into_iter()
        .filter_map(|t| {
            let label = clock.at(t.t, date);
            let b = text::line_box(t.x, base + 18.0, 12.0, Anchor::Middle, &label);
            (b.x0 >= 0.0 && b.x1 <= WIDTH && taken.try_take(b)).then_some((t.x, label))
        })
        .collect();
    kept.sort_by(|a, b| a.0.total_cmp(&b.0));
    o.push_str("<g class=\"xgrid\" stroke=\"#eeeeee\">\n");
    for p in panels {
        for (x, _) in &kept {
            let _ = writeln!(
                o,
                "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>",
                p.area.y0, p.area.y1
            );
        }
    }
    o.push_str("</g>\n<g class=\"xticks\" fill=\"#333333\">\n");
    for (x, label) in &kept {
        let _ = writeln!(
            o,
            "<line x1=\"{x:.1}\" y1=\"{base:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#333333\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>",
            base + 5.0,
            base + 18.0
        );
    }
    o.push_str("</g>\n");
    o.push_str(&foot);
    let _ = writeln!(
        o,
        "<text class=\"axis-title\" x=\"{ax:.1}\" y=\"{ay:.1}\" text-anchor=\"end\" fill=\"#333333\">{}</text>",
        esc(&axis_title)
    );
}

/// A panel's frame, its value ticks and the title of its value axis.
pub fn frame(o: &mut String, taken: &mut Taken, p: &Panel) {
    let a = p.area;
    let name = match p.unit {
        Unit::Ports => "ports",
        Unit::Counts => "counts",
        Unit::Seconds => "seconds",
    };
    let _ = writeln!(
        o,
        "<g class=\"axes\" stroke=\"#333333\" fill=\"none\"><rect class=\"plot\" data-panel=\"{name}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"/></g>",
        a.x0,
        a.y0,
        a.x1 - a.x0,
        a.y1 - a.y0
    );
    let _ = writeln!(
        o,
        "<g class=\"yticks\" data-panel=\"{name}\" fill=\"#333333\">"
    );
    let mut v = 0.0;
    while v <= p.top + 1e-9 {
        let y = p.y(v);
        let label = axis::tick_label(v);
        taken.take(text::line_box(
            LEFT - 6.0,
            y + 4.0,
            12.0,
            Anchor::End,
            &label,
        ));
        let _ = writeln!(
            o,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#dddddd\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{label}</text>",
            a.x1,
            LEFT - 6.0,
            y + 4.0,
        );
        v += p.step;
    }
    let mid = (a.y0 + a.y1) / 2.0;
    taken.take(text::upright_box(18.0, mid, 12.0, p.title()));
    let _ = writeln!(
        o,
        "</g>\n<text class=\"axis-title\" transform=\"translate(18 {mid:.1}) rotate(-90)\" text-anchor=\"middle\" fill=\"#333333\">{}</text>",
        p.title()
    );
}
