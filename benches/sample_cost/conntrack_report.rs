//! The `conntrack` section's tables and its check against issue 10's targets.

use std::fmt::Write as _;
use std::time::Duration;

use crate::conntrack::{COLUMN_KINDS, SHOW_KINDS};
use crate::measure::{Usage, median_of};
use crate::report::{label, mb};

/// The measured runs of one section: `N` commands alternating.
pub struct Runs<const N: usize> {
    /// Entries (show) or sockets (columns) the section was built with.
    pub total: usize,
    pub build: Duration,
    pub runs: Vec<[Usage; N]>,
    /// The check before timing, and what the kernel counted after it.
    pub check: String,
    pub after: String,
    pub note: Option<String>,
    /// Columns: what `--conntrack` adds to a sample, timed in process (see `reads_cost`).
    pub reads: Option<Duration>,
}

impl<const N: usize> Runs<N> {
    fn wall(&self, k: usize) -> Duration {
        median_of(&self.runs, k, |u| u.wall)
    }

    fn cpu(&self, k: usize) -> Duration {
        median_of(&self.runs, k, |u| u.cpu)
    }

    fn max_rss_kib(&self, k: usize) -> u64 {
        self.runs.iter().map(|r| r[k].maxrss_kib).max().unwrap_or(0)
    }

    pub fn walls(&self, k: usize) -> Vec<Duration> {
        self.runs.iter().map(|r| r[k].wall).collect()
    }

    /// Rows: medians of wall and CPU, the highest peak RSS, and wall over `base`'s.
    fn rows(&self, kinds: &[&str; N], base: usize, t: &mut String) {
        for (k, kind) in kinds.iter().enumerate() {
            let runs = if k == 0 {
                self.runs.len().to_string()
            } else {
                String::new()
            };
            let _ = writeln!(
                t,
                "| {runs} | {kind} | {:.1} | {:.1} | {:.2} | {:.2}x |",
                ms(self.wall(k)),
                ms(self.cpu(k)),
                mb(self.max_rss_kib(k)),
                self.wall(k).as_secs_f64() / self.wall(base).as_secs_f64()
            );
        }
        let _ = writeln!(t, "\n{}\n{}", self.check, self.after);
        if let Some(note) = &self.note {
            let _ = writeln!(t, "{note}");
        }
    }
}

/// Both tables (either may be missing) and then the targets.
pub fn report(show: Option<&Runs<4>>, columns: Option<&Runs<2>>) -> String {
    let mut t = String::new();
    if let Some(s) = show {
        let _ = writeln!(
            t,
            "`conntrend conntrack show` at {} UDP entries (built in {:.2} s; peak RSS: the highest \
             of the runs):\n\n| runs | command | wall ms | CPU ms | peak RSS MB | wall / conntrack -L |\n\
             |---:|---|---:|---:|---:|---:|",
            label(s.total),
            s.build.as_secs_f64()
        );
        s.rows(&SHOW_KINDS, 2, &mut t);
    }
    if let Some(c) = columns {
        let _ = writeln!(
            t,
            "{}`--conntrack` at {} sockets, tracking on (built in {:.2} s):\n\n\
             | runs | command | wall ms | CPU ms | peak RSS MB | wall / plain |\n|---:|---|---:|---:|---:|---:|",
            if show.is_some() { "\n" } else { "" },
            label(c.total),
            c.build.as_secs_f64()
        );
        c.rows(&COLUMN_KINDS, 0, &mut t);
    }
    t
}

/// The three targets, one line each, for the sections measured.
pub fn targets(show: Option<&Runs<4>>, columns: Option<&Runs<2>>) -> String {
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let mut t = String::new();
    if let Some(s) = show {
        let speedup = s.wall(2).as_secs_f64() / s.wall(0).as_secs_f64();
        let json = s.wall(2).as_secs_f64() / s.wall(1).as_secs_f64();
        let rss = mb(s.max_rss_kib(0).max(s.max_rss_kib(1)));
        let _ = writeln!(
            t,
            "- conntrack show ≥ 2x faster than conntrack -L at {}: {speedup:.2}x ({:.1} vs {:.1} ms; \
             --json {json:.2}x): {}\n- conntrack show peak RSS ≤ 6 MB: {rss:.2} MB (both formats): {}",
            label(s.total),
            ms(s.wall(0)),
            ms(s.wall(2)),
            verdict(speedup >= 2.0),
            verdict(rss <= 6.0)
        );
    }
    if let Some(c) = columns {
        let wall = c.wall(1).as_secs_f64() / c.wall(0).as_secs_f64();
        let cpu = c.cpu(1).as_secs_f64() / c.cpu(0).as_secs_f64();
        // Each round runs the two one after the other: their ratio within a round is immune to
        // the machine's slow and fast spells, which move both.
        let mut paired: Vec<f64> = c
            .runs
            .iter()
            .map(|r| r[1].wall.as_secs_f64() / r[0].wall.as_secs_f64())
            .collect();
        paired.sort_by(f64::total_cmp);
        let paired = paired
            .get((paired.len().max(1) - 1) / 2)
            .copied()
            .unwrap_or(1.0);
        let reads = c.reads.unwrap_or_default().as_secs_f64();
        let pct = |r: f64| (r - 1.0) * 100.0;
        let _ = writeln!(
            t,
            "- --conntrack adds ≤ 5% to a sample at {}: {:+.1}% wall as the median of the rounds' \
             own ratios; medians {:.1} vs {:.1} ms = {:+.1}% wall, {:+.1}% CPU; its reads timed in \
             process {:.1} µs = {:.2}% of the plain sample: {}",
            label(c.total),
            pct(paired),
            ms(c.wall(1)),
            ms(c.wall(0)),
            pct(wall),
            pct(cpu),
            reads * 1e6,
            100.0 * reads / c.wall(0).as_secs_f64(),
            verdict(paired <= 1.05)
        );
    }
    t
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
