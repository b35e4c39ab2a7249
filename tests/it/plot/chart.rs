//! The chart read back as a viewer reads it (read.rs, not the code's functions): a sample's point
//! sits at the pixel its value and time imply by the ticks drawn; ports and socket counts are on
//! separate panels with their own scales; a long gap between runs is cut out of the time axis and
//! marked, a short one is not; the legend names the worst destination; local time names its zone;
//! and no two texts overlap or leave the picture, whatever the log.

use super::read::*;
use super::*;

/// 2026-12-07T03:00:00Z.
const T: u64 = 1_796_612_400_000;
const DAY: u64 = 86_400_000;

/// A run of `n` samples a second apart from `t0`: ports (used = f(i), free, the ceiling of 1000),
/// ESTABLISHED sockets counted at both ends of loopback (2 × used) and conntrack entries beyond
/// the ceiling (5000 + used).
fn run_of(t0: u64, n: u64, used: impl Fn(u64) -> u64) -> String {
    let mut s = String::from(
        "# conntrend 0.1.0  sampling=1s  range_init=10000-10999\n# columns: epoch_ms,total_port,used,free,estab,ct_used\n",
    );
    for i in 0..n {
        let u = used(i);
        let _ = writeln!(
            s,
            "{},1000,{u},{},{},{}",
            t0 + i * 1000,
            1000 - u,
            2 * u,
            5000 + u
        );
    }
    s
}

/// Two runs of two minutes, four days apart.
fn two_runs() -> String {
    run_of(T, 120, |i| 100 + (i * 37) % 400) + &run_of(T + 4 * DAY, 120, |i| 200 + (i * 53) % 500)
}

/// The pixel (x, y) that time `t` and value `v` have on the `panel` panel, from its value ticks
/// and the time ticks between `xs.0` and `xs.1` (the stretch `t` is in).
fn pixel(svg: &str, panel: &str, xs: (f64, f64), t: u64, v: f64) -> (f64, f64) {
    let a = area(svg, panel).unwrap_or_else(|| panic!("no {panel} panel"));
    let ticks = value_ticks(svg, panel);
    let (v0, y0) = ticks[0];
    let (vn, yn) = ticks[ticks.len() - 1];
    assert_eq!(v0, 0.0, "{panel}: the value axis starts at 0");
    assert!(
        (y0 - a.3).abs() < 0.06,
        "{panel}: 0 is at the bottom of the area"
    );
    assert!(
        (yn - a.1).abs() < 0.06,
        "{panel}: the top tick is the top of the area"
    );
    let per = (y0 - yn) / vn;
    for &(v, y) in &ticks {
        assert!(
            (y - (y0 - v * per)).abs() < 0.06,
            "{panel}: tick {v} at {y}, not linear"
        );
    }
    let times: Vec<(f64, u64)> = time_ticks(svg)
        .into_iter()
        .filter(|(x, _)| *x >= xs.0 && *x <= xs.1)
        .map(|(x, l)| (x, label_time(&l, t, 0)))
        .collect();
    assert!(times.len() >= 2, "two time ticks in the stretch: {times:?}");
    let ((xa, ta), (xb, tb)) = (times[0], times[times.len() - 1]);
    let x = xa + (t as f64 - ta as f64) / (tb as f64 - ta as f64) * (xb - xa);
    (x, y0 - v * per)
}

/// Asserts that the vertex of `series` nearest `want`'s x is within 0.6 px of `want`.
fn drawn_at(svg: &str, series: &str, want: (f64, f64)) {
    let near = vertices(svg, series)
        .into_iter()
        .flatten()
        .min_by(|a, b| (a.0 - want.0).abs().total_cmp(&(b.0 - want.0).abs()))
        .filter(|p| (p.0 - want.0).abs() < 0.6);
    let got = near.unwrap_or_else(|| panic!("{series}: no vertex at x {:.1}", want.0));
    assert!(
        (got.1 - want.1).abs() < 0.6,
        "{series}: the sample is drawn at y {} where its value puts it at {:.1}",
        got.1,
        want.1
    );
}

