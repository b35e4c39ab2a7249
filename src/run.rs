//! The sampling loop: header, a sample per tick, the summary on every ending. Flags have already
//! been checked (config.rs); this room only sequences the sampler, the schedule and the writer.

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

use anyhow::{Context, Result};

use crate::config::{Config, Target};
use crate::netns;
use crate::output::{self, RunInfo, TimelineWriter};
use crate::sampler::{Sampler, now_ms};
use crate::schedule::{StopSignal, Ticker, Wake};
use crate::summary::{PeakDst, Summary};

/// Runs conntrend as configured. A reader that leaves ends the run quietly with `Ok`.
pub fn run(config: &Config) -> Result<()> {
    let stop = StopSignal::install()?;
    if let Some(path) = &config.netns {
        netns::enter(path)?;
    }
    let mut sampler = Sampler::new(config.tcp, config.udp, config.verbose)?;
    if config.dst {
        sampler.track_destinations();
    }
    let name = config.target.describe();
    let (out, fd) = open(&config.target).with_context(|| format!("cannot open {name}"))?;
    let mut writer = output::writer(config.format, out);
    let pool = sampler.pool();
    let info = RunInfo {
        version: env!("CARGO_PKG_VERSION"),
        interval_sec: config.interval.as_secs() as u32,
        duration_sec: config.duration.map(|d| d.as_secs() as u32),
        count: config.count,
        protocol: config.protocol,
        range_init: (pool.lo, pool.hi),
        netns: config.netns.as_ref().map(|p| p.display().to_string()),
        dst: config.dst,
    };
    writer
        .header(&info)
        .with_context(|| format!("cannot write to {name}"))?;

    let start = Instant::now();
    let mut summary = Summary::new(now_ms());
    if config.dst {
        summary.dst = Some(PeakDst::default());
    }
    let result = sample_loop(
        config,
        &stop,
        &mut sampler,
        writer.as_mut(),
        &mut summary,
        start,
        fd,
    );
    let reader_gone = match &result {
        Ok(gone) => *gone,
        Err(e) => is_broken_pipe(e),
    };
    if reader_gone {
        return Ok(());
    }
    summary.end_ms = now_ms();
    summary.elapsed_sec = start.elapsed().as_secs_f64().round() as u64;
    let written = writer
        .summary(&summary)
        .with_context(|| format!("cannot write to {name}"));
    result.and(written)
}

/// Samples until the duration, the count, a stop signal or the reader's departure (→ `Ok(true)`).
fn sample_loop(
    config: &Config,
    stop: &StopSignal,
    sampler: &mut Sampler,
    writer: &mut dyn TimelineWriter,
    summary: &mut Summary,
    start: Instant,
    fd: RawFd,
) -> Result<bool> {
    let end = config.duration.map(|d| start + d);
    let mut ticker = Ticker::new(start, config.interval);
    loop {
        let sample = sampler.take()?;
        summary.observe(&sample);
        writer
            .sample(&sample)
            .with_context(|| format!("cannot write to {}", config.target.describe()))?;
        if config.count.is_some_and(|c| summary.samples >= c) || stop.requested() {
            return Ok(false);
        }
        let (next, skipped) = ticker.next_after(Instant::now());
        if skipped > 0 && config.verbose {
            eprintln!("conntrend: sampling overran its slot; skipped {skipped} tick(s)");
        }
        let (wake_at, last) = match end {
            Some(end) if next >= end => (end, true),
            _ => (next, false),
        };
        match stop.wait_until(wake_at, || reader_gone(fd)) {
            Wake::Due if !last => {}
            Wake::Due | Wake::Stop => return Ok(false),
            Wake::ReaderGone => return Ok(true),
        }
    }
}

/// Opens the target for appending (a log is never truncated).
fn open(target: &Target) -> io::Result<(Box<dyn Write>, RawFd)> {
    Ok(match target {
        Target::Stdout => (
            Box::new(BufWriter::new(io::stdout().lock())),
            io::stdout().as_raw_fd(),
        ),
        Target::File(path) => {
            let file = OpenOptions::new().append(true).create(true).open(path)?;
            let fd = file.as_raw_fd();
            (Box::new(BufWriter::new(file)), fd)
        }
    })
}

/// True when `fd` is a pipe or socket whose reader has gone (`conntrend | head -3`).
fn reader_gone(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n > 0 && pfd.revents & (libc::POLLERR | libc::POLLHUP) != 0
}

/// True when a write failed because the reader closed the pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}
