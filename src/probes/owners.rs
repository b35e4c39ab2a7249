//! Socket owners: one scan of /proc per report, matching socket inodes to processes. Only the
//! processes of the sampled network namespace have their descriptors read (others cannot hold its
//! sockets). Only what the caller may read is visible: a non-root user sees their own processes; a
//! process that exits during the scan is simply gone, not hidden.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;

/// A process that holds sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub comm: String,
    pub uid: u32,
}

/// Socket inode → owning process, from one pass over /proc.
#[derive(Debug, Default)]
pub struct Owners {
    /// (socket inode, index into `processes`), sorted by inode.
    by_inode: Vec<(u32, u32)>,
    pub processes: Vec<Process>,
    /// Processes that could not be inspected (another user's, as non-root): EACCES/EPERM.
    pub hidden: usize,
    /// This process runs in a pid namespace below the initial one (a container without
    /// `--pid host`): sockets' owners may be processes it cannot see at all.
    pub nested_pid_namespace: bool,
    /// No scan was made (a saved proc tree): no owner can be known.
    pub unknown: bool,
}

/// What looking at one process gave.
enum Look<T> {
    Seen(T),
    /// It exited meanwhile (ENOENT, ESRCH).
    Gone,
    /// We may not look (EACCES, EPERM).
    Hidden,
}

fn look<T>(r: io::Result<T>) -> Look<T> {
    match r {
        Ok(v) => Look::Seen(v),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EPERM)) => {
            Look::Hidden
        }
        Err(_) => Look::Gone,
    }
}

impl Owners {
    /// Owners of sockets read from a saved proc tree: not this host's processes.
    pub fn unknown() -> Owners {
        Owners {
            unknown: true,
            ..Owners::default()
        }
    }

    /// Finds the owners of `wanted` (socket inodes from the dump, sorted, no zeros). Processes of
    /// the calling thread's network namespace are scanned first; only if some sockets are still
    /// unowned (a process that made them on a thread in this namespace, or received them) are
    /// the other processes scanned too.
    pub fn scan(wanted: &[u32]) -> Owners {
        Owners::scan_for(Some(wanted))
    }

    /// Finds the owner of every socket any process holds (for a report that streams its rows,
    /// so cannot know the inodes first): every process is scanned.
    pub fn scan_all() -> Owners {
        Owners::scan_for(None)
    }

    fn scan_for(wanted: Option<&[u32]>) -> Owners {
        let mut owners = Owners {
            nested_pid_namespace: nested_pid_namespace(),
            ..Owners::default()
        };
        let ours = fs::metadata("/proc/thread-self/ns/net")
            .ok()
            .map(|m| (m.dev(), m.ino()));
        let Ok(entries) = fs::read_dir("/proc") else {
            return owners;
        };
        let mut elsewhere = Vec::new();
        let mut link = String::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            // Where the namespace cannot be looked at, the descriptors decide.
            match look(fs::metadata(format!("/proc/{pid}/ns/net"))) {
                Look::Seen(m) if Some((m.dev(), m.ino())) != ours => elsewhere.push(pid),
                Look::Gone => {}
                Look::Seen(_) | Look::Hidden => owners.scan_process(pid, wanted, &mut link),
            }
        }
        owners.settle();
        if wanted.is_none_or(|w| owners.by_inode.len() < w.len()) {
            for pid in elsewhere {
                owners.scan_process(pid, wanted, &mut link);
            }
            owners.settle();
        }
        owners
    }

    /// Records which of `wanted` process `pid` holds.
    fn scan_process(&mut self, pid: u32, wanted: Option<&[u32]>, link: &mut String) {
        let dir = format!("/proc/{pid}");
        let fds = match look(fs::read_dir(format!("{dir}/fd"))) {
            Look::Seen(fds) => fds,
            Look::Gone => return,
            Look::Hidden => {
                self.hidden += 1;
                return;
            }
        };
        let mut index = None;
        for fd in fds.flatten() {
            let Ok(target) = fs::read_link(fd.path()) else {
                continue;
            };
            link.clear();
            link.push_str(&target.to_string_lossy());
            let Some(inode) = socket_inode(link) else {
                continue;
            };
            if wanted.is_some_and(|w| w.binary_search(&inode).is_err()) {
                continue;
            }
            let i = *index.get_or_insert_with(|| {
                let comm = fs::read_to_string(format!("{dir}/comm")).unwrap_or_default();
                let uid = fs::metadata(&dir).map(|m| m.uid()).unwrap_or(u32::MAX);
                self.processes.push(Process {
                    pid,
                    comm: comm.trim_end().to_string(),
                    uid,
                });
                (self.processes.len() - 1) as u32
            });
            self.by_inode.push((inode, i));
        }
    }

    /// Sorts the inode list. A socket shared after fork() goes to the first process seen holding
    /// it (the stable sort keeps scan order among equal inodes; dedup keeps the first).
    fn settle(&mut self) {
        self.by_inode.sort_by_key(|&(inode, _)| inode);
        self.by_inode.dedup_by_key(|&mut (inode, _)| inode);
    }

    /// The process holding socket `inode`, if visible.
    pub fn owner(&self, inode: u32) -> Option<usize> {
        self.by_inode
            .binary_search_by_key(&inode, |&(i, _)| i)
            .ok()
            .map(|at| self.by_inode[at].1 as usize)
    }
}

/// The inode of the initial pid namespace (PROC_PID_INIT_INO, include/linux/proc_ns.h).
const PROC_PID_INIT_INO: u64 = 0xEFFF_FFFC;

/// True when this process runs in a pid namespace below the initial one. (NSpid in
/// /proc/self/status cannot tell: a container's own /proc shows only its own level.)
fn nested_pid_namespace() -> bool {
    fs::metadata("/proc/self/ns/pid").is_ok_and(|m| m.ino() != PROC_PID_INIT_INO)
}

/// `socket:[12345]` → 12345.
fn socket_inode(link: &str) -> Option<u32> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The user name of `uid` through the system's name service (NSS: files, LDAP, SSSD…), or the
/// number when it has none.
pub fn user_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(user)) => user.name,
        _ => uid.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_socket_links() {
        assert_eq!(socket_inode("socket:[4242]"), Some(4242));
        assert_eq!(socket_inode("pipe:[4242]"), None);
        assert_eq!(socket_inode("/dev/null"), None);
    }

    #[test]
    fn finds_our_own_sockets() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let inode = std::fs::metadata(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&listener)
        ))
        .unwrap()
        .ino() as u32;
        let owners = Owners::scan(&[inode]);
        let me = std::process::id();
        assert_eq!(
            owners.owner(inode).map(|i| owners.processes[i].pid),
            Some(me),
            "this test process holds the socket"
        );
        drop(listener);
    }

    #[test]
    fn user_names() {
        assert_eq!(user_name(0), "root");
        // No account has this uid: the number stands in.
        assert_eq!(user_name(4_000_000_123), "4000000123");
    }
}