#[test]
fn a_known_sample_sits_at_the_pixel_its_value_implies() {
    let dir = tempfile::tempdir().unwrap();
    let (svg, r) = plot(dir.path(), &two_runs(), &[]);
    r.expect_code(0);
    let brk = breaks(&svg);
    assert_eq!(brk.len(), 1, "one break between the runs");
    let (bx0, bx1) = (brk[0].0, brk[0].1);
    // Run 1, i = 31: used 447; run 2, i = 70: used 410 (2 × for estab, 5000 + for ct_used).
    let (t1, u1) = (T + 31_000, 447.0);
    let (t2, u2) = (T + 4 * DAY + 70_000, 410.0);
    drawn_at(&svg, "used", pixel(&svg, "ports", (0.0, bx0), t1, u1));
    drawn_at(&svg, "used", pixel(&svg, "ports", (bx1, 1200.0), t2, u2));
    drawn_at(
        &svg,
        "free",
        pixel(&svg, "ports", (bx1, 1200.0), t2, 1000.0 - u2),
    );
    drawn_at(
        &svg,
        "estab",
        pixel(&svg, "counts", (bx1, 1200.0), t2, 2.0 * u2),
    );
    drawn_at(
        &svg,
        "ct_used",
        pixel(&svg, "counts", (0.0, bx0), t1, 5000.0 + u1),
    );
    // The ports axis is scaled to the ports (the ceiling of 1000), not to ct_used's 5,500.
    let top = value_ticks(&svg, "ports").last().unwrap().0;
    assert!((1000.0..1500.0).contains(&top), "ports axis up to {top}");
    let counts = area(&svg, "counts").unwrap();
    let ports = area(&svg, "ports").unwrap();
    assert!(
        counts.1 > ports.3,
        "the counts panel is below the ports panel"
    );
    for series in ["estab", "ct_used"] {
        for (_, y) in vertices(&svg, series).into_iter().flatten() {
            assert!(
                y >= counts.1 - 0.05 && y <= counts.3 + 0.05,
                "{series} at y {y}"
            );
        }
    }
    // A single run: one linear axis over the whole width, checked the same way.
    let (svg, r) = plot(dir.path(), &run_of(T, 600, |i| (i * 7) % 900), &[]);
    r.expect_code(0);
    assert!(breaks(&svg).is_empty());
    let t = T + 433_000;
    drawn_at(&svg, "used", pixel(&svg, "ports", (0.0, 1200.0), t, 331.0));
}

#[test]
fn a_long_gap_between_runs_is_cut_out_and_marked_and_a_short_one_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (svg, r) = plot(dir.path(), &two_runs(), &[]);
    r.expect_code(0);
    let brk = breaks(&svg);
    assert_eq!(brk.len(), 1);
    assert_eq!((brk[0].2, brk[0].3), (T + 119_000, T + 4 * DAY));
    let labels: Vec<String> = text_boxes(&svg).into_iter().map(|t| t.0).collect();
    assert!(labels.contains(&"3d 23h".to_string()), "{labels:?}");
    // No label inside a panel crosses the break: the peak of used at the end of the first run,
    // just before the break, is labelled within that run's stretch.
    let log = run_of(T, 120, |i| 100 + 3 * i) + &run_of(T + 4 * DAY, 120, |i| 100 + i);
    let (svg, r) = plot(dir.path(), &log, &[]);
    r.expect_code(0);
    let brk = breaks(&svg);
    let ports = area(&svg, "ports").unwrap();
    for (s, b) in text_boxes(&svg) {
        let inside = b.1 >= ports.1 && b.3 <= ports.3;
        let crosses = b.0 < brk[0].1 && brk[0].0 < b.2;
        assert!(!(inside && crosses), "{s:?} {b:?} crosses the break");
    }
    // Each run is drawn across about half the width, not as a sliver of a four-day axis.
    for line in vertices(&svg, "used") {
        let xs: Vec<f64> = line.iter().map(|p| p.0).collect();
        let wide = xs.iter().cloned().fold(f64::MIN, f64::max)
            - xs.iter().cloned().fold(f64::MAX, f64::min);
        assert!(wide > 450.0, "a run drawn {wide} px wide");
    }
    // A run of one sample is a dot (a polyline of one point draws nothing), in its own stretch.
    let log = run_of(T, 120, |i| 100 + i) + &run_of(T + 4 * DAY, 1, |_| 300);
    let (svg, r) = plot(dir.path(), &log, &[]);
    r.expect_code(0);
    let brk = breaks(&svg);
    assert_eq!(brk.len(), 1);
    let d = doc(&svg);
    let dots: Vec<f64> = d
        .descendants()
        .filter(|n| {
            n.attribute("class") == Some("point") && n.attribute("data-series") == Some("used")
        })
        .map(|n| n.attribute("cx").unwrap().parse().unwrap())
        .collect();
    assert_eq!(dots.len(), 1, "{dots:?}");
    assert!(dots[0] > brk[0].1, "the dot is after the break: {dots:?}");
    // Two days at five minutes apart with an hour missing: the hour stays on one linear axis.
    let every_5m = |t0: u64, n: u64| {
        run_of(0, n, |i| 100 + i % 50)
            .lines()
            .map(|l| match l.split_once(',') {
                Some((t, rest)) if !l.starts_with('#') => {
                    format!("{},{rest}\n", t0 + t.parse::<u64>().unwrap() * 300)
                }
                _ => format!("{l}\n"),
            })
            .collect::<String>()
    };
    let log = every_5m(T, 288) + &every_5m(T + DAY + 3_600_000, 276);
    let (svg, r) = plot(dir.path(), &log, &[]);
    r.expect_code(0);
    assert!(
        breaks(&svg).is_empty(),
        "an hour in two days is not cut out"
    );
    // The second run's sample 120: used 100 + 120 % 50.
    let t = T + DAY + 3_600_000 + 120 * 300_000;
    drawn_at(&svg, "used", pixel(&svg, "ports", (0.0, 1200.0), t, 120.0));
}

