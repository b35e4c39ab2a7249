//! The ephemeral port pool: `ip_local_port_range` minus `ip_local_reserved_ports`, and the port
//! bitmaps the fold marks. Both sysctls belong to the network namespace of the reading thread and
//! may change during a run, so they are re-read for every sample.

use crate::util::fs::open_regular;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

pub const RANGE_SYSCTL: &str = "/proc/sys/net/ipv4/ip_local_port_range";
pub const RESERVED_SYSCTL: &str = "/proc/sys/net/ipv4/ip_local_reserved_ports";

const WORDS: usize = 65536 / 64;

/// A set of ports as a 8 KiB bitmap: insertion and counting without allocation.
#[derive(Clone)]
pub struct PortSet {
    words: Box<[u64; WORDS]>,
}

impl Default for PortSet {
    fn default() -> Self {
        PortSet {
            words: Box::new([0; WORDS]),
        }
    }
}

impl PortSet {
    pub fn clear(&mut self) {
        self.words.fill(0);
    }

    #[inline]
    pub fn insert(&mut self, port: u16) {
        self.words[usize::from(port) / 64] |= 1 << (port % 64);
    }

    #[inline]
    pub fn contains(&self, port: u16) -> bool {
        self.words[usize::from(port) / 64] & (1 << (port % 64)) != 0
    }

    /// Every port whose bit is set in `bitmap` (bit `p % 8` of byte `p / 8`), added.
    pub fn insert_bitmap(&mut self, bitmap: &[u8; 8192]) {
        for (word, bytes) in self.words.iter_mut().zip(bitmap.chunks_exact(8)) {
            *word |= u64::from_le_bytes(bytes.try_into().expect("8 bytes"));
        }
    }

    pub fn insert_range(&mut self, lo: u16, hi: u16) {
        for p in lo..=hi {
            self.insert(p);
        }
    }

