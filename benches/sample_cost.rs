//! Whole-process cost of one sample, against the cheapest possible sample and the usual tools.
//!
//! For each load (default 1k, 10k, 100k and 500k sockets: ~94% client-side TIME_WAIT from many
//! 127/8 source addresses, 5% ESTABLISHED pairs, 1% UDP, built in a fresh private network
//! namespace), it runs, alternating `a b c d a b c d …` after one warm-up round:
//! (a) `conntrend -c 1 -o /dev/null`; (b) the drain-only floor (this binary re-executed with
//! `--floor`, see `probe.rs`); (c) `ss -tan` plus `ss -uan`; (d) /proc/net/{tcp,tcp6,udp,udp6}
//! parsed (this binary with `--procfs`). Each run is one process (two for ss): wall time around
//! spawn→reap, CPU time and peak RSS from `wait4`. Medians, and wall ratios to the floor, are
//! printed as a markdown table, followed by the idle overhead of `conntrend -i 1 -d 60` on ~1k
//! sockets and a check against the targets.
//!
//! Must run as root (it unshares a network namespace and writes that namespace's sysctls), or as
//! a user under `unshare -rn`. The host namespace is never touched.
//!
//! `cargo bench --bench sample_cost -- [--loads 1k,10k,100k,500k] [--runs N] [--idle-secs N]
//! [--conntrend PATH]` (cargo builds the conntrend binary first and appends `--bench`, without
//! which the binary does nothing, so `cargo test --benches` stays quick).

#[path = "sample_cost/load.rs"]
mod load;
#[path = "sample_cost/measure.rs"]
mod measure;
#[path = "sample_cost/netns.rs"]
mod netns;
#[path = "sample_cost/probe.rs"]
mod probe;
#[path = "sample_cost/report.rs"]
mod report;

use std::io;
use std::process::{Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use load::Load;
use measure::{Usage, reap, run};
use probe::Counts;
use report::{Idle, Point};

/// The four ways to take a sample, in the order they alternate.
pub const TOOLS: [&str; 4] = ["conntrend", "floor", "ss", "procfs"];
/// TIME_WAIT sockets live 60 s; measuring stops a little before the first ones go.
const TIME_WAIT_BUDGET: Duration = Duration::from_secs(57);
/// Fewest measured runs per point even when TIME_WAIT starts to expire.
const MIN_RUNS: usize = 3;

struct Options {
    loads: Vec<usize>,
    runs: usize,
    idle_secs: u64,
    conntrend: String,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Hidden modes: one sample, its counts on stdout.
    let mode = match args.first().map(String::as_str) {
        Some("--floor") => Some(probe::floor()),
        Some("--procfs") => Some(probe::procfs()),
        Some("--hold") => {
            let n = |i: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(0);
            return match load::hold(n(1), n(2), n(3)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    println!("{e}");
                    ExitCode::FAILURE
                }
            };
        }
        _ => None,
    };
    let result = match mode {
        Some(Ok(counts)) => {
            println!("{}", counts.line());
            Ok(())
        }
        Some(Err(e)) => Err(e),
        // `cargo bench` passes --bench; `cargo test --benches` does not, and must not build
        // half a million sockets.
        None if !args.iter().any(|a| a == "--bench") => {
            eprintln!("sample_cost: run it with `cargo bench --bench sample_cost` (as root)");
            Ok(())
        }
        None => options(&args).and_then(|o| bench(&o)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sample_cost: {e}");
            ExitCode::FAILURE
        }
    }
}

fn options(args: &[String]) -> io::Result<Options> {
    let default_bin = option_env!("CARGO_BIN_EXE_conntrend")
        .map(str::to_string)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/target/release/conntrend").into());
    let mut o = Options {
        loads: vec![1_000, 10_000, 100_000, 500_000],
        runs: 7,
        idle_secs: 60,
        conntrend: default_bin,
    };
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, what.to_string());
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| bad(&format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--bench" => {} // added by `cargo bench`
            "--loads" => {
                o.loads = value()?
                    .split(',')
                    .map(|v| match v.strip_suffix('k') {
                        Some(k) => k.parse::<usize>().map(|k| k * 1000),
                        None => v.parse(),
                    })
                    .collect::<Result<_, _>>()
                    .map_err(|_| bad("--loads takes counts like 1000,10k,500k"))?;
            }
            "--runs" => o.runs = value()?.parse().map_err(|_| bad("--runs takes a count"))?,
            "--idle-secs" => {
                o.idle_secs = value()?
                    .parse()
                    .map_err(|_| bad("--idle-secs takes seconds (0 skips)"))?
            }
            "--conntrend" => o.conntrend = value()?.clone(),
            other => return Err(bad(&format!("unknown argument {other:?}"))),
        }
    }
    if o.runs == 0 || o.loads.is_empty() {
        return Err(bad("need at least one load and one run"));
    }
    Ok(o)
}

fn bench(o: &Options) -> io::Result<()> {
    if !std::path::Path::new(&o.conntrend).exists() {
        return Err(io::Error::other(format!(
            "{} not found: run `cargo build --release` first or pass --conntrend PATH",
            o.conntrend
        )));
    }
    let me = std::env::current_exe()?.to_string_lossy().into_owned();
    let threads = thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let most = o.loads.iter().copied().max().unwrap_or(0) as u64;
    let fds = netns::raise_nofile((most / 5 + 10_000).max(65_536))? as usize;
    println!("{}", report::machine());
    println!("conntrend: {}\n", o.conntrend);
    netns::enter_fresh()?;
    let quiet = dump_time()?;
    let mut points = Vec::new();
    for &total in &o.loads {
        points.push(point(o, &me, total, threads, fds, quiet)?);
    }
    let idle = if o.idle_secs > 0 {
        Some(idle(o, &me, threads, fds, quiet)?)
    } else {
        None
    };
    println!();
    print!("{}", report::table(&points));
    if let Some(idle) = &idle {
        println!("\n{}", idle.line());
    }
    println!();
    print!("{}", report::targets(&points, idle.as_ref()));
    Ok(())
}

