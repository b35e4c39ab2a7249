//! Issue 8's figures: `conntrend states` through netlink and through /proc/net, against the
//! network-connections script it replaces and against merely reading the four /proc/net files
//! (`cat … > /dev/null`), at the loads up to 100k. The script is not vendored: pass its path with
//! `--network-connections PATH` (network_connections.py), or the rows are left out.

use std::fmt::Write;
use std::io;
use std::time::Duration;

use crate::measure::{Launcher, Usage, median_of};

/// What runs, in the order it alternates.
pub const KINDS: [&str; 4] = [
    "conntrend states",
    "conntrend states --source proc",
    "cat /proc/net/{tcp,tcp6,udp,udp6}",
    "network-connections",
];

/// The largest load at which the states rows are measured.
pub const MAX_LOAD: usize = 100_000;

/// One run of kind `k`, output discarded.
pub fn sample(l: &mut Launcher, conntrend: &str, script: &str, k: usize) -> io::Result<Usage> {
    let files = [
        "/proc/net/tcp",
        "/proc/net/tcp6",
        "/proc/net/udp",
        "/proc/net/udp6",
    ];
    let argv: Vec<&str> = match k {
        0 => vec![conntrend, "states"],
        1 => vec![conntrend, "states", "--source", "proc"],
        2 => std::iter::once("cat").chain(files).collect(),
        _ => vec!["python3", script],
    };
    Ok(l.run(&argv, false)?.0)
}

/// The measured runs at one load.
pub struct States {
    pub total: usize,
    pub runs: Vec<[Usage; 4]>,
    pub note: Option<String>,
}

impl States {
    fn wall(&self, k: usize) -> Duration {
        median_of(&self.runs, k, |u| u.wall)
    }

    fn cpu(&self, k: usize) -> Duration {
        median_of(&self.runs, k, |u| u.cpu)
    }

    fn rss_mb(&self, k: usize) -> f64 {
        let most = self.runs.iter().map(|r| r[k].maxrss_kib).max().unwrap_or(0);
        most as f64 * 1024.0 / 1e6
    }

    /// Table rows for this load.
    pub fn rows(&self) -> String {
        let mut t = String::new();
        for (k, kind) in KINDS.iter().enumerate() {
            let first = if k == 0 {
                format!(
                    "| {} | {} ",
                    crate::report::label(self.total),
                    self.runs.len()
                )
            } else {
                "|  |  ".to_string()
            };
            let _ = writeln!(
                t,
                "{first}| {kind} | {:.1} | {:.1} | {:.2} | {:.1}x |",
                ms(self.wall(k)),
                ms(self.cpu(k)),
                self.rss_mb(k),
                self.wall(3).as_secs_f64() / self.wall(k).as_secs_f64(),
            );
        }
        if let Some(note) = &self.note {
            let _ = writeln!(t, "|  |  | ({note}) | | | | |");
        }
        t
    }
}

/// The table over all loads and the targets, from the largest load measured.
pub fn report(all: &[States]) -> String {
    let mut t = String::from(
        "`conntrend states` (peak RSS: the highest of the runs):\n\n\
         | load | runs | command | wall ms | CPU ms | peak RSS MB | network-connections / it |\n\
         |---:|---:|---|---:|---:|---:|---:|\n",
    );
    for s in all {
        t.push_str(&s.rows());
    }
    if let Some(s) = all.iter().max_by_key(|s| s.total) {
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
        let speedup = s.wall(3).as_secs_f64() / s.wall(0).as_secs_f64();
        let proc = s.wall(1).as_secs_f64() / s.wall(2).as_secs_f64();
        let rss = s.rss_mb(0).max(s.rss_mb(1));
        let _ = write!(
            t,
            "\n- states via netlink ≥ 30x faster than network-connections at {}: {speedup:.0}x: {}\n\
             - states via /proc ≤ 1.3x reading the files: {proc:.2}x ({:.1} vs {:.1} ms): {}\n\
             - peak RSS ≤ 6 MB, both sources: {rss:.2} MB: {}\n",
            crate::report::label(s.total),
            verdict(speedup >= 30.0),
            ms(s.wall(1)),
            ms(s.wall(2)),
            verdict(proc <= 1.3),
            verdict(rss <= 6.0),
        );
    }
    t
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
