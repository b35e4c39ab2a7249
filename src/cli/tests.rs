//! The clap definition: consistent, every flag in both spellings, bad values named, help built.
use super::*;
use clap::FromArgMatches;
use help::{FLAG_EXCEPTIONS, INTERVAL_HELP};

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    let m =
        command().try_get_matches_from(std::iter::once("conntrend").chain(args.iter().copied()))?;
    Cli::from_arg_matches(&m)
}

#[test]
fn definition_is_consistent() {
    command().debug_assert();
}

#[test]
fn both_spellings_of_long_flags() {
    let a = parse(&["--interval_sec", "2", "--duration-sec", "0"])
        .unwrap()
        .sample;
    let b = parse(&["--interval-sec", "2", "--duration_sec", "0"])
        .unwrap()
        .sample;
    assert_eq!(
        (a.interval.interval_sec, a.duration_sec),
        (Some(2), Some(0))
    );
    assert_eq!(
        (b.interval.interval_sec, b.duration_sec),
        (Some(2), Some(0))
    );
}

#[test]
fn bad_values_name_their_flag() {
    for (args, flag) in [
        (&["-i", "0"][..], "--interval-sec"),
        (&["-i", "-1"], "--interval-sec"),
        (&["-d", "-5"], "--duration-sec"),
        (&["-c", "0"], "must be at least 1"),
        (&["-p", "icmp"], "--protocol"),
        (&["--format", "xml"], "--format"),
        (&["--time", "local"], "--time"),
        (&["--netns", "a", "--pid", "1"], "--pid"),
        (&["--pid", "-1"], "--pid"),
        (&["--netns", ""], "--netns"),
        (&["top", "-n", "0"], "--rows"),
        (&["top", "--sort", "x"], "--sort"),
        (&["--source", "x"], "--source"),
        (&["--proc-root", "/x", "--pid", "1"], "--proc-root"),
    ] {
        let err = parse(args).unwrap_err();
        assert!(err.to_string().contains(flag), "{args:?}: {err}");
        assert_eq!(err.exit_code(), 2, "{args:?}");
    }
}

#[test]
fn every_mode_has_a_version_flag() {
    for args in [&["-V"][..], &["top", "-V"]] {
        let err = parse(args).unwrap_err();
        assert_eq!(
            err.kind(),
            clap::error::ErrorKind::DisplayVersion,
            "{args:?}"
        );
    }
}

#[test]
fn help_shows_columns_examples_and_exit_codes() {
    let help = command().render_long_help().to_string();
    for want in [
        "--dst adds worst_dst",
        "Examples:",
        "conntrend top",
        "Exit codes:",
    ] {
        assert!(help.contains(want), "{want}\n{help}");
    }
    let mut cmd = command();
    let top = cmd.find_subcommand_mut("top").unwrap();
    let help = top.render_long_help().to_string();
    assert!(help.contains("--sort close_wait"), "{help}");
}

/// Every command of the tree (the top first) with its path below conntrend.
fn every_command() -> Vec<(Vec<String>, clap::Command)> {
    fn walk(cmd: &clap::Command, path: Vec<String>, out: &mut Vec<(Vec<String>, clap::Command)>) {
        out.push((path.clone(), cmd.clone()));
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let mut p = path.clone();
            p.push(sub.get_name().to_string());
            walk(sub, p, out);
        }
    }
    let mut cmd = command();
    cmd.build();
    let mut out = Vec::new();
    walk(&cmd, Vec::new(), &mut out);
    out
}

fn long_help(path: &[&str]) -> String {
    let mut cmd = command();
    cmd.build();
    let mut at = &mut cmd;
    for name in path {
        at = at.find_subcommand_mut(name).unwrap();
    }
    at.render_long_help().to_string()
}

#[test]
fn no_help_line_ends_in_a_dangling_adds() {
    let help = long_help(&[]);
    let dangling: Vec<&str> = help
        .lines()
        .filter(|l| l.trim_end().ends_with(" adds"))
        .collect();
    assert!(dangling.is_empty(), "{dangling:?}\n{help}");
    assert!(
        help.contains("--alert adds no column, only the summary's alerts"),
        "{help}"
    );
}

