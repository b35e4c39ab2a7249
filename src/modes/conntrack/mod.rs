//! `conntrend conntrack` (alias `ct`): the netfilter connection tracking table of a network
//! namespace — its entries (`show`), usage and timeouts (`config show`, `config set`), `flush`,
//! the kernel's statistics (`stats`), and conntrack(8)'s `delete` and `events` — shaped like the
//! grout router's commands. The entries and events come from ctnetlink over the same socket loop
//! as the sock_diag seam; usage and settings from the namespace's sysctls. `--conntrack` on the
//! timeline and `top`'s conntrack line read [`usage::UsageReader`].
//!
//! [`usage::UsageReader`]: crate::probes::conntrack::usage::UsageReader

pub mod config;
pub mod delete;
pub mod events;
pub mod filter;
pub mod show;
pub mod table;

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::app::exit::is_reader_gone;
use crate::app::session::Session;
use crate::app::settings::Target;
use crate::app::sink::Sink;
use crate::diag::DiagError;
use crate::diag::ctnetlink::CtSocket;
use crate::diag::ctnetlink::entry::Entry;
use crate::probes::conntrack::sysctl::{DIR, Sysctls};
use crate::report::reporter::say;
use events::EventsConfig;
use filter::CtFilter;
use show::{columns, entry_rows, json_row};
use table::Table;

/// What `conntrend conntrack` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CtAction {
    Show {
        filter: CtFilter,
        json: bool,
    },
    ConfigShow {
        json: bool,
    },
    /// Names (grout's, as `config show` prints them, or `max`/`buckets`: checked by the mode in
    /// the target namespace) and whole values (0 keeps a value).
    ConfigSet(Vec<(String, u64)>),
    Flush,
    Stats {
        json: bool,
    },
    Delete {
        filter: CtFilter,
        json: bool,
    },
    Events(EventsConfig),
}

#[derive(Debug, Clone)]
pub struct ConntrackConfig {
    pub action: CtAction,
    pub netns: Option<PathBuf>,
}

/// Rows are handed to the output once this much is buffered.
const FLUSH_AT: usize = 32 * 1024;

pub fn run(config: &ConntrackConfig) -> Result<()> {
    Session::enter(config.netns.as_deref())?;
    let sysctls = Sysctls::default();
    if !sysctls.available() {
        bail!(
            "connection tracking is not available in this network namespace: {}/nf_conntrack_count \
             does not exist (a kernel without nf_conntrack, or the module is not loaded)",
            DIR
        );
    }
    let Some(mut out) = Sink::open(&Target::Stdout)? else {
        return Ok(());
    };
    let tty = out.is_tty();
    let mut text = Vec::with_capacity(64 * 1024);
    // Packets and bytes are kept per entry only while nf_conntrack_acct is on.
    let counters = || sysctls.read("acct").is_ok_and(|v| v != 0);
    let result = match &config.action {
        CtAction::Show { filter, json } => show(filter, *json, counters(), &mut out, &mut text),
        CtAction::Delete { filter, json } => {
            delete::delete(filter, *json, counters(), &mut out, &mut text)
        }
        CtAction::Events(events) => {
            let on = sysctls.read("events").ok().map(|v| v != 0);
            events::events(events, on, &mut out, &mut text)
        }
        CtAction::ConfigShow { json } => {
            config::show(&sysctls, *json, &mut text).and_then(|()| write(&mut out, &mut text))
        }
        CtAction::ConfigSet(pairs) => config::set(&sysctls, pairs),
        CtAction::Flush => {
            flush(&mut text)?;
            write(&mut out, &mut text)
        }
        CtAction::Stats { json } => {
            stats(*json, &mut text)?;
            write(&mut out, &mut text)
        }
    };
    match result {
        Err(e) if is_reader_gone(&e, tty) => Ok(()),
        other => other,
    }
}

