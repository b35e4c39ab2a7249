//! Where the timeline's bytes go: standard output or a file opened for appending, written one
//! whole line at a time. A run is never stuck in the kernel: a FIFO without a reader is opened
//! without blocking (waiting in poll for a reader or a stop), and pipes are written non-blocking
//! with poll, so a stop signal ends a run even when the reader has stalled. On a regular file a
//! line that could not be written in full is cut back, and a run appending to a file whose last
//! line is incomplete starts on a new line: a log stays line-clean for grep and jq.

use std::fs::OpenOptions;
use std::io::{self, IsTerminal, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use crate::app::settings::Target;
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicBool, Ordering};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::stat::{SFlag, fstat};

use crate::app::signal;

/// How long a stopping run waits for a stalled reader to take the summary.
const LAST_WORDS: Duration = Duration::from_secs(1);
/// How often a wait for a FIFO's reader looks again.
const FIFO_RETRY: Duration = Duration::from_millis(100);

/// Set when standard output was closed at startup (`conntrend >&-`).
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Records that standard output was closed when the process started (`conntrend >&-`). Rust's
/// runtime reopens closed standard descriptors on /dev/null before `main`, so this must be called
/// earlier, from a constructor (see main.rs); it only reads the descriptor's flags.
pub fn note_stdout_at_startup() {
    // SAFETY: F_GETFD only asks whether the descriptor is open.
    if unsafe { libc::fcntl(libc::STDOUT_FILENO, libc::F_GETFD) } == -1 {
        STDOUT_CLOSED.store(true, Ordering::SeqCst);
    }
}

/// An error if standard output was closed at startup: writing "successfully" into nothing would
/// lose the data without a word.
pub fn check_stdout_open() -> io::Result<()> {
    if STDOUT_CLOSED.load(Ordering::SeqCst) {
        return Err(io::Error::other("standard output is closed"));
    }
    Ok(())
}

/// The output descriptor and how to write it.
pub struct Sink {
    fd: Fd,
    /// Regular file: failed lines are cut back.
    regular: bool,
    /// Standard output on a terminal: a hang-up (EIO) means the reader has gone.
    tty: bool,
    /// Flags to put back on a descriptor we share with others (standard output).
    restore: Option<OFlag>,
}

enum Fd {
    Stdout,
    Owned(OwnedFd),
}

/// Why a write gave up without an OS error.
#[derive(Debug)]
pub struct Stalled;

impl std::fmt::Display for Stalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the reader stopped reading (stopped while the output was full)"
        )
    }
}

impl std::error::Error for Stalled {}

impl Sink {
    /// Standard output. An error if it is closed (`>&-`): a silent success would lose the data.
    pub fn stdout() -> io::Result<Sink> {
        check_stdout_open()?;
        let out = io::stdout();
        let flags = fcntl(out.as_fd(), FcntlArg::F_GETFL)
            .map_err(|_| io::Error::other("standard output is closed"))?;
        let flags = OFlag::from_bits_retain(flags);
        let mode = SFlag::from_bits_truncate(fstat(out.as_fd())?.st_mode & SFlag::S_IFMT.bits());
        let mut sink = Sink {
            fd: Fd::Stdout,
            regular: mode == SFlag::S_IFREG,
            tty: out.is_terminal(),
            restore: None,
        };
        // Only a pipe or socket can stall; its flags are put back when the run ends.
        let pipe = mode == SFlag::S_IFIFO || mode == SFlag::S_IFSOCK;
        if pipe && !flags.contains(OFlag::O_NONBLOCK) {
            fcntl(sink.fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
            sink.restore = Some(flags);
        }
        Ok(sink)
    }

    /// `path` opened for appending (created if missing). A FIFO is waited on until a reader opens
    /// it or a stop signal arrives (then `Ok(None)`).
    pub fn append(path: &Path) -> io::Result<Option<Sink>> {
        let file = loop {
            match OpenOptions::new()
                .append(true)
                .create(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(path)
            {
                Ok(f) => break f,
                // A FIFO with no reader yet.
                Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                    if signal::requested() {
                        return Ok(None);
                    }
                    sleep_unless_stopped(FIFO_RETRY);
                }
                Err(e) => return Err(e),
            }
        };
        let meta = file.metadata()?;
        let regular = meta.file_type().is_file();
        if regular && meta.len() > 0 {
            // The append-only descriptor cannot read: look at the last byte through another.
            let mut last = [0u8];
            std::fs::File::open(path)?.read_at(&mut last, meta.len() - 1)?;
            if last[0] != b'\n' {
                // An earlier run was cut off mid-line (a full disk): start on a fresh line.
                (&file).write_all(b"\n")?;
            }
        }
        Ok(Some(Sink {
            fd: Fd::Owned(file.into()),
            regular,
            tty: false,
            restore: None,
        }))
    }

    /// Opens where a mode's output goes; `None` when a stop signal came while waiting for a
    /// FIFO's reader. The error names the target.
    pub fn open(target: &Target) -> anyhow::Result<Option<Sink>> {
        use anyhow::Context as _;
        match target {
            Target::Stdout => Sink::stdout().map(Some),
            Target::File(path) => Sink::append(path),
        }
        .with_context(|| format!("cannot open {}", target.describe()))
    }

    /// The descriptor, for polling whether its reader has gone.
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd()
    }

