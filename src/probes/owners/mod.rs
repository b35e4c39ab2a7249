//! Socket owners: one scan of /proc per report, matching socket inodes to processes. Only the
//! processes of the sampled network namespace have their descriptors read (others cannot hold its
//! sockets). Only what the caller may read is visible: a non-root user sees their own processes; a
//! process that exits during the scan is simply gone, not hidden. A [`Tracker`] makes the scans of
//! a refreshing report cheap: sockets whose owner is still alive keep it without a look at any
//! descriptor, and new sockets are looked for in the processes that owned sockets before first.

mod tracker;

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;

pub use tracker::Tracker;

use crate::util::hash::FxBuild;

/// A process that holds sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    /// Its start time (clock ticks after boot, /proc/PID/stat field 22): with the pid, who it is
    /// across scans even when the pid is reused.
    pub start: u64,
    pub comm: String,
    /// Its arguments joined by spaces (empty for a kernel thread or a zombie).
    pub cmdline: String,
    pub uid: u32,
    /// Its cgroup (v2) path, e.g. `/system.slice/nginx.service`: the systemd unit or container.
    pub cgroup: Option<String>,
}

impl Process {
    /// Reads what is known of process `pid` from its /proc directory, or `None` if it is gone.
    pub fn read(pid: u32) -> Option<Process> {
        let dir = format!("/proc/{pid}");
        let start = start_time(pid)?;
        let comm = fs::read_to_string(format!("{dir}/comm")).unwrap_or_default();
        let uid = fs::metadata(&dir).map(|m| m.uid()).unwrap_or(u32::MAX);
        let cmdline = fs::read(format!("{dir}/cmdline"))
            .map(|raw| cmdline(&raw))
            .unwrap_or_default();
        let cgroup = fs::read_to_string(format!("{dir}/cgroup"))
            .ok()
            .and_then(|text| unified_cgroup(&text));
        Some(Process {
            pid,
            start,
            comm: comm.trim_end().to_string(),
            cmdline,
            uid,
            cgroup,
        })
    }

    /// The command line if known, else the command name.
    pub fn command(&self) -> &str {
        if self.cmdline.is_empty() {
            &self.comm
        } else {
            &self.cmdline
        }
    }
}

/// The start time of process `pid` (field 22 of /proc/PID/stat), `None` if it is gone.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces and ')': fields after it
    // start at the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_ascii_whitespace().nth(19)?.parse().ok()
}

