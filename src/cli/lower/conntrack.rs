//! `conntrend conntrack`'s command and flags lowered to a [`ConntrackConfig`]: the show filter
//! parsed, and `config set`'s NAME VALUE pairs checked for form (no I/O: the names are checked
//! by the mode, in the namespace it sets them in).

use super::namespace;
use crate::cli::{ConntrackArgs, CtCommand, CtConfigCommand, CtShowArgs, NsArgs};
use crate::modes::conntrack::show::{CtFilter, known_state, parse_proto};
use crate::modes::conntrack::{ConntrackConfig, CtAction};

/// `conntrend conntrack`'s command and flags checked.
pub(super) fn conntrack_config(args: ConntrackArgs) -> Result<ConntrackConfig, String> {
    let show = |a: CtShowArgs| -> Result<ConntrackConfig, String> {
        let prefix = |flag: &str, v: &Option<String>| {
            v.as_deref()
                .map(|s| crate::util::prefix::Prefix::parse(s).map_err(|e| format!("{flag}: {e}")))
                .transpose()
        };
        let filter = CtFilter {
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
        };
        Ok(ConntrackConfig {
            action: CtAction::Show {
                filter,
                json: a.json,
            },
            netns: namespace(&a.ns)?,
        })
    };
    let with_ns = |action, ns: &NsArgs| {
        Ok(ConntrackConfig {
            action,
            netns: namespace(ns)?,
        })
    };
    match args.command {
        None => show(args.show),
        Some(CtCommand::Show(a)) => show(a),
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

/// `config set`'s NAME VALUE pairs: each name once, every value a positive whole number. Whether
/// a name is a setting is the target namespace's to say: the mode checks it there.
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
            Ok(v) if v > 0 && v <= i32::MAX as u64 => v,
            Ok(0) => {
                return Err(format!(
                    "config set {name}: 0 is refused (a zero timeout or limit breaks tracking)"
                ));
            }
            _ => {
                return Err(format!(
                    "config set {name}: '{}' is not a positive whole number",
                    pair[1]
                ));
            }
        };
        pairs.push((name, value));
    }
    Ok(pairs)
}
