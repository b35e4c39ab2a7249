//! `conntrend top`: a snapshot report for a person (or one JSON object for a machine) of the
//! pool, every TCP state, the busiest destinations and the processes holding pool ports. Reuses
//! the sampler (seam + fold) and the destination fold; only the owners scan is its own.

mod render;
mod report;

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::app::rounds::{self, Ending, Schedule};
use crate::app::schedule::{Clock, SystemClock};
use crate::app::session::Session;
use crate::app::settings::Sources;
use crate::app::sink::Sink;
use crate::diag::Dump;
use crate::diag::Protocols;
use crate::engine::sampler::Sampler;
use crate::probes::conntrack::usage::UsageReader;
use crate::report::reporter::Reporter;

pub use report::build;

/// Clears a terminal and puts the cursor home, for refreshing in place.
const CLEAR: &str = "\x1b[H\x1b[2J";

/// `conntrend top`'s settings.
#[derive(Debug, Clone)]
pub struct TopConfig {
    pub rows: usize,
    /// `None`: one report.
    pub refresh: Option<Duration>,
    pub sort: Sort,
    pub json: bool,
    pub netns: Option<PathBuf>,
    pub source: Sources,
}

/// The order of `top`'s process table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Ports,
    CloseWait,
    Established,
}

pub fn run(config: &TopConfig) -> Result<()> {
    let Session { mut sampler, netns } =
        Session::start(config.netns.as_deref(), &config.source, Protocols::ALL)?;
    // The same output path as the timeline: a stalled reader cannot hold a stop signal up.
    let mut out = Sink::stdout().context("cannot write the report")?;
    let in_place = config.refresh.is_some() && !config.json && io::stdout().is_terminal();
    let tty = out.is_tty();
    let mut clock = SystemClock::start(Some(out.as_fd()))?;
    // The conntrack line, when this namespace has a table (a saved proc tree has none of ours).
    let conntrack = config
        .source
        .proc_root
        .is_none()
        .then(|| UsageReader::open().ok())
        .flatten();
    let view = View {
        netns,
        in_place,
        tty,
    };
    let reporter = Reporter::new(false);
    run_with(
        config,
        &view,
        &mut sampler,
        conntrack,
        &mut out,
        &mut clock,
        &reporter,
    )
    .map(|_| ())
}

/// Where the reports go: the namespace they name, and whether the output is a terminal (refreshed
/// in place, or only a terminal at all, where a hang-up means the reader has gone).
pub struct View {
    pub netns: Option<String>,
    pub in_place: bool,
    pub tty: bool,
}

/// The loop over any sampler, output and clock: one report per round.
pub fn run_with<D: Dump>(
    config: &TopConfig,
    view: &View,
    sampler: &mut Sampler<D>,
    mut conntrack: Option<UsageReader>,
    out: &mut dyn Write,
    clock: &mut dyn Clock,
    reporter: &Reporter,
) -> Result<Ending> {
    let live = config.source.proc_root.is_none();
    let schedule = Schedule {
        interval: config.refresh,
        count: None,
        duration: None,
    };
    let mut folds = report::Folds::new(live);
    rounds::run(&schedule, clock, reporter, view.tty, |clock| {
        let epoch_ms = clock.epoch_ms();
        let netns = view.netns.clone();
        let mut report = rounds::take(sampler, reporter, |s| {
            build(s, &mut folds, epoch_ms, config.rows, config.sort, netns)
        })?;
        report.conntrack = conntrack
            .as_mut()
            .and_then(|r| r.read().ok())
            .map(|u| report::CtUse {
                used: u.used,
                max: u.max,
            });
        let mut text = if view.in_place {
            CLEAR.to_string()
        } else {
            String::new()
        };
        if config.json {
            text += &serde_json::to_string(&report)?;
            text.push('\n');
        } else {
            text += &render::text(&report);
            // Reports that follow one another (not in place) are set apart by a blank line.
            if config.refresh.is_some() && !view.in_place {
                text.push('\n');
            }
        }
        out.write_all(text.as_bytes())
            .context("cannot write the report")?;
        Ok(None)
    })
}

#[cfg(test)]
mod tests;
