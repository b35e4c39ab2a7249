//! The command-line contract checked on the host namespace: flag validation, the exact CSV and
//! JSON Lines shapes, run length (-i/-d/-c), -p, signals, broken pipes, -o, -v, --help/-V and what
//! the help says (help.rs). These tests check behaviour and internal consistency, never socket
//! counts or speed (those are checked in namespaces the tests build: columns.rs, dst.rs, top.rs).
//! This file holds the shared helpers.

mod args;
mod endings;
mod files;
mod help;
mod shapes;

use crate::util::{COLUMNS, Row, Run, Stream, conntrend, parse_csv, parse_json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The summary keys, in the order the README prints them.
const SUMMARY_KEYS: &str = "start_ms,end_ms,elapsed_sec,samples,peak_used,peak_time_wait,min_free,min_total_port,max_total_port";
/// Upper bound on any single run: a hung binary fails the test instead of hanging the suite.
const LIMIT: Duration = Duration::from_secs(30);

/// A `range_init` value: `LO-HI`, LO ≤ HI. Its value is the host's own range, which these tests
/// neither set nor assert on (the namespace tests in columns.rs do, on ranges they set).
fn is_range(v: &str) -> bool {
    v.split_once('-')
        .and_then(|(lo, hi)| Some(lo.parse::<u16>().ok()? <= hi.parse::<u16>().ok()?))
        .unwrap_or(false)
}

/// Checks the exact CSV header line the README prescribes (`duration` empty: no duration field,
/// as when a count alone ends the run), whatever the host's range.
#[track_caller]
fn assert_header(got: &str, sampling: u64, duration: &str, count: Option<u64>, d: &str) {
    let count = count.map(|c| format!("  count={c}")).unwrap_or_default();
    let duration = if duration.is_empty() {
        String::new()
    } else {
        format!("  duration={duration}")
    };
    let source = crate::util::auto_source();
    let want =
        format!("# conntrend 0.1.0  sampling={sampling}s{duration}{count}{source}  range_init=");
    let range = got.strip_prefix(&want);
    assert!(range.is_some_and(is_range), "header: want {want}LO-HI\n{d}");
}

/// Waits for `child` at most `limit`; kills it and returns `None` when it is still running then.
fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return Some(st);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Runs conntrend with `args` to completion, failing the test if it takes longer than [`LIMIT`].
fn ct(args: &[&str]) -> Run {
    let mut cmd = conntrend();
    cmd.args(args).stdin(Stdio::null());
    let cmdline = format!("{cmd:?}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let t_out = thread::spawn(move || read_all(&mut out));
    let t_err = thread::spawn(move || read_all(&mut err));
    let status = wait_bounded(&mut child, LIMIT);
    let output = Output {
        status: status.unwrap_or_else(|| child.wait().unwrap()),
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    };
    let run = Run { cmdline, output };
    let d = run.describe();
    assert!(status.is_some(), "killed after {LIMIT:?}\n{d}");
    run
}

fn read_all(r: &mut impl Read) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = r.read_to_end(&mut v);
    v
}

/// Runs, expects exit 0 and an empty stderr, and parses the CSV.
fn csv_ok(args: &[&str]) -> (Run, Stream, String) {
    let r = ct(args);
    let d = r.describe();
    r.expect_code(0);
    assert!(r.stderr().is_empty(), "stderr not empty\n{d}");
    let csv = parse_csv(&r.stdout());
    assert_eq!(csv.columns, COLUMNS, "columns line\n{d}");
    (r, csv, d)
}

/// Checks every sample and the summary for the invariants the README implies. `tcp`/`udp`: which
/// protocols were sampled (the others' fields must be empty/null).
fn check_consistency(samples: &[Row], summary: &Row, tcp: bool, udp: bool, d: &str) {
    let keys: Vec<&str> = summary.keys().map(String::as_str).collect();
    let mut want: Vec<&str> = SUMMARY_KEYS.split(',').collect();
    want.sort_unstable();
    assert_eq!(keys, want, "summary keys\n{d}");
    let s = |k: &str| summary[k];
    let (start, end) = (s("start_ms").unwrap(), s("end_ms").unwrap());
    assert!(start <= end, "start_ms > end_ms\n{d}");
    // elapsed_sec comes from the monotonic clock, start_ms/end_ms from the wall clock: they agree
    // to within the rounding.
    let elapsed = s("elapsed_sec").unwrap();
    assert!(
        (elapsed * 1000).abs_diff(end - start) <= 501,
        "elapsed_sec={elapsed} vs start_ms..end_ms\n{d}"
    );
    assert_eq!(s("samples"), Some(samples.len() as u64), "samples\n{d}");
    let mut last = None;
    for r in samples {
        for c in COLUMNS {
            let sampled = match c {
                "udp_used" => udp,
                c if COLUMNS[5..].contains(&c) => tcp, // the 7 TCP fields
                _ => true,
            };
            let ok = r[c].is_some() == sampled;
            assert!(ok, "{c} empty iff unsampled: {r:?}\n{d}");
        }
        let [t, u, f] = ["total_port", "used", "free"].map(|c| r[c].unwrap());
        assert!(u <= t, "used > total_port: {r:?}\n{d}");
        assert_eq!(f, t - u, "free != total_port - used: {r:?}\n{d}");
        let [tu, uu] = ["tcp_used", "udp_used"].map(|c| r[c].unwrap_or(0));
        let ok = tu.max(uu) <= u && u <= tu + uu;
        assert!(ok, "used vs tcp/udp_used: {r:?}\n{d}");
        let e = r["epoch_ms"].unwrap();
        assert!(last.is_none_or(|l| e > l), "epoch_ms not increasing\n{d}");
        let ok = (start..=end).contains(&e);
        assert!(ok, "epoch_ms outside [start,end]\n{d}");
        last = Some(e);
    }
    let min_max = |c: &str| {
        let v: Vec<u64> = samples.iter().filter_map(|r| r[c]).collect();
        (v.iter().min().copied(), v.iter().max().copied())
    };
    let derived = [
        ("peak_used", min_max("used").1),
        ("peak_time_wait", min_max("time_wait").1),
        ("min_free", min_max("free").0),
        ("min_total_port", min_max("total_port").0),
        ("max_total_port", min_max("total_port").1),
    ];
    for (k, want) in derived.into_iter().filter(|_| !samples.is_empty()) {
        assert_eq!(s(k), want, "summary {k} disagrees with the samples\n{d}");
    }
}