#[test]
fn every_help_has_the_exit_codes_its_command_can_end_with() {
    use crate::app::exit::Exit;
    let mut seen = std::collections::BTreeSet::new();
    for (path, cmd) in every_command() {
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        let help = long_help(&path);
        let alerts = cmd.get_arguments().any(|a| a.get_id() == "exit_on_alert");
        let tail = help
            .split_once("Exit codes:")
            .unwrap_or_else(|| panic!("{path:?}: no exit codes\n{help}"))
            .1;
        for code in [0, 1, 2, 3] {
            let listed = tail.contains(&format!("\n  {code}  "));
            assert_eq!(
                listed,
                code < 3 || alerts,
                "{path:?}: status {code}\n{help}"
            );
            if listed {
                seen.insert(code);
            }
        }
        assert!(tail.lines().all(|l| l.len() <= 100), "{path:?}\n{tail}");
    }
    // Every status app::exit can end with is told somewhere, and none it cannot.
    let codes: std::collections::BTreeSet<u8> =
        [Exit::Success, Exit::Failure, Exit::Usage, Exit::Alert]
            .map(Exit::code)
            .into();
    assert_eq!(seen, codes);
    // --exit-on-alert's own help names the status it tells of.
    assert!(long_help(&["serve"]).contains("with exit status 3"));
}

#[test]
fn generate_is_documented_with_every_kind() {
    let help = long_help(&[]);
    assert!(help.contains("--generate <KIND>"), "{help}");
    for kind in GenerateArg::value_variants() {
        let name = kind.to_possible_value().unwrap();
        assert!(help.contains(&format!("- {}:", name.get_name())), "{help}");
    }
}

#[test]
fn errors_found_after_clap_show_the_usage_of_the_command_run() {
    for (args, usage) in [
        (&["conns", "-P"][..], "Usage: conntrend conns [OPTIONS]"),
        (
            &["ct", "config", "set", "max", "5", "bogus"],
            "Usage: conntrend conntrack config set [OPTIONS]",
        ),
        (&["-c", "1"], "Usage: conntrend [OPTIONS]"),
    ] {
        let m = command()
            .try_get_matches_from(std::iter::once("conntrend").chain(args.iter().copied()))
            .unwrap();
        let err = Cli::usage_error(&m, "the message");
        let text = err.render().to_string();
        assert!(text.starts_with("error: the message"), "{args:?}\n{text}");
        assert!(text.contains(usage), "{args:?}: want {usage}\n{text}");
        assert_eq!(err.exit_code(), 2);
        if args.len() > 2 {
            assert!(!text.contains("conntrend <COMMAND>"), "{args:?}\n{text}");
        }
    }
}

/// `-i`'s help in each mode is that mode's own, with that mode's default.
#[test]
fn each_mode_describes_its_own_interval() {
    let mut with_interval = Vec::new();
    for (path, cmd) in every_command() {
        let Some(arg) = cmd.get_arguments().find(|a| a.get_id() == "interval_sec") else {
            continue;
        };
        let mode = path.first().map(String::as_str).unwrap_or("");
        with_interval.push(mode.to_string());
        let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
        let want = INTERVAL_HELP.iter().find(|(m, _)| *m == mode);
        assert_eq!(Some(help.as_str()), want.map(|w| w.1), "{mode:?}");
        assert!(help.contains("[default: "), "{mode:?}: {help}");
        for other in ["timeline", "top:", "states:", "conns:"] {
            assert!(!help.contains(other), "{mode:?} names {other}: {help}");
        }
    }
    let mut listed: Vec<String> = INTERVAL_HELP.iter().map(|(m, _)| m.to_string()).collect();
    listed.sort();
    with_interval.sort();
    assert_eq!(with_interval, listed);
}

/// A short flag the timeline has means the same wherever it is, except in the modes listed in
/// FLAG_EXCEPTIONS (-p: conntrack's --proto is the protocol too), and the help says so.
#[test]
fn short_flags_keep_their_meaning_or_are_listed_as_exceptions() {
    let all = every_command();
    let top = &all[0].1;
    let mut found = Vec::new();
    for (path, cmd) in &all[1..] {
        for arg in cmd.get_arguments() {
            let Some(short) = arg.get_short() else {
                continue;
            };
            let Some(base) = top.get_arguments().find(|a| a.get_short() == Some(short)) else {
                continue;
            };
            if base.get_id() == arg.get_id() || (short, arg.get_id().as_str()) == ('p', "proto") {
                continue;
            }
            found.push((path[0].clone(), short));
        }
    }
    found.sort();
    found.dedup();
    let mut listed: Vec<(String, char)> = FLAG_EXCEPTIONS
        .iter()
        .map(|(m, f, _)| (m.to_string(), *f))
        .collect();
    listed.sort();
    assert_eq!(found, listed);
    let top_help = long_help(&[]);
    for (mode, flag, what) in FLAG_EXCEPTIONS {
        assert!(top_help.contains(&format!("{mode} -{flag}")), "{top_help}");
        assert!(top_help.contains(what), "{top_help}");
        let help = long_help(&[mode]);
        let line = format!("In {mode}, -{flag} {what}.");
        assert!(
            help.lines().any(|l| l == line),
            "{mode}: want {line}\n{help}"
        );
    }
}

