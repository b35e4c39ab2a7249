//! `config show` and `config set`: grout's settings over this namespace's sysctls, then Linux's
//! own. The names of `config set` are checked here, after entering the namespace being set.

use std::io::Write as _;

use anyhow::{Context, Result};

use crate::app::exit::Stop;
use crate::probes::conntrack::grout;
use crate::probes::conntrack::sysctl::{DIR, Sysctls, usage_line};
use crate::report::reporter::say;

/// grout's lines first (`used N (x%)`, `max`, the six timeouts in grout's order and spelling),
/// then Linux's sysctls (`buckets` and every timeout by its sysctl name). JSON: one object with
/// every sysctl, grout's names (the lowest value of their sysctls) and `spread` for those whose
/// sysctls disagree.
pub fn show(sysctls: &Sysctls, json: bool, text: &mut Vec<u8>) -> Result<()> {
    let s = sysctls
        .settings()
        .with_context(|| format!("cannot read the conntrack sysctls under {DIR}"))?;
    let grout = grout::lines(&s);
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
        let mut spread = serde_json::Map::new();
        for line in &grout {
            obj.insert(line.name.into(), line.value.into());
            if !line.spread.is_empty() {
                let each = line
                    .spread
                    .iter()
                    .map(|(n, v)| (n.to_string(), (*v).into()));
                spread.insert(
                    line.name.into(),
                    each.collect::<serde_json::Map<_, _>>().into(),
                );
            }
        }
        obj.insert("spread".into(), spread.into());
        serde_json::to_writer(&mut *text, &obj)?;
        text.push(b'\n');
    } else {
        writeln!(text, "{}", usage_line(s.used, s.max))?;
        for line in &grout {
            writeln!(text, "{}", line.text())?;
        }
        writeln!(text, "buckets {}", s.buckets)?;
        for (name, v) in &s.timeouts {
            writeln!(text, "{name} {v}")?;
        }
    }
    Ok(())
}

/// Checks every name (a grout name or a sysctl of this namespace), expands grout's names to
/// their sysctls, leaves out the zeros (grout keeps a value given as 0: told once), and writes
/// the rest all-or-nothing.
pub fn set(sysctls: &Sysctls, pairs: &[(String, u64)]) -> Result<()> {
    let writes = expand(sysctls, pairs)?;
    let zeros: Vec<&str> = pairs
        .iter()
        .filter(|(_, v)| *v == 0)
        .map(|(n, _)| n.as_str())
        .collect();
    if !zeros.is_empty() {
        say(&format!(
            "config set: 0 keeps the previous value of {} (zero values are ignored, as in grout)",
            zeros.join(", ")
        ));
    }
    let writes: Vec<(String, u64)> = writes.into_iter().filter(|(_, v)| *v != 0).collect();
    if writes.is_empty() {
        return Ok(());
    }
    sysctls.set_all(&writes).map_err(anyhow::Error::msg)
}

/// The (sysctl, value) pairs `pairs` stand for. An unknown name, or two names that set the same
/// sysctl, is bad input (exit 2), refused before anything is written.
fn expand(sysctls: &Sysctls, pairs: &[(String, u64)]) -> Result<Vec<(String, u64)>> {
    let known = sysctls
        .settable()
        .with_context(|| format!("cannot list the conntrack sysctls under {DIR}"))?;
    let usage = |msg: String| anyhow::Error::from(Stop::Usage(msg));
    let mut writes: Vec<(String, u64, &str)> = Vec::new();
    for (name, value) in pairs {
        let targets: Vec<&str> = match grout::sysctls_of(name) {
            Some(all) => all
                .iter()
                .copied()
                .filter(|t| known.iter().any(|k| k == t))
                .collect(),
            None if known.contains(name) => vec![name.as_str()],
            None => {
                let grout: Vec<&str> = grout::NAMES.iter().map(|(n, _)| *n).collect();
                return Err(usage(format!(
                    "config set: unknown setting '{name}' (grout's: {}; this namespace's sysctls: {})",
                    grout.join(", "),
                    known.join(", ")
                )));
            }
        };
        if targets.is_empty() {
            return Err(usage(format!(
                "config set: this kernel has none of the sysctls {name} stands for ({})",
                grout::sysctls_of(name).unwrap_or_default().join(", ")
            )));
        }
        for t in targets {
            if let Some((_, _, by)) = writes.iter().find(|(n, _, _)| n == t) {
                return Err(usage(format!(
                    "config set: {t} would be set twice (by {by} and by {name})"
                )));
            }
            writes.push((t.to_string(), *value, name));
        }
    }
    Ok(writes.into_iter().map(|(n, v, _)| (n, v)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (n, v) in files {
            std::fs::write(dir.path().join(format!("nf_conntrack_{n}")), v).unwrap();
        }
        dir
    }

    fn pairs(p: &[(&str, u64)]) -> Vec<(String, u64)> {
        p.iter().map(|(n, v)| (n.to_string(), *v)).collect()
    }

    const FILES: [(&str, &str); 6] = [
        ("max", "100\n"),
        ("buckets", "64\n"),
        ("tcp_timeout_fin_wait", "120\n"),
        ("tcp_timeout_close_wait", "60\n"),
        ("tcp_timeout_last_ack", "30\n"),
        ("udp_timeout", "30\n"),
    ];

    #[test]
    fn grout_names_expand_and_zeros_are_left_out() {
        let d = tree(&FILES);
        let s = Sysctls::at(d.path());
        let got = expand(
            &s,
            &pairs(&[("half-close-timeout", 45), ("udp_timeout", 0)]),
        )
        .unwrap();
        assert_eq!(
            got,
            pairs(&[
                ("tcp_timeout_fin_wait", 45),
                ("tcp_timeout_close_wait", 45),
                ("tcp_timeout_last_ack", 45),
                ("udp_timeout", 0),
            ])
        );
        set(
            &s,
            &pairs(&[("half-close-timeout", 45), ("udp_timeout", 0)]),
        )
        .unwrap();
        assert_eq!(s.read("tcp_timeout_close_wait").unwrap(), 45);
        assert_eq!(s.read("udp_timeout").unwrap(), 30, "0 keeps the value");
        // new-timeout stands for three sysctls; this kernel has only udp_timeout of them.
        set(&s, &pairs(&[("new-timeout", 12), ("max", 0)])).unwrap();
        assert_eq!(
            (s.read("udp_timeout").unwrap(), s.read("max").unwrap()),
            (12, 100)
        );
    }

    #[test]
    fn unknown_names_and_double_settings_are_bad_input() {
        let d = tree(&FILES);
        let s = Sysctls::at(d.path());
        for bad in [
            &[("nope", 5)][..],
            &[("half-close-timeout", 5), ("tcp_timeout_last_ack", 6)],
            &[("time-wait-timeout", 5)],
        ] {
            let err = set(&s, &pairs(bad)).unwrap_err();
            assert!(
                matches!(err.downcast_ref::<Stop>(), Some(Stop::Usage(_))),
                "{bad:?}: {err}"
            );
        }
        assert_eq!(
            s.read("tcp_timeout_fin_wait").unwrap(),
            120,
            "nothing written"
        );
    }
}
