//! `conntrend conntrack`'s command and flags lowered to a [`ConntrackConfig`]: the filters
//! parsed, `events`' mask read, and `config set`'s NAME VALUE pairs checked for form (no I/O: the
//! names are checked by the mode, in the namespace it sets them in).

use super::namespace;
use crate::cli::conntrack::{CtEventsArgs, CtFilterArgs};
use crate::cli::{ConntrackArgs, CtCommand, CtConfigCommand, CtShowArgs, NsArgs};
use crate::diag::ctnetlink::events::EventKind;
use crate::modes::conntrack::events::EventsConfig;
use crate::modes::conntrack::filter::{CtFilter, known_state, parse_mark, parse_proto};
use crate::modes::conntrack::{ConntrackConfig, CtAction};

/// `conntrend conntrack`'s command and flags checked.
pub(super) fn conntrack_config(args: ConntrackArgs) -> Result<ConntrackConfig, String> {
    let with_ns = |action, ns: &NsArgs| {
        Ok(ConntrackConfig {
            action,
            netns: namespace(ns)?,
        })
    };
    let show = |a: CtShowArgs| {
        let filter = filter(&a.filter)?;
        with_ns(
            CtAction::Show {
                filter,
                json: a.json,
            },
            &a.ns,
        )
    };
    match args.command.map(|c| *c) {
        None => show(args.show),
        Some(CtCommand::Show(a)) => show(a),
        Some(CtCommand::Delete(a)) => {
            let filter = filter(&a.filter)?;
            with_ns(
                CtAction::Delete {
                    filter,
                    json: a.json,
                },
                &a.ns,
            )
        }
        Some(CtCommand::Events(a)) => with_ns(CtAction::Events(events(&a)?), &a.ns),
        Some(CtCommand::Flush(a)) => with_ns(CtAction::Flush, &a.ns),
        Some(CtCommand::Stats(a)) => with_ns(CtAction::Stats { json: a.json }, &a.ns),
        Some(CtCommand::Config(c)) => match c.command {
            None => with_ns(CtAction::ConfigShow { json: c.show.json }, &c.show.ns),
            Some(CtConfigCommand::Show(a)) => with_ns(CtAction::ConfigShow { json: a.json }, &a.ns),
            Some(CtConfigCommand::Set(a)) => {
                with_ns(CtAction::ConfigSet(set_pairs(&a.pairs)?), &a.ns)
            }
        },
    }
}

/// The filters of `show`, `delete` and `events`.
fn filter(a: &CtFilterArgs) -> Result<CtFilter, String> {
    let prefix = |flag: &str, v: &Option<String>| {
        v.as_deref()
            .map(|s| crate::util::prefix::Prefix::parse(s).map_err(|e| format!("{flag}: {e}")))
            .transpose()
    };
    Ok(CtFilter {
        proto: a.proto.as_deref().map(parse_proto).transpose()?,
        v4_only: (a.ipv4 != a.ipv6).then_some(a.ipv4),
        state: a
            .state
            .as_deref()
            .map(|s| {
                known_state(s).ok_or_else(|| {
                    format!(
                        "--state: unknown state '{s}' (a TCP state such as ESTABLISHED, \
                         TIME_WAIT, SYN_SENT, or UNREPLIED, REPLIED, ASSURED)"
                    )
                })
            })
            .transpose()?,
        src: prefix("--src", &a.src)?,
        dst: prefix("--dst", &a.dst)?,
        port: a.port,
        sport: a.sport,
        dport: a.dport,
        mark: a.mark.as_deref().map(parse_mark).transpose()?,
        zone: a.zone,
    })
}

/// `events`' flags: the filter, the mask (`NEW,UPDATE,DESTROY` or `ALL`, any case, as
/// conntrack's -e takes it) and the queue size.
fn events(a: &CtEventsArgs) -> Result<EventsConfig, String> {
    let kinds = match a.event_mask.as_deref() {
        None => EventKind::ALL.to_vec(),
        Some(mask) => {
            let mut kinds: Vec<EventKind> = Vec::new();
            for word in mask.split(',').map(str::trim) {
                let found: &[EventKind] = match word.to_ascii_uppercase().as_str() {
                    "ALL" => &EventKind::ALL,
                    "NEW" => &[EventKind::New],
                    "UPDATE" => &[EventKind::Update],
                    "DESTROY" => &[EventKind::Destroy],
                    _ => {
                        return Err(format!(
                            "--event-mask: unknown event '{word}' (NEW, UPDATE, DESTROY or ALL, \
                             comma-separated)"
                        ));
                    }
                };
                for k in found {
                    if !kinds.contains(k) {
                        kinds.push(*k);
                    }
                }
            }
            kinds
        }
    };
    if a.buffer_size == Some(0) {
        return Err("--buffer-size: 0 bytes cannot hold an event".into());
    }
    Ok(EventsConfig {
        filter: filter(&a.filter)?,
        json: a.json,
        kinds,
        buffer: a.buffer_size,
    })
}

/// `config set`'s NAME VALUE pairs: each name once, every value a whole number (0 is kept: the
/// mode leaves the setting as it was, as grout does). Whether a name is a setting is the target
/// namespace's to say: the mode checks it there.
fn set_pairs(words: &[String]) -> Result<Vec<(String, u64)>, String> {
    if !words.len().is_multiple_of(2) {
        return Err(format!(
            "config set takes NAME VALUE pairs: '{}' has no value",
            words[words.len() - 1]
        ));
    }
    let mut pairs: Vec<(String, u64)> = Vec::new();
    for pair in words.chunks(2) {
        let name = pair[0].trim().to_ascii_lowercase();
        let name = name
            .strip_prefix("nf_conntrack_")
            .unwrap_or(&name)
            .to_string();
        if pairs.iter().any(|(n, _)| *n == name) {
            return Err(format!("config set: '{name}' is given more than once"));
        }
        let value = match pair[1].parse::<u64>() {
            Ok(v) if v <= i32::MAX as u64 => v,
            _ => {
                return Err(format!(
                    "config set {name}: '{}' is not a whole number from 0 to {} (0 keeps the \
                     value)",
                    pair[1],
                    i32::MAX
                ));
            }
        };
        pairs.push((name, value));
    }
    Ok(pairs)
}
