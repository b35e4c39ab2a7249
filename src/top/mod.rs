//! `conntrend top`: a snapshot report for a person (or one JSON object for a machine) of the
//! pool, every TCP state, the busiest destinations and the processes holding pool ports. Reuses
//! the sampler (seam + fold) and the destination fold; only the owners scan is its own.

mod procs;
mod render;
mod report;

use std::io::{self, IsTerminal, Write};
use std::time::Instant;

use anyhow::{Context, Result};

use crate::config::TopConfig;
use crate::netns;
use crate::sampler::Sampler;
use crate::schedule::{StopSignal, Ticker, Wake};

pub use report::{Report, build};

/// Clears a terminal and puts the cursor home, for refreshing in place.
const CLEAR: &str = "\x1b[H\x1b[2J";

pub fn run(config: &TopConfig) -> Result<()> {
    let stop = StopSignal::install()?;
    if let Some(path) = &config.netns {
        netns::enter(path)?;
    }
    let netns = config.netns.as_ref().map(|p| p.display().to_string());
    let mut sampler = Sampler::new(true, true, false)?;
    sampler.track_destinations();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let mut out = io::stdout().lock();
    let refresh_in_place = config.refresh.is_some() && !config.json && io::stdout().is_terminal();
    let start = Instant::now();
    let mut ticker = config.refresh.map(|every| Ticker::new(start, every));
    loop {
        let report = build(&mut sampler, config.rows, netns.clone())?;
        let text = if config.json {
            serde_json::to_string(&report)? + "\n"
        } else {
            render::text(&report, &passwd)
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
        let (next, _) = ticker.next_after(Instant::now());
        match stop.wait_until(next, || false) {
            Wake::Due => {}
            Wake::Stop | Wake::ReaderGone => return Ok(()),
        }
    }
}
