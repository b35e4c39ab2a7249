//! Medians, the markdown table, the machine's description and the check against the targets.

use std::fmt::Write;
use std::time::Duration;

use crate::TOOLS;
use crate::idle::Idle;
use crate::measure::{Usage, median, median_of};

/// The runs of one load.
pub struct Point {
    pub total: usize,
    /// Sockets the floor saw, one per measured run.
    pub sockets: Vec<u64>,
    /// Measured runs, each with one usage per tool in [`TOOLS`] order.
    pub runs: Vec<[Usage; TOOLS.len()]>,
    pub note: Option<String>,
}

impl Point {
    pub fn new(total: usize) -> Point {
        Point {
            total,
            sockets: Vec::new(),
            runs: Vec::new(),
            note: None,
        }
    }

    pub fn walls(&self, tool: usize) -> Vec<Duration> {
        self.runs.iter().map(|r| r[tool].wall).collect()
    }

    fn wall(&self, tool: usize) -> Duration {
        median_of(&self.runs, tool, |u| u.wall)
    }

    fn cpu(&self, tool: usize) -> Duration {
        median_of(&self.runs, tool, |u| u.cpu)
    }

    fn rss_kib(&self, tool: usize) -> u64 {
        median_of(&self.runs, tool, |u| u.maxrss_kib)
    }

    fn max_rss_kib(&self, tool: usize) -> u64 {
        self.runs
            .iter()
            .map(|r| r[tool].maxrss_kib)
            .max()
            .unwrap_or(0)
    }

    /// Wall time of `tool` over the floor's (`floor` 1: four dumps, 2: one TCP walk).
    fn ratio(&self, tool: usize, floor: usize) -> f64 {
        self.wall(tool).as_secs_f64() / self.wall(floor).as_secs_f64()
    }
}

/// 1000 → "1k".
pub fn label(total: usize) -> String {
    if total.is_multiple_of(1000) {
        format!("{}k", total / 1000)
    } else {
        total.to_string()
    }
}

/// KiB (as `ru_maxrss` counts) to MB of 10^6 bytes.
pub fn mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One row per load and tool: medians of wall, CPU and peak RSS, and wall over both floors'.
pub fn table(points: &[Point]) -> String {
    let mut t = String::new();
    t.push_str("| load | sockets (floor saw) | runs | tool | wall ms | CPU ms | peak RSS MB | wall / floor | wall / one-walk floor |\n");
    t.push_str("|---:|---:|---:|---|---:|---:|---:|---:|---:|\n");
    for p in points {
        let sockets = median(&p.sockets);
        let (lo, hi) = (
            p.sockets.iter().min().unwrap_or(&0),
            p.sockets.iter().max().unwrap_or(&0),
        );
        let seen = if hi - lo > sockets / 100 {
            format!("{sockets} ({lo}..{hi})")
        } else {
            sockets.to_string()
        };
        for (i, tool) in TOOLS.iter().enumerate() {
            let name = match *tool {
                "conntrend" => "conntrend -c 1",
                "floor" => "floor (drain only)",
                "floor1" => "floor, one TCP walk",
                "ss" => "ss -tan + ss -uan",
                _ => "/proc/net parse",
            };
            let (l, s, r) = if i == 0 {
                (label(p.total), seen.clone(), p.runs.len().to_string())
            } else {
                Default::default()
            };
            let _ = writeln!(
                t,
                "| {l} | {s} | {r} | {name} | {:.1} | {:.1} | {:.2} | {:.2}x | {:.2}x |",
                ms(p.wall(i)),
                ms(p.cpu(i)),
                mb(p.rss_kib(i)),
                p.ratio(i, 1),
                p.ratio(i, 2)
            );
        }
    }
    for p in points.iter().filter(|p| p.note.is_some()) {
        let _ = writeln!(
            t,
            "\n{}: {}",
            label(p.total),
            p.note.as_deref().unwrap_or("")
        );
    }
    t
}

/// The targets, each with its number and a verdict.
pub fn targets(points: &[Point], idles: &[Idle]) -> String {
    let mut t = String::from("Targets (conntrend -c 1):\n");
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let find = |n: usize| points.iter().find(|p| p.total == n);
    for n in [100_000, 500_000] {
        if let Some(p) = find(n) {
            let r = p.ratio(0, 1);
            let _ = writeln!(
                t,
                "- wall at {} ≤ 1.15x floor: {r:.2}x ({:.1} vs {:.1} ms): {} (one-walk floor: \
                 {:.2}x, {:.1} ms)",
                label(n),
                ms(p.wall(0)),
                ms(p.wall(1)),
                verdict(r <= 1.15),
                p.ratio(0, 2),
                ms(p.wall(2))
            );
        }
    }
    let peaks: Vec<u64> = points.iter().map(|p| p.max_rss_kib(0)).collect();
    if let (Some(&lo), Some(&hi)) = (peaks.iter().min(), peaks.iter().max()) {
        let _ = writeln!(
            t,
            "- peak RSS ≤ 6 MB at every load: highest {:.2} MB: {}",
            mb(hi),
            verdict(mb(hi) <= 6.0)
        );
        if let (Some(a), Some(b)) = (find(1_000), find(500_000)) {
            let spread = mb(b.max_rss_kib(0)) - mb(a.max_rss_kib(0));
            let _ = writeln!(
                t,
                "- peak RSS within 1 MB from 1k to 500k: {spread:+.2} MB (all loads {:.2}..{:.2}): {}",
                mb(lo),
                mb(hi),
                verdict(spread.abs() <= 1.0)
            );
        }
    }
    if let (Some(a), Some(b)) = (find(100_000), find(500_000)) {
        let r = b.wall(0).as_secs_f64() / a.wall(0).as_secs_f64();
        let _ = writeln!(
            t,
            "- 500k ≤ 5.5x 100k (wall): {r:.2}x: {}",
            verdict(r <= 5.5)
        );
    }
    if !idles.is_empty() {
        let each: Vec<String> = idles
            .iter()
            .map(|i| format!("{:.3}%", i.percent()))
            .collect();
        let ok = idles.iter().all(|i| i.percent() < 0.5);
        let _ = writeln!(
            t,
            "- idle < 0.5% of one core: {} ({} runs): {}",
            each.join(", "),
            idles.len(),
            verdict(ok)
        );
    }
    t
}

/// CPU model, cores, memory and kernel, one line.
pub fn machine() -> String {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|x| x.1.trim())
        })
        .unwrap_or("unknown CPU");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_kib: u64 = read("/proc/meminfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("MemTotal:")?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0);
    format!(
        "Machine: {model}, {cores} cores, {:.1} GiB RAM, Linux {}",
        mem_kib as f64 / (1024.0 * 1024.0),
        read("/proc/sys/kernel/osrelease").trim()
    )
}
