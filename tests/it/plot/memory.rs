//! Memory bounded by the chart's width, not the log's length: the log is decimated as it is read.
//! A log of three million samples is plotted with the process's data segment capped far below
//! what holding the samples would take (3 M × (8 + 3 × 4) bytes = 60 MB before any growth slack),
//! and the chart still has its one-sample spike and at most two points per pixel column.

use std::io::{BufWriter, Write as _};

use super::*;

const SAMPLES: u64 = 3_000_000;
const SPIKE: u64 = 1_234_567;

#[test]
fn a_long_log_is_plotted_in_memory_bounded_by_the_width() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("long.csv");
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&log).unwrap());
    w.write_all(b"# conntrend 0.1.0  sampling=1s  range_init=32768-60999\n# columns: epoch_ms,total_port,used,free\n")
        .unwrap();
    let mut line = String::with_capacity(64);
    for i in 0..SAMPLES {
        let used = if i == SPIKE { 900 } else { 100 + i % 50 };
        line.clear();
        let _ = writeln!(
            line,
            "{},1000,{used},{}",
            1_700_000_000_000 + i * 1000,
            1000 - used
        );
        w.write_all(line.as_bytes()).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let out = dir.path().join("out.svg");
    let mut cmd = conntrend();
    cmd.arg("plot").arg(&log).arg("-o").arg(&out);
    let r = run_capped(cmd, dir.path(), 24, 60);
    r.expect_code(0);
    let svg = std::fs::read_to_string(&out).unwrap();
    let lines = polylines(&svg);
    let used: Vec<_> = lines.iter().filter(|l| l.0 == "used").collect();
    assert_eq!(used.len(), 1, "one line, no gap");
    assert!(used[0].2 <= 2 * 1090, "{} points", used[0].2);
    assert_eq!(
        marker(&svg, "used"),
        (900, 1_700_000_000_000 + SPIKE * 1000)
    );
    assert_eq!(
        marker(&svg, "free"),
        (100, 1_700_000_000_000 + SPIKE * 1000)
    );
    // The spike is a vertex of the decimated line: the top of the data.
    let ys = series_ys(&svg, "used");
    let top = ys.iter().cloned().fold(f64::MAX, f64::min);
    let rest = ys
        .iter()
        .cloned()
        .filter(|y| *y > top)
        .fold(f64::MAX, f64::min);
    assert!(rest - top > 100.0, "the spike stands out: {top} vs {rest}");
}
