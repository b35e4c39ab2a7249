//! The table's settings as this namespace's sysctls (/proc/sys/net/netfilter/nf_conntrack_*):
//! the count and limits, every TCP/UDP/ICMP/generic timeout, and setting them all-or-nothing.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Where the sysctls live. /proc/sys follows the network namespace of the thread that opens it.
pub const DIR: &str = "/proc/sys/net/netfilter";
const PREFIX: &str = "nf_conntrack_";

/// The settings of the table, read once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub used: u64,
    pub max: u64,
    pub buckets: u64,
    /// (name without the `nf_conntrack_` prefix, seconds), sorted by name.
    pub timeouts: Vec<(String, u64)>,
}

/// The sysctls of one namespace's table.
pub struct Sysctls {
    dir: PathBuf,
}

impl Default for Sysctls {
    fn default() -> Self {
        Sysctls::at(Path::new(DIR))
    }
}

impl Sysctls {
    pub fn at(dir: &Path) -> Self {
        Sysctls {
            dir: dir.to_path_buf(),
        }
    }

    /// True when this namespace has a conntrack table at all.
    pub fn available(&self) -> bool {
        self.path("count").exists()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{PREFIX}{name}"))
    }

    pub fn read(&self, name: &str) -> io::Result<u64> {
        let path = self.path(name);
        let text = fs::read_to_string(&path)?;
        text.trim().parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} holds {:?}, not a number", path.display(), text.trim()),
            )
        })
    }

    /// The timeout sysctls this kernel has, by name (without the prefix), sorted.
    pub fn timeout_names(&self) -> io::Result<Vec<String>> {
        let mut names: Vec<String> = fs::read_dir(&self.dir)?
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter_map(|n| n.strip_prefix(PREFIX).map(str::to_string))
            .filter(|n| {
                [
                    "tcp_timeout",
                    "udp_timeout",
                    "icmp_timeout",
                    "icmpv6_timeout",
                    "generic_timeout",
                ]
                .iter()
                .any(|p| n.starts_with(p))
            })
            .collect();
        names.sort();
        Ok(names)
    }

    pub fn settings(&self) -> io::Result<Settings> {
        let timeouts = self
            .timeout_names()?
            .into_iter()
            .map(|n| self.read(&n).map(|v| (n, v)))
            .collect::<io::Result<_>>()?;
        Ok(Settings {
            used: self.read("count")?,
            max: self.read("max")?,
            buckets: self.read("buckets")?,
            timeouts,
        })
    }

    /// The names `config set` takes: `max`, `buckets` and every timeout.
    pub fn settable(&self) -> io::Result<Vec<String>> {
        let mut names = vec!["max".to_string(), "buckets".to_string()];
        names.extend(self.timeout_names()?);
        Ok(names)
    }

    /// Writes every (name, value); if one write fails, the ones already written get their old
    /// values back and the error names the one that failed.
    pub fn set_all(&self, pairs: &[(String, u64)]) -> Result<(), String> {
        let old: Vec<u64> = pairs
            .iter()
            .map(|(n, _)| self.read(n).map_err(|e| format!("cannot read {n}: {e}")))
            .collect::<Result<_, _>>()?;
        for (i, (name, value)) in pairs.iter().enumerate() {
            if let Err(e) = fs::write(self.path(name), format!("{value}\n")) {
                let mut why = format!("cannot set {name}: {}", explain(name, &e));
                for ((n, _), v) in pairs[..i].iter().zip(&old).rev() {
                    if let Err(e) = fs::write(self.path(n), format!("{v}\n")) {
                        why += &format!("; and {n} could not be put back to {v}: {e}");
                    }
                }
                if i > 0 {
                    why += " (the values already written were put back)";
                }
                return Err(why);
            }
        }
        Ok(())
    }
}

fn explain(name: &str, e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EACCES | libc::EPERM) if matches!(name, "max" | "buckets") => format!(
            "{e} (outside the initial network namespace the kernel makes nf_conntrack_{name} \
             read-only; set it on the host)"
        ),
        Some(libc::EACCES | libc::EPERM) => format!("{e} (root is needed)"),
        _ => e.to_string(),
    }
}

/// `used N (x.x%)`: the share of the limit in use, one decimal.
pub fn usage_line(used: u64, max: u64) -> String {
    if max == 0 {
        return format!("used {used}");
    }
    format!("used {used} ({:.1}%)", used as f64 * 100.0 / max as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (n, v) in files {
            fs::write(dir.path().join(format!("{PREFIX}{n}")), v).unwrap();
        }
        dir
    }

    #[test]
    fn reads_the_settings_and_their_timeouts_sorted() {
        let d = tree(&[
            ("count", "5\n"),
            ("max", "200\n"),
            ("buckets", "64\n"),
            ("udp_timeout", "30\n"),
            ("tcp_timeout_time_wait", "120\n"),
            ("frag6_timeout", "60\n"),
            ("acct", "0\n"),
        ]);
        let s = Sysctls::at(d.path()).settings().unwrap();
        assert_eq!((s.used, s.max, s.buckets), (5, 200, 64));
        assert_eq!(
            s.timeouts,
            [
                ("tcp_timeout_time_wait".to_string(), 120),
                ("udp_timeout".to_string(), 30)
            ]
        );
        assert_eq!(usage_line(5, 200), "used 5 (2.5%)");
    }

    #[test]
    fn nothing_is_written_when_a_value_cannot_be_read_first() {
        let d = tree(&[("udp_timeout", "30\n"), ("tcp_timeout_close", "10\n")]);
        let s = Sysctls::at(d.path());
        // `max` does not exist here: its write fails after udp_timeout was written.
        let pairs = [("udp_timeout".to_string(), 99), ("max".to_string(), 5)];
        let err = s.set_all(&pairs).unwrap_err();
        assert!(err.contains("cannot read max"), "{err}");
        assert_eq!(
            s.read("udp_timeout").unwrap(),
            30,
            "nothing written: reading failed first"
        );
        s.set_all(&[("tcp_timeout_close".to_string(), 7)]).unwrap();
        assert_eq!(s.read("tcp_timeout_close").unwrap(), 7);
    }
}