/// Builds one load in a fresh namespace and measures the four tools on it.
fn point(
    o: &Options,
    me: &str,
    total: usize,
    threads: usize,
    fds: usize,
    quiet: Duration,
) -> io::Result<Point> {
    netns::enter_fresh()?;
    settle(quiet)?;
    let load = Load::build(total, threads, me, fds)?;
    let built = probe::floor()?;
    eprintln!(
        "load {}: built in {:.1} s ({:?}); {}",
        report::label(total),
        load.build_time.as_secs_f64(),
        load.plan,
        built.line()
    );
    let mut point = Point::new(total);
    let mut last_round = Duration::ZERO;
    for round in 0..=o.runs {
        let measured = round.saturating_sub(1);
        let expires_soon = load.time_wait_since.elapsed() + last_round > TIME_WAIT_BUDGET;
        if round > 0 && expires_soon && measured >= MIN_RUNS {
            point.note = Some(format!(
                "{measured} runs: TIME_WAIT would have begun to expire"
            ));
            break;
        }
        let start = Instant::now();
        let mut usages = [Usage::default(); 4];
        for (slot, tool) in usages.iter_mut().zip(TOOLS) {
            let (usage, out) = sample(o, me, tool)?;
            *slot = usage;
            if let (true, Some(n)) = (round > 0, Counts::parse_sockets(&out)) {
                if tool == "floor" {
                    point.sockets.push(n);
                }
            }
        }
        if round > 0 {
            point.runs.push(usages);
        }
        last_round = start.elapsed();
    }
    let s = &point.sockets;
    eprintln!(
        "load {}: {} runs, {}..{} sockets seen by the floor",
        report::label(total),
        point.runs.len(),
        s.iter().min().unwrap_or(&0),
        s.iter().max().unwrap_or(&0),
    );
    for (i, tool) in TOOLS.iter().enumerate() {
        let walls: Vec<String> = point
            .walls(i)
            .iter()
            .map(|w| format!("{:.1}", w.as_secs_f64() * 1e3))
            .collect();
        eprintln!("  {tool:>9} wall ms: {}", walls.join(" "));
    }
    drop(load);
    Ok(point)
}

/// How long one in-process floor dump of the (empty) current namespace takes.
fn dump_time() -> io::Result<Duration> {
    let start = Instant::now();
    probe::floor()?;
    Ok(start.elapsed())
}

/// Waits until the sockets of the namespaces dropped before are gone. They stay in the kernel's
/// global TCP hash, which every dump walks, until the namespace cleanup purges them; measuring
/// before that would charge them to the next point.
fn settle(quiet: Duration) -> io::Result<()> {
    let start = Instant::now();
    while dump_time()? > quiet * 3 + Duration::from_millis(2) {
        if start.elapsed() > Duration::from_secs(60) {
            eprintln!("warning: the kernel's socket hash did not quiet down in 60 s");
            break;
        }
        thread::sleep(Duration::from_millis(250));
    }
    Ok(())
}

/// One sample by `tool`; returns its usage and whatever it printed (only the probes print).
fn sample(o: &Options, me: &str, tool: &str) -> io::Result<(Usage, String)> {
    match tool {
        "conntrend" => run(&[&o.conntrend, "-c", "1", "-o", "/dev/null"], false),
        "floor" => run(&[me, "--floor"], true),
        "procfs" => run(&[me, "--procfs"], true),
        "ss" => {
            let (tcp, _) = run(&["ss", "-tan"], false)?;
            let (udp, _) = run(&["ss", "-uan"], false)?;
            Ok((tcp.then(udp), String::new()))
        }
        _ => unreachable!("unknown tool {tool}"),
    }
}

/// `conntrend -i 1 -d N` on ~1k sockets; TIME_WAIT is topped up every 30 s so the load stays
/// between ~1k and ~2k sockets.
fn idle(o: &Options, me: &str, threads: usize, fds: usize, quiet: Duration) -> io::Result<Idle> {
    netns::enter_fresh()?;
    settle(quiet)?;
    let mut load = Load::build(1_000, threads, me, fds)?;
    let secs = o.idle_secs.to_string();
    eprintln!("idle: conntrend -i 1 -d {secs} on ~1k sockets…");
    let start = Instant::now();
    let child = Command::new(&o.conntrend)
        .args(["-i", "1", "-d", &secs, "-o", "/dev/null"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()?;
    let mut next_top_up = start + Duration::from_secs(30);
    loop {
        if let Some((reaped, usage)) = reap(&child, false)? {
            return Ok(Idle {
                secs: o.idle_secs,
                wall: reaped - start,
                cpu: usage.cpu,
                maxrss_kib: usage.maxrss_kib,
            });
        }
        if Instant::now() >= next_top_up {
            load.add_time_wait(load.plan.time_wait)?;
            next_top_up += Duration::from_secs(30);
        }
        thread::sleep(Duration::from_millis(100));
    }
}
