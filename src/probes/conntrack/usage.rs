//! The table's usage for the timeline and `top`: entries, limit, and drops, read from this
//! namespace's sysctls and /proc/net/stat/nf_conntrack — a few small reads per sample, no dump, no
//! privilege. Files are opened once and re-read in place.

use std::fs::File;
use std::io;
use std::io::{Read, Seek, SeekFrom};

use super::sysctl::DIR;
use crate::diag::ctnetlink::Stats;

/// The per-CPU statistics file of the calling thread's namespace.
const STAT: &str = "/proc/thread-self/net/stat/nf_conntrack";

/// One reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub used: u64,
    pub max: u64,
    /// drop + early_drop over every CPU, since the namespace's table began.
    pub drops: u64,
}

/// Open files to read usage from.
pub struct UsageReader {
    count: File,
    max: File,
    stat: File,
    buf: Vec<u8>,
}

impl UsageReader {
    /// Opens the files; an error when this namespace has no conntrack table.
    pub fn open() -> io::Result<Self> {
        Ok(UsageReader {
            count: File::open(format!("{DIR}/nf_conntrack_count"))?,
            max: File::open(format!("{DIR}/nf_conntrack_max"))?,
            stat: File::open(STAT)?,
            buf: Vec::with_capacity(4096),
        })
    }

    pub fn read(&mut self) -> io::Result<Usage> {
        let used = number(read_all(&self.count, &mut self.buf)?)?;
        let max = number(read_all(&self.max, &mut self.buf)?)?;
        let stats = proc_stats(read_all(&self.stat, &mut self.buf)?)?;
        let drops = stats.drop + stats.early_drop;
        Ok(Usage { used, max, drops })
    }
}

/// The whole file, read again from its start, into `buf` (a /proc file is made anew on each
/// read from offset 0).
fn read_all<'b>(mut file: &File, buf: &'b mut Vec<u8>) -> io::Result<&'b [u8]> {
    buf.clear();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(buf)?;
    Ok(buf)
}

fn number(text: &[u8]) -> io::Result<u64> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not a number"))
}

/// The per-CPU counters of /proc/net/stat/nf_conntrack (hex columns under a header), summed
/// into `conntrack -S`'s names.
pub fn proc_stats(text: &[u8]) -> io::Result<Stats> {
    fn words(l: &[u8]) -> impl Iterator<Item = &[u8]> {
        l.split(u8::is_ascii_whitespace).filter(|f| !f.is_empty())
    }
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "a malformed nf_conntrack stat file",
        )
    };
    let mut lines = text.split(|&b| b == b'\n');
    let header = lines.next().ok_or_else(bad)?;
    if !words(header).any(|w| w == b"drop") {
        return Err(bad());
    }
    let mut stats = Stats::default();
    for line in lines {
        let (mut names, mut cells) = (words(header), words(line));
        loop {
            let (name, cell) = match (names.next(), cells.next()) {
                (Some(n), Some(c)) => (n, c),
                (None, None) => break,
                // A blank line has no cells at all; otherwise the counts must agree.
                (Some(_), None) if line.iter().all(u8::is_ascii_whitespace) => break,
                _ => return Err(bad()),
            };
            let slot = match name {
                b"found" => &mut stats.found,
                b"invalid" => &mut stats.invalid,
                b"insert" => &mut stats.insert,
                b"insert_failed" => &mut stats.insert_failed,
                b"drop" => &mut stats.drop,
                b"early_drop" => &mut stats.early_drop,
                b"icmp_error" => &mut stats.error,
                b"search_restart" => &mut stats.search_restart,
                b"clashres" => &mut stats.clash_resolve,
                b"chainlength" => &mut stats.chaintoolong,
                _ => continue,
            };
            let hex = std::str::from_utf8(cell).map_err(|_| bad())?;
            *slot += u64::from_str_radix(hex, 16).map_err(|_| bad())?;
        }
    }
    Ok(stats)
}

/// The stat file of the calling thread's namespace, read whole.
pub fn read_proc_stats() -> io::Result<Stats> {
    let mut buf = Vec::new();
    proc_stats(read_all(&File::open(STAT)?, &mut buf)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_add_up_over_cpus() {
        let text = b"entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n\
00000000  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 0000000a 00000001 00000000  00000000 00000000 00000000 00000000\n\
00000000  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000010 00000000 00000000  00000000 00000000 00000000 00000000\n";
        let s = proc_stats(text).unwrap();
        assert_eq!((s.drop, s.early_drop), (0x1a, 1));
        assert!(proc_stats(b"nothing here\n").is_err());
    }
}
