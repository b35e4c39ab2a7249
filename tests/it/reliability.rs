//! Nothing lost, nothing stuck: the run survives an unwritable stderr, stop signals end it while
//! it waits on a FIFO or a stalled reader, a full disk never leaves half a line behind, `nohup`
//! is respected, and odd command lines get the right message. Every wait here is bounded and
//! every child is reaped.
//!
//! `CONNTREND_BIN=path cargo test reliability` runs these against another build (how they were
//! checked to fail on the build before the fixes).

use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    match std::env::var_os("CONNTREND_BIN") {
        Some(path) => Command::new(path),
        None => crate::util::conntrend(),
    }
}

/// Waits at most `limit` for `child`; kills and reaps it if it is still running then (`None`).
fn wait_for(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, sig) };
}

/// A pipe: (read end, write end).
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

fn stderr_of(child: &mut Child) -> String {
    let mut s = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut s);
    }
    s
}

fn ends_with_summary(path: &Path) -> bool {
    let text = fs::read_to_string(path).unwrap_or_default();
    text.ends_with('\n')
        && text
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("# summary: "))
}

#[test]
fn an_unwritable_stderr_does_not_stop_the_run_or_lose_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.csv");
    // stderr is a pipe nobody reads any more: every -v line fails with EPIPE.
    let (read, write) = pipe();
    drop(read);
    let mut child = bin()
        .args(["-v", "-i", "1", "-d", "0", "-o"])
        .arg(&log)
        .stdout(Stdio::null())
        .stderr(Stdio::from(write))
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    signal(&child, libc::SIGTERM);
    let status = wait_for(&mut child, Duration::from_secs(5)).expect("ended");
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(
        ends_with_summary(&log),
        "{}",
        fs::read_to_string(&log).unwrap()
    );

    // Output and stderr both on a full device: a clean failure, not a panic.
    let status = bin()
        .args(["-c", "1", "-o", "/dev/full"])
        .stderr(
            fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1), "{status}");
}

#[test]
fn a_terminal_that_hangs_up_is_a_clean_end() {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty fills two descriptors we then own.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0);
    // Not inherited by the children other tests start meanwhile (they would keep it open).
    for fd in [master, slave] {
        // SAFETY: fcntl on descriptors we own.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut child = bin()
        .args(["-i", "1", "-d", "0"])
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    // Read the header so the terminal was really written to, then hang up.
    let mut buf = [0u8; 256];
    let mut f = fs::File::from(master);
    let _ = f.read(&mut buf);
    // A hang-up: the terminal goes away and SIGHUP arrives at once (the summary then meets EIO).
    drop(f);
    signal(&child, libc::SIGHUP);
    let status = wait_for(&mut child, Duration::from_secs(5)).expect("ended");
    assert_eq!(status.code(), Some(0), "{status}");
}

#[test]
fn stop_signals_interrupt_the_wait_for_a_fifo_reader() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let mut child = bin()
            .args(["-i", "1", "-d", "0", "-o"])
            .arg(&fifo)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        signal(&child, sig);
        let status = wait_for(&mut child, Duration::from_secs(2));
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(0),
            "signal {sig}: {status:?}"
        );
    }
    // The same FIFO named as a namespace is refused at once.
    let mut child = bin()
        .args(["-c", "1", "--netns"])
        .arg(&fifo)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_for(&mut child, Duration::from_secs(2)).expect("no hang");
    let err = stderr_of(&mut child);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("not a namespace file"), "{err}");
}

#[test]
fn a_stop_signal_ends_a_run_whose_reader_stalled() {
    for args in [&["-i", "1", "-d", "0"][..], &["top", "-i", "1"]] {
        let (read, write) = pipe();
        // The smallest pipe, filled by us: conntrend's first write cannot go anywhere.
        // SAFETY: fcntl on a pipe descriptor we own.
        unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, 4096) };
        let mut w = fs::File::from(write.try_clone().unwrap());
        // SAFETY: as above; non-blocking so that filling it stops when it is full.
        unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
        while w.write(&[b'x'; 512]).is_ok() {}
        unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETFL, 0) };
        let mut child = bin()
            .args(args)
            .stdout(Stdio::from(write))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let sent = Instant::now();
        signal(&child, libc::SIGTERM);
        let status = wait_for(&mut child, Duration::from_secs(4)).expect("ended");
        let took = sent.elapsed();
        let err = stderr_of(&mut child);
        drop(read);
        assert!(took < Duration::from_secs(3), "{args:?} took {took:?}");
        assert_eq!(status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("stopped reading"), "{args:?}: {err}");
    }
}

