//! The `states` loop in-process: the `mix` fixture's recorded dumps, a scripted clock and a
//! buffer, checked against what `ss` printed for the same sockets (tests/fixtures/mix/ss-*.txt).

use std::time::Duration;

use super::*;
use crate::app::schedule::testing::{EPOCH0, Scripted};
use crate::app::settings::Sources;
use crate::diag::SourceChoice;
use crate::engine::sampler::testing::{fixture, mix, sampler};

fn config(interval: Option<u64>, count: Option<u64>) -> StatesConfig {
    StatesConfig {
        all: true,
        interval: interval.map(Duration::from_secs),
        count,
        pretty: false,
        target: Target::Stdout,
        netns: None,
        source: Sources {
            choice: SourceChoice::Netlink,
            proc_root: None,
        },
    }
}

/// Runs `config` over the fixture: the ending and the lines written.
fn run_on(config: &StatesConfig, mut clock: Scripted) -> (Ending, Vec<serde_json::Value>) {
    let mut sampler = sampler(mix(), Protocols::ALL);
    let mut out = Vec::new();
    let reporter = Reporter::new(false);
    let ending = run_with(config, &mut sampler, &mut out, false, &mut clock, &reporter).unwrap();
    let lines = String::from_utf8(out).unwrap();
    let objects = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (ending, objects)
}

/// `ss`'s count of sockets of `family` (4 or 6) in `state` (its own spelling) in `file`.
fn ss_count(file: &str, family: u8, state: &str) -> u64 {
    let text = std::fs::read_to_string(fixture().join(file)).unwrap();
    text.lines()
        .filter(|l| l.split_whitespace().next() == Some(state))
        .filter(|l| l.contains('[') == (family == 6))
        .count() as u64
}

#[test]
fn one_object_has_the_counts_ss_shows() {
    let (ending, objects) = run_on(&config(None, None), Scripted::new());
    assert_eq!(ending, Ending::Finished);
    let [object] = &objects[..] else {
        panic!("one object: {objects:?}")
    };
    assert!(object.get("epoch_ms").is_none(), "{object}");
    for (ours, theirs) in [
        ("ESTABLISHED", "ESTAB"),
        ("CLOSE_WAIT", "CLOSE-WAIT"),
        ("TIME_WAIT", "TIME-WAIT"),
        ("LISTEN", "LISTEN"),
    ] {
        for family in [4, 6] {
            let table = format!("tcp{family}");
            assert_eq!(
                object[&table][ours].as_u64().unwrap(),
                ss_count("ss-tcp.txt", family, theirs),
                "{table} {ours}"
            );
        }
    }
    // ss ran a moment after the recording, when the FIN_WAIT1 sockets had reached FIN_WAIT2.
    let fin =
        |o: &serde_json::Value| o["FIN_WAIT1"].as_u64().unwrap() + o["FIN_WAIT2"].as_u64().unwrap();
    assert_eq!(
        fin(&object["tcp"]),
        ss_count("ss-tcp.txt", 4, "FIN-WAIT-2") + ss_count("ss-tcp.txt", 6, "FIN-WAIT-2")
    );
    // The recorder's bound-only socket (port 40500), which that ss does not list.
    assert_eq!(object["tcp4"]["CLOSE"], 1);
    let udp = |state| ss_count("ss-udp.txt", 4, state) + ss_count("ss-udp.txt", 6, state);
    assert_eq!(object["udp"]["ESTABLISHED"].as_u64().unwrap(), udp("ESTAB"));
    assert_eq!(object["udp"]["CLOSE"].as_u64().unwrap(), udp("UNCONN"));
}

#[test]
fn streaming_stamps_each_object_until_the_count_or_a_stop() {
    let (ending, objects) = run_on(&config(Some(2), Some(3)), Scripted::new());
    assert_eq!(ending, Ending::Finished);
    let stamps: Vec<u64> = objects
        .iter()
        .map(|o| o["epoch_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(stamps, [EPOCH0, EPOCH0 + 2000, EPOCH0 + 4000]);
    // Each round counts afresh: the same sockets give the same numbers.
    assert!(objects.iter().all(|o| o["all"] == objects[0]["all"]));

    let mut clock = Scripted::new();
    clock.stop_at = Some(Duration::from_millis(4500));
    let (ending, objects) = run_on(&config(Some(2), None), clock);
    assert_eq!((ending, objects.len()), (Ending::Finished, 3));

    let mut clock = Scripted::new();
    clock.gone_at = Some(Duration::from_secs(2));
    let (ending, objects) = run_on(&config(Some(1), None), clock);
    assert_eq!((ending, objects.len()), (Ending::ReaderGone, 2));
}

/// network-connections' positional PATH is `--proc-root PATH`; with `--proc-root`, `--netns` or
/// `--pid` it is refused, as `--proc-root` is.
#[test]
fn the_script_s_path_is_the_proc_root() {
    use crate::cli::{Cli, lower::Action};
    use clap::FromArgMatches;
    let lower = |args: &[&str]| {
        let argv = ["conntrend", "states"].iter().chain(args);
        let m = crate::cli::command().try_get_matches_from(argv)?;
        Ok::<_, clap::Error>(Action::from_cli(Cli::from_arg_matches(&m).unwrap()))
    };
    let Ok(Ok(Action::States(c))) = lower(&["saved/proc", "--pretty"]) else {
        panic!("states")
    };
    let root = std::path::PathBuf::from("saved/proc");
    assert_eq!(c.source.choice, SourceChoice::Proc(root.clone()));
    assert_eq!(c.source.proc_root, Some(root));
    assert!(c.pretty);
    for both in [
        &["saved/proc", "--proc-root", "other"][..],
        &["saved/proc", "--netns", "x"],
        &["saved/proc", "--pid", "1"],
    ] {
        assert!(lower(both).is_err(), "{both:?}");
    }
}

/// `--pretty` is `json.dumps(..., indent=4)`'s layout (tests/it/states/script.rs compares it with
/// the script's own bytes).
#[test]
fn pretty_indents_four_spaces_a_level() {
    let mut config = config(None, None);
    config.pretty = true;
    let mut sampler = sampler(mix(), Protocols::ALL);
    let mut out = Vec::new();
    let mut clock = Scripted::new();
    run_with(
        &config,
        &mut sampler,
        &mut out,
        false,
        &mut clock,
        &Reporter::new(false),
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with("{\n    \"tcp4\": {\n        \"ESTABLISHED\": "),
        "{text}"
    );
    assert!(
        text.ends_with("\n        \"UNKNOWN\": 0\n    }\n}\n"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1 + 7 * 14 + 1, "{text}");
}
