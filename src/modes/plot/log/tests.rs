//! The log reader's unit tests: runs as segments, both forms, and what is refused.

use super::*;
use crate::modes::plot::track::Point;

const CSV: &str = "# conntrend 0.1.0  sampling=1s  duration=unlimited  range_init=32768-60999\n\
# columns: epoch_ms,time,total_port,used,free,udp_used\n\
1000,1970-01-01T00:00:01.000Z,100,10,90,\n\
2000,1970-01-01T00:00:02.000Z,100,20,80,1\n\
#\n# summary: samples=2\n\
# conntrend 0.1.0  sampling=1s  duration=unlimited  range_init=32768-60999\n\
# columns: epoch_ms,total_port,used,free,udp_used\n\
9000,100,30,70,2\n";

/// (segment, [(t, v)]) of each line of column `name`.
fn lines(log: &Log, name: &str) -> Vec<(usize, Vec<(u64, u64)>)> {
    log.track(name)
        .unwrap()
        .lines()
        .into_iter()
        .map(|l| (l.segment, l.points.iter().map(|p| (p.t, p.v)).collect()))
        .collect()
}

#[test]
fn csv_runs_are_segments() {
    let mut log = Log::default();
    log.read("log.csv", CSV.as_bytes()).unwrap();
    assert_eq!((log.segments, log.runs_with_samples), (2, 2));
    let names: Vec<&str> = log.columns.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(names, ["total_port", "used", "free", "udp_used"]);
    assert_eq!(log.span, Some((1000, 9000)));
    assert_eq!(
        lines(&log, "used"),
        [(0, vec![(1000, 10), (2000, 20)]), (1, vec![(9000, 30)])]
    );
    // Empty is not 0: udp_used starts at the second sample.
    assert_eq!(
        lines(&log, "udp_used"),
        [(0, vec![(2000, 1)]), (1, vec![(9000, 2)])]
    );
    assert_eq!(
        log.track("used").unwrap().max,
        Some(Point { t: 9000, v: 30 })
    );
    assert_eq!(
        log.first.as_ref().unwrap().range.as_deref(),
        Some("32768-60999")
    );
}

#[test]
fn json_lines_and_bad_input() {
    let json = "{\"header\":{\"sampling_sec\":5,\"range_init\":\"1-10\",\"columns\":[\"epoch_ms\",\"used\",\"udp_used\"]}}\n\
{\"epoch_ms\":5,\"used\":3,\"udp_used\":null}\n{\"summary\":{}}\n";
    let mut log = Log::default();
    log.read("log.json", json.as_bytes()).unwrap();
    let names: Vec<&str> = log.columns.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(names, ["used", "udp_used"]);
    assert_eq!(lines(&log, "used"), [(0, vec![(5, 3)])]);
    assert!(
        log.track("udp_used").unwrap().max.is_none(),
        "null is not 0"
    );
    assert_eq!(log.first.as_ref().unwrap().sampling.as_deref(), Some("5s"));
    let bad = |text: &str| Log::default().read("x", text.as_bytes()).unwrap_err();
    assert_eq!(bad(&CSV.replace(",20,80,", ",2x,80,")).line, 4);
    assert!(bad("hello\n").why.contains("not a conntrend log"));
    assert!(bad("{\"a\":1}\n").why.contains("not a conntrend log"));
    assert_eq!(
        bad("# conntrend 0.1.0\n# columns: epoch_ms,used\n1,2,3\n").why,
        "more fields than columns"
    );
    // A header without a `# columns:` line does not reuse the previous run's columns.
    assert!(
        bad("# conntrend 0.1.0\n# columns: epoch_ms,used\n1,2\n# conntrend 0.1.0\n3,4\n")
            .why
            .contains("before any `# conntrend` header and `# columns:` line")
    );
}

