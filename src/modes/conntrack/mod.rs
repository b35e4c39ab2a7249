//! `conntrend conntrack` (alias `ct`): the netfilter connection tracking table of a network
//! namespace — its entries (`show`), usage and timeouts (`config show`, `config set`), `flush` and
//! the kernel's statistics (`stats`) — shaped like the grout router's commands. The entries come
//! from ctnetlink over the same socket loop as the sock_diag seam; usage and settings from the
//! namespace's sysctls. `--conntrack` on the timeline and `top`'s conntrack line read
//! [`usage::UsageReader`].

pub mod show;

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::app::exit::{Stop, is_reader_gone};
use crate::app::session::Session;
use crate::app::settings::Target;
use crate::app::sink::Sink;
use crate::diag::DiagError;
use crate::diag::ctnetlink::CtSocket;
use crate::probes::conntrack::sysctl::{DIR, Sysctls, usage_line};
use crate::report::reporter::say;
use show::CtFilter;

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
    /// Checked names (as `config show` prints them, or `max`/`buckets`) and positive values.
    ConfigSet(Vec<(String, u64)>),
    Flush,
    Stats {
        json: bool,
    },
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
    let result = match &config.action {
        CtAction::Show { filter, json } => show(filter, *json, &mut out, &mut text),
        CtAction::ConfigShow { json } => {
            config_show(&sysctls, *json, &mut text).and_then(|()| write(&mut out, &mut text))
        }
        CtAction::ConfigSet(pairs) => {
            check_names(&sysctls, pairs)?;
            sysctls.set_all(pairs).map_err(anyhow::Error::msg)
        }
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

fn show(
    filter: &CtFilter,
    json: bool,
    out: &mut impl std::io::Write,
    text: &mut Vec<u8>,
) -> Result<()> {
    let what = "list the conntrack table";
    let mut ct = open_ct(what)?;
    if !json {
        show::header(text);
    }
    let mut scratch = Vec::new();
    let mut failed = None;
    let dumped = ct.dump(|e| {
        if failed.is_some() || !filter.matches(e) {
            return;
        }
        if json {
            show::json_row(e, text);
        } else {
            show::text_row(e, text, &mut scratch);
        }
        if text.len() >= FLUSH_AT {
            failed = write(out, text).err();
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    let end = dumped.map_err(|e| ctnetlink(what, e))?;
    write(out, text)?;
    if end.interrupted {
        say(
            "the conntrack table changed during the dump: some entries may be missing or listed twice",
        );
    }
    Ok(())
}

fn config_show(sysctls: &Sysctls, json: bool, text: &mut Vec<u8>) -> Result<()> {
    let s = sysctls
        .settings()
        .with_context(|| format!("cannot read the conntrack sysctls under {}", DIR))?;
    if json {
        let mut obj = serde_json::Map::new();
        obj.insert("used".into(), s.used.into());
        let percent = (s.max > 0).then(|| (s.used as f64 * 1000.0 / s.max as f64).round() / 10.0);
        obj.insert("used_percent".into(), percent.into());
        obj.insert("max".into(), s.max.into());
        obj.insert("buckets".into(), s.buckets.into());
        for (name, v) in &s.timeouts {
            obj.insert(name.clone(), (*v).into());
        }
        serde_json::to_writer(&mut *text, &obj)?;
        text.push(b'\n');
    } else {
        writeln!(text, "{}", usage_line(s.used, s.max))?;
        writeln!(text, "max {}", s.max)?;
        writeln!(text, "buckets {}", s.buckets)?;
        for (name, v) in &s.timeouts {
            writeln!(text, "{name} {v}")?;
        }
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

/// Every name of `config set` must be a setting of this namespace (read after entering it): an
/// unknown one is bad input, refused before anything is written.
fn check_names(sysctls: &Sysctls, pairs: &[(String, u64)]) -> Result<()> {
    let known = sysctls
        .settable()
        .with_context(|| format!("cannot list the conntrack sysctls under {DIR}"))?;
    match pairs.iter().find(|(name, _)| !known.contains(name)) {
        Some((name, _)) => Err(Stop::Usage(format!(
            "config set: unknown setting '{name}' (settings: {})",
            known.join(", ")
        ))
        .into()),
        None => Ok(()),
    }
}
