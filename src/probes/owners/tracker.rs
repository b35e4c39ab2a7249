//! Owner scans for a report that refreshes: a socket keeps the owner it had at the last scan while
//! that process lives (a socket's inode is unique while it is open), so only new sockets are
//! looked for, and first in the processes that owned sockets last time (the client that churns
//! connections is usually the one that made the last ones). A scan stops once every socket is
//! found.

#[cfg(test)]
use super::Process;
use super::{Owners, Scan, start_time};

/// The last scan's answer, kept for the next.
#[derive(Debug, Default)]
pub struct Tracker {
    last: Owners,
    /// Processes looked at (descriptors read) by the last scan.
    pub looked_at: usize,
}

impl Tracker {
    /// Finds the owners of `wanted` (socket inodes from the dump, sorted, no zeros).
    pub fn scan(&mut self, wanted: &[u32]) -> &Owners {
        let mut scan = Scan::new(Some(wanted));
        // Whether each of the last scan's processes is still the same process.
        let mut alive: Vec<Option<bool>> = vec![None; self.last.processes.len()];
        for (at, &inode) in wanted.iter().enumerate() {
            let Some(i) = self.last.owner(inode) else {
                continue;
            };
            let p = &self.last.processes[i];
            let same = *alive[i].get_or_insert_with(|| start_time(p.pid) == Some(p.start));
            if same {
                scan.keep(at, p);
            }
        }
        let before: Vec<u32> = self
            .last
            .processes
            .iter()
            .zip(&alive)
            .filter(|(_, a)| **a != Some(false))
            .map(|(p, _)| p.pid)
            .collect();
        scan.first(before);
        scan.rest();
        self.looked_at = scan.scanned.len();
        self.last = scan.owners;
        &self.last
    }

    /// The last scan's answer.
    #[cfg(test)]
    pub fn owners(&self) -> &Owners {
        &self.last
    }

    /// What is known of a process the last scan found.
    #[cfg(test)]
    pub fn process(&self, i: usize) -> &Process {
        &self.last.processes[i]
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    fn inode(fd: &impl std::os::fd::AsRawFd) -> u32 {
        std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .unwrap()
            .ino() as u32
    }

    #[test]
    fn known_sockets_need_no_look_and_new_ones_are_found_first_where_they_were() {
        let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut t = Tracker::default();
        let me = std::process::id();
        let first = [inode(&a)];
        let owners = t.scan(&first);
        assert_eq!(
            owners.owner(first[0]).map(|i| owners.processes[i].pid),
            Some(me)
        );
        // The same socket again: its owner lives, no process is looked at.
        t.scan(&first);
        assert_eq!(t.looked_at, 0);
        assert_eq!(
            t.owners().owner(first[0]).map(|i| t.process(i).pid),
            Some(me)
        );
        // A new socket of the same process: found in the first process looked at.
        let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut both = [inode(&a), inode(&b)];
        both.sort_unstable();
        let owners = t.scan(&both);
        assert_eq!(owners.by_inode.len(), 2);
        assert_eq!(
            t.looked_at, 1,
            "this process owned sockets before: looked at first"
        );
        assert_eq!(t.process(0).pid, me);
    }
}
