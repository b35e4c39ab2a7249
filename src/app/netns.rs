//! Entering another network namespace (`--netns`, `--pid`). The socket table and the pool sysctls
//! belong to a namespace; the calling thread's namespace decides which ones netlink dumps and
//! /proc/sys/net shows, so the thread that samples must be the one that enters.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use nix::sched::{CloneFlags, setns};

/// Where `--netns NAME` looks for named namespaces (as `ip netns` creates them).
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// statfs(2)'s f_type of the namespace filesystem (linux/magic.h).
const NSFS_MAGIC: i64 = 0x6e73_6673;

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

/// Moves the calling thread into the network namespace at `path`. The file is opened without
/// blocking and checked to be a namespace file first, so a FIFO or a device named by mistake is
/// refused at once instead of hanging the run.
pub fn enter(path: &Path) -> Result<()> {
    let what = format!("cannot enter network namespace {}", path.display());
    let privilege = " (entering another network namespace needs root or CAP_SYS_ADMIN)";
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return Err(anyhow::Error::new(e).context(format!("{what}{privilege}")));
        }
        Err(e) => return Err(anyhow::Error::new(e).context(what)),
    };
    let fs = nix::sys::statfs::fstatfs(&file)
        .map_err(|e| anyhow::Error::new(e).context(what.clone()))?;
    if fs.filesystem_type().0 as i64 != NSFS_MAGIC {
        bail!("{what}: not a namespace file (expected /run/netns/NAME or /proc/PID/ns/net)");
    }
    if let Err(e) = setns(&file, CloneFlags::CLONE_NEWNET) {
        let hint = match e {
            nix::errno::Errno::EPERM => privilege,
            nix::errno::Errno::EINVAL => " (not a network namespace file)",
            _ => "",
        };
        return Err(anyhow::Error::new(io::Error::from(e)).context(format!("{what}{hint}")));
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

    #[test]
    fn files_that_are_not_namespaces_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let err = format!("{:#}", enter(&fifo).unwrap_err());
        assert!(err.contains("not a namespace file"), "{err}");
        let err = format!("{:#}", enter(Path::new("/proc/self/ns/uts")).unwrap_err());
        assert!(err.contains("not a network namespace"), "{err}");
    }
}