#[test]
fn the_legend_names_the_worst_destination() {
    let dir = tempfile::tempdir().unwrap();
    let json = |rows: &[(&str, u64)]| {
        let mut s = String::from(
            "{\"header\":{\"sampling_sec\":1,\"columns\":[\"epoch_ms\",\"used\",\"free\",\"worst_dst\",\"worst_dst_used\"]}}\n",
        );
        for (i, (dst, n)) in rows.iter().enumerate() {
            let _ = writeln!(
                s,
                "{{\"epoch_ms\":{},\"used\":{n},\"free\":{},\"worst_dst\":\"{dst}\",\"worst_dst_used\":{n}}}",
                T + i as u64 * 1000,
                1000 - n
            );
        }
        s
    };
    let legend = |svg: &str| {
        let d = doc(svg);
        let t = d
            .descendants()
            .find(|n| {
                n.has_tag_name("text")
                    && n.attribute("data-series") == Some("worst_dst_used")
                    && n.parent().unwrap().attribute("class") == Some("legend")
            })
            .expect("a legend entry");
        t.text().unwrap().to_string()
    };
    let log = json(&[
        ("10.0.0.1:80", 5),
        ("[2001:db8::7]:443", 90),
        ("10.0.0.1:80", 40),
    ]);
    let (svg, r) = plot(dir.path(), &log, &[]);
    r.expect_code(0);
    assert_eq!(
        legend(&svg),
        "worst_dst_used ([2001:db8::7]:443 at its peak, 1 other)"
    );
    let (svg, r) = plot(
        dir.path(),
        &json(&[("10.0.0.1:80", 5), ("10.0.0.1:80", 7)]),
        &[],
    );
    r.expect_code(0);
    assert_eq!(legend(&svg), "worst_dst_used (10.0.0.1:80)");
}

/// Plots `log` with TZ set.
fn plot_in_zone(dir: &Path, log: &str, tz: &str, args: &[&str]) -> String {
    let input = dir.join("log.csv");
    std::fs::write(&input, log).unwrap();
    let mut cmd = conntrend();
    cmd.env("TZ", tz).arg("plot").arg(&input).args(args);
    let r = run(cmd);
    r.expect_code(0);
    r.stdout().to_string()
}

fn axis_title(svg: &str) -> String {
    text_boxes(svg)
        .into_iter()
        .map(|t| t.0)
        .find(|s| s.starts_with("time ("))
        .expect("an axis title")
}

