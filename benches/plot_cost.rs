//! `conntrend plot` on a generated 14-day log at 1 s (1,209,600 samples, ~70 MB of CSV, one
//! one-sample spike): wall time, peak RSS and the SVG's size (issue 13: under 2 s and 1 MB).
//!
//! `cargo bench --bench plot_cost -- [--samples N] [--runs N] [--conntrend PATH]`

#[path = "sample_cost/measure.rs"]
#[allow(dead_code)]
mod measure;

use std::io::{BufWriter, Write};
use std::process::ExitCode;

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    measure::flag(args, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A CSV log like `conntrend -i 1` writes: used wanders (a fixed pseudo-random walk), one
/// sample in the middle spikes to the ceiling.
fn generate(path: &std::path::Path, samples: u64) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    writeln!(
        out,
        "# conntrend 0.1.0  sampling=1s  duration=unlimited  range_init=32768-60999"
    )?;
    writeln!(
        out,
        "# columns: epoch_ms,total_port,used,free,udp_used,tcp_used,time_wait,estab,syn,close_wait,last_ack,fin_wait"
    )?;
    let (mut used, mut rng) = (5_000i64, 0x2545_f491u64);
    for i in 0..samples {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        used = (used + (rng % 101) as i64 - 50).clamp(0, 28_232);
        let u = if i == samples * 5 / 8 { 28_232 } else { used };
        writeln!(
            out,
            "{},28232,{u},{},3,{},{},{},0,1,0,0",
            1_796_000_000_000 + i * 1000,
            28_232 - u,
            u - 3,
            u / 2,
            u / 3
        )?;
    }
    writeln!(out, "#\n# summary: samples={samples}")?;
    out.flush()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        return ExitCode::SUCCESS;
    }
    let samples = arg(&args, "--samples", 1_209_600);
    let runs = arg(&args, "--runs", 5).max(1);
    let bin = measure::flag(&args, "--conntrend")
        .unwrap_or(env!("CARGO_BIN_EXE_conntrend"))
        .to_string();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (log, svg) = (dir.path().join("log.csv"), dir.path().join("out.svg"));
    if let Err(e) = generate(&log, samples) {
        eprintln!("cannot write the log: {e}");
        return ExitCode::FAILURE;
    }
    let (log_s, svg_s) = (
        log.to_string_lossy().into_owned(),
        svg.to_string_lossy().into_owned(),
    );
    let argv = [bin.as_str(), "plot", log_s.as_str(), "-o", svg_s.as_str()];
    let results = match measure::repeat(&argv, runs) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let wall = measure::median(
        &results
            .iter()
            .map(|u| u.wall.as_micros())
            .collect::<Vec<_>>(),
    ) as f64
        / 1e6;
    let rss = results.iter().map(|u| u.maxrss_kib).max().unwrap_or(0) as f64 * 1024.0 / 1e6;
    let size = std::fs::metadata(&svg).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    let mb = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    let spike = std::fs::read_to_string(&svg)
        .unwrap_or_default()
        .contains("peak used 28232");
    println!("| samples | log MB | runs | wall s | peak RSS MB | SVG MB | spike marked |");
    println!("|---:|---:|---:|---:|---:|---:|---|");
    println!("| {samples} | {mb:.1} | {runs} | {wall:.2} | {rss:.1} | {size:.3} | {spike} |");
    let met = |ok: bool| if ok { "met" } else { "missed" };
    println!("\n- under 2 s: {wall:.2} s: {}", met(wall < 2.0));
    println!("- SVG under 1 MB: {size:.3} MB: {}", met(size < 1.0));
    ExitCode::SUCCESS
}