/// A tmpfs of two pages, mounted for the test and unmounted after it.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn new() -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=8k", "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount (the integration tests run as root or in a user namespace)");
        assert!(ok.success(), "cannot mount a small tmpfs");
        SmallDisk { dir }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_disk_never_leaves_half_a_line() {
    let disk = SmallDisk::new();
    let log = disk.path("log.csv");
    // The log takes one page but 40 bytes, a filler the other: conntrend's header cannot fit.
    fs::write(&log, format!("{}\n", "#".repeat(4096 - 41))).unwrap();
    fs::write(disk.path("filler"), vec![0u8; 4096]).unwrap();
    let before = fs::metadata(&log).unwrap().len();
    let out = bin().args(["-c", "1", "-o"]).arg(&log).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("No space left"), "{err}");
    assert_eq!(
        fs::metadata(&log).unwrap().len(),
        before,
        "the cut line was taken back"
    );

    // Space again: the next run appends whole lines only.
    fs::remove_file(disk.path("filler")).unwrap();
    let out = bin().args(["-c", "1", "-o"]).arg(&log).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(ends_with_summary(&log));
    let text = fs::read_to_string(&log).unwrap();
    let rows: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(rows.len(), 1, "{text}");
    assert!(
        rows[0]
            .split(',')
            .all(|f| f.parse::<u64>().is_ok() || f.is_empty())
    );
}

#[test]
fn a_log_cut_mid_line_gets_a_new_line_before_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.json");
    fs::write(&log, "{\"epoch").unwrap();
    let out = bin()
        .args(["-c", "1", "--format", "json", "-o"])
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = fs::read_to_string(&log).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("{\"epoch"));
    for line in lines {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
}

#[test]
fn nohup_is_respected() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.csv");
    let mut cmd = bin();
    cmd.args(["-i", "1", "-d", "0", "-o"])
        .arg(&log)
        .stdout(Stdio::null());
    // SAFETY: signal(2) between fork and exec, as nohup and a non-interactive `&` do.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            libc::signal(libc::SIGINT, libc::SIG_IGN);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    signal(&child, libc::SIGHUP);
    signal(&child, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(700));
    let still = child.try_wait().unwrap();
    signal(&child, libc::SIGTERM);
    let status = wait_for(&mut child, Duration::from_secs(3)).expect("SIGTERM ends it");
    assert_eq!(still, None, "ignored SIGHUP/SIGINT ended the run");
    assert_eq!(status.code(), Some(0));
    assert!(ends_with_summary(&log));
}

#[test]
fn odd_command_lines_get_the_right_message() {
    let check = |args: &[&str], code: i32, want: &str, not: &str| {
        let out = bin().args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(not.is_empty() || !err.contains(not), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    };
    check(&["--pid", "-1"], 2, "--pid", "");
    check(&["-c", "1", "junk"], 2, "junk", "subcommand");
    check(&["--netns", ""], 2, "--netns", "");
    check(&["-c", "0"], 2, "must be at least 1", "");
}

#[test]
fn a_closed_stdout_is_an_error() {
    let mut cmd = bin();
    cmd.args(["-c", "1"]).stderr(Stdio::piped());
    // SAFETY: close(2) between fork and exec: the shell's `>&-`.
    unsafe {
        cmd.pre_exec(|| {
            libc::close(1);
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("standard output is closed"), "{err}");
}

#[test]
fn help_and_version_that_cannot_be_written_are_errors() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["--version"],
        &["top", "--help"],
        &["--generate", "man"],
    ] {
        // A full device.
        let out = bin()
            .args(args)
            .stdout(
                fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .unwrap(),
            )
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?} to /dev/full: {err}");
        assert!(err.contains("standard output"), "{args:?}: {err}");
        // A closed standard output (`>&-`).
        let mut cmd = bin();
        cmd.args(args).stderr(Stdio::piped());
        // SAFETY: close(2) between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::close(1);
                Ok(())
            });
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?} with >&-: {err}");
        assert!(err.contains("standard output is closed"), "{args:?}: {err}");
    }
    // A reader that leaves is still a normal end.
    let mut child = bin().arg("--help").stdout(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn a_zombie_is_not_a_missing_process() {
    let mut zombie = Command::new("true").spawn().unwrap();
    let ns = format!("/proc/{}/ns/net", zombie.id());
    let deadline = Instant::now() + Duration::from_secs(5);
    while Path::new(&ns).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = bin()
        .args(["-c", "1", "--pid", &zombie.id().to_string()])
        .output()
        .unwrap();
    zombie.wait().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("zombie") && !err.contains("no process"),
        "{err}"
    );
}

#[test]
fn entering_a_namespace_without_privilege_says_what_is_needed() {
    // As an unprivileged user (nobody), pid 1's namespace cannot be opened. Inside the user
    // namespace of a non-root `make test`, nobody is not mapped (EINVAL), and root there has no
    // privilege over pid 1's namespace either: the same refusal.
    let mut cmd = bin();
    cmd.args(["-c", "1", "--pid", "1"]);
    // SAFETY: dropping privileges between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EINVAL) {
                    return Err(e);
                }
            }
            Ok(())
        });
    }
    let out = cmd
        .output()
        .expect("the tests run as root (or root in a user namespace)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("needs root or CAP_SYS_ADMIN"), "{err}");
}
