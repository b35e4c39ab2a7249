//! The command-line contract of SPEC.md checked on the host namespace: flag validation, the exact
//! CSV and JSON Lines shapes, run length (-i/-d/-c), -p, signals, broken pipes, -o, -v, --help/-V.
//! These tests check behaviour and internal consistency, never socket counts or speed.

use crate::util::{COLUMNS, Stream, Row, Run, conntrend, parse_csv, parse_json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The summary keys, in the order SPEC.md prints them.
const SUMMARY_KEYS: &str = "start_ms,end_ms,elapsed_sec,samples,peak_used,peak_time_wait,min_free,min_total_port,max_total_port";
/// Upper bound on any single run: a hung binary fails the test instead of hanging the suite.
const LIMIT: Duration = Duration::from_secs(30);

/// A fresh, empty directory of our own under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tmpdir() -> TempDir {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("conntrend-cli-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    TempDir(dir)
}

/// The host's ip_local_port_range as `lo-hi`.
fn range_init() -> String {
    let s = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let v: Vec<&str> = s.split_whitespace().collect();
    format!("{}-{}", v[0], v[1])
}

/// The exact CSV header line the README prescribes (`duration` empty: no duration field, as
/// when a count alone ends the run).
fn header(sampling: u64, duration: &str, count: Option<u64>) -> String {
    let count = count.map(|c| format!("  count={c}")).unwrap_or_default();
    let duration = if duration.is_empty() {
        String::new()
    } else {
        format!("  duration={duration}")
    };
    let range = range_init();
    format!("# conntrend 0.1.0  sampling={sampling}s{duration}{count}  range_init={range}")
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

/// Checks every sample and the summary for the invariants SPEC.md implies. `tcp`/`udp`: which
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

#[test]
fn bad_input_exits_2_names_the_flag_and_creates_no_file() {
    let cases: [(&[&str], &[&str]); 10] = [
        (&["-i", "0"], &["interval", "-i"]),
        (&["-i", "-1"], &["interval", "-i"]),
        (&["-i", "abc"], &["interval", "-i"]),
        (&["-d", "-5"], &["duration", "-d"]),
        (&["-d", "x"], &["duration", "-d"]),
        (&["-c", "0"], &["count", "-c"]),
        (&["-c", "-1"], &["count", "-c"]),
        (&["-p", "icmp"], &["protocol", "-p"]),
        (&["--format", "xml"], &["format"]),
        (&["--bogus"], &["--bogus"]),
    ];
    for (bad, names) in cases {
        let _dir = tmpdir();
        let out = _dir.join("out.csv");
        let mut args = vec!["-o", out.to_str().unwrap()];
        args.extend_from_slice(bad);
        let r = ct(&args);
        let d = r.describe();
        r.expect_code(2);
        let err = r.stderr();
        let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        let ok = names.iter().any(|n| first.contains(n));
        assert!(ok, "1st line lacks {names:?}\n{d}");
        assert!(!err.contains("panicked"), "panic\n{d}");
        assert!(r.stdout().is_empty(), "stdout not empty\n{d}");
        assert!(!out.exists(), "-o file created for {bad:?}\n{d}");
    }
}

#[test]
fn dash_and_underscore_aliases_are_accepted() {
    for [i, d] in [
        ["--interval-sec", "--duration-sec"],
        ["--interval_sec", "--duration_sec"],
    ] {
        let (_, csv, d) = csv_ok(&[i, "1", d, "1"]);
        assert_eq!(csv.header, header(1, "1s", None), "\n{d}");
        assert_eq!(csv.samples.len(), 1, "\n{d}");
    }
}

#[test]
fn csv_exact_shape_and_three_samples_in_three_seconds() {
    let now = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    };
    let before = now();
    let (r, csv, d) = csv_ok(&["-i", "1", "-d", "3"]);
    let after = now();
    let out = r.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], header(1, "3s", None), "\n{d}");
    let columns = format!("# columns: {}", COLUMNS.join(","));
    assert_eq!(lines[1], columns, "\n{d}");
    for row in &lines[2..lines.len() - 2] {
        let fields: Vec<&str> = row.split(',').collect();
        assert_eq!(fields.len(), 12, "row width: {row}\n{d}");
        let numeric = |f: &&str| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit());
        assert!(fields.iter().all(numeric), "non-numeric: {row}\n{d}");
    }
    let summary_keys: Vec<&str> = lines[lines.len() - 1]["# summary: ".len()..]
        .split(',')
        .map(|kv| kv.split('=').next().unwrap())
        .collect();
    assert_eq!(
        summary_keys.join(","),
        SUMMARY_KEYS,
        "summary key order\n{d}"
    );
    assert_eq!(csv.samples.len(), 3, "\n{d}");
    assert_eq!(csv.summary["elapsed_sec"], Some(3), "\n{d}");
    let start = csv.summary["start_ms"].unwrap();
    let ok = start + 1000 >= before && start <= after;
    assert!(ok, "start_ms is not now\n{d}");
    check_consistency(&csv.samples, &csv.summary, true, true, &d);
}

