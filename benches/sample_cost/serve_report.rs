//! The `serve` tables and their targets (issue 12), from what `serve.rs` measured: medians of wall
//! time, CPU time (the exporter's: a mean, see below), the highest peak RSS, wall time over the
//! plain sample's; and the exporter's VmRSS series over many scrapes.

use std::fmt::Write as _;
use std::time::Duration;

use crate::measure::median_of;
use crate::report::{label, mb};
use crate::serve::{KINDS, Latency, Memory, RSS_EVERY};

/// The bound on a scrape's wall time over one plain sample's.
const LATENCY_TARGET: f64 = 1.15;
/// The bound on the exporter's peak RSS, MB.
const RSS_TARGET_MB: f64 = 8.0;
/// "Flat": no reading after the first [`RSS_EVERY`] scrapes more than this above the reading
/// there, MB (a leak of 12 bytes per scrape would pass it over 9,000 scrapes).
const FLAT_MB: f64 = 0.1;

/// Commands 2 and 3 are scrapes: their CPU time comes from the exporter's /proc/PID/stat, in
/// 10 ms ticks, so the table gives its mean over the runs (the total across them is exact to a
/// tick); the processes' comes from wait4, a median.
fn is_scrape(k: usize) -> bool {
    k >= 2
}

impl Latency {
    fn wall(&self, k: usize) -> Duration {
        median_of(&self.runs, k, |u| u.wall)
    }

    fn cpu(&self, k: usize) -> Duration {
        if is_scrape(k) {
            let sum: Duration = self.runs.iter().map(|r| r[k].cpu).sum();
            sum / self.runs.len().max(1) as u32
        } else {
            median_of(&self.runs, k, |u| u.cpu)
        }
    }

    fn max_rss_kib(&self, k: usize) -> u64 {
        self.runs.iter().map(|r| r[k].maxrss_kib).max().unwrap_or(0)
    }

    /// Command `a`'s wall time over command `b`'s.
    fn ratio(&self, a: usize, b: usize) -> f64 {
        self.wall(a).as_secs_f64() / self.wall(b).as_secs_f64()
    }

    pub fn table(&self) -> String {
        let mut t = format!(
            "`conntrend serve --min-interval 0` at {} ({} sockets seen, built in {:.1} s): one \
             scrape against one plain sample\n\n",
            label(self.total),
            self.sockets,
            self.build.as_secs_f64()
        );
        t.push_str("| runs | command | wall ms | CPU ms | peak RSS MB | wall / plain |\n");
        t.push_str("|---:|---|---:|---:|---:|---:|\n");
        for (k, kind) in KINDS.iter().enumerate() {
            let runs = if k == 0 {
                self.runs.len().to_string()
            } else {
                String::new()
            };
            let mean = if is_scrape(k) { " (mean)" } else { "" };
            let _ = writeln!(
                t,
                "| {runs} | {kind} | {:.1} | {:.1}{mean} | {:.2} | {:.2}x |",
                ms(self.wall(k)),
                ms(self.cpu(k)),
                mb(self.max_rss_kib(k)),
                self.ratio(k, 0)
            );
        }
        let _ = writeln!(
            t,
            "\n{}; the first exporter took {} samples for {} scrapes",
            self.check, self.samples, self.scrapes
        );
        if let Some(note) = &self.note {
            let _ = writeln!(t, "{note}");
        }
        t
    }

    pub fn targets(&self) -> String {
        let r = self.ratio(2, 0);
        format!(
            "- scrape ≤ {LATENCY_TARGET}x one plain sample at {}: {r:.3}x ({:.1} vs {:.1} ms): {} \
             (--dst-top 0: {:.2}x; against `-c 1 --dst`: {:.2}x)\n",
            label(self.total),
            ms(self.wall(2)),
            ms(self.wall(0)),
            verdict(r <= LATENCY_TARGET),
            self.ratio(3, 0),
            self.ratio(2, 1)
        )
    }

    /// The exporters' highest VmHWM here, KiB.
    pub fn exporter_hwm_kib(&self) -> u64 {
        self.max_rss_kib(2).max(self.max_rss_kib(3))
    }
}

impl Memory {
    /// The reading after [`RSS_EVERY`] scrapes and the highest one after it, KiB.
    fn settled(&self) -> Option<(u64, u64)> {
        let base = self.rss.iter().find(|r| r.0 == RSS_EVERY)?.1;
        let high = self
            .rss
            .iter()
            .filter(|r| r.0 >= RSS_EVERY)
            .map(|r| r.1)
            .max()?;
        Some((base, high))
    }

    pub fn table(&self) -> String {
        let mut t = format!(
            "`conntrend serve --min-interval 0` (--dst-top 5) over {} scrapes at {} ESTABLISHED \
             sockets ({} seen; each scrape a fresh sample: {} samples taken), one after another: \
             {:.1} s, median scrape {:.2} ms. VmRSS and memory mappings after that many \
             scrapes:\n\n",
            self.scrapes,
            label(self.total),
            self.sockets,
            self.samples,
            self.wall.as_secs_f64(),
            ms(self.median_scrape)
        );
        let head: Vec<String> = self.rss.iter().map(|r| r.0.to_string()).collect();
        let vals: Vec<String> = self.rss.iter().map(|r| format!("{:.2}", mb(r.1))).collect();
        let _ = writeln!(t, "| scrapes | {} |", head.join(" | "));
        let _ = writeln!(t, "|---|{}", "---:|".repeat(head.len()));
        let maps: Vec<String> = self.rss.iter().map(|r| r.2.to_string()).collect();
        let _ = writeln!(t, "| VmRSS MB | {} |", vals.join(" | "));
        let _ = writeln!(t, "| mappings | {} |", maps.join(" | "));
        let _ = writeln!(
            t,
            "\nVmHWM after the last scrape: {:.2} MB",
            mb(self.hwm_kib)
        );
        t
    }

    /// Peak and flatness; `latency_hwm_kib` is the exporters' peak in the latency part, if run.
    pub fn targets(&self, latency_hwm_kib: Option<u64>) -> String {
        let peak = mb(self.hwm_kib);
        let at_load = latency_hwm_kib
            .map(|k| format!(" ({:.2} MB at the latency load)", mb(k)))
            .unwrap_or_default();
        let highest = peak.max(latency_hwm_kib.map_or(0.0, mb));
        let mut t = format!(
            "- exporter peak RSS ≤ {RSS_TARGET_MB} MB: {peak:.2} MB over {} scrapes at {} \
             ESTABLISHED{at_load}: {}\n",
            self.scrapes,
            label(self.total),
            verdict(highest <= RSS_TARGET_MB)
        );
        match self.settled() {
            Some((base, high)) => {
                let growth = mb(high) - mb(base);
                let _ = writeln!(
                    t,
                    "- RSS flat over {} scrapes (≤ {FLAT_MB} MB above the reading at {RSS_EVERY}): \
                     {growth:+.2} MB ({:.2} → highest {:.2}; first reading {:.2}): {}",
                    self.scrapes,
                    mb(base),
                    mb(high),
                    mb(self.rss[0].1),
                    verdict(growth <= FLAT_MB)
                );
            }
            None => {
                let _ = writeln!(t, "- RSS flat: fewer than {RSS_EVERY} scrapes, not judged");
            }
        }
        t
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
