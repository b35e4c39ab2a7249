//! Every example `--help` shows, for every mode, run with the stand-ins it names.

use std::process::Command;
use std::time::Duration;

use super::{Recipe, run_all, stand_ins, until_interrupted};

/// What changes in a `--help` example to run it here, and why: a real interface is `lo`, and
/// durations of minutes or an hour become seconds.
const HELP_SUBSTITUTIONS: [(&str, &str); 6] = [
    ("eth0", "lo"),
    ("-d 3600", "-d 2"),
    ("-i 5 -d 60", "-i 1 -d 3"),
    ("-c 60", "-c 2"),
    ("-i 10 -c 6", "-i 1 -c 2"),
    ("-i 10 ", "-i 1 "),
];

/// The examples every `--help` shows: the command part of each line under `Examples:` (up to the
/// run of spaces before its description).
fn help_examples() -> Vec<Recipe> {
    let mut found = Vec::new();
    for mode in [
        "",
        "top",
        "states",
        "conns",
        "conntrack",
        "rtt",
        "serve",
        "plot",
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_conntrend"));
        if !mode.is_empty() {
            cmd.arg(mode);
        }
        let help = String::from_utf8(cmd.arg("--help").output().unwrap().stdout).unwrap();
        let examples = help
            .lines()
            .skip_while(|l| *l != "Examples:")
            .skip(1)
            .take_while(|l| !l.trim().is_empty());
        for line in examples {
            let mut command = line.trim().split("  ").next().unwrap_or("").to_string();
            for (from, to) in HELP_SUBSTITUTIONS {
                command = command.replace(from, to);
            }
            let stream = until_interrupted(&command);
            found.push(Recipe {
                at: format!("conntrend {mode} --help: {}", line.trim()),
                script: format!("{}{command}\n", stand_ins()),
                stream,
                // A silent stream (one writing to a file) needs no long wait: what is checked
                // is that it is still running, without an error.
                wait: Duration::from_secs(4),
            });
        }
    }
    found
}

/// Every example `--help` shows runs here (with the stand-ins of [`stand_ins`] and the
/// substitutions of [`HELP_SUBSTITUTIONS`]): a finite one exits 0, one that runs until
/// interrupted is still running, without an error, when it is stopped.
#[test]
fn every_help_example_runs() {
    let all = help_examples();
    assert!(all.len() >= 35, "only {} examples found", all.len());
    let failures = run_all(all, true, false);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