#[test]
fn count_limits_the_run_and_shows_in_the_header() {
    let (_, csv, d) = csv_ok(&["-i", "1", "-c", "2"]);
    assert_eq!(csv.header, header(1, "", Some(2)), "\n{d}");
    assert_eq!(csv.samples.len(), 2, "\n{d}");
    assert_eq!(csv.summary["elapsed_sec"], Some(1), "\n{d}");
    check_consistency(&csv.samples, &csv.summary, true, true, &d);

    let (_, csv, d) = csv_ok(&["-c", "1", "-d", "60"]);
    assert_eq!(csv.header, header(5, "60s", Some(1)), "\n{d}");
    assert_eq!(csv.samples.len(), 1, "\n{d}");
    // Ends right after its one sample, not at -d 60 (0, or 1 on a very busy machine).
    assert!(csv.summary["elapsed_sec"] <= Some(1), "\n{d}");

    let (_, csv, d) = csv_ok(&["-i", "1", "-d", "0", "-c", "1"]);
    assert_eq!(csv.header, header(1, "", Some(1)), "\n{d}");
    assert_eq!(csv.samples.len(), 1, "\n{d}");
}

/// Runs jq with `filter` over `text`; returns its output lines (jq must accept the input).
fn jq(filter: &str, text: &str, d: &str) -> Vec<String> {
    let mut child = Command::new("/usr/bin/jq")
        .args(["-c", filter])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("jq must be installed at /usr/bin/jq (.ci/run installs it)");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(text.as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let ok = out.status.success();
    assert!(ok, "jq '{filter}' rejected it: {err}\n{d}");
    let lines = String::from_utf8(out.stdout).unwrap();
    lines.lines().map(str::to_string).collect()
}

#[test]
fn json_exact_shape_and_jq_accepts_it() {
    let r = ct(&["--format", "json", "-i", "1", "-d", "2"]);
    let d = r.describe();
    r.expect_code(0);
    assert!(r.stderr().is_empty(), "stderr not empty\n{d}");
    let out = r.stdout();
    let js = parse_json(&out);
    let h = js.header.as_object().expect("header is an object");
    let mut keys: Vec<&str> = h.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let documented = "columns count duration_sec protocol range_init sampling_sec version";
    assert_eq!(keys.join(" "), documented, "header keys\n{d}");
    assert_eq!(h["version"], "0.1.0", "\n{d}");
    assert_eq!(h["sampling_sec"], 1, "\n{d}");
    assert_eq!(h["duration_sec"], 2, "\n{d}");
    assert!(h["count"].is_null(), "count\n{d}");
    assert_eq!(h["protocol"], "all", "\n{d}");
    assert_eq!(h["range_init"], range_init().as_str(), "\n{d}");
    assert_eq!(h["columns"], serde_json::json!(COLUMNS), "\n{d}");
    for line in [out.lines().next(), out.lines().last()] {
        let v: serde_json::Value = serde_json::from_str(line.unwrap()).unwrap();
        let n = v.as_object().unwrap().len();
        assert_eq!(n, 1, "header/summary: one key\n{d}");
    }
    assert_eq!(js.samples.len(), 2, "\n{d}");
    assert_eq!(js.summary["elapsed_sec"], Some(2), "\n{d}");
    check_consistency(&js.samples, &js.summary, true, true, &d);
    let samples = jq("select(.epoch_ms)", &out, &d);
    assert_eq!(samples.len(), 2, "jq samples\n{d}");
    let summary = jq("select(.summary) | .summary", &out, &d);
    assert_eq!(summary.len(), 1, "jq summary\n{d}");

    let r = ct(&["--format", "json", "-d", "0", "-c", "1", "-p", "tcp"]);
    let d = r.describe();
    r.expect_code(0);
    let js = parse_json(&r.stdout());
    assert_eq!(js.header["duration_sec"], 0, "\n{d}");
    assert_eq!(js.header["count"], 1, "\n{d}");
    assert_eq!(js.header["protocol"], "tcp", "\n{d}");
    check_consistency(&js.samples, &js.summary, true, false, &d);
}

#[test]
fn protocol_filter_leaves_unsampled_fields_empty() {
    let (r, csv, d) = csv_ok(&["-p", "tcp", "-c", "1"]);
    let out = r.stdout();
    let row: Vec<&str> = out.lines().nth(2).unwrap().split(',').collect();
    assert_eq!(row[4], "", "udp_used must be empty with -p tcp\n{d}");
    check_consistency(&csv.samples, &csv.summary, true, false, &d);

    let (r, csv, d) = csv_ok(&["-p", "udp", "-c", "1"]);
    let out = r.stdout();
    let row: Vec<&str> = out.lines().nth(2).unwrap().split(',').collect();
    let ok = row[5..].iter().all(|f| f.is_empty());
    assert!(ok, "TCP fields not empty\n{d}");
    let ok = out.lines().last().unwrap().contains(",peak_time_wait=,");
    assert!(ok, "peak_time_wait not empty\n{d}");
    check_consistency(&csv.samples, &csv.summary, false, true, &d);

    let r = ct(&["--format", "json", "-p", "udp", "-c", "1"]);
    r.expect_code(0);
    let js = parse_json(&r.stdout());
    check_consistency(&js.samples, &js.summary, false, true, &r.describe());
}

/// A running conntrend whose stdout lines arrive on a channel; stderr goes to a file.
struct Live {
    child: Child,
    cmdline: String,
    lines: Receiver<String>,
    seen: Vec<String>,
    reader: JoinHandle<()>,
    err_file: PathBuf,
}

impl Live {
    /// Spawns conntrend; the reader thread stops (closing the pipe) after `max_lines` lines.
    fn spawn(args: &[&str], max_lines: usize) -> Live {
        let _dir = tmpdir();
        let err_file = _dir.join("stderr");
        let mut cmd = conntrend();
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped());
        cmd.stderr(std::fs::File::create(&err_file).unwrap());
        let cmdline = format!("{cmd:?}");
        let mut child = cmd.spawn().expect("spawn conntrend");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        let reader = thread::spawn(move || {
            for line in BufReader::new(stdout).lines().take(max_lines) {
                if line.map(|l| tx.send(l)).is_err() {
                    break;
                }
            }
        });
        let seen = Vec::new();
        Live {
            child,
            cmdline,
            lines,
            seen,
            reader,
            err_file,
        }
    }

    /// Collects lines until the first sample row (a line starting with a digit) arrived.
    fn wait_first_sample(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !self
            .seen
            .iter()
            .any(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(_) => {
                    let _ = self.child.kill();
                    panic!("no sample line from {} (got {:?})", self.cmdline, self.seen);
                }
            }
        }
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on the pid of a child we spawned and have not reaped yet.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
        assert_eq!(rc, 0, "kill({sig}) failed");
    }

    /// Waits (bounded) for the exit; returns a `Run` holding every stdout line read.
    fn finish(mut self, limit: Duration) -> Run {
        let status = wait_bounded(&mut self.child, limit);
        self.reader.join().unwrap();
        self.seen.extend(self.lines.try_iter());
        let output = Output {
            status: status.unwrap_or_else(|| self.child.wait().unwrap()),
            stdout: (self.seen.join("\n") + "\n").into_bytes(),
            stderr: std::fs::read(&self.err_file).unwrap_or_default(),
        };
        let cmdline = self.cmdline;
        let run = Run { cmdline, output };
        let d = run.describe();
        assert!(status.is_some(), "no exit within {limit:?}\n{d}");
        run
    }
}