#[test]
fn times_and_values_no_run_writes_are_refused() {
    let csv = |row: &str| format!("# conntrend 0.1.0\n# columns: epoch_ms,used,ct_used\n{row}\n");
    let bad = |row: &str| Log::default().read("x", csv(row).as_bytes()).unwrap_err();
    let e = bad(&format!("{},1,1", LAST_MS + 1));
    assert_eq!(e.line, 3);
    assert!(
        e.why.starts_with("epoch_ms 253402300800000 is not a time"),
        "{}",
        e.why
    );
    assert!(bad("99999999999999999999,1,1").why.starts_with("epoch_ms "));
    assert_eq!(
        bad("1e3,1,1").why,
        "epoch_ms 1e3 is not a time conntrend writes (milliseconds since 1970, before the year 10000)"
    );
    assert_eq!(bad("x,1,1").why, "the first field is not epoch_ms");
    assert_eq!(
        bad("1,inf,1").why,
        "'inf' is not a count (used): conntrend writes whole numbers from 0 to 4294967295"
    );
    assert!(
        bad("1,4294967296,1")
            .why
            .starts_with("'4294967296' is not a count (used)")
    );
    assert!(
        bad("1,1,-1")
            .why
            .ends_with("(ct_used): conntrend writes whole numbers from 0 to 18446744073709551615")
    );
    let mut log = Log::default();
    log.read(
        "x",
        csv(&format!("{LAST_MS},4294967295,18446744073709551615")).as_bytes(),
    )
    .unwrap();
    assert_eq!(log.track("ct_used").unwrap().max.unwrap().v, u64::MAX);
    let json = |v: &str| {
        format!(
            "{{\"header\":{{\"columns\":[\"epoch_ms\",\"used\"]}}}}\n{{\"epoch_ms\":1,\"used\":{v}}}\n"
        )
    };
    let bad = |v: &str| {
        Log::default()
            .read("x", json(v).as_bytes())
            .unwrap_err()
            .why
    };
    assert!(
        bad("1e300").starts_with("'1e+300' is not a count (used)"),
        "{}",
        bad("1e300")
    );
    assert!(bad("1.5").starts_with("'1.5' is not a count (used)"));
    assert_eq!(bad("\"5\""), "'\"5\"' is not a number (used)");
}

#[test]
fn memory_is_bounded_by_the_limits_not_the_log() {
    // A million samples in two runs, a value missing now and then: what the log keeps stays
    // within the limits all along.
    let limits = Limits {
        exact: 500,
        buckets: 256,
    };
    let mut log = Log::new(limits);
    let mut text = String::from("# conntrend 0.1.0\n# columns: epoch_ms,used,free\n");
    for i in 0..1_000_000u64 {
        if i == 600_000 {
            text.push_str("# conntrend 0.1.0\n# columns: epoch_ms,used,free\n");
        }
        // The second run starts five days after the first ends.
        let t = i * 1000 + if i >= 600_000 { 5 * 86_400_000 } else { 0 };
        let used = if i % 1000 == 7 {
            String::new()
        } else {
            (i % 300).to_string()
        };
        text.push_str(&format!("{t},{used},{}\n", 300 - i % 300));
        if text.len() > 1 << 16 {
            log.read("x", text.as_bytes()).unwrap();
            text.clear();
            for (_, track) in &log.columns {
                assert!(track.kept() <= 512, "{}", track.kept());
            }
        }
    }
    log.read("x", text.as_bytes()).unwrap();
    assert_eq!((log.segments, log.runs_with_samples), (2, 2));
    for (name, track) in &log.columns {
        assert!(track.bucketed(), "{name}");
        let lines = track.lines();
        assert_eq!(
            lines.len(),
            2,
            "{name}: the two runs, the short gaps bridged"
        );
        assert!(lines.iter().map(|l| l.points.len()).sum::<usize>() <= 512);
    }
    assert_eq!(log.track("used").unwrap().max.unwrap().v, 299);
}

