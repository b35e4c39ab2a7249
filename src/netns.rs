//! Entering another network namespace (`--netns`, `--pid`). The socket table and the pool sysctls
//! belong to a namespace; the calling thread's namespace decides which ones netlink dumps and
//! /proc/sys/net shows, so the thread that samples must be the one that enters.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Where `--netns NAME` looks for named namespaces (as `ip netns` creates them).
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// The namespace file for `--netns ARG`: a name under /run/netns, or a path if it has a '/'.
pub fn path_for_name(arg: &str) -> PathBuf {
    if arg.contains('/') {
        PathBuf::from(arg)
    } else {
        Path::new(NETNS_RUN_DIR).join(arg)
    }
}

/// The namespace file for `--pid PID`.
pub fn path_for_pid(pid: u32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/ns/net"))
}

/// Moves the calling thread into the network namespace at `path`.
pub fn enter(path: &Path) -> Result<()> {
    let what = || format!("cannot enter network namespace {}", path.display());
    let file = File::open(path).with_context(what)?;
    // SAFETY: setns(2) on a file descriptor we own; CLONE_NEWNET only moves this thread.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        let err = io::Error::last_os_error();
        let hint = if err.raw_os_error() == Some(libc::EPERM) {
            " (entering another network namespace needs CAP_SYS_ADMIN: run as root)"
        } else if err.raw_os_error() == Some(libc::EINVAL) {
            " (not a network namespace file)"
        } else {
            ""
        };
        return Err(anyhow::Error::new(err).context(format!("{}{hint}", what())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert_eq!(path_for_name("blue"), PathBuf::from("/run/netns/blue"));
        assert_eq!(
            path_for_name("/proc/1/ns/net"),
            PathBuf::from("/proc/1/ns/net")
        );
        assert_eq!(path_for_pid(42), PathBuf::from("/proc/42/ns/net"));
    }
}
