//! The run loop in-process: recorded dumps (the `mix` fixture), a scripted clock and a buffer for
//! the output, so every ending and the exact bytes of both formats are checked without waiting on
//! the wall clock. Snapshots live in src/modes/timeline/snapshots; a format change is a visible diff there.

use std::time::Duration;

use clap::FromArgMatches;

use super::*;
use crate::app::schedule::testing::{EPOCH0, Scripted};
use crate::cli::Cli;
use crate::cli::lower::Action;
use crate::diag::replay::Answer;
use crate::diag::{Family, Protocol, Replay};
use crate::engine::sampler::testing::mix;
use crate::report::output::tests::Shared;

fn config(args: &[&str]) -> Config {
    let m = crate::cli::command()
        .try_get_matches_from(std::iter::once("conntrend").chain(args.iter().copied()))
        .unwrap();
    match Action::from_cli(Cli::from_arg_matches(&m).unwrap()).unwrap() {
        Action::Sample(c) => c,
        other => panic!("not a timeline: {other:?}"),
    }
}

fn sampler(config: &Config, replay: Replay) -> Sampler<Replay> {
    crate::engine::sampler::testing::sampler(replay, config.protocols)
}

/// Runs `args` over `replay` with `clock`: the ending and every byte written.
fn run_on(args: &[&str], replay: Replay, mut clock: Scripted) -> (Result<Ending>, String) {
    let config = config(args);
    let mut sampler = sampler(&config, replay);
    let buf = Shared::default();
    let mut writer = output::writer(config.format, config.groups, Box::new(buf.clone()));
    let ending = run_with(
        &config,
        None,
        &mut sampler,
        writer.as_mut(),
        &mut clock,
        &Reporter::new(false),
    );
    drop(writer);
    let text = String::from_utf8(buf.0.borrow().clone()).unwrap();
    (ending, text)
}

#[test]
fn csv_until_the_duration() {
    let (ending, text) = run_on(&["-i", "5", "-d", "15"], mix(), Scripted::new());
    assert_eq!(ending.unwrap(), Ending::Finished);
    insta::assert_snapshot!(text);
}

#[test]
fn json_with_every_column_group_until_the_count() {
    let args = [
        "--format", "json", "--dst", "--time", "iso", "-i", "2", "-c", "2",
    ];
    let (ending, text) = run_on(&args, mix(), Scripted::new());
    assert_eq!(ending.unwrap(), Ending::Finished);
    insta::assert_snapshot!(text);
}

#[test]
fn csv_with_every_column_group() {
    let args = ["--dst", "--time", "iso", "-c", "1"];
    let (_, text) = run_on(&args, mix(), Scripted::new());
    insta::assert_snapshot!(text);
}

#[test]
fn a_stop_signal_ends_the_run_with_its_summary() {
    let mut clock = Scripted::new();
    clock.stop_at = Some(Duration::from_millis(7500));
    let (ending, text) = run_on(&["-i", "5", "-d", "0"], mix(), clock);
    assert_eq!(ending.unwrap(), Ending::Finished);
    let rows = text.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(rows, 2, "samples at 0 s and 5 s, stopped at 7.5 s\n{text}");
    let summary = text.lines().last().unwrap();
    assert!(
        summary.starts_with(&format!(
            "# summary: start_ms={EPOCH0},end_ms={},elapsed_sec=8,samples=2,",
            EPOCH0 + 7500
        )),
        "{text}"
    );
}

#[test]
fn a_departed_reader_ends_the_run_without_a_summary() {
    let mut clock = Scripted::new();
    clock.gone_at = Some(Duration::from_secs(3));
    let (ending, text) = run_on(&["-i", "1", "-d", "0"], mix(), clock);
    assert_eq!(ending.unwrap(), Ending::ReaderGone);
    assert!(!text.contains("summary"), "{text}");
    assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 3);
}

#[test]
fn udp_that_cannot_be_dumped_stays_empty_and_tcp_goes_on() {
    let mut replay = mix();
    replay.set(Family::V6, Protocol::Udp, Answer::Fail(libc::ENOENT));
    let (ending, text) = run_on(&["--format", "json", "-c", "2"], replay, Scripted::new());
    assert_eq!(ending.unwrap(), Ending::Finished);
    insta::assert_snapshot!(text);
}

#[test]
fn a_failed_dump_still_writes_the_summary_and_fails_the_run() {
    let mut replay = mix();
    replay.set(Family::V4, Protocol::Udp, Answer::Fail(libc::EPERM));
    let (ending, text) = run_on(&["-c", "3"], replay, Scripted::new());
    let err = ending.unwrap_err();
    assert!(
        format!("{err:#}").contains("cannot dump UDP IPv4 sockets"),
        "{err:#}"
    );
    assert!(text.contains("# summary: "), "{text}");
    assert!(text.contains(",samples=0,peak_used=,"), "{text}");
}
