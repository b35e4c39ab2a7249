//! `conntrend plot`: the SVG parsed as XML (series, point counts after decimation, markers,
//! segment gaps), a one-sample spike surviving decimation in a long log, rendering by a real
//! renderer (rsvg-convert), CSV and JSON Lines, and bad or empty input. The output file's kinds
//! (device, FIFO, symlink, directory, full disk) are in output.rs; impossible times and values in
//! values.rs; memory bounded by the chart's width in memory.rs; the chart read back as a viewer
//! reads it (pixels against ticks, panels, breaks, legend, zones, no overlapping text) in
//! chart.rs, with read.rs; `--from`/`--to`/`--last` in window.rs; docs/example-load.sh in
//! example.rs.

mod chart;
mod example;
mod memory;
mod output;
mod read;
mod values;
mod window;

use std::fmt::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Run, conntrend, run};

const HEADER: &str = "# conntrend 0.1.0  sampling=1s  duration=unlimited  range_init=32768-60999\n\
# columns: epoch_ms,total_port,used,free,udp_used,tcp_used,time_wait,estab,syn,close_wait,last_ack,fin_wait\n";

/// A CSV log of `n` samples from `t0` (ms), used = f(i).
fn csv_run(t0: u64, n: u64, used: impl Fn(u64) -> u64) -> String {
    let mut s = String::from(HEADER);
    for i in 0..n {
        let u = used(i);
        let _ = writeln!(
            s,
            "{},1000,{u},{},1,{},{},{},0,0,0,0",
            t0 + i * 1000,
            1000 - u,
            u - 1,
            u / 2,
            u / 4
        );
    }
    s.push_str("#\n# summary: samples=1\n");
    s
}

fn plot(dir: &Path, log: &str, args: &[&str]) -> (String, crate::util::Run) {
    let input = dir.join("log.csv");
    std::fs::write(&input, log).unwrap();
    let out = dir.join("out.svg");
    let mut cmd = conntrend();
    cmd.arg("plot").arg(&input).arg("-o").arg(&out).args(args);
    let r = run(cmd);
    let svg = std::fs::read_to_string(&out).unwrap_or_default();
    (svg, r)
}

/// (data-series, data-segment, number of points) of every polyline.
fn polylines(svg: &str) -> Vec<(String, String, usize)> {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not XML: {e}"));
    doc.descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .map(|n| {
            let pts = n.attribute("points").unwrap().split_whitespace().count();
            (
                n.attribute("data-series").unwrap().to_string(),
                n.attribute("data-segment").unwrap().to_string(),
                pts,
            )
        })
        .collect()
}

/// The y coordinates of the points of `series`'s line.
fn series_ys(svg: &str, series: &str) -> Vec<f64> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    let line = doc
        .descendants()
        .find(|n| n.attribute("data-series") == Some(series))
        .unwrap_or_else(|| panic!("no line for {series}"));
    line.attribute("points")
        .unwrap()
        .split_whitespace()
        .map(|p| p.split(',').nth(1).unwrap().parse().unwrap())
        .collect()
}

fn marker(svg: &str, series: &str) -> (u64, u64) {
    let doc = roxmltree::Document::parse(svg).unwrap();
    let g = doc
        .descendants()
        .find(|n| {
            n.attribute("class") == Some("marker") && n.attribute("data-series") == Some(series)
        })
        .unwrap_or_else(|| panic!("no {series} marker"));
    (
        g.attribute("data-value").unwrap().parse().unwrap(),
        g.attribute("data-time").unwrap().parse().unwrap(),
    )
}

#[test]
fn two_runs_are_two_segments_with_the_peak_and_minimum_marked() {
    let dir = tempfile::tempdir().unwrap();
    // Run 1: used climbs 10..=69 over 60 s; run 2, ten minutes later: peaks at 500 at i=20.
    let log = csv_run(1_000_000, 60, |i| 10 + i)
        + &csv_run(1_000_000 + 660_000, 40, |i| if i == 20 { 500 } else { 100 });
    let (svg, r) = plot(dir.path(), &log, &[]);
    r.expect_code(0);
    let lines = polylines(&svg);
    for series in ["total_port", "used", "free", "time_wait", "estab"] {
        let segs: Vec<_> = lines.iter().filter(|l| l.0 == series).collect();
        assert_eq!(
            segs.len(),
            2,
            "{series}: one polyline per run, a gap between"
        );
        assert_eq!((segs[0].1.as_str(), segs[0].2), ("0", 60), "{series}");
        assert_eq!((segs[1].1.as_str(), segs[1].2), ("1", 40), "{series}");
    }
    // Zeros are measurements: an all-zero column is drawn (along the axis).
    assert_eq!(lines.iter().filter(|l| l.0 == "close_wait").count(), 2);
    assert_eq!(marker(&svg, "used"), (500, 1_000_000 + 660_000 + 20_000));
    assert_eq!(marker(&svg, "free"), (500, 1_000_000 + 660_000 + 20_000));
    assert!(svg.contains("range 32768-60999, sampling 1s"), "title");
    assert!(svg.contains("2 runs"));
    // --series picks the columns; one the log lacks is an error naming it.
    let (svg, r) = plot(dir.path(), &log, &["--series", "used,time_wait"]);
    r.expect_code(0);
    let names: std::collections::BTreeSet<String> =
        polylines(&svg).into_iter().map(|l| l.0).collect();
    assert_eq!(names.into_iter().collect::<Vec<_>>(), ["time_wait", "used"]);
    let (_, r) = plot(dir.path(), &log, &["--series", "ct_used"]);
    r.expect_code(1);
    assert!(
        r.stderr().contains("no column 'ct_used'"),
        "{}",
        r.describe()
    );
}

