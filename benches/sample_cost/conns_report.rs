//! The `conns` table and its targets (issue 9), from the runs `conns.rs` measured: medians of wall
//! and CPU time, the highest peak RSS, and wall time over the ss command.

use std::fmt::Write as _;
use std::time::Duration;

use crate::conns::Conns;
use crate::measure::{Usage, median};
use crate::report::mb;

impl Conns {
    fn of(&self, k: usize) -> impl Iterator<Item = &Usage> {
        self.runs.iter().map(move |r| &r[k])
    }

    fn wall(&self, k: usize) -> Duration {
        median(&self.of(k).map(|u| u.wall).collect::<Vec<_>>())
    }

    fn cpu(&self, k: usize) -> Duration {
        median(&self.of(k).map(|u| u.cpu).collect::<Vec<_>>())
    }

    fn max_rss_kib(&self, k: usize) -> u64 {
        self.of(k).map(|u| u.maxrss_kib).max().unwrap_or(0)
    }

    /// Command `a`'s wall time over command `b`'s.
    fn ratio(&self, a: usize, b: usize) -> f64 {
        self.wall(a).as_secs_f64() / self.wall(b).as_secs_f64()
    }

    fn rows(&self) -> String {
        let mut t = String::new();
        for (k, c) in self.commands.iter().enumerate() {
            let first = if k == 0 {
                format!(
                    "| {} | {} | {} ",
                    self.case.load(self.total),
                    self.sockets,
                    self.runs.len()
                )
            } else {
                "|  |  |  ".to_string()
            };
            let _ = writeln!(
                t,
                "{first}| {} | {:.1} | {:.1} | {:.2} | {:.2}x |",
                c.name,
                ms(self.wall(k)),
                ms(self.cpu(k)),
                mb(self.max_rss_kib(k)),
                self.ratio(k, 1),
            );
        }
        t
    }

    /// The two targets; for the filter, the like-with-like ratios and where the time
    /// goes too.
    fn targets(&self) -> String {
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
        let name = |k: usize| &self.commands[k].name;
        let rss = (0..self.commands.len())
            .filter(|&k| !self.commands[k].is_ss())
            .map(|k| self.max_rss_kib(k))
            .max()
            .unwrap_or(0);
        let mut t = format!(
            "- `{}` ≤ {}x `{}` at {}: {:.2}x ({:.1} vs {:.1} ms): {}\n\
             - conntrend's peak RSS ≤ 8 MB: {:.2} MB (ss: {:.2} MB): {}\n",
            name(0),
            self.case.target(),
            name(1),
            self.case.load(self.total),
            self.ratio(0, 1),
            ms(self.wall(0)),
            ms(self.wall(1)),
            verdict(self.ratio(0, 1) <= self.case.target()),
            mb(rss),
            mb(self.max_rss_kib(1)),
            verdict(mb(rss) <= 8.0),
        );
        if self.commands.len() == 6 {
            let pairs = [
                (0, 2, "TIME_WAIT included by both"),
                (3, 1, "TIME_WAIT left out by both"),
            ];
            for (a, b, why) in pairs {
                let _ = writeln!(
                    t,
                    "  - like with like ({why}): `{}` / `{}`: {:.2}x ({:.1} vs {:.1} ms)",
                    name(a),
                    name(b),
                    self.ratio(a, b),
                    ms(self.wall(a)),
                    ms(self.wall(b)),
                );
            }
            let _ = writeln!(
                t,
                "  - where the time goes (CPU ms): ESTABLISHED only {:.1}, TIME_WAIT only {:.1}, \
                 BOUND_INACTIVE only {:.1}, every state {:.1}",
                ms(self.cpu(3)),
                ms(self.cpu(4)),
                ms(self.cpu(5)),
                ms(self.cpu(0)),
            );
        }
        t
    }
}

/// The table, the checks and the targets of every case measured.
pub fn report(all: &[Conns]) -> String {
    let mut t = String::from(
        "`conntrend conns` against ss (peak RSS: the highest of the runs):\n\n\
         | load | sockets (floor saw) | runs | command | wall ms | CPU ms | peak RSS MB | wall / ss |\n\
         |---|---:|---:|---|---:|---:|---:|---:|\n",
    );
    for c in all {
        t.push_str(&c.rows());
    }
    t.push('\n');
    for c in all {
        let _ = writeln!(
            t,
            "{}: built in {:.1} s; {}.",
            c.case.load(c.total),
            c.build.as_secs_f64(),
            c.check
        );
        if let Some(note) = &c.note {
            let _ = writeln!(t, "{}: {note}", c.case.load(c.total));
        }
    }
    t.push_str("\nTargets (conntrend conns):\n");
    for c in all {
        t.push_str(&c.targets());
    }
    t
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
