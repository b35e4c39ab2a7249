//! `conntrend states`: the per-family state table that the network-connections script prints
//! (same keys, same numbers), from the sampler's one pass instead of a Python regex per line.
//! One object, or with `-i`/`-c` one line per sample with `epoch_ms`.

mod table;

use std::io::Write as _;

use anyhow::{Context, Result};

pub use table::{STATE_NAMES, StateTable, StatesObject};

use crate::config::StatesConfig;
use crate::diag::Protocols;
use crate::reporter::Reporter;
use crate::run::{is_reader_gone, open_output};
use crate::schedule::{Clock, SystemClock, Ticker, another_round};
use crate::session::Session;

pub fn run(config: &StatesConfig) -> Result<()> {
    let Session { mut sampler, .. } = Session::start_with(
        config.netns.as_deref(),
        &config.source,
        Protocols::ALL,
        false,
    )?;
    let name = config.target.describe();
    let Some(mut out) = open_output(&config.target)? else {
        return Ok(());
    };
    let tty = out.is_tty();
    let mut clock = SystemClock::start(Some(out.raw_fd()));
    let reporter = Reporter::new(false);
    let mut table = StateTable::new(config.all);
    let streaming = config.interval.is_some();
    let mut ticker = config.interval.map(Ticker::new);
    let (mut written, mut line) = (0u64, Vec::new());
    loop {
        let epoch_ms = clock.epoch_ms();
        let taken = sampler.take(epoch_ms, &mut table);
        for event in sampler.events() {
            reporter.event(&event);
        }
        taken?;
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
        match out
            .write_all(&line)
            .with_context(|| format!("cannot write to {name}"))
        {
            Err(e) if is_reader_gone(&e, tty) => return Ok(()),
            other => other?,
        }
        written += 1;
        if !another_round(ticker.as_mut(), written, config.count, &mut clock) {
            return Ok(());
        }
    }
}
