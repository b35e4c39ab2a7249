//! The `conns` loop in-process: the `mix` fixture's recorded dumps, a scripted clock and a
//! buffer, its rows checked against what `ss` printed for the same sockets.

use std::time::Duration;

use clap::FromArgMatches;

use super::*;
use crate::app::schedule::testing::{EPOCH0, Scripted};
use crate::cli::Cli;
use crate::cli::lower::Action;
use crate::engine::sampler::testing::{fixture, mix, sampler};

fn config(args: &[&str]) -> ConnsConfig {
    let argv = ["conntrend", "conns"]
        .into_iter()
        .chain(args.iter().copied());
    let m = crate::cli::command().try_get_matches_from(argv).unwrap();
    match Action::from_cli(Cli::from_arg_matches(&m).unwrap()).unwrap() {
        Action::Conns(c) => c,
        other => panic!("not conns: {other:?}"),
    }
}

/// Runs `args` over the fixture: the ending and the text written.
fn run_on(args: &[&str], mut clock: Scripted) -> (Ending, String) {
    let config = config(args);
    let mut sampler = sampler(mix(), Protocols::TCP);
    let mut out = Vec::new();
    let reporter = Reporter::new(false);
    let ending = run_with(
        &config,
        &mut sampler,
        &mut out,
        false,
        &mut clock,
        &reporter,
    )
    .unwrap();
    (ending, String::from_utf8(out).unwrap())
}

/// The local ports of the sockets `ss` showed in `state`, sorted.
fn ss_ports(state: &str) -> Vec<u16> {
    let text = std::fs::read_to_string(fixture().join("ss-tcp.txt")).unwrap();
    let mut ports: Vec<u16> = text
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(state))
        .map(|l| {
            let local = l.split_whitespace().nth(3).unwrap();
            local.rsplit(':').next().unwrap().parse().unwrap()
        })
        .collect();
    ports.sort_unstable();
    ports
}

#[test]
fn each_report_has_the_rows_of_the_filter_under_its_stamp() {
    let args = [
        "-P",
        "-o",
        "lport,state",
        "-F",
        "state=close_wait",
        "-T",
        "u",
        "-i",
        "3",
        "-c",
        "2",
    ];
    let (ending, text) = run_on(&args, Scripted::new());
    assert_eq!(ending, Ending::Finished);
    let reports: Vec<&str> = text.split("= ").filter(|r| !r.is_empty()).collect();
    assert_eq!(reports.len(), 2, "{text}");
    for (k, report) in reports.iter().enumerate() {
        let mut lines = report.lines();
        let stamp: u64 = lines.next().unwrap().parse().unwrap();
        assert_eq!(stamp, EPOCH0 / 1000 + 3 * k as u64);
        let mut ports: Vec<u16> = lines
            .map(|l| {
                let (port, state) = l.split_once(',').unwrap();
                assert_eq!(state, "CLOSE_WAIT", "{l}");
                port.parse().unwrap()
            })
            .collect();
        ports.sort_unstable();
        assert_eq!(ports, ss_ports("CLOSE-WAIT"));
    }
}

#[test]
fn a_stop_or_a_departed_reader_ends_the_reports() {
    let args = ["-P", "-o", "state", "-e", "-i", "1"];
    let mut clock = Scripted::new();
    clock.stop_at = Some(Duration::from_millis(1500));
    let (ending, text) = run_on(&args, clock);
    assert_eq!(ending, Ending::Finished);
    assert_eq!(text.lines().count(), 2 * ss_ports("ESTAB").len(), "{text}");

    let mut clock = Scripted::new();
    clock.gone_at = Some(Duration::from_secs(1));
    let (ending, _) = run_on(&args, clock);
    assert_eq!(ending, Ending::ReaderGone);
}

/// The command line's error for `args`, as lowering reports it (clap's or conntrend's).
fn refused(args: &[&str]) -> String {
    let argv = ["conntrend", "conns"]
        .into_iter()
        .chain(args.iter().copied());
    match crate::cli::command().try_get_matches_from(argv) {
        Err(e) => e.to_string(),
        Ok(m) => Action::from_cli(Cli::from_arg_matches(&m).unwrap()).unwrap_err(),
    }
}

#[test]
fn all_is_every_field_and_ipv4_never_goes_with_ipv6() {
    assert_eq!(config(&["-o", "all"]).fields, fields::every());
    assert_eq!(config(&["-o", "ALL", "--json"]).fields, fields::every());
    assert!(refused(&["-o", "all", "-P"]).contains("\"-o all\" is invalid with parsable"));
    assert!(refused(&["-o", "state,all"]).contains("all stands alone"));
    let (ending, text) = run_on(&["-o", "all", "-F", "state=close_wait"], Scripted::new());
    assert_eq!(ending, Ending::Finished);
    let header: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header[..5], ["LADDR", "RADDR", "LPORT", "RPORT", "INBYTES"]);
    assert_eq!(header.len(), fields::ALL.len());
    assert_eq!(text.lines().count(), 1 + ss_ports("CLOSE-WAIT").len());

    for args in [
        &["-4", "-6"][..],
        &["-6", "-4"],
        &["--ipv6", "-e", "--ipv4"],
    ] {
        assert!(refused(args).contains("cannot be used with"), "{args:?}");
    }
    let v4v6 = |c: ConnsConfig| (c.filter.v4, c.filter.v6);
    assert_eq!(v4v6(config(&["-4", "-4"])), (true, false));
    assert_eq!(v4v6(config(&["-6"])), (false, true));
    assert_eq!(v4v6(config(&[])), (true, true));
}
