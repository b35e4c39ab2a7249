//! `conntrend rtt -r FILE -Q > /dev/null` on a generated capture: by default 10 million packets
//! over 10,000 flows (issue 11's figure: ≥ 1.5 million packets per second, peak RSS ≤ 32 MB).
//!
//! Each flow exchanges rounds of a 100-byte data segment and its ACK, both with timestamps, so
//! every packet closes a timestamp RTT and every ACK a sequence RTT: the engine's busiest case.
//! Flows are interleaved round-robin, one packet per microsecond. The capture is written once to
//! a temporary file (~1 GB for 10M packets), then conntrend reads it `--runs` times.
//!
//! `cargo bench --bench rtt_cost -- [--packets N] [--flows N] [--runs N] [--conntrend PATH]
//! [--capture PATH]` (`--capture` keeps the capture there, and reuses it if it exists, e.g. to
//! profile conntrend on it).

#[path = "sample_cost/measure.rs"]
#[allow(dead_code)]
mod measure;

use std::io::{BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::time::Instant;

use conntrend::api::rtt::{ACK, Segment, frame};

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    measure::flag(args, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Writes the capture: classic pcap, microsecond timestamps, Ethernet.
fn generate(path: &std::path::Path, packets: u64, flows: u64) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
    out.write_all(&2u16.to_le_bytes())?;
    out.write_all(&4u16.to_le_bytes())?;
    out.write_all(&[0; 8])?;
    out.write_all(&65535u32.to_le_bytes())?;
    out.write_all(&1u32.to_le_bytes())?;
    let server: IpAddr = Ipv4Addr::new(10, 200, 0, 1).into();
    for k in 0..packets {
        let (flow, from_client) = ((k / 2) % flows, k % 2 == 0);
        let round = (k / (2 * flows)) as u32;
        let client: IpAddr = Ipv4Addr::new(10, (flow >> 8) as u8, flow as u8, 1).into();
        let seg = if from_client {
            Segment {
                src: client,
                dst: server,
                sport: 40000,
                dport: 80,
                seq: 1 + round * 100,
                ack: 1,
                flags: ACK,
                window: 1000,
                payload: 100,
                ts: Some((2 * round + 1, 2 * round)),
            }
        } else {
            Segment {
                src: server,
                dst: client,
                sport: 80,
                dport: 40000,
                seq: 1,
                ack: 1 + (round + 1) * 100,
                flags: ACK,
                window: 1000,
                payload: 0,
                ts: Some((2 * round + 2, 2 * round + 1)),
            }
        };
        let data = frame(&seg);
        let us = 1_700_000_000_000_000 + k;
        out.write_all(&((us / 1_000_000) as u32).to_le_bytes())?;
        out.write_all(&((us % 1_000_000) as u32).to_le_bytes())?;
        out.write_all(&(data.len() as u32).to_le_bytes())?;
        out.write_all(&(data.len() as u32).to_le_bytes())?;
        out.write_all(&data)?;
    }
    out.flush()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo test --benches` runs this without --bench: nothing to do then.
    if !args.iter().any(|a| a == "--bench") {
        return ExitCode::SUCCESS;
    }
    let packets = arg(&args, "--packets", 10_000_000);
    let flows = arg(&args, "--flows", 10_000);
    let runs = arg(&args, "--runs", 3).max(1);
    let bin = measure::flag(&args, "--conntrend")
        .unwrap_or(env!("CARGO_BIN_EXE_conntrend"))
        .to_string();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let kept = measure::flag(&args, "--capture").map(std::path::PathBuf::from);
    let file = kept
        .clone()
        .unwrap_or_else(|| dir.path().join("bench.pcap"));
    let t = Instant::now();
    let reuse = kept.is_some() && file.exists();
    if let Err(e) = if reuse {
        Ok(())
    } else {
        generate(&file, packets, flows)
    } {
        eprintln!("cannot write the capture: {e}");
        return ExitCode::FAILURE;
    }
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    println!(
        "capture: {packets} packets, {flows} flows, {:.0} MB, written in {:.1} s",
        size as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let path = file.to_string_lossy().into_owned();
    let argv = [bin.as_str(), "rtt", "-Q", "-r", path.as_str()];
    let results = match measure::repeat(&argv, runs) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let walls: Vec<u128> = results.iter().map(|u| u.wall.as_micros()).collect();
    let wall = measure::median(&walls) as f64 / 1e6;
    let cpu = measure::median(
        &results
            .iter()
            .map(|u| u.cpu.as_micros())
            .collect::<Vec<_>>(),
    ) as f64
        / 1e6;
    let rss = results.iter().map(|u| u.maxrss_kib).max().unwrap_or(0) as f64 * 1024.0 / 1e6;
    let pps = packets as f64 / wall;
    println!();
    println!("| packets | flows | runs | wall s | CPU s | packets/s | peak RSS MB |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {packets} | {flows} | {runs} | {wall:.2} | {cpu:.2} | {:.2}M | {rss:.1} |",
        pps / 1e6
    );
    println!();
    let met = |ok: bool| if ok { "met" } else { "missed" };
    println!(
        "- ≥ 1.5M packets/s: {:.2}M: {}",
        pps / 1e6,
        met(pps >= 1.5e6)
    );
    println!(
        "- peak RSS ≤ 32 MB at {flows} flows: {rss:.1} MB: {}",
        met(rss <= 32.0)
    );
    ExitCode::SUCCESS
}
