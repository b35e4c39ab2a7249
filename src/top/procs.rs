//! Socket owners: one scan of /proc/*/fd per report, matching socket inodes to processes. Only
//! what the caller may read is visible: a non-root user sees their own processes.

use std::collections::HashMap;
use std::fs;
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
    by_inode: HashMap<u32, usize>,
    pub processes: Vec<Process>,
    /// Processes whose fd table could not be read (another user's, as non-root).
    pub hidden: usize,
}

impl Owners {
    pub fn scan() -> Owners {
        let mut owners = Owners::default();
        let Ok(entries) = fs::read_dir("/proc") else {
            return owners;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let dir = entry.path();
            let Ok(fds) = fs::read_dir(dir.join("fd")) else {
                owners.hidden += 1;
                continue;
            };
            let mut index = None;
            for fd in fds.flatten() {
                let Some(inode) = fs::read_link(fd.path())
                    .ok()
                    .and_then(|t| socket_inode(t.to_str()?))
                else {
                    continue;
                };
                let i = *index.get_or_insert_with(|| {
                    let comm = fs::read_to_string(dir.join("comm")).unwrap_or_default();
                    let uid = fs::metadata(&dir).map(|m| m.uid()).unwrap_or(u32::MAX);
                    owners.processes.push(Process {
                        pid,
                        comm: comm.trim_end().to_string(),
                        uid,
                    });
                    owners.processes.len() - 1
                });
                // A socket shared after fork() goes to the first process seen holding it.
                owners.by_inode.entry(inode).or_insert(i);
            }
        }
        owners
    }

    /// The process holding socket `inode`, if visible.
    pub fn owner(&self, inode: u32) -> Option<usize> {
        self.by_inode.get(&inode).copied()
    }
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
        let owners = Owners::scan();
        let me = std::process::id();
        assert!(
            owners.processes.iter().any(|p| p.pid == me),
            "this test process holds a socket"
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