    pub fn len(&self) -> u32 {
        self.words.iter().map(|w| w.count_ones()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// Ports in both sets.
    pub fn count_and(&self, other: &PortSet) -> u32 {
        self.words
            .iter()
            .zip(other.words.iter())
            .map(|(a, b)| (a & b).count_ones())
            .sum()
    }

    /// Ports in `self` and in either `a` or `b`.
    pub fn count_and_either(&self, a: &PortSet, b: &PortSet) -> u32 {
        self.words
            .iter()
            .zip(a.words.iter().zip(b.words.iter()))
            .map(|(s, (a, b))| (s & (a | b)).count_ones())
            .sum()
    }
}

/// The pool as read from the sysctls at one moment.
#[derive(Clone, Default)]
pub struct Pool {
    pub lo: u16,
    pub hi: u16,
    /// Ports the kernel may hand out: the range less the reserved ports.
    pub members: PortSet,
    /// Reserved ports (all of them, also those outside the range).
    pub reserved: PortSet,
}

impl Pool {
    /// The number of ports in the pool (`total_port`).
    pub fn total(&self) -> u32 {
        self.members.len()
    }

    /// Rebuilds the pool from the two sysctl texts.
    pub fn set(&mut self, range: &str, reserved: &str) -> Result<()> {
        let (lo, hi) = parse_range(range)?;
        self.reserved.clear();
        parse_port_list(reserved, &mut self.reserved)?;
        self.lo = lo;
        self.hi = hi;
        self.members.clear();
        self.members.insert_range(lo, hi);
        for (m, r) in self
            .members
            .words
            .iter_mut()
            .zip(self.reserved.words.iter())
        {
            *m &= !r;
        }
        Ok(())
    }
}

/// Reads the pool sysctls of the calling thread's network namespace into reused buffers (or, for
/// tests and fixtures, two files holding the same text).
pub struct PoolReader {
    range_path: PathBuf,
    reserved_path: PathBuf,
    /// A saved tree may lack the reserved-ports file: then none are reserved.
    reserved_optional: bool,
    /// The mode does not use the pool (`states`): nothing is read, the pool stays empty.
    skip: bool,
    range: String,
    reserved: String,
}

impl Default for PoolReader {
    fn default() -> Self {
        PoolReader::at(RANGE_SYSCTL, RESERVED_SYSCTL)
    }
}

impl PoolReader {
    /// Reads the range and the reserved ports from these files instead of the sysctls.
    pub fn at(range: impl Into<PathBuf>, reserved: impl Into<PathBuf>) -> Self {
        PoolReader {
            range_path: range.into(),
            reserved_path: reserved.into(),
            reserved_optional: false,
            skip: false,
            range: String::new(),
            reserved: String::new(),
        }
    }

    /// The sysctls of a saved proc tree (`--proc-root DIR`): `DIR/sys/net/ipv4/…`. The range
    /// must be there (without it the pool's size is unknown); the reserved ports may be missing.
    pub fn under(root: &Path) -> Self {
        let ipv4 = root.join("sys/net/ipv4");
        PoolReader {
            reserved_optional: true,
            ..PoolReader::at(
                ipv4.join("ip_local_port_range"),
                ipv4.join("ip_local_reserved_ports"),
            )
        }
    }

    /// A reader for modes that do not need the pool: it reads nothing.
    pub fn none() -> Self {
        PoolReader {
            skip: true,
            ..PoolReader::at("", "")
        }
    }

    pub fn read(&mut self, pool: &mut Pool) -> Result<()> {
        if self.skip {
            return Ok(());
        }
        read_into(&self.range_path, &mut self.range)?;
        if self.reserved_optional && !self.reserved_path.exists() {
            self.reserved.clear();
        } else {
            read_into(&self.reserved_path, &mut self.reserved)?;
        }
        pool.set(&self.range, &self.reserved).with_context(|| {
            // Name the file that is wrong: the range is parsed first.
            let bad = if parse_range(&self.range).is_err() {
                &self.range_path
            } else {
                &self.reserved_path
            };
            format!("cannot understand {}", bad.display())
        })
    }
}

fn read_into(path: &Path, buf: &mut String) -> Result<()> {
    buf.clear();
    open_regular(path)
        .and_then(|mut f| f.read_to_string(buf))
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(())
}

/// Parses `ip_local_port_range`: two numbers separated by white space.
pub fn parse_range(text: &str) -> Result<(u16, u16)> {
    let mut it = text.split_whitespace().map(str::parse::<u16>);
    match (it.next(), it.next(), it.next()) {
        (Some(Ok(lo)), Some(Ok(hi)), None) if lo <= hi => Ok((lo, hi)),
        _ => bail!("expected 'LOW HIGH', found {:?}", text.trim()),
    }
}

/// Parses `ip_local_reserved_ports`: a comma-separated list of ports and `a-b` ranges, maybe empty.
pub fn parse_port_list(text: &str, into: &mut PortSet) -> Result<()> {
    for item in text
        .trim()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let bad = || anyhow::anyhow!("bad port or range {item:?}");
        match item.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                if a > b {
                    return Err(bad());
                }
                into.insert_range(a, b);
            }
            None => into.insert(item.parse().map_err(|_| bad())?),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_is_range_minus_reserved_inside_it() {
        let mut pool = Pool::default();
        pool.set("40000\t40099\n", "80,40010-40019,40050,50000-50010\n")
            .unwrap();
        assert_eq!((pool.lo, pool.hi), (40000, 40099));
        assert_eq!(pool.total(), 100 - 10 - 1);
        assert!(!pool.members.contains(40010));
        assert!(pool.members.contains(40009));
        assert!(pool.reserved.contains(80));
    }

    #[test]
    fn full_range_and_empty_reserved() {
        let mut pool = Pool::default();
        pool.set("0 65535", "\n").unwrap();
        assert_eq!(pool.total(), 65536);
        pool.set("32768 60999", "").unwrap();
        assert_eq!(pool.total(), 28232);
    }

    #[test]
    fn bad_sysctl_text_is_an_error() {
        let mut pool = Pool::default();
        assert!(pool.set("40000", "").is_err());
        assert!(pool.set("5 4", "").is_err());
        assert!(pool.set("1 2 3", "").is_err());
        assert!(pool.set("1 2", "7-x").is_err());
        assert!(pool.set("1 2", "9-8").is_err());
    }

    #[test]
    fn counting_helpers() {
        let (mut a, mut b, mut c) = (PortSet::default(), PortSet::default(), PortSet::default());
        a.insert_range(10, 19);
        b.insert(12);
        b.insert(30);
        c.insert(15);
        c.insert(12);
        assert_eq!(a.count_and(&b), 1);
        assert_eq!(a.count_and_either(&b, &c), 2);
        assert!(PortSet::default().is_empty());
    }
}
