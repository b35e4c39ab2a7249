//! Every command the docs show is run, not only the blocks marked as recipes: the README's
//! unmarked blocks and the commands it writes inline (`` `sudo conntrend top --sort close_wait` ``,
//! `` `sysctl -w net.ipv4.tcp_tw_reuse=1` `` in the runbook's prose and tables), and the command
//! lines of every docs/*.md page's blocks.
//!
//! What is a command: a line starting with `$ ` in any block (the lines after it are its output);
//! each command of a ```` ```sh ```` block (lines joined after `|`, `\`, `&&` or inside a quote,
//! comments left out); in the README's prose, a code span starting with one of [`COMMANDS`]
//! (after `sudo`). Blocks without `sh` and without `$ ` are output or the usage synopsis (checked
//! against `--help` elsewhere); blocks marked as recipes are run as written by the recipes test.
//!
//! Each command runs in a namespace with the recipes' load, connection tracking on and the
//! [`stand_ins`](super::stand_ins), changed only as [`SUBSTITUTIONS`] says: a finite one must exit
//! 0, one that runs until interrupted must still be running, without an error, when stopped. A
//! command that cannot run here is in [`NOT_RUN`] with the reason (and every entry there must
//! still name a shown command); nothing else is left out.

use std::fs;
use std::path::Path;
use std::time::Duration;

use super::{Recipe, docs, run_all, stand_ins, until_interrupted};

/// The programs whose inline code spans in the README are commands to run. The tools conntrend
/// replaces (`ss -tanp`, `conntrack -L/-D/-E/-C/-S`) are named there, not shown to be run.
const COMMANDS: [&str; 9] = [
    "conntrend",
    "docker",
    "sysctl",
    "nstat",
    "make",
    "cargo",
    "systemctl",
    "kubectl",
    "promtool",
];

/// What changes in a shown command to run it here: (as shown, as run, why).
const SUBSTITUTIONS: [(&str, &str, &str); 11] = [
    ("eth0", "lo", "the namespace's one interface"),
    (
        "'tcp port 443'",
        "'tcp port 7304'",
        "the service port of the stand-in capture.pcapng (loopback traffic to 7304)",
    ),
    ("-i 5 -d 60", "-i 1 -d 3", "a minute's run in seconds"),
    ("-d 3600", "-d 2", "an hour's log in seconds"),
    (
        "cargo run --release --",
        "conntrend",
        "the binary under test stands for the one cargo builds",
    ),
    (
        "conntrend --generate …",
        "conntrend --generate complete-bash",
        "… stands for a kind (tests/it/generate.rs checks every kind)",
    ),
    (
        "/var/lib/node_exporter/textfile/",
        "/var/tmp/",
        "node_exporter's directory on a host: the private /var/tmp stands in",
    ),
    (
        "'used_pct>=90'",
        "'used_pct>=10'",
        "the load fills 13% of the pool: the alert fires and the page is sent",
    ),
    (
        "$(docker inspect -f '{{.State.Pid}}' web)",
        "$web",
        "a container's pid: $web is a process in the namespace blue",
    ),
    ("--pid 4242", "--pid $web", "a container's pid, as above"),
    (
        "--from 2026-12-07T03:00:00Z --to 2026-12-07T03:20:00Z",
        "--from $from --to $to",
        "the same ISO-8601 form around ports.csv, whose samples are seconds old",
    ),
];

