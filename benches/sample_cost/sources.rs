//! Issue 22's figures: one plain sample at `--source-load` (1M) sockets, the loads' mix (~94%
//! TIME_WAIT), counted in the kernel (`--source bpf`: a BPF program walks the TCP hash tables, one
//! thread per CPU) against today's netlink path (`--source netlink`) and `ss -tan`, with two rows
//! that show where the time goes: the same BPF walk on one thread (`CONNTREND_BPF_THREADS=1`: what
//! the cores add), and the one-walk drain floor (the netlink dumps read and thrown away: what the
//! kernel spends walking, formatting and copying), and two unprivileged runs (user nobody: auto,
//! which tries BPF once and is refused, and netlink). Both sources' samples are checked equal
//! first. Builds, measures and prints its table.

use std::fmt::Write as _;
use std::io;
use std::time::Duration;

use crate::load::{Load, Plan};
use crate::measure::{Launcher, Usage, median};
use crate::report::mb;
use crate::{netns, probe};

/// The rows, in the order they alternate: (table name, argv after the binary, binary).
const ROWS: [(&str, &[&str], Bin); 7] = [
    (
        "conntrend -c 1 --source netlink",
        &["-c", "1", "--source", "netlink", "-o", "/dev/null"],
        Bin::Conntrend,
    ),
    (
        "conntrend -c 1 --source bpf",
        &["-c", "1", "--source", "bpf", "-o", "/dev/null"],
        Bin::Conntrend,
    ),
    ("ss -tan", &["-tan"], Bin::Ss),
    (
        "one-walk floor (netlink drained)",
        &["--floor1"],
        Bin::Bench,
    ),
    (
        "conntrend -c 1 --source bpf, one thread",
        &["-c", "1", "--source", "bpf", "-o", "/dev/null"],
        Bin::OneThread,
    ),
    (
        "conntrend -c 1 as nobody (auto: netlink)",
        &["-c", "1", "-o", "/dev/null"],
        Bin::Nobody,
    ),
    (
        "conntrend -c 1 --source netlink as nobody",
        &["-c", "1", "--source", "netlink", "-o", "/dev/null"],
        Bin::Nobody,
    ),
];

#[derive(Clone, Copy)]
enum Bin {
    Conntrend,
    Ss,
    Bench,
    /// conntrend through `env CONNTREND_BPF_THREADS=1` (one exec more, well under a millisecond).
    OneThread,
    /// conntrend as user nobody, no capability (`setpriv`: one exec more): what an unprivileged
    /// run pays for auto's one refused bpf() call.
    Nobody,
}

/// The load the rows run on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The loads' mix: ~94% TIME_WAIT (no open file behind them).
    Mix,
    /// ESTABLISHED connections only, both ends held open: every socket an open file, which the
    /// bound-only walk (`iter/task_file`) visits one by one.
    Established,
}

pub struct Sources {
    pub kind: Kind,
    pub total: usize,
    pub sockets: u64,
    pub build: Duration,
    pub check: String,
    pub runs: Vec<[Usage; 7]>,
    pub note: Option<String>,
}

/// Builds the load in a fresh namespace, checks that both sources print the same sample, and
/// alternates the rows for `runs` rounds after a warm-up.
pub fn measure(
    kind: Kind,
    total: usize,
    runs: usize,
    conntrend: &str,
    me: &str,
    (threads, fds): (usize, usize),
    quiet: Duration,
) -> io::Result<Sources> {
    netns::enter_fresh()?;
    crate::settle(quiet)?;
    let plan = match kind {
        Kind::Mix => Plan::new(total, 1, fds),
        Kind::Established => Plan::established(total, fds),
    };
    let load = Load::with_plan(plan, threads, me)?;
    let seen = probe::floor()?;
    eprintln!(
        "sources {}: built in {:.1} s; {}",
        crate::conns::label(total),
        load.build_time.as_secs_f64(),
        seen.line()
    );
    let mut launcher = Launcher::start(me)?;
    let check = check(&mut launcher, conntrend)?;
    eprintln!("sources: {check}");
    let argv = |k: usize| -> Vec<&str> {
        let (_, args, bin) = ROWS[k];
        let first: &[&str] = match bin {
            Bin::Conntrend => &[conntrend],
            Bin::Ss => &["ss"],
            Bin::Bench => &[me],
            Bin::OneThread => &["env", "CONNTREND_BPF_THREADS=1", conntrend],
            Bin::Nobody => &[
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                conntrend,
            ],
        };
        first.iter().chain(args).copied().collect()
    };
    let (runs, note) =
        crate::alternate::<7>(runs, &load, |k, _| Ok(launcher.run(&argv(k), false)?.0))?;
    for (k, (name, ..)) in ROWS.iter().enumerate() {
        crate::print_walls(name, &runs.iter().map(|r| r[k].wall).collect::<Vec<_>>());
    }
    Ok(Sources {
        kind,
        total,
        sockets: seen.sockets,
        build: load.build_time,
        check,
        runs,
        note,
    })
}