#[test]
fn a_window_keeps_its_samples_and_reads_the_rest() {
    // The samples are at 1000, 2000 (run 1) and 9000 (run 2).
    let mut log = Log::default().within((2000, 9000));
    log.read("log.csv", CSV.as_bytes()).unwrap();
    assert_eq!(log.span, Some((2000, 9000)));
    assert_eq!(log.read_span, Some((1000, 9000)));
    assert_eq!(
        lines(&log, "used"),
        [(0, vec![(2000, 20)]), (1, vec![(9000, 30)])]
    );
    assert_eq!(log.track("used").unwrap().min.unwrap().v, 20);
    assert_eq!(log.spans(), [(2000, 2000), (9000, 9000)]);
    assert_eq!(log.runs_with_samples, 2);
    let mut log = Log::default().within((3000, 8000));
    log.read("log.csv", CSV.as_bytes()).unwrap();
    assert_eq!((log.span, log.read_span), (None, Some((1000, 9000))));
    assert!(log.spans().is_empty() && log.first.is_none());
    // A line outside the window is still checked.
    let bad = CSV.replace("9000,100,30", "9000,100,x");
    let e = Log::default()
        .within((0, 10))
        .read("x", bad.as_bytes())
        .unwrap_err();
    assert_eq!(e.line, 9);
}

#[test]
fn the_runs_spans_stay_bounded_and_keep_the_long_gaps() {
    // 1,000 runs of two samples, 0.5 s apart, and every hundredth gap a day long.
    let mut text = String::new();
    let mut t = 0u64;
    for k in 0..1000 {
        text.push_str("# conntrend 0.1.0\n# columns: epoch_ms,used\n");
        text.push_str(&format!("{t},1\n{},2\n", t + 1000));
        t += 1500 + if k % 100 == 99 { 86_400_000 } else { 0 };
    }
    let mut log = Log::default();
    log.read("x", text.as_bytes()).unwrap();
    let spans = log.spans();
    assert!(spans.len() <= MAX_SPANS, "{}", spans.len());
    let long = spans
        .windows(2)
        .filter(|w| w[1].0 - w[0].1 >= 86_400_000)
        .count();
    assert_eq!(long, 9, "{spans:?}");
    assert_eq!(
        (spans[0].0, spans[spans.len() - 1].1),
        (0, t - 1500 + 1000 - 86_400_000)
    );
}

#[test]
fn the_worst_destination_is_the_one_at_the_peak() {
    let csv = |rows: &[(&str, &str)]| {
        let mut s =
            String::from("# conntrend 0.1.0\n# columns: epoch_ms,worst_dst,worst_dst_used\n");
        for (i, (dst, used)) in rows.iter().enumerate() {
            s.push_str(&format!("{},{dst},{used}\n", (i + 1) * 1000));
        }
        s
    };
    let rows = [
        ("a:1", "5"),
        ("b:2", "9"),
        ("a:1", "9"),
        ("", ""),
        ("c:3", "3"),
    ];
    let mut log = Log::default();
    log.read("x", csv(&rows).as_bytes()).unwrap();
    assert_eq!(
        log.worst,
        Worst {
            at_peak: Some("b:2".into()),
            names: vec!["a:1".into(), "b:2".into(), "c:3".into()],
            more: false
        }
    );
    // Within a window without b's peak: a's.
    let mut log = Log::default().within((3000, 5000));
    log.read("x", csv(&rows).as_bytes()).unwrap();
    assert_eq!(log.worst.at_peak.as_deref(), Some("a:1"));
    // Ten destinations: eight told apart; a long one cut.
    let long = "x".repeat(100);
    let many: Vec<String> = (0..10).map(|k| format!("10.0.0.{k}:80")).collect();
    let mut rows: Vec<(&str, &str)> = many.iter().map(|d| (d.as_str(), "1")).collect();
    rows[0] = (&long, "7");
    let mut log = Log::default();
    log.read("x", csv(&rows).as_bytes()).unwrap();
    assert_eq!(log.worst.names.len(), 8);
    assert!(log.worst.more);
    assert_eq!(log.worst.at_peak, Some(format!("{}…", "x".repeat(64))));
    // JSON names it too.
    let json = "{\"header\":{\"columns\":[\"epoch_ms\",\"worst_dst\",\"worst_dst_used\"]}}\n{\"epoch_ms\":1,\"worst_dst\":\"[::1]:80\",\"worst_dst_used\":4}\n{\"epoch_ms\":2,\"worst_dst\":null,\"worst_dst_used\":null}\n";
    let mut log = Log::default();
    log.read("x", json.as_bytes()).unwrap();
    assert_eq!(log.worst.at_peak.as_deref(), Some("[::1]:80"));
    assert_eq!(log.worst.names, ["[::1]:80"]);
}
