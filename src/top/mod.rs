//! `conntrend top`: a snapshot report for a person (or one JSON object for a machine) of the
//! pool, every TCP state, the busiest destinations and the processes holding pool ports. Reuses
//! the sampler (seam + fold) and the destination fold; only the owners scan is its own.

mod procs;
mod render;
mod report;

use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::config::TopConfig;
use crate::diag::Protocols;
use crate::schedule::{Clock, SystemClock, Ticker, Wake};
use crate::session::Session;

pub use report::{Report, build};

/// Clears a terminal and puts the cursor home, for refreshing in place.
const CLEAR: &str = "\x1b[H\x1b[2J";

pub fn run(config: &TopConfig) -> Result<()> {
    crate::sink::check_stdout_open().context("cannot write the report")?;
    let Session { mut sampler, netns } = Session::start(config.netns.as_deref(), Protocols::ALL)?;
    let mut out = io::stdout().lock();
    let refresh_in_place = config.refresh.is_some() && !config.json && io::stdout().is_terminal();
    let mut clock = SystemClock::start(None);
    let mut ticker = config.refresh.map(Ticker::new);
    loop {
        let report = build(
            &mut sampler,
            clock.epoch_ms(),
            config.rows,
            config.sort,
            netns.clone(),
        )?;
        let text = if config.json {
            serde_json::to_string(&report)? + "\n"
        } else {
            render::text(&report)
        };
        if refresh_in_place {
            out.write_all(CLEAR.as_bytes())
                .context("cannot write the report")?;
        }
        out.write_all(text.as_bytes())
            .context("cannot write the report")?;
        out.flush().context("cannot write the report")?;
        let Some(ticker) = ticker.as_mut() else {
            return Ok(());
        };
        if !refresh_in_place && !config.json {
            writeln!(out).context("cannot write the report")?;
        }
        let (next, _): (Duration, u32) = ticker.next_after(clock.elapsed());
        match clock.wait_until(next) {
            Wake::Due => {}
            Wake::Stop | Wake::ReaderGone => return Ok(()),
        }
    }
}
