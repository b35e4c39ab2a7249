//! How a run ends: signals (with the summary), a departed reader (quietly).

use super::*;

/// A running conntrend whose stdout lines arrive on a channel; stderr goes to a file.
struct Live {
    child: Child,
    cmdline: String,
    lines: Receiver<String>,
    seen: Vec<String>,
    reader: JoinHandle<()>,
    err_file: PathBuf,
    /// Kept so the stderr file outlives the run: dropping it would delete the file before it is
    /// read, and an empty read would pass every "nothing on stderr" check.
    _dir: tempfile::TempDir,
}

impl Live {
    /// Spawns conntrend; the reader thread stops (closing the pipe) after `max_lines` lines.
    fn spawn(args: &[&str], max_lines: usize) -> Live {
        let dir = tempfile::tempdir().unwrap();
        let err_file = dir.path().join("stderr");
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
            _dir: dir,
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
            stderr: std::fs::read(&self.err_file).expect("conntrend's stderr file"),
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
    assert_header(csv.header.as_str().unwrap(), 1, "unlimited", None, &d);
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
    let dir = tempfile::tempdir().unwrap();
    let err = dir.path().join("stderr");
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