fn signal_writes_summary_and_exits_0(sig: libc::c_int) {
    let mut live = Live::spawn(&["-i", "1", "-d", "0"], usize::MAX);
    live.wait_first_sample();
    live.signal(sig);
    let r = live.finish(Duration::from_secs(10));
    let d = r.describe();
    r.expect_code(0);
    assert!(r.stderr().is_empty(), "stderr not empty\n{d}");
    let csv = parse_csv(&r.stdout());
    assert_eq!(csv.header, header(1, "unlimited", None), "\n{d}");
    assert!(!csv.samples.is_empty(), "\n{d}");
    check_consistency(&csv.samples, &csv.summary, true, true, &d);
}

#[test]
fn sigint_writes_summary_and_exits_0() {
    signal_writes_summary_and_exits_0(libc::SIGINT);
}

#[test]
fn sigterm_writes_summary_and_exits_0() {
    signal_writes_summary_and_exits_0(libc::SIGTERM);
}

#[test]
fn sighup_writes_summary_and_exits_0() {
    signal_writes_summary_and_exits_0(libc::SIGHUP);
}

#[test]
fn sigterm_interrupts_a_long_wait() {
    let mut live = Live::spawn(&["-i", "60", "-d", "0"], usize::MAX);
    live.wait_first_sample();
    live.signal(libc::SIGTERM);
    // Functional bound: the next tick is 60 s away, so exiting within 5 s means the wait was cut.
    let r = live.finish(Duration::from_secs(5));
    r.expect_code(0);
    let csv = parse_csv(&r.stdout());
    assert_eq!(csv.samples.len(), 1, "\n{}", r.describe());
}