    /// True for a terminal: there a hang-up (EIO) means the reader has gone.
    pub fn is_tty(&self) -> bool {
        self.tty
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match &self.fd {
            // SAFETY: descriptor 1 was checked open when the sink was made and is never closed.
            Fd::Stdout => unsafe { BorrowedFd::borrow_raw(libc::STDOUT_FILENO) },
            Fd::Owned(fd) => fd.as_fd(),
        }
    }

    /// Writes all of `buf`, waiting in poll when the output is full. Once a stop was asked for,
    /// waits at most [`LAST_WORDS`] in all.
    fn write_fully(&self, mut buf: &[u8]) -> io::Result<()> {
        let mut deadline: Option<Instant> = None;
        while !buf.is_empty() {
            match nix::unistd::write(self.fd(), buf) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => buf = &buf[n..],
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => {
                    let stopping = signal::requested();
                    if stopping {
                        let d = *deadline.get_or_insert_with(|| Instant::now() + LAST_WORDS);
                        if Instant::now() >= d {
                            return Err(io::Error::other(Stalled));
                        }
                    }
                    // While not stopping, a stop signal wakes the wait; then the deadline rules.
                    let stop = signal::wake_fd().filter(|_| !stopping);
                    poll_writable(self.fd(), stop);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_fully(buf)?;
        Ok(buf.len())
    }

    /// One whole line. On a regular file, a line that could not be written in full (ENOSPC,
    /// EFBIG, EIO) is cut back to where it began, so the log never ends in half a line.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        if !self.regular {
            return self.write_fully(buf);
        }
        let before = fstat(self.fd()).map(|s| s.st_size).ok();
        let result = self.write_fully(buf);
        if result.is_err()
            && let Some(before) = before
            && let Ok(now) = fstat(self.fd())
            && now.st_size > before
            && now.st_size <= before + buf.len() as i64
        {
            let _ = nix::unistd::ftruncate(self.fd(), before);
        }
        result
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(flags) = self.restore {
            let _ = fcntl(self.fd(), FcntlArg::F_SETFL(flags));
        }
    }
}

/// Waits up to 100 ms for `fd` to take more bytes, or for `stop` to become readable.
fn poll_writable(fd: BorrowedFd<'_>, stop: Option<BorrowedFd<'_>>) {
    let timeout = PollTimeout::from(100u8);
    let _ = match stop {
        Some(stop) => poll(
            &mut [
                PollFd::new(fd, PollFlags::POLLOUT),
                PollFd::new(stop, PollFlags::POLLIN),
            ],
            timeout,
        ),
        None => poll(&mut [PollFd::new(fd, PollFlags::POLLOUT)], timeout),
    };
}

/// Sleeps up to `timeout`, waking early for a stop signal.
fn sleep_unless_stopped(timeout: Duration) {
    match signal::wake_fd() {
        Some(stop) => {
            let ms = PollTimeout::try_from(timeout.as_millis() as i32).unwrap_or(PollTimeout::MAX);
            let _ = poll(&mut [PollFd::new(stop, PollFlags::POLLIN)], ms);
        }
        None => std::thread::sleep(timeout),
    }
}