#[test]
fn local_time_is_labelled_with_its_zone() {
    let dir = tempfile::tempdir().unwrap();
    let log = run_of(T, 600, |i| 100 + i % 300);
    // XYZ is 5 hours ahead of UTC (a POSIX TZ, no zone files needed).
    let local = plot_in_zone(dir.path(), &log, "XYZ-5", &["--local"]);
    let utc = plot_in_zone(dir.path(), &log, "XYZ-5", &[]);
    assert_eq!(axis_title(&local), "time (XYZ)");
    assert_eq!(axis_title(&utc), "time (UTC)");
    let title = text_boxes(&local).into_iter().next().unwrap().0;
    assert!(title.ends_with("2026-12-07 08:09:59 XYZ"), "{title}");
    // The same ticks, labelled 5 hours later.
    let (l, u) = (time_ticks(&local), time_ticks(&utc));
    assert_eq!(l.len(), u.len());
    for ((xl, ll), (xu, lu)) in l.iter().zip(&u) {
        assert_eq!(xl, xu);
        assert_eq!(
            label_time(ll, T, 5 * 3_600_000),
            label_time(lu, T, 0),
            "{ll} vs {lu}"
        );
    }
    // Across a change of zone (AAA to summer time BBB on 2026-03-29 at 01:00 UTC): both named.
    let spring = 1_774_742_400_000; // 2026-03-29T00:00:00Z
    let log = run_of(spring, 2, |i| 10 + i) + &run_of(spring + 7_200_000, 2, |i| 10 + i);
    let svg = plot_in_zone(dir.path(), &log, "AAA-1BBB,M3.5.0,M10.5.0/3", &["--local"]);
    assert_eq!(axis_title(&svg), "time (AAA/BBB)");
    let title = text_boxes(&svg).into_iter().next().unwrap().0;
    assert!(
        title.contains("01:00:00 AAA to 2026-03-29 04:00:01 BBB"),
        "{title}"
    );
}

#[test]
fn no_two_texts_overlap_whatever_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = std::fs::read_to_string(root.join("docs/example.csv")).unwrap();
    // The peak of used and the minimum of free at the same sample, at the top right; and at the
    // bottom left (free 0 at the first sample).
    let crossing = run_of(T, 300, |i| if i == 290 { 500 } else { 300 + i % 100 });
    let corner = run_of(T, 300, |i| if i == 0 { 1000 } else { 100 + i });
    // Sixteen one-sample runs a day apart, then a long one: many breaks, crowded labels.
    let mut scattered: String = (0..16)
        .map(|k| run_of(T + k * DAY, 1, |_| 50 + k))
        .collect();
    scattered += &run_of(T + 20 * DAY, 3600, |i| i % 700);
    // Every column on three panels, a long destination.
    let mut wide = String::from(
        "# conntrend 0.1.0  sampling=1s  range_init=32768-60999-and-a-very-long-header-word\n# columns: epoch_ms,total_port,used,free,time_wait,estab,syn,close_wait,last_ack,fin_wait,worst_dst,worst_dst_used,worst_dst_free,ct_used,ct_max,exhaust_in_sec\n",
    );
    for i in 0..500u64 {
        let _ = writeln!(
            wide,
            "{},28232,{},{},{},{},1,2,3,4,[2001:db8:1234:5678:9abc:def0:1234:5678]:8443,{},{},{},262144,{}",
            T + i * 1000,
            i * 50,
            28232 - i * 50,
            i * 90,
            i * 3,
            i * 40,
            28232 - i * 40,
            i * 200,
            5000 - i * 9
        );
    }
    let every = "total_port,used,free,time_wait,estab,syn,close_wait,last_ack,fin_wait,worst_dst_used,worst_dst_free,ct_used,ct_max,exhaust_in_sec";
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("docs/example.csv", example, vec![]),
        ("two runs", two_runs(), vec![]),
        ("crossing", crossing, vec![]),
        ("corner", corner, vec![]),
        ("scattered", scattered, vec![]),
        ("every column", wide, vec!["--series", every]),
    ];
    for (name, log, args) in cases {
        for local in [false, true] {
            let mut args = args.clone();
            if local {
                args.push("--local");
            }
            let svg = plot_in_zone(dir.path(), &log, "XYZ-5", &args);
            let bad = collisions(&svg);
            assert!(bad.is_empty(), "{name} {args:?}:\n{}", bad.join("\n"));
            // Each marker keeps its label (none had to be left out).
            let d = doc(&svg);
            for m in d
                .descendants()
                .filter(|n| n.attribute("class") == Some("marker"))
            {
                assert!(
                    m.children().any(|c| c.has_tag_name("text")),
                    "{name}: the {} marker has no label",
                    m.attribute("data-series").unwrap()
                );
            }
        }
    }
}
