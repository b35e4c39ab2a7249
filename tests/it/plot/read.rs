//! Reading a chart back as a viewer sees it, without the code's own functions: the plot areas, the
//! value ticks (gridline y and label), the time ticks (x and label, read back as a time), the
//! breaks, the polylines' vertices, and every text's box estimated from its x, y, font-size,
//! text-anchor, transform and length (0.6 em a character, 0.8 em above the baseline and 0.2 below:
//! what sans-serif faces draw, or more).

use roxmltree::{Document, Node};

/// A box: left, top, right, bottom.
pub type Bounds = (f64, f64, f64, f64);

pub fn doc(svg: &str) -> Document<'_> {
    Document::parse(svg).unwrap_or_else(|e| panic!("not XML: {e}"))
}

fn num(n: Node, name: &str) -> f64 {
    n.attribute(name)
        .unwrap_or_else(|| panic!("<{}> without {name}", n.tag_name().name()))
        .parse()
        .unwrap()
}

/// The attribute on the node or the nearest ancestor that has it.
fn inherited<'a>(n: Node<'a, 'a>, name: &str) -> Option<&'a str> {
    n.ancestors().find_map(|a| a.attribute(name))
}

/// The SVG's width and height.
pub fn size(svg: &str) -> (f64, f64) {
    let d = doc(svg);
    let root = d.root_element();
    (num(root, "width"), num(root, "height"))
}

/// The plot area of a panel (`ports`, `counts`, `seconds`).
pub fn area(svg: &str, panel: &str) -> Option<Bounds> {
    let d = doc(svg);
    d.descendants()
        .find(|n| n.attribute("class") == Some("plot") && n.attribute("data-panel") == Some(panel))
        .map(|n| {
            let (x, y) = (num(n, "x"), num(n, "y"));
            (x, y, x + num(n, "width"), y + num(n, "height"))
        })
}

/// A panel's value ticks: (value written, y of the gridline).
pub fn value_ticks(svg: &str, panel: &str) -> Vec<(f64, f64)> {
    let d = doc(svg);
    let g = d
        .descendants()
        .find(|n| {
            n.attribute("class") == Some("yticks") && n.attribute("data-panel") == Some(panel)
        })
        .unwrap_or_else(|| panic!("no value ticks for the {panel} panel"));
    let lines: Vec<f64> = g
        .children()
        .filter(|c| c.has_tag_name("line"))
        .map(|c| num(c, "y1"))
        .collect();
    let labels: Vec<f64> = g
        .children()
        .filter(|c| c.has_tag_name("text"))
        .map(|c| c.text().unwrap().parse().unwrap())
        .collect();
    assert_eq!(lines.len(), labels.len());
    labels.into_iter().zip(lines).collect()
}

