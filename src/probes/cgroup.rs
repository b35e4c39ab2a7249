//! Cgroup names for sockets: the kernel reports each full socket's cgroup v2 id
//! (`INET_DIAG_CGROUP_ID`, Linux ≥ 5.7: the cgroup of the process that made it), which is the inode
//! number of that cgroup's directory in the cgroup2 file system. One walk of that tree maps ids
//! to paths such as `/system.slice/nginx.service` or a container's scope; it is walked again only
//! when an id it does not know turns up. This names the systemd unit or container behind sockets
//! whose process cannot be seen (another pid namespace, another user).

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::util::hash::FxBuild;

/// Cgroup id → path, from the cgroup2 mount.
#[derive(Debug, Default)]
pub struct Cgroups {
    /// Where cgroup2 is mounted (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on a hybrid
    /// host); `None` without one.
    root: Option<PathBuf>,
    paths: HashMap<u64, String, FxBuild>,
    /// Walked since the last [`Cgroups::refresh`]: at most one walk per report.
    walked: bool,
}

/// Directories walked at most: a bound on a host with a pathological tree.
const MAX_DIRS: usize = 100_000;

impl Cgroups {
    /// Finds the cgroup2 mount in /proc/self/mountinfo.
    pub fn open() -> Cgroups {
        let root = fs::read_to_string("/proc/self/mountinfo")
            .ok()
            .and_then(|text| cgroup2_mount(&text));
        Cgroups {
            root,
            ..Cgroups::default()
        }
    }

    /// Allows one more walk (called once per report).
    pub fn refresh(&mut self) {
        self.walked = false;
    }

    /// The path of cgroup `id` (`/` for the root), walking the tree once if it is not known.
    pub fn path(&mut self, id: u64) -> Option<&str> {
        if !self.paths.contains_key(&id) && !self.walked {
            self.walk();
        }
        self.paths.get(&id).map(String::as_str)
    }

    fn walk(&mut self) {
        self.walked = true;
        let Some(root) = self.root.clone() else {
            return;
        };
        self.paths.clear();
        let mut stack = vec![root.clone()];
        let mut seen = 0;
        while let Some(dir) = stack.pop() {
            seen += 1;
            if seen > MAX_DIRS {
                break;
            }
            let Ok(meta) = fs::metadata(&dir) else {
                continue;
            };
            self.paths.insert(meta.ino(), relative(&root, &dir));
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(e.path());
                }
            }
        }
    }
}

/// `dir` below `root` as the kernel writes cgroup paths: `/a/b`, `/` for the root itself.
fn relative(root: &Path, dir: &Path) -> String {
    let rel = dir.strip_prefix(root).unwrap_or(dir);
    format!("/{}", rel.to_string_lossy())
}

/// The mount point of the cgroup2 file system in a mountinfo text.
fn cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
        let (left, right) = line.split_once(" - ")?;
        let fstype = right.split_ascii_whitespace().next()?;
        let mount = left.split_ascii_whitespace().nth(4)?;
        (fstype == "cgroup2").then(|| PathBuf::from(mount))
    })
}

/// A short name for a cgroup path in a table: its last part (the unit or container scope).
pub fn short(path: &str) -> &str {
    match path.rsplit('/').next() {
        Some("") | None => "/",
        Some(last) => last,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_cgroup2_mount() {
        let hybrid = "30 25 0:26 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n\
                      35 25 0:31 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup2_mount(hybrid),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let opt = "29 23 0:26 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(cgroup2_mount(opt), Some(PathBuf::from("/sys/fs/cgroup")));
        assert_eq!(cgroup2_mount("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"), None);
    }

    #[test]
    fn short_names() {
        assert_eq!(short("/system.slice/nginx.service"), "nginx.service");
        assert_eq!(short("/"), "/");
        assert_eq!(
            relative(Path::new("/sys/fs/cgroup"), Path::new("/sys/fs/cgroup")),
            "/"
        );
        assert_eq!(
            relative(Path::new("/sys/fs/cgroup"), Path::new("/sys/fs/cgroup/a/b")),
            "/a/b"
        );
    }

    #[test]
    fn this_process_cgroup_is_found_by_its_id() {
        let mut c = Cgroups::open();
        let Some(root) = c.root.clone() else {
            panic!("no cgroup2 mount on this host: /proc/self/mountinfo");
        };
        let id = fs::metadata(&root).unwrap().ino();
        assert_eq!(c.path(id), Some("/"));
    }
}