#[test]
fn a_long_log_is_decimated_without_losing_a_spike_and_renders() {
    let dir = tempfile::tempdir().unwrap();
    // 100,000 samples, used 100 except one sample of 900.
    let log = csv_run(0, 100_000, |i| if i == 61_803 { 900 } else { 100 });
    let (svg, r) = plot(dir.path(), &log, &[]);
    r.expect_code(0);
    let used: Vec<_> = polylines(&svg)
        .into_iter()
        .filter(|l| l.0 == "used")
        .collect();
    assert_eq!(used.len(), 1);
    assert!(
        used[0].2 <= 2 * 1090,
        "at most two points per pixel column: {}",
        used[0].2
    );
    assert_eq!(marker(&svg, "used"), (900, 61_803_000));
    // The spike is a vertex of the decimated line: its y is the top of the data.
    let ys = series_ys(&svg, "used");
    let top = ys.iter().cloned().fold(f64::MAX, f64::min);
    let base = ys.iter().cloned().fold(f64::MIN, f64::max);
    assert!(base - top > 100.0, "the spike stands out: {top} vs {base}");
    assert!(svg.len() < 1_000_000);
    // A real renderer accepts it.
    let png = dir.path().join("out.png");
    let mut rsvg = Command::new("rsvg-convert");
    rsvg.arg(dir.path().join("out.svg")).arg("-o").arg(&png);
    let r = run(rsvg);
    r.expect_code(0);
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
}

#[test]
fn json_lines_from_stdin_and_to_stdout() {
    let mut cmd = conntrend();
    cmd.args(["plot"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let json = "{\"header\":{\"sampling_sec\":5,\"range_init\":\"100-199\",\"columns\":[\"epoch_ms\",\"total_port\",\"used\",\"free\",\"worst_dst\",\"worst_dst_used\"]}}\n\
{\"epoch_ms\":1000,\"total_port\":100,\"used\":5,\"free\":95,\"worst_dst\":\"10.0.0.1:80\",\"worst_dst_used\":4}\n\
{\"epoch_ms\":6000,\"total_port\":100,\"used\":7,\"free\":93,\"worst_dst\":null,\"worst_dst_used\":null}\n\
{\"epoch_ms\":11000,\"total_port\":100,\"used\":9,\"free\":91,\"worst_dst\":\"10.0.0.1:80\",\"worst_dst_used\":8}\n\
{\"summary\":{\"samples\":3}}\n";
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let svg = String::from_utf8(out.stdout).unwrap();
    let lines = polylines(&svg);
    // worst_dst_used has a null in the middle: two stretches, one point each.
    let dst: Vec<_> = lines
        .iter()
        .filter(|l| l.0 == "worst_dst_used")
        .map(|l| l.2)
        .collect();
    assert_eq!(dst, [1, 1]);
    assert_eq!(lines.iter().find(|l| l.0 == "used").unwrap().2, 3);
    assert!(svg.contains("range 100-199, sampling 5s"));
}

#[test]
fn bad_and_empty_logs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = csv_run(0, 5, |i| i + 1).replace("\n1000,1000,2,", "\n1000,1000,two,");
    let (svg, r) = plot(dir.path(), &bad, &[]);
    r.expect_code(1);
    assert!(r.stderr().contains("log.csv:4:"), "{}", r.describe());
    assert!(
        r.stderr().contains("'two' is not a number"),
        "{}",
        r.describe()
    );
    assert!(svg.is_empty(), "no SVG written");
    let (_, r) = plot(dir.path(), "just some text\n", &[]);
    r.expect_code(1);
    assert!(
        r.stderr().contains("not a conntrend log"),
        "{}",
        r.describe()
    );
    let (svg, r) = plot(dir.path(), HEADER, &[]);
    r.expect_code(1);
    assert!(r.stderr().contains("no samples"), "{}", r.describe());
    assert!(svg.is_empty());
    let mut cmd = conntrend();
    cmd.args(["plot", "--bogus"]);
    run(cmd).expect_code(2);
}

#[test]
fn the_readme_example_is_what_plot_makes_of_its_log() {
    // docs/example.svg was made by `conntrend plot docs/example.csv -o docs/example.svg`: the same
    // log must still give the same bytes.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = conntrend();
    cmd.arg("plot").arg(root.join("docs/example.csv"));
    let r = run(cmd);
    r.expect_code(0);
    let want = std::fs::read_to_string(root.join("docs/example.svg")).unwrap();
    assert!(
        r.stdout() == want,
        "docs/example.svg differs from what plot makes"
    );
}

/// Runs `cmd` with its data segment capped at `data_mb` MB (a runaway allocation fails at once
/// instead of eating the machine) and killed after `secs` seconds; stdout and stderr go through
/// files in `dir`, so a large output cannot block it.
fn run_capped(mut cmd: Command, dir: &Path, data_mb: u64, secs: u64) -> Run {
    let cmdline = format!("{cmd:?} (data capped at {data_mb} MB)");
    let (out, err) = (dir.join("capped.stdout"), dir.join("capped.stderr"));
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    let limit = data_mb << 20;
    // SAFETY: setrlimit is async-signal-safe; the closure touches no lock and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_DATA, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmdline}: {e}"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmdline}: still running after {secs} s, killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        cmdline,
        output: Output {
            status,
            stdout: std::fs::read(&out).unwrap(),
            stderr: std::fs::read(&err).unwrap(),
        },
    }
}

/// The non-empty lines of a run's stderr.
fn stderr_lines(r: &Run) -> Vec<String> {
    r.stderr()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}
