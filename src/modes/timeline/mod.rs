//! The timeline's run loop: header, a sample per tick, the summary on every ending. Flags have
//! already been checked (cli::lower); this room only sequences the sampler, the clock and the
//! writer. [`run_with`] takes all three from the caller, so tests drive it in-process on recorded
//! dumps and a scripted clock; [`run`] wires up the real ones.

use anyhow::{Context, Result};

use crate::app::exit::{Stop, is_reader_gone};
use crate::app::rounds::{self, Ending, Schedule};
use crate::report::alert::{self, Alerts};
use std::path::PathBuf;
use std::time::Duration;

use crate::app::schedule::{Clock, SystemClock};
use crate::app::session::Session;
use crate::app::settings::{Sources, Target};
use crate::app::sink::Sink;
use crate::diag::Dump;
use crate::diag::Protocols;
use crate::engine::extras::Extras;
use crate::engine::sampler::Sampler;
use crate::fold::forecast::Window;
use crate::report::alert::Alert;
use crate::report::output::{self, Format, RunInfo, TimelineWriter};
use crate::report::reporter::Reporter;
use crate::report::schema::Groups;
use crate::report::summary::Summary;

/// The timeline's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub interval: Duration,
    /// `None`: until interrupted, or until the count.
    pub duration: Option<Duration>,
    pub count: Option<u64>,
    pub target: Target,
    pub protocols: Protocols,
    pub format: Format,
    /// The column groups beyond the base columns (`--dst`, `--time iso`).
    pub groups: Groups,
    /// `--dst-top`: the busiest destinations `--format prom` writes (0: none, and for CSV/JSON).
    pub dst_top: usize,
    /// `--forecast`: the window (samples or a span).
    pub forecast: Option<Window>,
    /// `--alert`, checked against the columns of `groups`.
    pub alerts: Vec<Alert>,
    pub exit_on_alert: bool,
    /// The network namespace file to enter, if not our own.
    pub netns: Option<PathBuf>,
    pub source: Sources,
    pub verbose: bool,
}

/// Runs the timeline as configured. A reader that leaves ends the run quietly with `Ok`.
pub fn run(config: &Config) -> Result<()> {
    let Session { mut sampler, netns } =
        Session::start(config.netns.as_deref(), &config.source, config.protocols)?;
    let (mut writer, mut clock, tty): (Box<dyn TimelineWriter>, _, _) =
        match (&config.format, &config.target) {
            (output::Format::Prom, Target::File(path)) => (
                Box::new(output::prom::PromWriter::new(path, config.dst_top)),
                SystemClock::start(None)?,
                false,
            ),
            _ => {
                // Stopped while waiting for a FIFO's reader: there is nowhere to write a summary.
                let Some(sink) = Sink::open(&config.target)? else {
                    return Ok(());
                };
                let (clock, tty) = (SystemClock::start(Some(sink.as_fd()))?, sink.is_tty());
                (
                    output::writer(config.format, config.groups, Box::new(sink)),
                    clock,
                    tty,
                )
            }
        };
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
        Ok(Ending::Alert(expr)) => Err(Stop::Alert(expr).into()),
        other => other.map(|_| ()),
    }
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
    // Decided before the header, which names it; --source bpf with --dst or --owners fails here.
    let counted = sampler.counts_in_kernel(Extras::need_records(config.groups))?;
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
        source: counted.then_some("bpf"),
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
    let mut extras = Extras::for_groups(config.groups)
        .with_dst_top(config.dst_top)
        .with_forecast(config.forecast);
    let mut alerts = Alerts::new(config.alerts.clone());
    let schedule = Schedule {
        interval: Some(config.interval),
        count: config.count,
        duration: config.duration,
    };
    rounds::run(&schedule, clock, reporter, false, |clock| {
        let epoch_ms = clock.epoch_ms();
        let started = std::time::Instant::now();
        let mut sample = rounds::take(sampler, reporter, |s| s.take(epoch_ms, &mut extras))?;
        extras.finish(sampler.pool(), &mut sample);
        reporter.detail(&format!(
            "sample took {:.1} ms",
            started.elapsed().as_secs_f64() * 1e3
        ));
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
        Ok(stop.map(Ending::Alert))
    })
}

#[cfg(test)]
mod tests;
