//! Times and values no conntrend run writes are refused with one line naming the file, the line
//! and the column (exit 1 and nothing written, like any malformed line): an epoch_ms past the
//! year 9999 (µs, ns, u64::MAX), a value that is not a count (inf, 1e300, -5, 1.5) or beyond the
//! column's type. A long but possible span is drawn with a handful of time ticks.

use super::*;

/// The test log with line `n` (1-based) replaced.
fn with_line(n: usize, line: &str) -> String {
    let mut lines: Vec<&str> = HEADER.lines().collect();
    let rows = csv_run(1_796_000_000_000, 5, |i| i + 10);
    lines.extend(rows.lines().skip(2));
    lines[n - 1] = line;
    lines.join("\n") + "\n"
}

/// Plots `log` (written as `name`) under a memory and time cap; the run, and the SVG if written.
fn plot_capped(dir: &Path, name: &str, log: &str) -> (Run, Option<String>) {
    let input = dir.join(name);
    std::fs::write(&input, log).unwrap();
    let out = dir.join("out.svg");
    let _ = std::fs::remove_file(&out);
    let mut cmd = conntrend();
    cmd.arg("plot").arg(&input).arg("-o").arg(&out);
    let r = run_capped(cmd, dir, 256, 30);
    (r, std::fs::read_to_string(&out).ok())
}

/// Asserts a refusal: exit 1, one stderr line holding each of `parts`, no SVG.
fn refused(r: &Run, svg: Option<String>, parts: &[&str]) {
    r.expect_code(1);
    let lines = stderr_lines(r);
    assert_eq!(lines.len(), 1, "one line\n{}", r.describe());
    for p in parts {
        assert!(lines[0].contains(p), "{p:?} missing\n{}", r.describe());
    }
    assert!(svg.is_none(), "an SVG was written\n{}", r.describe());
}

#[test]
fn an_impossible_epoch_is_refused_naming_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    for epoch in [
        "18446744073709551615", // u64::MAX
        "1796000003000000000",  // nanoseconds
        "1796000003000000",     // microseconds
        "253402300800000",      // 10000-01-01T00:00:00Z
    ] {
        let line = format!("{epoch},1000,13,987,1,12,6,3,0,0,0,0");
        let (r, svg) = plot_capped(dir.path(), "log.csv", &with_line(6, &line));
        refused(&r, svg, &["log.csv:6:", "epoch_ms", epoch]);
    }
    let json = format!(
        "{{\"header\":{{\"columns\":[\"epoch_ms\",\"used\"]}}}}\n{{\"epoch_ms\":1000,\"used\":1}}\n{{\"epoch_ms\":{},\"used\":2}}\n",
        u64::MAX
    );
    let (r, svg) = plot_capped(dir.path(), "log.json", &json);
    refused(&r, svg, &["log.json:3:", "epoch_ms"]);
}

#[test]
fn the_longest_possible_span_is_drawn_with_a_handful_of_ticks() {
    let dir = tempfile::tempdir().unwrap();
    // 1970-01-01 and 9999-12-31T23:59:59.999Z: both times exist; the span is 8,000 years.
    let log = format!(
        "{HEADER}0,1000,10,990,1,9,5,2,0,0,0,0\n253402300799999,1000,20,980,1,19,10,5,0,0,0,0\n"
    );
    let (r, svg) = plot_capped(dir.path(), "log.csv", &log);
    r.expect_code(0);
    let svg = svg.unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let xticks = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("xticks"))
        .unwrap();
    let n = xticks.children().filter(|c| c.has_tag_name("line")).count();
    assert!((2..=12).contains(&n), "{n} time ticks");
    assert!(svg.len() < 50_000, "{} bytes", svg.len());
    assert!(
        svg.contains("9999-12-31 23:59:59"),
        "the title gives the end"
    );
}

#[test]
fn a_value_conntrend_never_writes_is_refused_naming_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    // (the used field, then what the one line must say)
    for (used, why) in [
        ("inf", "'inf' is not a count (used)"),
        ("-inf", "'-inf' is not a count (used)"),
        ("NaN", "'NaN' is not a count (used)"),
        ("1e300", "'1e300' is not a count (used)"),
        ("-5", "'-5' is not a count (used)"),
        ("1.5", "'1.5' is not a count (used)"),
        ("4294967296", "'4294967296' is not a count (used)"), // u32::MAX + 1
    ] {
        let line = format!("1796000003000,1000,{used},987,1,12,6,3,0,0,0,0");
        let (r, svg) = plot_capped(dir.path(), "log.csv", &with_line(6, &line));
        refused(&r, svg, &["log.csv:6:", why, "0 to 4294967295"]);
    }
    // A u64 column takes what a u32 column cannot, up to u64::MAX.
    let ct =
        "# conntrend 0.1.0  sampling=1s\n# columns: epoch_ms,used,ct_used\n1000,5,5000000000\n";
    let (r, _) = plot_capped(dir.path(), "log.csv", ct);
    r.expect_code(0);
    let (r, svg) = plot_capped(
        dir.path(),
        "log.csv",
        &ct.replace("5000000000", "18446744073709551616"),
    );
    refused(
        &r,
        svg,
        &["log.csv:3:", "(ct_used)", "0 to 18446744073709551615"],
    );
    // JSON: a number beyond any count, and one that is not whole.
    for (v, why) in [("1e300", "(used)"), ("2.5", "(used)"), ("-1", "(used)")] {
        let json = format!(
            "{{\"header\":{{\"columns\":[\"epoch_ms\",\"used\"]}}}}\n{{\"epoch_ms\":1000,\"used\":1}}\n{{\"epoch_ms\":2000,\"used\":{v}}}\n"
        );
        let (r, svg) = plot_capped(dir.path(), "log.json", &json);
        refused(&r, svg, &["log.json:3:", why, "not a count"]);
    }
}