/// The netlink and the bpf sample of the same moment print the same row (but the timestamp).
fn check(launcher: &mut Launcher, conntrend: &str) -> io::Result<String> {
    let row = |l: &mut Launcher, source: &str| -> io::Result<String> {
        let argv = [conntrend, "-c", "1", "--source", source];
        let out = l.run(&argv, true)?.1;
        let line = out.lines().find(|l| !l.starts_with('#')).unwrap_or("");
        Ok(line
            .split_once(',')
            .map_or("", |(_, rest)| rest)
            .to_string())
    };
    let (netlink, bpf) = (row(launcher, "netlink")?, row(launcher, "bpf")?);
    if netlink != bpf || netlink.is_empty() {
        return Err(io::Error::other(format!(
            "--source netlink printed {netlink:?}, --source bpf {bpf:?}"
        )));
    }
    Ok(format!(
        "--source netlink and --source bpf both printed {netlink}"
    ))
}

impl Sources {
    fn of(&self, k: usize) -> impl Iterator<Item = &Usage> {
        self.runs.iter().map(move |r| &r[k])
    }

    fn wall(&self, k: usize) -> Duration {
        median(&self.of(k).map(|u| u.wall).collect::<Vec<_>>())
    }

    fn cpu(&self, k: usize) -> Duration {
        median(&self.of(k).map(|u| u.cpu).collect::<Vec<_>>())
    }

    /// The markdown table, its check and the targets.
    pub fn report(&self) -> String {
        let mut t = String::from(
            "| load | sockets | runs | command | wall ms | CPU ms | peak RSS MB | wall / netlink |\n\
             |---|---:|---:|---|---:|---:|---:|---:|\n",
        );
        for (k, (name, ..)) in ROWS.iter().enumerate() {
            let first = match k {
                0 => format!(
                    "| {}{} | {} | {} ",
                    crate::conns::label(self.total),
                    match self.kind {
                        Kind::Mix => "",
                        Kind::Established => " ESTAB",
                    },
                    self.sockets,
                    self.runs.len()
                ),
                _ => "|  |  |  ".to_string(),
            };
            let rss = self.of(k).map(|u| u.maxrss_kib).max().unwrap_or(0);
            let _ = writeln!(
                t,
                "{first}| {name} | {:.1} | {:.1} | {:.2} | {:.2}x |",
                self.wall(k).as_secs_f64() * 1e3,
                self.cpu(k).as_secs_f64() * 1e3,
                mb(rss),
                self.wall(k).as_secs_f64() / self.wall(0).as_secs_f64(),
            );
        }
        let bpf = self.wall(1).as_secs_f64();
        let rss = self.of(1).map(|u| u.maxrss_kib).max().unwrap_or(0);
        let _ = write!(
            t,
            "\nBuilt in {:.1} s. Checked first: {}.{}\n\nTargets (issue 22): --source bpf {:.0} ms \
             (<= 250: {}), {:.2}x netlink (<= 0.55x: {}), peak RSS {:.2} MB (<= 8: {})\n",
            self.build.as_secs_f64(),
            self.check,
            self.note
                .as_ref()
                .map_or(String::new(), |n| format!(" ({n})")),
            bpf * 1e3,
            yes(bpf <= 0.25),
            bpf / self.wall(0).as_secs_f64(),
            yes(bpf / self.wall(0).as_secs_f64() <= 0.55),
            mb(rss),
            yes(mb(rss) <= 8.0),
        );
        t
    }
}

fn yes(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}