/// Shown commands not run here, and why: (the command as shown, or its start before `…`; why).
const NOT_RUN: [(&str, &str); 8] = [
    (
        "conntrend rtt",
        "the mode's name (the README's table and prose): alone it is an error, it needs -i IFACE \
         or -r FILE; the commands of docs/rtt.md are run",
    ),
    (
        "conntrend plot",
        "the mode's name (the README's table): alone it plots standard input, here empty; the \
         commands of docs/plot.md are run",
    ),
    ("make test", "runs this test suite itself"),
    (
        "cargo install --path .",
        "builds a release binary and installs it into ~/.cargo/bin",
    ),
    (
        "make dbuild",
        "needs a Docker daemon; tests/it/deploy/container.rs lints the Dockerfile and runs its steps",
    ),
    (
        "docker run…",
        "needs a Docker daemon and the image; tests/it/deploy/container.rs runs each \
         docs/containers.md line as the container would (its user and capabilities)",
    ),
    (
        "systemctl enable --now conntrend.service",
        "starts a service on the host; tests/it/deploy/systemd.rs verifies the units \
         (systemd-analyze verify and security, ExecStart traced)",
    ),
    (
        "kubectl apply -f deploy/kubernetes/conntrend.yaml",
        "needs a cluster; tests/it/deploy/kubernetes.rs validates the manifests \
         (kubernetes-validate --strict)",
    ),
];

/// A command a doc shows: `README.md:146` and the command as written.
#[derive(Debug, PartialEq)]
struct Shown {
    at: String,
    command: String,
}

/// `text` without its shell comments, and whether it ends inside a quote.
fn shell_text(text: &str) -> (String, bool) {
    let (mut out, mut quote, mut comment, mut escaped) = (String::new(), None, false, false);
    let mut prev = '\n';
    for c in text.chars() {
        if comment {
            if c == '\n' {
                comment = false;
                out.push(c);
            }
            prev = c;
            continue;
        }
        match (quote, c) {
            _ if escaped => escaped = false,
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (Some('"') | None, '\\') => escaped = true,
            (None, '\'' | '"') => quote = Some(c),
            (None, '#') if prev.is_whitespace() => {
                comment = true;
                prev = c;
                continue;
            }
            _ => {}
        }
        out.push(c);
        prev = c;
    }
    let kept: Vec<&str> = out.lines().map(str::trim_end).collect();
    (kept.join("\n").trim().to_string(), quote.is_some())
}

/// The commands of a ```` ```sh ```` block's lines (numbered from 1): continuation lines joined,
/// comment lines left out.
fn sh_commands(lines: &[(usize, &str)]) -> Vec<(usize, String)> {
    let (mut found, mut current, mut start) = (Vec::new(), String::new(), 0);
    for &(n, line) in lines {
        if current.is_empty() {
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            start = n;
        } else {
            current.push('\n');
        }
        current.push_str(line.trim_start());
        let (text, open) = shell_text(&current);
        let goes_on = ["|", "\\", "&&"].iter().any(|end| text.ends_with(end));
        if !open && !goes_on {
            found.push((start, text));
            current.clear();
        }
    }
    found
}

/// The commands `text` (the document `name`) shows; `inline`: its code spans in prose too.
fn shown(name: &str, text: &str, inline: bool) -> Vec<Shown> {
    let mut found = Vec::new();
    let mut push = |n: usize, command: String| {
        found.push(Shown {
            at: format!("{name}:{n}"),
            command,
        })
    };
    // The prose, with each block's lines blank (so that line numbers stay).
    let mut prose = Vec::new();
    let mut block: Option<(String, Vec<(usize, &str)>)> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut block, fence) {
            (None, Some(info)) => block = Some((info.trim().to_string(), Vec::new())),
            (Some(_), Some(_)) => {
                let (info, lines) = block.take().unwrap();
                let prompts: Vec<(usize, &str)> = lines
                    .iter()
                    .filter_map(|&(n, l)| l.trim_start().strip_prefix("$ ").map(|c| (n, c)))
                    .collect();
                if !prompts.is_empty() {
                    for (n, c) in prompts {
                        push(n, shell_text(c).0);
                    }
                } else if info == "sh" {
                    for (n, c) in sh_commands(&lines) {
                        push(n, c);
                    }
                }
            }
            (Some((_, lines)), None) => lines.push((i + 1, line)),
            (None, None) => {}
        }
        prose.push(if block.is_some() || fence.is_some() {
            ""
        } else {
            line
        });
    }
    if inline {
        let prose = prose.join("\n");
        let mut spans = prose.split('`');
        let mut offset = 0;
        while let (Some(before), Some(span)) = (spans.next(), spans.next()) {
            offset += before.len();
            let line = prose[..offset].matches('\n').count() + 1;
            offset += span.len() + 2;
            let command = span.split_whitespace().collect::<Vec<_>>().join(" ");
            let mut words = command.split(' ').skip_while(|w| *w == "sudo");
            if words.next().is_some_and(|w| COMMANDS.contains(&w)) && words.next().is_some() {
                push(line, command);
            }
        }
    }
    found
}

