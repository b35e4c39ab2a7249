//! `conntrend states`: the per-family state table that the network-connections script prints
//! (same keys, same numbers), from the sampler's one pass instead of a Python regex per line.
//! One object, or with `-i`/`-c` one line per sample with `epoch_ms`.

mod table;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

pub use table::{StateTable, StatesObject};

use crate::app::rounds::{self, Ending, Schedule};
use crate::app::schedule::Clock;
use crate::app::session::Session;
use crate::app::settings::{Sources, Target};
use crate::diag::{Dump, Protocols};
use crate::engine::sampler::Sampler;
use crate::report::reporter::Reporter;

/// `conntrend states`'s settings.
#[derive(Debug, Clone)]
pub struct StatesConfig {
    pub all: bool,
    /// `Some` when streaming (`-i` or `-c`): one line per object, with `epoch_ms`.
    pub interval: Option<Duration>,
    pub count: Option<u64>,
    pub pretty: bool,
    pub target: Target,
    pub netns: Option<PathBuf>,
    pub source: Sources,
}

pub fn run(config: &StatesConfig) -> Result<()> {
    let Session { mut sampler, .. } = Session::start_with(
        config.netns.as_deref(),
        &config.source,
        Protocols::ALL,
        false,
    )?;
    rounds::on_output(&config.target, |out, tty, clock, reporter| {
        run_with(config, &mut sampler, out, tty, clock, reporter)
    })
}

/// The loop over any sampler, output and clock: one object per round.
pub fn run_with<D: Dump>(
    config: &StatesConfig,
    sampler: &mut Sampler<D>,
    out: &mut dyn Write,
    tty: bool,
    clock: &mut dyn Clock,
    reporter: &Reporter,
) -> Result<Ending> {
    let name = config.target.describe();
    let mut table = StateTable::new(config.all);
    let streaming = config.interval.is_some();
    let schedule = Schedule {
        interval: config.interval,
        count: config.count,
        duration: None,
    };
    let mut line = Vec::new();
    rounds::run(&schedule, clock, reporter, tty, |clock| {
        let epoch_ms = clock.epoch_ms();
        rounds::take(sampler, reporter, |s| s.take(epoch_ms, &mut table))?;
        let object = StatesObject {
            epoch_ms: streaming.then_some(epoch_ms),
            table: &table,
        };
        line.clear();
        if config.pretty {
            serde_json::to_writer_pretty(&mut line, &object)?;
        } else {
            serde_json::to_writer(&mut line, &object)?;
        }
        line.push(b'\n');
        out.write_all(&line)
            .with_context(|| format!("cannot write to {name}"))?;
        Ok(None)
    })
}

#[cfg(test)]
mod tests;
