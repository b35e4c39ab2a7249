//! Whole-process cost of one sample, against the cheapest possible sample and the usual tools.
//!
//! For each load (default 1k, 10k, 100k and 500k sockets: ~94% client-side TIME_WAIT from many
//! 127/8 source addresses toward six destinations, 5% ESTABLISHED connections, 1% UDP, built in a
//! fresh private network namespace), it runs, alternating `a b c d e a b c d e …` after one
//! warm-up round: (a) `conntrend -c 1 -o /dev/null`; (b) the drain-only floor (this binary
//! re-executed with `--floor`: four dumps, see `probe.rs`); (c) the one-walk floor (`--floor1`:
//! TCP of both families in one dump); (d) `ss -tan` plus `ss -uan`; (e) /proc/net/{tcp,tcp6,udp,
//! udp6} parsed (this binary with `--procfs`). Each run is one process (two for ss): wall time
//! around spawn→reap, CPU time and peak RSS from `wait4`. Medians, and wall ratios to both floors,
//! are printed as a markdown table. At the `--dst-load` (100k) the ESTABLISHED clients and UDP
//! sockets are spread over `--procs` (500) holder processes, and the plain sample, `--dst`,
//! `top` and `top --json` are then measured alternately (`dst_top.rs`). Last come `--idle-runs`
//! runs of `conntrend -i 1 -d N` on ~1k sockets and a check against the issue's targets.
//! Between the two, `conntrend conns` against `ss` at `--conns-estab` (100k) ESTABLISHED sockets
//! and with a narrow filter at `--conns-million` (1M) sockets (`conns.rs`), then `conntrend serve`:
//! one scrape against one plain sample at `--serve-load` (100k) sockets, and the exporter's RSS
//! over `--serve-scrapes` (10,000) scrapes at `--serve-rss-load` (1k) sockets (`serve.rs`).
//! At `--source-load` (1M) sockets, `--source bpf` against `--source netlink` and `ss -tan`
//! (`sources.rs`).
//!
//! Must run as root (it unshares a network namespace and writes that namespace's sysctls), or as
//! a user under `unshare -rn`. The host namespace is never touched.
//!
//! `cargo bench --bench sample_cost -- [--loads 1k,10k,100k,500k|none] [--runs N] [--idle-secs N]
//! [--idle-runs N] [--dst-load LOAD] [--procs N] [--conns-estab LOAD] [--conns-million LOAD]
//! [--source-load LOAD]
//! [--serve-load LOAD] [--serve-scrapes N] [--serve-rss-load LOAD] [--conntrend PATH]
//! [--network-connections PATH]` (a load or scrape count of 0 skips its section; the last
//! option for the `states` rows, also from $NETWORK_CONNECTIONS) (cargo builds the conntrend
//! binary first and appends `--bench`, without which the binary does nothing, so
//! `cargo test --benches` stays quick).

#[path = "sample_cost/conns.rs"]
mod conns;
#[path = "sample_cost/conns_report.rs"]
mod conns_report;
#[path = "sample_cost/conntrack.rs"]
mod conntrack;
#[path = "sample_cost/conntrack_report.rs"]
mod conntrack_report;
#[path = "sample_cost/dst_top.rs"]
mod dst_top;
#[path = "sample_cost/holders.rs"]
mod holders;
#[path = "sample_cost/idle.rs"]
mod idle;
#[path = "sample_cost/load.rs"]
mod load;
#[path = "sample_cost/measure.rs"]
mod measure;
#[path = "sample_cost/netns.rs"]
mod netns;
#[path = "sample_cost/options.rs"]
mod options;
#[path = "sample_cost/probe.rs"]
mod probe;
#[path = "sample_cost/report.rs"]
mod report;
#[path = "sample_cost/serve.rs"]
mod serve;
#[path = "sample_cost/serve_report.rs"]
mod serve_report;
#[path = "sample_cost/sources.rs"]
mod sources;
#[path = "sample_cost/states.rs"]
mod states;

