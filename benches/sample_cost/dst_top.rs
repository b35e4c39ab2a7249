//! Issue 4's figures: what `--dst` adds to a sample, and what one `conntrend top` costs, on a load
//! whose sockets go to a handful of destinations and are owned by ~500 processes.
//!
//! Alternates `conntrend -c 1 -o /dev/null`, `conntrend -c 1 --dst -o /dev/null`,
//! `conntrend top -n 10 > /dev/null` and `conntrend top --json -n 10 > /dev/null`, after one
//! check that both have real work: the `--dst` line names a worst destination and the JSON report
//! ranks destinations and attributes pool ports to processes.

use std::fmt::Write;
use std::io;
use std::time::Duration;

use crate::measure::{Launcher, Usage, median_of, run};

/// What runs, in the order it alternates. The last two take four samples a second apart: how long
/// the last three took (`-v`) is what a running timeline pays per sample (issue 19: the first
/// `--owners` sample scans every process, the next ones only where new sockets are).
pub const KINDS: [&str; 7] = [
    "conntrend -c 1",
    "conntrend -c 1 --dst",
    "conntrend top -n 10",
    "conntrend top --json -n 10",
    "conntrend -c 1 --owners",
    "conntrend -c 4 -i 1",
    "conntrend -c 4 -i 1 --owners",
];

/// One run of kind `k` (an index into [`KINDS`]), output discarded. The four-sample runs say how
/// long each sample took (`-v`); the last three of those go to `steady` (0 plain, 1 `--owners`).
pub fn sample(
    launcher: &mut Launcher,
    conntrend: &str,
    k: usize,
    steady: &mut [Vec<f64>; 2],
) -> io::Result<Usage> {
    if k >= 5 {
        let owners = if k == 6 { " --owners" } else { "" };
        let script = format!("exec {conntrend} -c 4 -i 1 -v -o /dev/null{owners} 2>&1");
        let (usage, said) = launcher.run(&["sh", "-c", &script], true)?;
        let took: Vec<f64> = said
            .lines()
            .filter_map(|l| {
                l.strip_prefix("conntrend: sample took ")?
                    .strip_suffix(" ms")
            })
            .filter_map(|ms| ms.parse().ok())
            .collect();
        if took.len() != 4 {
            return Err(io::Error::other(format!("{script}: said {said:?}")));
        }
        steady[k - 5].extend(&took[1..]);
        return Ok(usage);
    }
    let argv: &[&str] = match k {
        0 => &[conntrend, "-c", "1", "-o", "/dev/null"],
        1 => &[conntrend, "-c", "1", "--dst", "-o", "/dev/null"],
        2 => &[conntrend, "top", "-n", "10"],
        3 => &[conntrend, "top", "--json", "-n", "10"],
        _ => &[conntrend, "-c", "1", "--owners", "-o", "/dev/null"],
    };
    Ok(launcher.run(argv, false)?.0)
}

/// The check before measuring: one line about the `--dst` sample, one about the `top` report.
/// Fails when either has nothing to work on.
pub fn check(conntrend: &str) -> io::Result<(String, String)> {
    let (_, csv) = run(&[conntrend, "-c", "1", "--dst"], true)?;
    // `# columns: a,b,…` then the data row; other lines are comments.
    let header = csv
        .lines()
        .find_map(|l| l.strip_prefix("# columns: "))
        .unwrap_or("");
    let row = csv.lines().find(|l| !l.starts_with('#')).unwrap_or("");
    let fields: Vec<(&str, &str)> = header.split(',').zip(row.split(',')).collect();
    let get = |name: &str| fields.iter().find(|f| f.0 == name).map_or("", |f| f.1);
    if get("worst_dst").is_empty() {
        return Err(io::Error::other(format!(
            "`conntrend -c 1 --dst` found no destination:\n{csv}"
        )));
    }
    let dst = format!(
        "worst_dst={} worst_dst_used={} worst_dst_free={} (used={} of total_port={})",
        get("worst_dst"),
        get("worst_dst_used"),
        get("worst_dst_free"),
        get("used"),
        get("total_port")
    );

    let (_, json) = run(&[conntrend, "top", "--json", "-n", "1000"], true)?;
    let report: serde_json::Value = serde_json::from_str(&json).map_err(io::Error::other)?;
    let list = |key: &str| report[key].as_array().cloned().unwrap_or_default();
    let (dsts, procs) = (list("destinations"), list("processes"));
    let owned: Vec<&serde_json::Value> = procs.iter().filter(|p| p["pid"].is_u64()).collect();
    if dsts.is_empty() || owned.is_empty() {
        return Err(io::Error::other(format!(
            "`conntrend top` has no destinations or no processes:\n{json}"
        )));
    }
    let busiest = |p: &serde_json::Value| {
        format!(
            "{} (pid {}, {} tcp + {} udp)",
            p["comm"].as_str().unwrap_or("?"),
            p["pid"],
            p["tcp_ports"],
            p["udp_ports"]
        )
    };
    let top = format!(
        "top: {} destinations ranked, busiest {} with {} ports; {} processes hold pool ports, \
         busiest {}",
        dsts.len(),
        dsts[0]["dst"].as_str().unwrap_or("?"),
        dsts[0]["used"],
        owned.len(),
        busiest(owned[0])
    );
    Ok((dst, top))
}

