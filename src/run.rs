//! The timeline's run loop: header, a sample per tick, the summary on every ending. Flags have
//! already been checked (config.rs); this room only sequences the sampler, the clock and the
//! writer. [`run_with`] takes all three from the caller, so tests drive it in-process on recorded
//! dumps and a scripted clock; [`run`] wires up the real ones.

use std::io;

use anyhow::{Context, Result};

use crate::alert::{self, AlertExit, Alerts};
use crate::config::{Config, Target};
use crate::diag::Dump;
use crate::output::{self, RunInfo, TimelineWriter};
use crate::reporter::Reporter;
use crate::sample::Extras;
use crate::sampler::Sampler;
use crate::schedule::{Clock, SystemClock, Ticker, Wake};
use crate::session::Session;
use crate::sink::Sink;
use crate::summary::Summary;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Duration, count or a stop signal: the summary was written.
    Finished,
    /// The reader of the output left: nothing more can be written, and that is fine.
    ReaderGone,
    /// `--exit-on-alert`: this alert started; the summary was written.
    Alert(String),
}

/// Runs the timeline as configured. A reader that leaves ends the run quietly with `Ok`.
pub fn run(config: &Config) -> Result<()> {
    let Session { mut sampler, netns } =
        Session::start(config.netns.as_deref(), &config.source, config.protocols)?;
    let (mut writer, fd, tty): (Box<dyn TimelineWriter>, _, _) =
        match (&config.format, &config.target) {
            (output::Format::Prom, Target::File(path)) => {
                (Box::new(output::prom::PromWriter::new(path)), None, false)
            }
            _ => {
                // Stopped while waiting for a FIFO's reader: there is nowhere to write a summary.
                let Some(sink) = open_output(&config.target)? else {
                    return Ok(());
                };
                let (fd, tty) = (sink.raw_fd(), sink.is_tty());
                (
                    output::writer(config.format, config.groups, Box::new(sink)),
                    Some(fd),
                    tty,
                )
            }
        };
    let mut clock = SystemClock::start(fd);
    let reporter = Reporter::new(config.verbose);
    match run_with(
        config,
        netns,
        &mut sampler,
        writer.as_mut(),
        &mut clock,
        &reporter,
    ) {
        Err(e) if is_reader_gone(&e, tty) => Ok(()),
        Ok(Ending::Alert(expr)) => Err(AlertExit(expr).into()),
        other => other.map(|_| ()),
    }
}

/// Opens where a mode's output goes; `None` when a stop signal came while waiting for a FIFO's
/// reader.
pub fn open_output(target: &Target) -> Result<Option<Sink>> {
    match target {
        Target::Stdout => Sink::stdout().map(Some),
        Target::File(path) => Sink::append(path),
    }
    .with_context(|| format!("cannot open {}", target.describe()))
}

/// The loop itself over any sampler, writer and clock. Write errors name `config.target`.
pub fn run_with<D: Dump>(
    config: &Config,
    netns: Option<String>,
    sampler: &mut Sampler<D>,
    writer: &mut dyn TimelineWriter,
    clock: &mut dyn Clock,
    reporter: &Reporter,
) -> Result<Ending> {
    let cannot_write = || format!("cannot write to {}", config.target.describe());
    let pool = sampler.pool();
    let info = RunInfo {
        version: env!("CARGO_PKG_VERSION"),
        interval_sec: config.interval.as_secs() as u32,
        duration_sec: config.duration.map(|d| d.as_secs() as u32),
        count: config.count,
        protocols: config.protocols,
        range_init: (pool.lo, pool.hi),
        netns,
        proc_root: config
            .source
            .proc_root
            .as_ref()
            .map(|p| p.display().to_string()),
        groups: config.groups,
    };
    writer.header(&info).with_context(cannot_write)?;

    let mut summary = Summary::new(clock.epoch_ms());
    let result = sample_loop(config, sampler, writer, &mut summary, clock, reporter);
    if matches!(result, Ok(Ending::ReaderGone)) {
        return result;
    }
    summary.end_ms = clock.epoch_ms();
    summary.elapsed_sec = clock.elapsed().as_secs_f64().round() as u64;
    let written = writer.summary(&summary).with_context(cannot_write);
    match (result, written) {
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(e),
        (Ok(ending), Ok(())) => Ok(ending),
    }
}

/// Samples until the duration, the count, a stop signal or the reader's departure.
fn sample_loop<D: Dump>(
    config: &Config,
    sampler: &mut Sampler<D>,
    writer: &mut dyn TimelineWriter,
    summary: &mut Summary,
    clock: &mut dyn Clock,
    reporter: &Reporter,
) -> Result<Ending> {
    let mut extras = Extras::for_groups(config.groups).with_forecast(config.forecast);
    let mut alerts = Alerts::new(config.alerts.clone());
    let mut ticker = Ticker::new(config.interval);
    loop {
        let taken = sampler.take(clock.epoch_ms(), &mut extras);
        for event in sampler.events() {
            reporter.event(&event);
        }
        let mut sample = taken?;
        extras.finish(sampler.pool(), &mut sample);
        if let Some(note) = extras.take_note() {
            reporter.warn(&note);
        }
        summary.observe(&sample);
        let mut stop = None;
        if !alerts.is_empty() {
            for change in alerts.check(&sample) {
                reporter.warn(&alert::describe(&change, sample.epoch_ms));
                if let alert::Change::Started { expr, .. } = change
                    && config.exit_on_alert
                {
                    stop.get_or_insert(expr);
                }
            }
            summary.alerts = Some(alerts.started);
        }
        writer
            .sample(&sample)
            .with_context(|| format!("cannot write to {}", config.target.describe()))?;
        if let Some(expr) = stop {
            return Ok(Ending::Alert(expr));
        }
        if config.count.is_some_and(|c| summary.samples >= c) || clock.stop_requested() {
            return Ok(Ending::Finished);
        }
        let (next, skipped) = ticker.next_after(clock.elapsed());
        if skipped > 0 {
            reporter.detail(&format!(
                "sampling overran its slot; skipped {skipped} tick(s)"
            ));
        }
        let (wake_at, last) = match config.duration {
            Some(end) if next >= end => (end, true),
            _ => (next, false),
        };
        match clock.wait_until(wake_at) {
            Wake::Due if !last => {}
            Wake::Due | Wake::Stop => return Ok(Ending::Finished),
            Wake::ReaderGone => return Ok(Ending::ReaderGone),
        }
    }
}

/// True when an error means the reader of the output has gone: a closed pipe, or (`tty`) a
/// terminal that hung up.
pub fn is_reader_gone(err: &anyhow::Error, tty: bool) -> bool {
    err.chain().any(|cause| {
        cause.downcast_ref::<io::Error>().is_some_and(|e| {
            e.kind() == io::ErrorKind::BrokenPipe || (tty && e.raw_os_error() == Some(libc::EIO))
        })
    })
}

/// True when a write failed because the reader closed the pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    is_reader_gone(err, false)
}

#[cfg(test)]
mod tests;