use std::io;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use dst_top::DstTop;
use load::Load;
use measure::{Launcher, Usage};
use options::Options;
use probe::Counts;
use report::Point;

/// The ways to take a sample, in the order they alternate.
pub const TOOLS: [&str; 5] = ["conntrend", "floor", "floor1", "ss", "procfs"];
/// TIME_WAIT sockets live 60 s; measuring stops a little before the first ones go.
const TIME_WAIT_BUDGET: Duration = Duration::from_secs(57);
/// Fewest measured runs per point even when TIME_WAIT starts to expire.
const MIN_RUNS: usize = 3;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Hidden modes: one sample, its counts on stdout.
    let mode = match args.first().map(String::as_str) {
        Some("--ct-floor") => {
            return match conntrack::floor() {
                Ok(n) => {
                    println!("entries={n}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("sample_cost --ct-floor: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        Some("--floor") => Some(probe::floor()),
        Some("--floor1") => Some(probe::floor_one_walk()),
        Some("--procfs") => Some(probe::procfs()),
        Some(m @ ("--hold" | "--serve" | "--launch")) => {
            let n = |i: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(0);
            let held = match m {
                "--hold" => holders::hold(n(1), n(2), n(3), n(4)),
                "--serve" => holders::serve(n(1), n(2)),
                _ => measure::launcher(),
            };
            return match held {
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
        None => options::parse(&args).and_then(|o| bench(&o)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sample_cost: {e}");
            ExitCode::FAILURE
        }
    }
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
    let most = o
        .loads
        .iter()
        .copied()
        .chain([o.conns_million, o.source_load, o.source_estab, o.ct_load])
        .max()
        .unwrap_or(0) as u64;
    let fds = netns::raise_nofile((most / 5 + 10_000).max(65_536))? as usize;
    println!("{}", report::machine());
    println!("conntrend: {}\n", o.conntrend);
    if o.dst_load > 0 && !o.loads.is_empty() && !o.loads.contains(&o.dst_load) {
        eprintln!("note: --dst-load is not among --loads: --dst and top are not measured");
    }
    netns::enter_fresh()?;
    let quiet = dump_time()?;
    let mut points = Vec::new();
    let mut dst_top = None;
    let mut states = Vec::new();
    for &total in &o.loads {
        let (p, d, s) = point(o, &me, total, threads, fds, quiet)?;
        points.push(p);
        dst_top = dst_top.or(d);
        states.extend(s);
    }
    let mut conns = Vec::new();
    for (case, total) in [
        (conns::Case::Estab, o.conns_estab),
        (conns::Case::Filter, o.conns_million),
    ] {
        if total > 0 {
            let (runs, bin) = (o.runs, &o.conntrend);
            let c = conns::measure(case, total, runs, bin, &me, (threads, fds), quiet)?;
            conns.push(c);
        }
    }
    let mut sources = Vec::new();
    for (kind, total) in [
        (sources::Kind::Mix, o.source_load),
        (sources::Kind::Established, o.source_estab),
    ] {
        if total > 0 {
            let (runs, bin) = (o.runs, &o.conntrend);
            let s = sources::measure(kind, total, runs, bin, &me, (threads, fds), quiet)?;
            sources.push(s);
        }
    }
    let ct_show = (o.ct_entries > 0)
        .then(|| conntrack::measure_show(o, &me, quiet))
        .transpose()?;
    let ct_columns = (o.ct_load > 0)
        .then(|| conntrack::measure_columns(o, &me, threads, fds, quiet))
        .transpose()?;
    let latency = match o.serve_load {
        0 => None,
        _ => Some(serve::latency(o, &me, (threads, fds), quiet)?),
    };
    let memory = match o.serve_scrapes {
        0 => None,
        _ => Some(serve::memory(o, &me, (threads, fds), quiet)?),
    };
    let mut idles = Vec::new();
    if o.idle_secs > 0 && o.idle_runs > 0 {
        netns::enter_fresh()?;
        settle(quiet)?;
        let mut load = Load::build(1_000, 1, threads, &me, fds)?;
        let mut launcher = Launcher::start(&me)?;
        idles = idle::measure(
            &o.conntrend,
            o.idle_secs,
            o.idle_runs,
            &mut load,
            &mut launcher,
        )?;
    }
    println!();
    if !points.is_empty() {
        print!("{}", report::table(&points));
    }
    if let Some(d) = &dst_top {
        println!("\n{}", d.table());
    }
    if !states.is_empty() {
        println!("\n{}", states::report(&states));
    } else if o.network_connections.is_none() && !points.is_empty() {
        println!(
            "\n(states rows left out: pass --network-connections PATH/network_connections.py)"
        );
    }
    if !conns.is_empty() {
        println!("\n{}", conns_report::report(&conns));
    }
    for s in &sources {
        println!("\n{}", s.report());
    }
    if ct_show.is_some() || ct_columns.is_some() {
        println!(
            "\n{}",
            conntrack_report::report(ct_show.as_ref(), ct_columns.as_ref())
        );
    }
    if let Some(l) = &latency {
        println!("\n{}", l.table());
    }
    if let Some(m) = &memory {
        println!("\n{}", m.table());
    }
    for idle in &idles {
        println!("{}", idle.line());
    }
    println!();
    if !points.is_empty() || !idles.is_empty() {
        print!("{}", report::targets(&points, &idles));
    }
    if let Some(d) = &dst_top {
        print!("{}", d.targets());
    }
    print!(
        "{}",
        conntrack_report::targets(ct_show.as_ref(), ct_columns.as_ref())
    );
    if latency.is_some() || memory.is_some() {
        println!("\nTargets (conntrend serve):");
    }
    if let Some(l) = &latency {
        print!("{}", l.targets());
    }
    if let Some(m) = &memory {
        print!(
            "{}",
            m.targets(latency.as_ref().map(|l| l.exporter_hwm_kib()))
        );
    }
    Ok(())
}

/// Builds one load in a fresh namespace and measures the tools on it; at the `--dst-load`, also
/// `--dst` and `top`.
fn point(
    o: &Options,
    me: &str,
    total: usize,
    threads: usize,
    fds: usize,
    quiet: Duration,
) -> io::Result<(Point, Option<DstTop>, Option<states::States>)> {
    netns::enter_fresh()?;
    settle(quiet)?;
    let issue4 = total == o.dst_load;
    let procs = if issue4 { o.procs } else { 1 };
    let load = Load::build(total, procs, threads, me, fds)?;
    let built = probe::floor()?;
    let label = report::label(total);
    eprintln!(
        "load {label}: built in {:.1} s ({:?}); {}",
        load.build_time.as_secs_f64(),
        load.plan,
        built.line()
    );
    let mut launcher = Launcher::start(me)?;
    let mut point = Point::new(total);
    let mut sockets = Vec::new();
    let (runs, note) = alternate(o.runs, &load, |k, measured| {
        let (usage, out) = sample(o, me, &mut launcher, TOOLS[k])?;
        if let (true, "floor", Some(n)) = (measured, TOOLS[k], Counts::parse_sockets(&out)) {
            sockets.push(n);
        }
        Ok(usage)
    })?;
    (point.runs, point.note, point.sockets) = (runs, note, sockets);
    let s = &point.sockets;
    eprintln!(
        "load {label}: {} runs, {}..{} sockets seen by the floor",
        point.runs.len(),
        s.iter().min().unwrap_or(&0),
        s.iter().max().unwrap_or(&0),
    );
    for (i, tool) in TOOLS.iter().enumerate() {
        print_walls(tool, &point.walls(i));
    }
    let dst_top = if issue4 {
        Some(measure_dst_top(o, &load, &mut launcher, &point)?)
    } else {
        None
    };
    let states = match &o.network_connections {
        Some(script) if total <= states::MAX_LOAD => {
            let (runs, note) = alternate(o.runs, &load, |k, _| {
                states::sample(&mut launcher, &o.conntrend, script, k)
            })?;
            for (k, kind) in states::KINDS.iter().enumerate() {
                print_walls(kind, &runs.iter().map(|r| r[k].wall).collect::<Vec<_>>());
            }
            Some(states::States { total, runs, note })
        }
        _ => None,
    };
    drop(load);
    Ok((point, dst_top, states))
}

/// The plain sample, `--dst`, `top` and `top --json` alternately on `load`.
fn measure_dst_top(
    o: &Options,
    load: &Load,
    launcher: &mut Launcher,
    point: &Point,
) -> io::Result<DstTop> {
    let (dst_line, top_line) = dst_top::check(&o.conntrend)?;
    eprintln!(
        "load {}: {dst_line}\n  {top_line}",
        report::label(point.total)
    );
    let mut steady = [Vec::new(), Vec::new()];
    let (runs, note) = alternate(o.runs, load, |k, measured| {
        let mut took = [Vec::new(), Vec::new()];
        let usage = dst_top::sample(launcher, &o.conntrend, k, &mut took)?;
        if measured {
            for (all, these) in steady.iter_mut().zip(took) {
                all.extend(these);
            }
        }
        Ok(usage)
    })?;
    let d = DstTop {
        total: point.total,
        procs: load.plan.holders,
        sockets: measure::median(&point.sockets),
        destinations: load.destinations().len(),
        runs,
        steady,
        dst_line,
        top_line,
        note,
    };
    for (k, kind) in dst_top::KINDS.iter().enumerate() {
        print_walls(kind, &d.runs.iter().map(|r| r[k].wall).collect::<Vec<_>>());
    }
    Ok(d)
}

fn print_walls(what: &str, walls: &[Duration]) {
    let walls: Vec<String> = walls
        .iter()
        .map(|w| format!("{:.1}", w.as_secs_f64() * 1e3))
        .collect();
    eprintln!("  {what:>9} wall ms: {}", walls.join(" "));
}

/// One warm-up round and `runs` measured rounds of `N` samplers in turn (`one(k, measured)` runs
/// sampler `k`). Stops early, after at least [`MIN_RUNS`], when the load's TIME_WAIT sockets
/// would begin to expire before the next round ends; then says so.
fn alternate<const N: usize>(
    runs: usize,
    load: &Load,
    mut one: impl FnMut(usize, bool) -> io::Result<Usage>,
) -> io::Result<(Vec<[Usage; N]>, Option<String>)> {
    let mut out = Vec::new();
    let mut last_round = Duration::ZERO;
    for round in 0..=runs {
        let measured = round.saturating_sub(1);
        let expires_soon = load.plan.time_wait > 0
            && load.time_wait_since.elapsed() + last_round > TIME_WAIT_BUDGET;
        if round > 0 && expires_soon && measured >= MIN_RUNS {
            let note = format!("{measured} runs: TIME_WAIT would have begun to expire");
            return Ok((out, Some(note)));
        }
        let start = Instant::now();
        let mut usages = [Usage::default(); N];
        for (k, slot) in usages.iter_mut().enumerate() {
            *slot = one(k, round > 0)?;
        }
        if round > 0 {
            out.push(usages);
        }
        last_round = start.elapsed();
    }
    Ok((out, None))
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
fn sample(o: &Options, me: &str, l: &mut Launcher, tool: &str) -> io::Result<(Usage, String)> {
    match tool {
        "conntrend" => l.run(&[&o.conntrend, "-c", "1", "-o", "/dev/null"], false),
        "floor" => l.run(&[me, "--floor"], true),
        "floor1" => l.run(&[me, "--floor1"], true),
        "procfs" => l.run(&[me, "--procfs"], true),
        "ss" => {
            let (tcp, _) = l.run(&["ss", "-tan"], false)?;
            let (udp, _) = l.run(&["ss", "-uan"], false)?;
            Ok((tcp.then(udp), String::new()))
        }
        _ => unreachable!("unknown tool {tool}"),
    }
}
