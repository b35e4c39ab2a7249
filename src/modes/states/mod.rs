//! `conntrend states`: the per-family state table that the network-connections script prints
//! (same keys, same numbers), from the sampler's one pass instead of a Python regex per line.
//! One object, or with `-i`/`-c` one line per sample with `epoch_ms`; `--pretty` indents as the
//! script's `json.dumps(..., indent=4)` does.

mod table;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

pub use table::{StateTable, StatesObject};

use crate::app::rounds::{self, Ending, Schedule};
use crate::app::schedule::Clock;
use crate::app::session::Session;
use crate::app::settings::{Sources, Target};
use crate::diag::{Dump, Protocols, Replay, Source};
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

/// Whether a dump source reads /proc/net's text, as network-connections does: the same kernel
/// state code can count differently from netlink (see [`StateTable`]).
pub trait Origin {
    fn reads_proc(&self) -> bool;
}

impl Origin for Source {
    fn reads_proc(&self) -> bool {
        matches!(self, Source::Proc(_))
    }
}

/// Recorded netlink dumps.
impl Origin for Replay {
    fn reads_proc(&self) -> bool {
        false
    }
}

/// The loop over any sampler, output and clock: one object per round.
pub fn run_with<D: Dump + Origin>(
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
        // Known only now: a refused netlink socket may have sent this very sample to /proc.
        table.read_from_proc(sampler.source().reads_proc());
        let object = StatesObject {
            epoch_ms: streaming.then_some(epoch_ms),
            table: &table,
        };
        line.clear();
        if config.pretty {
            // json.dumps(..., indent=4): four spaces a level, ": " after a key, a bare "," at
            // the end of a line.
            let pretty = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            object.serialize(&mut serde_json::Serializer::with_formatter(
                &mut line, pretty,
            ))?;
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
