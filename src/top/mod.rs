//! `conntrend top`: a snapshot report for a person (or one JSON object for a machine) of the
//! pool, every TCP state, the busiest destinations and the processes holding pool ports. Reuses
//! the sampler (seam + fold) and the destination fold; only the owners scan is its own.

pub mod procs;
mod render;
mod report;

use std::io::{self, IsTerminal, Write as _};

use anyhow::{Context, Result};

use crate::config::TopConfig;
use crate::conntrack::usage::UsageReader;
use crate::diag::Protocols;
use crate::reporter::Reporter;
use crate::schedule::{Clock, SystemClock, Ticker, Wake};
use crate::session::Session;
use crate::sink::Sink;

pub use report::{Report, build};

/// Clears a terminal and puts the cursor home, for refreshing in place.
const CLEAR: &str = "\x1b[H\x1b[2J";

pub fn run(config: &TopConfig) -> Result<()> {
    let Session { mut sampler, netns } =
        Session::start(config.netns.as_deref(), &config.source, Protocols::ALL)?;
    // The same output path as the timeline: a stalled reader cannot hold a stop signal up.
    let mut out = Sink::stdout().context("cannot write the report")?;
    let refresh_in_place = config.refresh.is_some() && !config.json && io::stdout().is_terminal();
    let mut clock = SystemClock::start(Some(out.raw_fd()));
    let mut ticker = config.refresh.map(Ticker::new);
    let reporter = Reporter::new(false);
    // The conntrack line, when this namespace has a table (a saved proc tree has none of ours).
    let mut conntrack = config
        .source
        .proc_root
        .is_none()
        .then(|| UsageReader::open().ok())
        .flatten();
    loop {
        let report = build(
            &mut sampler,
            clock.epoch_ms(),
            config.rows,
            config.sort,
            netns.clone(),
            config.source.proc_root.is_none(),
        );
        for event in sampler.events() {
            reporter.event(&event);
        }
        let mut report = report?;
        report.conntrack = conntrack
            .as_mut()
            .and_then(|r| r.read().ok())
            .map(|u| report::CtUse {
                used: u.used,
                max: u.max,
            });
        let mut text = if refresh_in_place {
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
            if config.refresh.is_some() && !refresh_in_place {
                text.push('\n');
            }
        }
        match out.write_all(text.as_bytes()) {
            Err(e) if out.is_tty() && e.raw_os_error() == Some(libc::EIO) => return Ok(()),
            other => other.context("cannot write the report")?,
        }
        let Some(ticker) = ticker.as_mut() else {
            return Ok(());
        };
        let (next, _) = ticker.next_after(clock.elapsed());
        match clock.wait_until(next) {
            Wake::Due => {}
            Wake::Stop | Wake::ReaderGone => return Ok(()),
        }
    }
}