/// `/proc/PID/cmdline`'s NUL-separated arguments, joined by spaces, control characters (a
/// script's newlines) as spaces too, so that a table row stays one line; at most 512 bytes kept.
fn cmdline(raw: &[u8]) -> String {
    let raw = &raw[..raw.len().min(512)];
    let text = String::from_utf8_lossy(raw);
    text.split('\0')
        .filter(|a| !a.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The cgroup v2 path in `/proc/PID/cgroup` (the `0::PATH` line).
fn unified_cgroup(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_string)
}

/// Socket inode → owning process, from one pass over /proc.
#[derive(Debug, Default)]
pub struct Owners {
    /// (socket inode, index into `processes`), sorted by inode.
    pub(crate) by_inode: Vec<(u32, u32)>,
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

    /// Finds the owner of every socket any process holds (for a report that streams its rows,
    /// so cannot know the inodes first): every process is scanned.
    pub fn scan_all() -> Owners {
        let mut scan = Scan::new(None);
        scan.rest();
        scan.owners
    }

    /// Sorts the inode list. A socket shared after fork() goes to the first process seen holding
    /// it (the stable sort keeps scan order among equal inodes; dedup keeps the first).
    pub(crate) fn settle(&mut self) {
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

/// One scan in progress: the owners found so far, which processes were looked at, and which of
/// the wanted sockets are still unowned, so that a scan can stop as soon as every one is found.
struct Scan<'w> {
    owners: Owners,
    wanted: Option<&'w [u32]>,
    /// Per wanted inode (same index): found yet.
    found: Vec<bool>,
    missing: usize,
    /// pid → index into `owners.processes`, and the pids already looked at.
    index: HashMap<u32, u32, FxBuild>,
    scanned: HashMap<u32, (), FxBuild>,
    link: String,
}

impl<'w> Scan<'w> {
    fn new(wanted: Option<&'w [u32]>) -> Scan<'w> {
        let n = wanted.map_or(0, <[u32]>::len);
        Scan {
            owners: Owners {
                nested_pid_namespace: nested_pid_namespace(),
                ..Owners::default()
            },
            wanted,
            found: vec![false; n],
            missing: n,
            index: HashMap::default(),
            scanned: HashMap::default(),
            link: String::new(),
        }
    }

    /// True when nothing is left to look for (a scan of everything never is).
    fn done(&self) -> bool {
        self.wanted.is_some() && self.missing == 0
    }

    /// Records that `process` owns the wanted socket at `at` (an index into `wanted`), without
    /// looking at its descriptors: a socket that kept its owner since the last scan.
    fn keep(&mut self, at: usize, process: &Process) {
        let inode = self.wanted.map_or(0, |w| w[at]);
        let i = self.process_index(process.pid, || Some(process.clone()));
        if let Some(i) = i {
            self.owners.by_inode.push((inode, i));
            self.mark(at);
        }
    }

    fn mark(&mut self, at: usize) {
        if !std::mem::replace(&mut self.found[at], true) {
            self.missing -= 1;
        }
    }

    fn process_index(&mut self, pid: u32, read: impl FnOnce() -> Option<Process>) -> Option<u32> {
        if let Some(&i) = self.index.get(&pid) {
            return Some(i);
        }
        let p = read()?;
        self.owners.processes.push(p);
        let i = (self.owners.processes.len() - 1) as u32;
        self.index.insert(pid, i);
        Some(i)
    }

    /// Looks at the processes in `pids` first (those that owned sockets before), then at the
    /// rest, until every wanted socket is found.
    fn first(&mut self, pids: impl IntoIterator<Item = u32>) {
        for pid in pids {
            if self.done() {
                return;
            }
            self.scan_process(pid);
        }
    }

    /// Looks at every process not looked at yet: the sampled namespace's first, the others only
    /// if sockets are still unowned. Stops when every wanted socket is found.
    fn rest(&mut self) {
        if !self.done() {
            self.namespaces();
        }
        self.owners.settle();
    }

    fn namespaces(&mut self) {
        let ours = fs::metadata("/proc/thread-self/ns/net")
            .ok()
            .map(|m| (m.dev(), m.ino()));
        let Ok(entries) = fs::read_dir("/proc") else {
            return;
        };
        let mut elsewhere = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            if self.scanned.contains_key(&pid) {
                continue;
            }
            // Where the namespace cannot be looked at, the descriptors decide.
            match look(fs::metadata(format!("/proc/{pid}/ns/net"))) {
                Look::Seen(m) if Some((m.dev(), m.ino())) != ours => elsewhere.push(pid),
                Look::Gone => {}
                Look::Seen(_) | Look::Hidden => self.scan_process(pid),
            }
            if self.done() {
                return;
            }
        }
        for pid in elsewhere {
            if self.done() {
                return;
            }
            self.scan_process(pid);
        }
    }

    /// Records which of the wanted sockets process `pid` holds.
    fn scan_process(&mut self, pid: u32) {
        if self.scanned.insert(pid, ()).is_some() {
            return;
        }
        let fds = match look(fs::read_dir(format!("/proc/{pid}/fd"))) {
            Look::Seen(fds) => fds,
            Look::Gone => return,
            Look::Hidden => {
                self.owners.hidden += 1;
                return;
            }
        };
        for fd in fds.flatten() {
            let Ok(target) = fs::read_link(fd.path()) else {
                continue;
            };
            self.link.clear();
            self.link.push_str(&target.to_string_lossy());
            let Some(inode) = socket_inode(&self.link) else {
                continue;
            };
            let at = match self.wanted {
                Some(w) => match w.binary_search(&inode) {
                    Ok(at) => Some(at),
                    Err(_) => continue,
                },
                None => None,
            };
            let Some(i) = self.process_index(pid, || Process::read(pid)) else {
                return;
            };
            self.owners.by_inode.push((inode, i));
            if let Some(at) = at {
                self.mark(at);
            }
        }
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
        let mut tracker = Tracker::default();
        let owners = tracker.scan(&[inode]);
        let me = std::process::id();
        assert_eq!(
            owners.owner(inode).map(|i| owners.processes[i].pid),
            Some(me),
            "this test process holds the socket"
        );
        drop(listener);
    }

    #[test]
    fn process_details() {
        let me = Process::read(std::process::id()).unwrap();
        assert_eq!(me.start, start_time(std::process::id()).unwrap());
        assert!(me.start > 0);
        assert!(!me.cmdline.is_empty());
        assert_eq!(
            cmdline(b"python3\0-m\0http.server\0"),
            "python3 -m http.server"
        );
        assert_eq!(cmdline(b"sh\0-c\0a\nb\tc\0"), "sh -c a b c");
        assert_eq!(
            unified_cgroup("4:memory:/x\n0::/system.slice/a.service\n").as_deref(),
            Some("/system.slice/a.service")
        );
        assert_eq!(unified_cgroup("4:memory:/x\n"), None);
        assert_eq!(Process::read(u32::MAX), None);
    }

    #[test]
    fn user_names() {
        assert_eq!(user_name(0), "root");
        // No account has this uid: the number stands in.
        assert_eq!(user_name(4_000_000_123), "4000000123");
    }
}
