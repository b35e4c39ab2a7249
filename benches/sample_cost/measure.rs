//! Whole-process measurements: wall time around spawn→reap, and the child's own CPU time and peak
//! RSS from `wait4(2)`'s rusage, taken by a small launcher process (see [`Launcher`]).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// One process (or the sum of a tool's processes).
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub wall: Duration,
    pub cpu: Duration,
    /// Peak resident set, KiB (`ru_maxrss`).
    pub maxrss_kib: u64,
}

impl Usage {
    /// Two processes run one after the other: times add up, the peak is the larger one.
    pub fn then(self, next: Usage) -> Usage {
        Usage {
            wall: self.wall + next.wall,
            cpu: self.cpu + next.cpu,
            maxrss_kib: self.maxrss_kib.max(next.maxrss_kib),
        }
    }
}

/// Reaps `child`, which must have been spawned from this process; fails unless it exited 0.
/// With `block` false, returns `None` while it still runs.
pub fn reap(child: &Child, block: bool) -> io::Result<Option<(Instant, Usage)>> {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 writes status and rusage through valid pointers.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let flags = if block { 0 } else { libc::WNOHANG };
    let rc = loop {
        let rc = unsafe { libc::wait4(pid, &mut status, flags, &mut ru) };
        if rc >= 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            break rc;
        }
    };
    let reaped = Instant::now();
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    if rc == 0 {
        return Ok(None);
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(io::Error::other(format!(
            "pid {pid} ended badly (wait status {status:#x})"
        )));
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let usage = Usage {
        wall: Duration::ZERO,
        cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
        maxrss_kib: ru.ru_maxrss as u64,
    };
    Ok(Some((reaped, usage)))
}

/// Runs `argv` to completion with stdout sent to /dev/null (or captured when `capture`), and
/// returns its usage and captured output.
pub fn run(argv: &[&str], capture: bool) -> io::Result<(Usage, String)> {
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(if capture {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    // A pre-exec hook makes std fork() instead of posix_spawn(): with posix_spawn's shared memory
    // the child's ru_maxrss would start at this whole process's RSS; with fork only at the part of
    // it that is copied (the touched private pages).
    // SAFETY: the hook does nothing, so it is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| Ok(()));
    }
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run {}: {e}", argv[0])))?;
    // Read what it writes before reaping it: output larger than the pipe's buffer would otherwise
    // block the child and the wait forever.
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout.read_to_string(&mut out)?;
    }
    let (reaped, mut usage) = reap(&child, true)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", argv.join(" "))))?
        .expect("a blocking wait4 reaps");
    usage.wall = reaped - start;
    Ok((usage, out))
}

/// The value after `--name` among `args` (the bench's own command line), if any. (For the
/// single-tool benches, rtt_cost and plot_cost; sample_cost parses its options in options.rs.)
#[allow(dead_code)]
pub fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// `argv` run once to warm up (files into the page cache), then `runs` times: their usages.
#[allow(dead_code)]
pub fn repeat(argv: &[&str], runs: u64) -> io::Result<Vec<Usage>> {
    run(argv, false)?;
    (0..runs)
        .map(|_| run(argv, false).map(|(u, _)| u))
        .collect()
}

/// The median of `values` (the lower middle one for an even count).
pub fn median<T: Copy + Ord>(values: &[T]) -> T {
    let mut v = values.to_vec();
    v.sort_unstable();
    v[(v.len() - 1) / 2]
}

/// The median over rounds of `field` of the `k`-th command of each round.
pub fn median_of<const N: usize, T: Copy + Ord>(
    rounds: &[[Usage; N]],
    k: usize,
    field: impl Fn(&Usage) -> T,
) -> T {
    median(&rounds.iter().map(|r| field(&r[k])).collect::<Vec<_>>())
}

/// A small process that starts the measured commands: the bench binary re-executed with
/// `--launch`, started in the namespace of the load. A forked child's `ru_maxrss` starts at the
/// private pages it shares with its parent, so children of the bench itself, whose heap grows
/// with the holder processes it tracks, would report a peak that is partly the bench's.
pub struct Launcher {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Launcher {
    pub fn start(me: &str) -> io::Result<Launcher> {
        let mut child = Command::new(me)
            .arg("--launch")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        Ok(Launcher {
            child,
            stdin,
            stdout,
        })
    }

    /// [`run`] in the launcher.
    pub fn run(&mut self, argv: &[&str], capture: bool) -> io::Result<(Usage, String)> {
        let stdin = self.stdin.as_mut().expect("open until dropped");
        writeln!(stdin, "{}\t{}", u8::from(capture), argv.join("\t"))?;
        stdin.flush()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        let fields: Vec<&str> = line.split_whitespace().collect();
        let n = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        if fields.first() != Some(&"ok") {
            return Err(io::Error::other(line.trim().to_string()));
        }
        let usage = Usage {
            wall: Duration::from_nanos(n(1)),
            cpu: Duration::from_nanos(n(2)),
            maxrss_kib: n(3),
        };
        let mut out = vec![0; n(4) as usize];
        self.stdout.read_exact(&mut out)?;
        Ok((usage, String::from_utf8_lossy(&out).into_owned()))
    }
}

impl Drop for Launcher {
    fn drop(&mut self) {
        drop(self.stdin.take()); // end of input: the launcher exits
        let _ = self.child.wait();
    }
}

/// Launcher mode: one request per line on stdin (`CAPTURE\tARG\tARG…`), one answer each on
/// stdout (`ok WALL_NS CPU_NS MAXRSS_KIB LEN` then LEN bytes of output, or `err MESSAGE`).
pub fn launcher() -> io::Result<()> {
    let mut out = io::stdout().lock();
    for line in io::stdin().lock().lines() {
        let line = line?;
        let mut fields = line.split('\t');
        let capture = fields.next() == Some("1");
        let argv: Vec<&str> = fields.collect();
        match run(&argv, capture) {
            Ok((u, text)) => {
                let (wall, cpu) = (u.wall.as_nanos(), u.cpu.as_nanos());
                writeln!(out, "ok {wall} {cpu} {} {}", u.maxrss_kib, text.len())?;
                out.write_all(text.as_bytes())?;
            }
            Err(e) => writeln!(out, "err {}", e.to_string().replace('\n', " "))?,
        }
        out.flush()?;
    }
    Ok(())
}
