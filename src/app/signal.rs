//! The stop signal: SIGINT, SIGTERM and SIGHUP end a run cleanly. The handler only sets a flag and
//! writes a byte to a self-pipe, so a run waiting in poll(2) — for its next tick, for a FIFO's
//! reader, for a stalled pipe reader to make room — wakes at once. Handlers are installed without
//! SA_RESTART, and a SIGINT or SIGHUP that the parent set to be ignored (`nohup`, `cmd &` in a
//! non-interactive shell) stays ignored, as well-behaved tools do.

use std::os::fd::{BorrowedFd, IntoRawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

static STOPPED: AtomicBool = AtomicBool::new(false);
/// The self-pipe's write end, for the handler; -1 before installation.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_stop(_: libc::c_int) {
    wake(&STOPPED, WAKE_FD.load(Ordering::SeqCst));
}

/// The handler's work: set `flag`, write a byte to `fd` (if any). errno is kept as it was, so the
/// code the signal interrupted reads its own error, not the handler's.
fn wake(flag: &AtomicBool, fd: libc::c_int) {
    let saved = Errno::last_raw();
    flag.store(true, Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: write(2) is async-signal-safe; the pipe is non-blocking, so a full pipe (already
        // woken) just drops the byte.
        unsafe { libc::write(fd, [1u8].as_ptr().cast(), 1) };
    }
    Errno::set_raw(saved);
}

/// The self-pipe's read end; -1 before installation.
static READ_FD: AtomicI32 = AtomicI32::new(-1);

/// Installs the handlers for SIGINT, SIGTERM and SIGHUP, once per process (later calls do
/// nothing). The self-pipe lives as long as the process.
pub fn install() -> Result<()> {
    if READ_FD.load(Ordering::SeqCst) >= 0 {
        return Ok(());
    }
    let (read, write) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)
        .context("cannot create the signal pipe")?;
    WAKE_FD.store(write.into_raw_fd(), Ordering::SeqCst);
    READ_FD.store(read.into_raw_fd(), Ordering::SeqCst);
    let action = SigAction::new(
        SigHandler::Handler(on_stop),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        if signal != Signal::SIGTERM && is_ignored(signal) {
            continue;
        }
        // SAFETY: the handler only touches atomics and calls write(2).
        unsafe { sigaction(signal, &action) }
            .with_context(|| format!("cannot install the {signal} handler"))?;
    }
    Ok(())
}

/// True once a stop signal has arrived.
pub fn requested() -> bool {
    STOPPED.load(Ordering::SeqCst)
}

/// A descriptor that polls readable once a stop signal has arrived; `None` before [`install`].
pub fn wake_fd() -> Option<BorrowedFd<'static>> {
    let fd = READ_FD.load(Ordering::SeqCst);
    // SAFETY: once installed, the pipe is never closed.
    (fd >= 0).then(|| unsafe { BorrowedFd::borrow_raw(fd) })
}

/// True when `signal` is set to SIG_IGN (inherited from the parent).
fn is_ignored(signal: Signal) -> bool {
    // SAFETY: a null new action only reads the current one into `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal as libc::c_int, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use super::*;

    #[test]
    fn the_handler_keeps_errno_even_when_its_write_fails() {
        let (read, write) = nix::unistd::pipe2(OFlag::O_NONBLOCK).unwrap();
        // Fill the pipe, so the handler's write fails with EAGAIN.
        while nix::unistd::write(&write, &[0u8; 4096]).is_ok() {}
        let flag = AtomicBool::new(false);
        Errno::set_raw(libc::ENOENT);
        wake(&flag, write.as_raw_fd());
        assert_eq!(Errno::last_raw(), libc::ENOENT);
        assert!(flag.load(Ordering::SeqCst));
        drop(read);
    }
}