/// Whether `entry` of [`NOT_RUN`] names `command`.
fn names(entry: &str, command: &str) -> bool {
    match entry.strip_suffix('…') {
        Some(start) => command.starts_with(start),
        None => command == entry,
    }
}

/// Why `command` is not run here, if it is not.
fn not_run(command: &str) -> Option<&'static str> {
    NOT_RUN
        .iter()
        .find(|(entry, _)| names(entry, command))
        .map(|(_, why)| *why)
}

/// Every command the README and docs/*.md show, and how many came from each.
fn every_shown() -> (Vec<Shown>, Vec<(String, usize)>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (mut all, mut counts) = (Vec::new(), Vec::new());
    for doc in docs() {
        let text = fs::read_to_string(root.join(&doc)).unwrap();
        let found = shown(&doc, &text, doc == "README.md");
        counts.push((doc, found.len()));
        all.extend(found);
    }
    (all, counts)
}

#[test]
fn every_command_the_docs_show_runs() {
    let (all, counts) = every_shown();
    for (entry, _) in NOT_RUN {
        assert!(
            all.iter().any(|s| names(entry, &s.command)),
            "NOT_RUN names {entry:?}, which no doc shows any more"
        );
    }
    let mut seen = std::collections::HashSet::new();
    let mut runs = Vec::new();
    for s in &all {
        if not_run(&s.command).is_some() {
            continue;
        }
        let mut command = s.command.clone();
        for (from, to, _) in SUBSTITUTIONS {
            command = command.replace(from, to);
        }
        if !seen.insert(command.clone()) {
            continue;
        }
        runs.push(Recipe {
            at: format!("{}: {}", s.at, s.command),
            stream: until_interrupted(&command),
            script: format!("{}{command}\n", stand_ins()),
            wait: Duration::from_secs(4),
        });
    }
    eprintln!(
        "shown commands: {counts:?}; {} distinct run, {} not run",
        runs.len(),
        all.iter().filter(|s| not_run(&s.command).is_some()).count()
    );
    assert!(runs.len() >= 45, "only {} shown commands found", runs.len());
    let failures = run_all(runs, true, false);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn commands_are_found_in_blocks_and_prose() {
    let doc = "Run `sudo conntrend top --sort close_wait`, then\n\
               `sysctl -w a.b=\"1 2\"` or `ss -tan` or `conntrend`.\n\
               ```\n$ conntrend states\n{\"tcp4\":1}\n```\n\
               ```\nconntrend [OPTIONS]\n```\n\
               ```sh recipe\nconntrend -c 1\n```\n\
               ```sh\n# a comment\nconntrend -c 1   # it's one\nconntrend conns |\n  awk '$1 {\n  print }'\n```\n\
               A `make\n  test` split over lines.\n";
    let found = shown("d.md", doc, true);
    let got: Vec<(&str, &str)> = found
        .iter()
        .map(|s| (s.at.as_str(), s.command.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("d.md:4", "conntrend states"),
            ("d.md:15", "conntrend -c 1"),
            ("d.md:16", "conntrend conns |\nawk '$1 {\nprint }'"),
            ("d.md:1", "sudo conntrend top --sort close_wait"),
            ("d.md:2", "sysctl -w a.b=\"1 2\""),
            ("d.md:20", "make test"),
        ]
    );
    assert!(names("docker run…", "docker run --rm x") && names("docker run…", "docker run"));
    assert!(!names("make test", "make test2") && not_run("conntrend top").is_none());
}