#[test]
fn broken_pipe_exits_0_silently() {
    let mut live = Live::spawn(&["-i", "1", "-d", "0"], 3);
    live.wait_first_sample();
    assert_eq!(live.seen.len(), 3, "header, columns, sample");
    let r = live.finish(Duration::from_secs(15));
    r.expect_code(0);
    assert!(r.stderr().is_empty(), "stderr not empty\n{}", r.describe());
}

#[test]
fn broken_pipe_through_head_exits_0_silently() {
    let _dir = tmpdir();
    let err = _dir.join("stderr");
    let script = r#"timeout 20 "$0" -i 1 -d 0 2>"$1" | head -3; exit "${PIPESTATUS[0]}""#;
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(script);
    cmd.arg(env!("CARGO_BIN_EXE_conntrend")).arg(&err);
    let r = crate::util::run(cmd);
    let d = r.describe();
    r.expect_code(0);
    assert_eq!(r.stdout().lines().count(), 3, "\n{d}");
    let stderr = std::fs::read_to_string(&err).unwrap();
    assert!(stderr.is_empty(), "conntrend stderr: {stderr:?}\n{d}");
}

#[test]
fn output_file_is_appended_to() {
    let _dir = tmpdir();
    let out = _dir.join("out.csv");
    std::fs::write(&out, "pre-existing line\n").unwrap();
    for _ in 0..2 {
        let r = ct(&["-c", "1", "-o", out.to_str().unwrap()]);
        r.expect_code(0);
        assert!(r.stdout().is_empty(), "stdout not empty\n{}", r.describe());
    }
    let text = std::fs::read_to_string(&out).unwrap();
    let rest = text.strip_prefix("pre-existing line\n").expect(&text);
    assert_eq!(rest.matches("# conntrend ").count(), 2, "{text}");
    assert_eq!(rest.matches("# summary: ").count(), 2, "{text}");
    let cut = rest.find("\n# conntrend ").expect(&text) + 1;
    for part in [&rest[..cut], &rest[cut..]] {
        let csv = parse_csv(part);
        check_consistency(&csv.samples, &csv.summary, true, true, &text);
    }
}

#[test]
fn unopenable_output_exits_1_with_os_reason() {
    let _dir = tmpdir();
    let out = _dir.join("no-such-dir/x.csv");
    let path = out.to_str().unwrap();
    let r = ct(&["-c", "1", "-o", path]);
    let d = r.describe();
    r.expect_code(1);
    let err = r.stderr();
    assert!(err.contains(path), "stderr must name the path\n{d}");
    assert!(err.contains("No such file or directory"), "OS reason\n{d}");
    assert!(r.stdout().is_empty(), "\n{d}");
    assert!(!out.exists());
}

#[test]
fn write_error_exits_1_with_one_line() {
    let r = ct(&["-c", "1", "-o", "/dev/full"]);
    let d = r.describe();
    r.expect_code(1);
    let err = r.stderr();
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one stderr line\n{d}");
    assert!(lines[0].contains("/dev/full"), "names the file\n{d}");
    assert!(!err.contains("panicked"), "\n{d}");
}

#[test]
fn verbose_goes_to_stderr_only() {
    let r = ct(&["-v", "-i", "1", "-c", "2"]);
    let d = r.describe();
    r.expect_code(0);
    let csv = parse_csv(&r.stdout());
    assert_eq!(csv.samples.len(), 2, "\n{d}");
    assert!(!r.stderr().is_empty(), "-v printed no diagnostics\n{d}");
    let r = ct(&["-v", "--format", "json", "-c", "1"]);
    r.expect_code(0);
    let js = parse_json(&r.stdout());
    assert_eq!(js.samples.len(), 1, "\n{}", r.describe());
}

#[test]
fn help_and_version() {
    let r = ct(&["--help"]);
    let d = r.describe();
    r.expect_code(0);
    let help = r.stdout();
    let flags = "-i -d -c -o -p -v --interval --duration --count --output --protocol --format";
    for flag in flags.split(' ').chain(["--help", "--version"]) {
        assert!(help.contains(flag), "--help lacks {flag}\n{d}");
    }
    let r = ct(&["-V"]);
    r.expect_code(0);
    assert_eq!(r.stdout().trim(), "conntrend 0.1.0", "\n{}", r.describe());
}
