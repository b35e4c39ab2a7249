//! `--from`, `--to`, `--last`: the chart of a stretch of the log — times as epoch ms or ISO-8601,
//! spans counted back from the log's last sample, from a file or standard input — at the
//! resolution of the stretch (a zoomed long log is drawn from its exact samples), its markers
//! from the stretch's own samples; bad bounds are one line naming the flag (exit 2), a stretch
//! without samples a one-line error (exit 1, nothing written).

use std::io::Write as _;

use super::read::*;
use super::*;

/// 2026-12-07T03:00:00Z.
const T: u64 = 1_796_612_400_000;
const MIN: u64 = 60_000;

/// An hour at 1 s from 03:00:00Z: used peaks at 900 at 03:05:00 and, between 03:10 and 03:20, at
/// 500 at 03:14:00; otherwise 100 + i % 50.
fn hour() -> String {
    csv_run(T, 3600, |i| match i {
        300 => 900,
        840 => 500,
        _ => 100 + i % 50,
    })
}

/// The used polylines' vertex counts, and the used marker.
fn used(svg: &str) -> (Vec<usize>, (u64, u64)) {
    let counts = vertices(svg, "used").iter().map(Vec::len).collect();
    (counts, marker(svg, "used"))
}

#[test]
fn from_and_to_take_times_and_spans_back_from_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let log = hour();
    let between = |args: &[&str]| {
        let (svg, r) = plot(dir.path(), &log, args);
        r.expect_code(0);
        svg
    };
    // 03:10:00 to 03:20:00 inclusive: 601 samples, the peak within them.
    for args in [
        &[
            "--from",
            "2026-12-07T03:10:00Z",
            "--to",
            "2026-12-07T03:20:00Z",
        ][..],
        &[
            "--from",
            "2026-12-07T04:10:00+01:00",
            "--to",
            "1796613600000",
        ],
        &["--from", "1796613000000", "--to", "39m59s"],
        &["--last", "10m", "--to", "2026-12-07T03:20:00.000Z"],
    ] {
        let svg = between(args);
        assert_eq!(used(&svg), (vec![601], (500, T + 840_000)), "{args:?}");
        let ticks: Vec<u64> = time_ticks(&svg)
            .iter()
            .map(|(_, l)| label_time(l, T, 0))
            .collect();
        assert!(
            ticks
                .iter()
                .all(|t| (T + 10 * MIN..=T + 20 * MIN).contains(t)),
            "{args:?}: {ticks:?}"
        );
        let title = text_boxes(&svg).into_iter().next().unwrap().0;
        assert!(
            title.contains("2026-12-07 03:10:00 to 2026-12-07 03:20:00 UTC"),
            "{title}"
        );
    }
    // The last 15 minutes: 03:44:59 to 03:59:59, the peak of used in them (100 + 49).
    let svg = between(&["--last", "15m"]);
    let (counts, (v, t)) = used(&svg);
    assert_eq!(counts, [901]);
    assert!(v == 149 && t >= T + 2699 * 1000, "({v}, {t})");
    // --from alone: to the end; --to alone: from the start.
    assert_eq!(used(&between(&["--from", "10m"])).0, [601]);
    assert_eq!(used(&between(&["--to", "2026-12-07T03:00:59Z"])).0, [60]);
}

#[test]
fn a_zoomed_long_log_keeps_every_sample_of_the_window() {
    // 100,000 samples (past the 32,768 kept exactly): ten minutes of them are drawn from their
    // 601 exact samples, not from buckets of the whole day.
    let dir = tempfile::tempdir().unwrap();
    let log = csv_run(T, 100_000, |i| 100 + (i * 7919) % 800);
    let from = T + 50_000_000;
    let (svg, r) = plot(
        dir.path(),
        &log,
        &[
            "--from",
            &from.to_string(),
            "--to",
            &(from + 10 * MIN).to_string(),
        ],
    );
    r.expect_code(0);
    let lines = vertices(&svg, "used");
    assert_eq!(lines.iter().map(Vec::len).collect::<Vec<_>>(), [601]);
    // Every sample at its own x, a second apart.
    let xs: Vec<f64> = lines[0].iter().map(|p| p.0).collect();
    assert!(
        xs.windows(2)
            .all(|w| (w[1] - w[0] - 1090.0 / 600.0).abs() < 0.11)
    );
}

#[test]
fn a_span_back_from_the_end_works_on_standard_input() {
    let json: String = std::iter::once(
        "{\"header\":{\"sampling_sec\":1,\"columns\":[\"epoch_ms\",\"used\",\"free\"]}}\n"
            .to_string(),
    )
    .chain((0..300u64).map(|i| {
        format!(
            "{{\"epoch_ms\":{},\"used\":{},\"free\":{}}}\n",
            T + i * 1000,
            i,
            1000 - i
        )
    }))
    .collect();
    let mut cmd = conntrend();
    cmd.args(["plot", "--last", "1m"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = String::from_utf8(out.stdout).unwrap();
    assert_eq!(used(&svg), (vec![61], (299, T + 299_000)));
}

#[test]
fn bad_bounds_name_the_flag_and_an_empty_window_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let log = hour();
    for (args, want) in [
        (&["--from", "yesterday"][..], "'--from <WHEN>'"),
        (&["--to", "2026-12-07T03:00:00"], "has no zone"),
        (&["--to", "2026-13-07T03:00:00Z"], "'--to <WHEN>'"),
        (&["--last", "15"], "'--last <SPAN>'"),
        (&["--last", "15m", "--from", "1h"], "--from"),
        (
            &[
                "--from",
                "2026-12-07T04:00:00Z",
                "--to",
                "2026-12-07T03:00:00Z",
            ],
            "--from 2026-12-07T04:00:00.000Z is after --to 2026-12-07T03:00:00.000Z",
        ),
        (
            &["--from", "1h", "--to", "2h"],
            "--from (1h before the log's end) is after --to",
        ),
    ] {
        let (svg, r) = plot(dir.path(), &log, args);
        r.expect_code(2);
        let first = stderr_lines(&r).into_iter().next().unwrap_or_default();
        assert!(first.contains(want), "{args:?}: {}", r.describe());
        assert!(svg.is_empty());
    }
    let (svg, r) = plot(dir.path(), &log, &["--from", "2030-01-01T00:00:00Z"]);
    r.expect_code(1);
    let lines = stderr_lines(&r);
    assert_eq!(lines.len(), 1, "{}", r.describe());
    assert!(
        lines[0].contains(
            "no samples from 2030-01-01T00:00:00.000Z to its end: the log's samples are from 2026-12-07T03:00:00.000Z to 2026-12-07T03:59:59.000Z"
        ),
        "{}",
        r.describe()
    );
    assert!(svg.is_empty(), "nothing written");
}
