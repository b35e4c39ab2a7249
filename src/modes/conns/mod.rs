//! `conntrend conns`: illumos connstat's per-connection report on Linux. One TCP dump per report
//! through the sampler's seam, asking the kernel only for the extensions the chosen fields need
//! and filtering in the kernel (state mask, bytecode); each record that passes is formatted into
//! a reused buffer as it arrives.

pub mod fields;
pub mod filter;
mod report;

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, Result};

pub use fields::Field;
pub use filter::Filter;
pub use report::Style;

use crate::app::rounds::{self, Ending, Schedule};
use crate::app::schedule::Clock;
use crate::app::session::Session;
use crate::app::settings::{Sources, Target};
use crate::diag::{Dump, Protocols};
use crate::engine::sampler::Sampler;
use crate::probes::owners::Owners;
use crate::report::reporter::Reporter;
use crate::util::time;

/// `-T`: a line before each report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    /// Seconds since the epoch.
    Unix,
    /// date(1)'s default format, local time.
    Date,
}

/// `conntrend conns`'s settings.
#[derive(Debug, Clone)]
pub struct ConnsConfig {
    pub filter: Filter,
    pub fields: Vec<Field>,
    pub style: Style,
    pub stamp: Option<Stamp>,
    /// `None`: one report.
    pub interval: Option<Duration>,
    pub count: Option<u64>,
    /// Filter in the kernel too (off only to check that it changes nothing).
    pub kernel_filter: bool,
    pub netns: Option<std::path::PathBuf>,
    pub source: Sources,
}

pub fn run(config: &ConnsConfig) -> Result<()> {
    let Session { mut sampler, .. } = Session::start_with(
        config.netns.as_deref(),
        &config.source,
        Protocols::TCP,
        false,
    )?;
    // Each connection is a record: `--source bpf` is refused here, before any header is written.
    sampler.counts_in_kernel(true)?;
    rounds::on_output(&Target::Stdout, |out, tty, clock, reporter| {
        run_with(config, &mut sampler, out, tty, clock, reporter)
    })
}

/// The loop over any sampler, output and clock: one report per round.
pub fn run_with<D: Dump, W: Write>(
    config: &ConnsConfig,
    sampler: &mut Sampler<D>,
    out: &mut W,
    tty: bool,
    clock: &mut dyn Clock,
    reporter: &Reporter,
) -> Result<Ending> {
    let needs = config
        .fields
        .iter()
        .fold(fields::Needs::default(), |n, f| fields::Needs {
            extensions: n.extensions | f.needs().extensions,
            owner: n.owner || f.needs().owner,
        });
    sampler.set_query(&config.filter.query(needs.extensions, config.kernel_filter));
    let schedule = Schedule {
        interval: config.interval,
        count: config.count,
        duration: None,
    };
    let (mut buf, mut value) = (Vec::with_capacity(64 * 1024), Vec::new());
    rounds::run(&schedule, clock, reporter, tty, |clock| {
        let epoch_ms = clock.epoch_ms();
        if let Some(stamp) = config.stamp {
            // As connstat: in parsable output the line starts with "= ", so that
            // `grep -v '^='` leaves the rows alone.
            if config.style == Style::Parsable {
                buf.extend_from_slice(b"= ");
            }
            timestamp(stamp, epoch_ms, &mut buf);
        }
        if let Style::Text { addr_width } = config.style {
            report::header(&config.fields, addr_width, &mut buf);
        }
        let owners = if needs.owner {
            Owners::scan_all()
        } else {
            Owners::default()
        };
        let mut rows = report::Rows {
            filter: &config.filter,
            fields: &config.fields,
            style: config.style,
            owners: &owners,
            epoch_ms,
            out: &mut *out,
            buf: &mut buf,
            value: &mut value,
            rows: 0,
            error: None,
        };
        let taken = rounds::take(sampler, reporter, |s| s.take_once(epoch_ms, &mut rows));
        rows.flush();
        let written = rows.error.take();
        taken?;
        match written {
            Some(e) => Err(e).context("cannot write to standard output"),
            None => Ok(None),
        }
    })
}

/// The `-T` line: `u` seconds since the epoch, `d` as date(1) prints the local time.
fn timestamp(stamp: Stamp, epoch_ms: u64, out: &mut Vec<u8>) {
    let secs = epoch_ms / 1000;
    match stamp {
        Stamp::Unix => {
            let _ = writeln!(out, "{secs}");
        }
        Stamp::Date => {
            out.extend_from_slice(time::date(epoch_ms).as_bytes());
            out.push(b'\n');
        }
    }
}

#[cfg(test)]
mod tests;