#[test]
fn conntrack_completes_and_lists_as_ct_too() {
    let cmd = command();
    let ct = cmd.find_subcommand("conntrack").unwrap();
    assert!(ct.get_visible_aliases().any(|a| a == "ct"));
    assert!(long_help(&[]).contains("[alias: ct]"));
}

/// The fields typed in conns' help are the code's own tables, in their order.
#[test]
fn conns_help_lists_the_fields_the_code_has() {
    use crate::modes::conns::{fields, filter};
    let names =
        |fs: &[crate::modes::conns::Field]| -> Vec<&str> { fs.iter().map(|f| f.name()).collect() };
    let block = help::CONNS_EXAMPLES
        .split_once("Fields for -o")
        .unwrap()
        .1
        .split_once(":\n")
        .unwrap()
        .1;
    let typed: Vec<&str> = block
        .lines()
        .take_while(|l| !l.trim_start().starts_with("Units:"))
        .flat_map(str::split_whitespace)
        .collect();
    assert_eq!(typed, names(&fields::ALL));
    let filter_line = help::CONNS_EXAMPLES
        .split_once("Filter fields for -F:")
        .unwrap()
        .1
        .split_once("\n\n")
        .unwrap()
        .0;
    let named = |text: &str| -> Vec<String> {
        let mut v: Vec<String> = text
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| filter::FIELDS.contains(w))
            .map(str::to_string)
            .collect();
        v.dedup();
        v
    };
    let mut want: Vec<String> = filter::FIELDS.iter().map(|f| f.to_string()).collect();
    let mut got = named(filter_line);
    got.sort();
    want.sort();
    assert_eq!(got, want, "{filter_line}");
    // The flags' own help: -F's fields, -o's default.
    let cmd = command();
    let conns = cmd.find_subcommand("conns").unwrap();
    let help_of = |id: &str| {
        let arg = conns.get_arguments().find(|a| a.get_id() == id).unwrap();
        arg.get_help().unwrap().to_string()
    };
    let mut got = named(&help_of("filter"));
    got.sort();
    assert_eq!(got, want);
    let default = names(&fields::DEFAULT).join(",");
    assert!(help_of("fields").contains(&format!("[default: {default}]")));
}

/// The README's usage block (its first fenced block after "## Usage"), as (mode, text) sections:
/// a line starting `conntrend MODE` (`conntrend [OPTIONS]`: the timeline, "") starts or goes on
/// with that mode's, indented lines continue it.
fn readme_usage() -> Vec<(String, String)> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = readme
        .split_once("## Usage\n\n```\n")
        .expect("README has a usage block")
        .1
        .split_once("```")
        .unwrap()
        .0;
    let mut sections: Vec<(String, String)> = Vec::new();
    let mut at = None;
    for line in block.lines() {
        if let Some(rest) = line.strip_prefix("conntrend ") {
            let word = rest.split_whitespace().next().unwrap_or("");
            let mode = match word.strip_suffix("'s").unwrap_or(word) {
                w if w.starts_with('[') => "",
                w => w,
            };
            at = sections.iter().position(|(m, _)| m == mode).or_else(|| {
                sections.push((mode.to_string(), String::new()));
                Some(sections.len() - 1)
            });
        }
        if let Some(i) = at {
            sections[i].1.push_str(line);
            sections[i].1.push('\n');
        }
    }
    sections
}