/// The measured runs at one load.
pub struct DstTop {
    pub total: usize,
    pub procs: usize,
    pub sockets: u64,
    pub destinations: usize,
    pub runs: Vec<[Usage; 7]>,
    /// Each measured sample after the first of the four-sample runs, ms: plain, `--owners`.
    pub steady: [Vec<f64>; 2],
    pub dst_line: String,
    pub top_line: String,
    pub note: Option<String>,
}

impl DstTop {
    fn wall(&self, k: usize) -> Duration {
        median_of(&self.runs, k, |u| u.wall)
    }

    fn cpu(&self, k: usize) -> Duration {
        median_of(&self.runs, k, |u| u.cpu)
    }

    fn rss_kib(&self, k: usize) -> u64 {
        median_of(&self.runs, k, |u| u.maxrss_kib)
    }

    fn max_wall(&self, k: usize) -> Duration {
        self.runs
            .iter()
            .map(|r| r[k].wall)
            .max()
            .unwrap_or_default()
    }

    /// `--dst` over the plain sample, wall and CPU.
    fn ratios(&self) -> (f64, f64) {
        let r =
            |f: fn(&DstTop, usize) -> Duration| f(self, 1).as_secs_f64() / f(self, 0).as_secs_f64();
        (r(DstTop::wall), r(DstTop::cpu))
    }

    /// The markdown table and the two check lines.
    pub fn table(&self) -> String {
        let mut t = format!(
            "`--dst` and `top` at {} ({} sockets seen, {} holder processes, {} destinations):\n\n",
            crate::report::label(self.total),
            self.sockets,
            self.procs,
            self.destinations
        );
        t.push_str("| runs | command | wall ms | CPU ms | peak RSS MB | wall / plain |\n");
        t.push_str("|---:|---|---:|---:|---:|---:|\n");
        for (k, kind) in KINDS.iter().enumerate() {
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
                self.rss_kib(k) as f64 * 1024.0 / 1e6,
                self.wall(k).as_secs_f64() / self.wall(0).as_secs_f64()
            );
        }
        let _ = writeln!(t, "\n{}\n{}", self.dst_line, self.top_line);
        if let Some(note) = &self.note {
            let _ = writeln!(t, "{note}");
        }
        t
    }

    /// The median time a sample after the first took (`-v`): 0 plain, 1 `--owners`.
    fn steady_ms(&self, which: usize) -> f64 {
        let mut v = self.steady[which].clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len().saturating_sub(1) / 2)
            .copied()
            .unwrap_or(f64::NAN)
    }

    /// The targets of issues 4 and 19, one line each.
    pub fn targets(&self) -> String {
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
        let (wall, cpu) = self.ratios();
        let top = self.wall(2).max(self.wall(3));
        let worst = self.max_wall(2).max(self.max_wall(3));
        let top_rss = self.rss_kib(2).max(self.rss_kib(3)) as f64 * 1024.0 / 1e6;
        let (plain, owners) = (self.steady_ms(0), self.steady_ms(1));
        let steady = owners / plain;
        format!(
            "- --dst ≤ 1.3x the plain sample at {}: {wall:.2}x wall ({:.1} vs {:.1} ms), {cpu:.2}x \
             CPU: {}\n- top under 1 s: {:.1} ms (text), {:.1} ms (JSON), slowest run {:.1} ms: {}\n\
             - top ≤ 6 MB: {top_rss:.2} MB: {}\n\
             - the timeline with --owners ≤ 1.3x a plain sample: {steady:.2}x, the median \
             sample after the first as -v times it ({owners:.1} vs {plain:.1} ms, {} samples \
             each); the first --owners sample {:.2}x wall ({:.1} vs {:.1} ms): {}\n",
            crate::report::label(self.total),
            ms(self.wall(1)),
            ms(self.wall(0)),
            verdict(wall <= 1.3),
            ms(self.wall(2)),
            ms(self.wall(3)),
            ms(worst),
            verdict(top < Duration::from_secs(1)),
            verdict(top_rss <= 6.0),
            self.steady[1].len(),
            self.wall(4).as_secs_f64() / self.wall(0).as_secs_f64(),
            ms(self.wall(4)),
            ms(self.wall(0)),
            verdict(steady <= 1.3),
        )
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