/// Days since 1970-01-01 of a civil date.
fn days(y: i64, m: i64, d: i64) -> i64 {
    // Count the days of the whole years and months before it.
    let leap = |y: i64| y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let mut n = (1970..y)
        .map(|y| if leap(y) { 366 } else { 365 })
        .sum::<i64>();
    let months = [
        31,
        if leap(y) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    n += months[..(m - 1) as usize].iter().sum::<i64>();
    n + d - 1
}

/// A time tick's label read back as ms since the epoch, on the clock `offset_ms` ahead of UTC:
/// `YYYY-MM-DD HH:MM:SS`, or `HH:MM:SS` on the day of `day_ms`.
pub fn label_time(label: &str, day_ms: u64, offset_ms: i64) -> u64 {
    let (date, clock) = match label.split_once(' ') {
        Some((d, c)) => {
            let p: Vec<i64> = d.split('-').map(|x| x.parse().unwrap()).collect();
            (days(p[0], p[1], p[2]) * 86_400_000, c)
        }
        None => (
            ((day_ms as i64 + offset_ms) / 86_400_000) * 86_400_000,
            label,
        ),
    };
    let p: Vec<i64> = clock.split(':').map(|x| x.parse().unwrap()).collect();
    (date + (p[0] * 3600 + p[1] * 60 + p[2]) * 1000 - offset_ms) as u64
}

/// The time ticks: (x, label).
pub fn time_ticks(svg: &str) -> Vec<(f64, String)> {
    let d = doc(svg);
    let g = d
        .descendants()
        .find(|n| n.attribute("class") == Some("xticks"))
        .expect("no time ticks");
    g.children()
        .filter(|c| c.has_tag_name("text"))
        .map(|c| (num(c, "x"), c.text().unwrap().to_string()))
        .collect()
}

/// The breaks cut out of the time axis: (left x, right x, data-from, data-to).
pub fn breaks(svg: &str) -> Vec<(f64, f64, u64, u64)> {
    let d = doc(svg);
    d.descendants()
        .filter(|n| n.attribute("class") == Some("break"))
        .map(|g| {
            let r = g.children().find(|c| c.has_tag_name("rect")).unwrap();
            let x = num(r, "x");
            (
                x,
                x + num(r, "width"),
                g.attribute("data-from").unwrap().parse().unwrap(),
                g.attribute("data-to").unwrap().parse().unwrap(),
            )
        })
        .collect()
}

/// The vertices of every polyline of `series`.
pub fn vertices(svg: &str, series: &str) -> Vec<Vec<(f64, f64)>> {
    let d = doc(svg);
    d.descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("data-series") == Some(series))
        .map(|n| {
            n.attribute("points")
                .unwrap()
                .split_whitespace()
                .map(|p| {
                    let (x, y) = p.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect()
        })
        .collect()
}

/// Every text: (its string, its estimated box).
pub fn text_boxes(svg: &str) -> Vec<(String, Bounds)> {
    let d = doc(svg);
    d.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| {
            let s: String = n
                .descendants()
                .filter(|c| c.is_text())
                .map(|c| c.text().unwrap())
                .collect();
            let size: f64 = inherited(n, "font-size").unwrap_or("16").parse().unwrap();
            let w = 0.6 * size * s.chars().count() as f64;
            let x = n.attribute("x").map_or(0.0, |v| v.parse().unwrap());
            let y = n.attribute("y").map_or(0.0, |v| v.parse().unwrap());
            let x0 = match inherited(n, "text-anchor").unwrap_or("start") {
                "middle" => x - w / 2.0,
                "end" => x - w,
                _ => x,
            };
            let corners = [
                (x0, y - 0.8 * size),
                (x0 + w, y - 0.8 * size),
                (x0, y + 0.2 * size),
                (x0 + w, y + 0.2 * size),
            ];
            let (tx, ty, deg) = transform(n.attribute("transform").unwrap_or(""));
            let (sin, cos) = deg.to_radians().sin_cos();
            let moved: Vec<(f64, f64)> = corners
                .iter()
                .map(|&(a, b)| (tx + a * cos - b * sin, ty + a * sin + b * cos))
                .collect();
            let fold = |f: fn(f64, f64) -> f64, k: usize, init: f64| {
                moved
                    .iter()
                    .map(|p| if k == 0 { p.0 } else { p.1 })
                    .fold(init, f)
            };
            let b = (
                fold(f64::min, 0, f64::MAX),
                fold(f64::min, 1, f64::MAX),
                fold(f64::max, 0, f64::MIN),
                fold(f64::max, 1, f64::MIN),
            );
            (s, b)
        })
        .collect()
}

/// `translate(a b) rotate(r)` (either part may be missing): (a, b, r).
fn transform(t: &str) -> (f64, f64, f64) {
    let args = |name: &str| -> Vec<f64> {
        t.split_once(&format!("{name}("))
            .and_then(|(_, rest)| rest.split_once(')'))
            .map(|(inside, _)| {
                inside
                    .split([' ', ','])
                    .filter(|s| !s.is_empty())
                    .map(|s| s.parse().unwrap())
                    .collect()
            })
            .unwrap_or_default()
    };
    let tr = args("translate");
    let rot = args("rotate");
    (
        tr.first().copied().unwrap_or(0.0),
        tr.get(1).copied().unwrap_or(0.0),
        rot.first().copied().unwrap_or(0.0),
    )
}

/// The pairs of texts whose boxes overlap, and the texts that leave the picture.
pub fn collisions(svg: &str) -> Vec<String> {
    let (w, h) = size(svg);
    let boxes = text_boxes(svg);
    let mut bad = Vec::new();
    for (i, (s, a)) in boxes.iter().enumerate() {
        if a.0 < 0.0 || a.1 < 0.0 || a.2 > w || a.3 > h {
            bad.push(format!("{s:?} {a:?} leaves the {w}x{h} picture"));
        }
        for (t, b) in &boxes[i + 1..] {
            if a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3 {
                bad.push(format!("{s:?} {a:?} overlaps {t:?} {b:?}"));
            }
        }
    }
    bad
}