/// One entry written as `show` writes it (a JSON line, or rows of grout's table), the text handed
/// to the output once [`FLUSH_AT`] is buffered: `show` and `delete` write the same rows.
fn emit(
    e: &Entry,
    json: bool,
    table: &mut Table,
    text: &mut Vec<u8>,
    out: &mut impl std::io::Write,
) -> Result<()> {
    if json {
        json_row(e, text);
    } else {
        entry_rows(table, e, text);
    }
    if text.len() >= FLUSH_AT {
        write(out, text)?;
    }
    Ok(())
}

fn write(out: &mut impl std::io::Write, text: &mut Vec<u8>) -> Result<()> {
    out.write_all(text)
        .context("cannot write to standard output")?;
    text.clear();
    Ok(())
}

/// A ctnetlink refusal, explained.
fn ctnetlink(what: &str, e: DiagError) -> anyhow::Error {
    match e {
        DiagError::Kernel(errno @ (libc::EPERM | libc::EACCES)) => anyhow::anyhow!(
            "cannot {what}: ctnetlink refused it ({}); it answers only root (CAP_NET_ADMIN in the namespace)",
            std::io::Error::from_raw_os_error(errno)
        ),
        e => anyhow::Error::new(e).context(format!("cannot {what}")),
    }
}

fn open_ct(what: &str) -> Result<CtSocket> {
    CtSocket::open().map_err(|e| ctnetlink(what, e))
}

/// The entries the filter matches, in grout's table (or as JSON Lines), written as the dump
/// arrives once the first rows have sized the columns.
fn show(
    filter: &CtFilter,
    json: bool,
    counters: bool,
    out: &mut impl std::io::Write,
    text: &mut Vec<u8>,
) -> Result<()> {
    let what = "list the conntrack table";
    let mut ct = open_ct(what)?;
    let mut table = Table::new(&columns(counters));
    let mut failed = None;
    let dumped = ct.dump(|e| {
        if failed.is_some() || !filter.matches(e) {
            return;
        }
        failed = emit(e, json, &mut table, text, out).err();
    });
    if let Some(e) = failed {
        return Err(e);
    }
    let end = dumped.map_err(|e| ctnetlink(what, e))?;
    table.release(text);
    write(out, text)?;
    if end.interrupted {
        say(
            "the conntrack table changed during the dump: some entries may be missing or listed twice",
        );
    }
    Ok(())
}

fn flush(text: &mut Vec<u8>) -> Result<()> {
    let what = "flush the conntrack table";
    let mut ct = open_ct(what)?;
    let (before, _) = ct.count().map_err(|e| ctnetlink(what, e))?;
    for family in [libc::AF_INET, libc::AF_INET6] {
        ct.flush(family as u8).map_err(|e| ctnetlink(what, e))?;
    }
    let (after, _) = ct.count().map_err(|e| ctnetlink(what, e))?;
    writeln!(text, "flushed {} entries", before.saturating_sub(after))?;
    Ok(())
}

fn stats(json: bool, text: &mut Vec<u8>) -> Result<()> {
    let from_netlink = CtSocket::open().and_then(|mut ct| ct.stats());
    let stats = match from_netlink {
        Ok(s) => s,
        Err(e) => {
            let s = crate::probes::conntrack::usage::read_proc_stats()
                .context("cannot read /proc/net/stat/nf_conntrack either")
                .with_context(|| {
                    format!("cannot read conntrack statistics through ctnetlink ({e})")
                })?;
            say(&format!(
                "ctnetlink refused the statistics ({}); read from /proc/net/stat/nf_conntrack",
                match e {
                    DiagError::Kernel(errno) =>
                        std::io::Error::from_raw_os_error(errno).to_string(),
                    e => e.to_string(),
                }
            ));
            s
        }
    };
    if json {
        let obj: serde_json::Map<String, serde_json::Value> = stats
            .fields()
            .iter()
            .map(|&(n, v)| (n.to_string(), v.into()))
            .collect();
        serde_json::to_writer(&mut *text, &obj)?;
        text.push(b'\n');
    } else {
        for (name, v) in stats.fields() {
            writeln!(text, "{name} {v}")?;
        }
    }
    Ok(())
}
