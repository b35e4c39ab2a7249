//! The `top` loop in-process: the `mix` fixture's recorded dumps, a scripted clock and a buffer,
//! its counts checked against what `ss` printed for the same sockets.

use std::time::Duration;

use super::*;
use crate::app::schedule::testing::{EPOCH0, Scripted};
use crate::diag::SourceChoice;
use crate::engine::sampler::testing::{fixture, mix, sampler};

fn config(refresh: Option<u64>, json: bool) -> TopConfig {
    TopConfig {
        rows: 5,
        refresh: refresh.map(Duration::from_secs),
        sort: Sort::Ports,
        json,
        netns: None,
        // A saved tree: the fixture's sockets belong to no process of this machine.
        source: Sources {
            choice: SourceChoice::Proc(fixture()),
            proc_root: Some(fixture()),
        },
    }
}

fn run_on(config: &TopConfig, mut clock: Scripted) -> (Ending, String) {
    let mut sampler = sampler(mix(), Protocols::ALL);
    let view = View {
        netns: None,
        in_place: false,
        tty: false,
    };
    let mut out = Vec::new();
    let reporter = Reporter::new(false);
    let ending = run_with(
        config,
        &view,
        &mut sampler,
        None,
        &mut out,
        &mut clock,
        &reporter,
    )
    .unwrap();
    (ending, String::from_utf8(out).unwrap())
}

/// `ss`'s count of TCP sockets in `state` (its spelling), and of pool ports they hold locally.
fn ss_count(state: &str) -> u64 {
    let text = std::fs::read_to_string(fixture().join("ss-tcp.txt")).unwrap();
    text.lines()
        .filter(|l| l.split_whitespace().next() == Some(state))
        .count() as u64
}

#[test]
fn a_refreshing_report_counts_what_ss_shows_until_a_stop() {
    let mut clock = Scripted::new();
    clock.stop_at = Some(Duration::from_secs(5));
    let (ending, text) = run_on(&config(Some(2), true), clock);
    assert_eq!(ending, Ending::Finished);
    let reports: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), 3, "at 0, 2 and 4 s\n{text}");
    for (k, report) in reports.iter().enumerate() {
        assert_eq!(report["epoch_ms"], EPOCH0 + 2000 * k as u64);
        // 40000-40999 without the ten reserved 40100-40109.
        assert_eq!(report["pool"]["total"], 990);
        for (ours, theirs) in [
            ("established", "ESTAB"),
            ("close_wait", "CLOSE-WAIT"),
            ("time_wait", "TIME-WAIT"),
            ("listen", "LISTEN"),
        ] {
            assert_eq!(report["states"][ours], ss_count(theirs), "{ours}");
        }
        // ss ran a moment after the recording, when the FIN_WAIT1 sockets had reached FIN_WAIT2.
        let fin = &report["states"];
        let fin = fin["fin_wait1"].as_u64().unwrap() + fin["fin_wait2"].as_u64().unwrap();
        assert_eq!(fin, ss_count("FIN-WAIT-2"));
    }
}

#[test]
fn one_text_report_without_a_refresh_and_none_after_the_reader_left() {
    let (ending, text) = run_on(&config(None, false), Scripted::new());
    assert_eq!(ending, Ending::Finished);
    assert!(
        text.starts_with("conntrend top  2025-11-25T03:00:00"),
        "{text}"
    );
    assert!(text.contains("pool   40000-40999"), "{text}");

    let mut clock = Scripted::new();
    clock.gone_at = Some(Duration::from_secs(1));
    let (ending, text) = run_on(&config(Some(1), false), clock);
    assert_eq!(ending, Ending::ReaderGone);
    assert_eq!(text.matches("conntrend top").count(), 1, "{text}");
}