/// The flags a piece of the usage block names (`-x`, each letter of `-xyz`, `--long`), each with
/// the word after it.
fn named_flags(text: &str) -> Vec<(String, String)> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut found = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let next = words.get(i + 1).copied().unwrap_or("").to_string();
        for piece in word.split(['[', ']', '(', ')', '|', ',', ';', '/', '`', '=']) {
            let piece = piece.trim_end_matches([':', '.']);
            if let Some(long) = piece.strip_prefix("--") {
                if long.starts_with(|c: char| c.is_ascii_alphanumeric()) {
                    found.push((format!("--{long}"), next.clone()));
                }
            } else if let Some(shorts) = piece.strip_prefix('-')
                && !shorts.is_empty()
                && shorts.chars().all(|c| c.is_ascii_alphanumeric())
            {
                for c in shorts.chars() {
                    found.push((format!("-{c}"), next.clone()));
                }
            }
        }
    }
    found
}

/// The README's usage block names every visible flag of each mode, nothing else, and spells out
/// the same values as `--help` (`--format <csv|json|prom>`); the pages it points to exist.
#[test]
fn readme_usage_block_agrees_with_help() {
    let mut root = command();
    root.build();
    let sections = readme_usage();
    for (mode, text) in &sections {
        for word in text.split(|c: char| c.is_whitespace() || "(),;`".contains(c)) {
            if word.starts_with("docs/") {
                let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(word);
                assert!(
                    path.is_file(),
                    "README: {mode:?} points to {word}, not a file"
                );
            }
        }
        assert!(
            !text.contains("below"),
            "README: {mode:?} points below\n{text}"
        );
    }
    let mut modes: Vec<&str> = sections.iter().map(|(m, _)| m.as_str()).collect();
    modes.sort();
    modes.dedup();
    let mut want: Vec<&str> = std::iter::once("")
        .chain(
            root.get_subcommands()
                .map(|s| s.get_name())
                .filter(|n| *n != "help"),
        )
        .collect();
    want.sort();
    assert_eq!(modes, want, "a section per mode");
    for (mode, text) in &sections {
        // The mode's flags, with those of its commands (conntrack's).
        let mut args: Vec<clap::Arg> = Vec::new();
        let mut commands = vec![match mode.as_str() {
            "" => root.clone(),
            m => root.find_subcommand(m).unwrap().clone(),
        }];
        while let Some(cmd) = commands.pop() {
            args.extend(cmd.get_arguments().filter(|a| !a.is_positional()).cloned());
            if !mode.is_empty() {
                commands.extend(cmd.get_subcommands().cloned());
            }
        }
        let spells = |a: &clap::Arg, flag: &str| {
            a.get_long().is_some_and(|l| flag == format!("--{l}"))
                || a.get_short().is_some_and(|s| flag == format!("-{s}"))
        };
        let named = named_flags(text);
        for (flag, next) in &named {
            let arg = args
                .iter()
                .find(|a| spells(a, flag))
                .unwrap_or_else(|| panic!("README: {mode:?} has no {flag}\n{text}"));
            // A value list (`<csv|json|prom>`, `ports|close_wait|established`) is the flag's.
            let list = next.trim_matches(['[', ']', '<', '>', '(', ')']);
            let values: Vec<&str> = list.split('|').collect();
            let is_list = values.len() > 1
                && values.iter().all(|v| !v.is_empty() && !v.starts_with('-'))
                && list.chars().any(|c| c.is_ascii_lowercase());
            if is_list {
                let mut have: Vec<String> = arg
                    .get_possible_values()
                    .iter()
                    .filter(|v| !v.is_hide_set())
                    .map(|v| v.get_name().to_string())
                    .collect();
                let mut typed: Vec<String> = values.iter().map(|v| v.to_string()).collect();
                have.sort();
                typed.sort();
                assert_eq!(typed, have, "README: {mode:?} {flag} {next}");
            }
        }
        for arg in &args {
            let id = arg.get_id().as_str();
            if arg.is_hide_set() || (!mode.is_empty() && (id == "help" || id == "version")) {
                continue;
            }
            let shown = named.iter().any(|(flag, _)| spells(arg, flag));
            assert!(shown, "README: {mode:?} lacks --{id}\n{text}");
        }
        if mode == "conntrack" {
            let ct = root.find_subcommand("conntrack").unwrap();
            for sub in ct.get_subcommands().filter(|s| s.get_name() != "help") {
                let word = sub.get_name();
                assert!(
                    text.split(|c: char| !c.is_ascii_alphanumeric())
                        .any(|w| w == word),
                    "README: conntrack lacks {word}\n{text}"
                );
            }
        }
    }
}
