//! CSV: `#` comment lines for the header and the summary, one record per sample, an empty field
//! for a value that was not measured. Values are numbers, times and `addr:port`: never a comma or
//! a quote, so nothing needs quoting.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::{RunInfo, TimelineWriter};
use crate::fold::sample::Sample;
use crate::report::schema::{COLUMNS, Field, Groups, Row, SUMMARY};
use crate::report::summary::Summary;

pub struct CsvWriter {
    out: Box<dyn Write>,
    groups: Groups,
    /// One line, built in full before it is written, reused from sample to sample.
    line: String,
}

impl CsvWriter {
    pub fn new(out: Box<dyn Write>, groups: Groups) -> Self {
        CsvWriter {
            out,
            groups,
            line: String::new(),
        }
    }

    /// Writes the line built in `self.line` at once, and flushes.
    fn emit(&mut self) -> io::Result<()> {
        self.line.push('\n');
        self.out.write_all(self.line.as_bytes())?;
        self.out.flush()
    }
}

impl TimelineWriter for CsvWriter {
    fn header(&mut self, run: &RunInfo) -> io::Result<()> {
        let l = &mut self.line;
        l.clear();
        let _ = write!(
            l,
            "# conntrend {}  sampling={}s",
            run.version, run.interval_sec
        );
        match (run.duration_sec, run.count) {
            (Some(d), _) => {
                let _ = write!(l, "  duration={d}s");
            }
            // A count alone ends the run: there is no duration to show.
            (None, Some(_)) => {}
            (None, None) => l.push_str("  duration=unlimited"),
        }
        if let Some(c) = run.count {
            let _ = write!(l, "  count={c}");
        }
        if run.protocols.name() != "all" {
            let _ = write!(l, "  protocol={}", run.protocols.name());
        }
        if let Some(ns) = &run.netns {
            let _ = write!(l, "  netns={ns}");
        }
        if let Some(root) = &run.proc_root {
            let _ = write!(l, "  proc_root={root}");
        }
        if let Some(source) = run.source {
            let _ = write!(l, "  source={source}");
        }
        let _ = write!(l, "  range_init={}-{}", run.range_init.0, run.range_init.1);
        let _ = write!(l, "\n# columns: {}", run.columns().join(","));
        self.emit()
    }

    fn sample(&mut self, sample: &Sample) -> io::Result<()> {
        self.line.clear();
        push_fields(&mut self.line, COLUMNS, self.groups, sample, false);
        self.emit()
    }

    fn summary(&mut self, summary: &Summary) -> io::Result<()> {
        self.line.clear();
        self.line.push_str("#\n# summary: ");
        push_fields(&mut self.line, SUMMARY, self.groups, summary, true);
        self.emit()
    }
}

/// The fields of `item` written by a run with `groups`, comma-separated: `value` (a row) or
/// `name=value` (the summary).
fn push_fields<T>(
    line: &mut String,
    table: &'static [Field<T>],
    groups: Groups,
    item: &T,
    named: bool,
) {
    let row = Row {
        table,
        groups,
        item,
    };
    for (i, (name, value)) in row.values().enumerate() {
        if i > 0 {
            line.push(',');
        }
        let _ = if named {
            write!(line, "{name}={value}")
        } else {
            write!(line, "{value}")
        };
    }
}

#[cfg(test)]
mod tests {
    use super::super::Format;
    use super::super::tests::{render, run_info, sample, summary};
    use crate::report::schema::Groups;

    #[test]
    fn shape_matches_the_readme() {
        let text = render(Format::Csv, Groups::default(), |w| {
            w.header(&run_info(Some(60), None)).unwrap();
            w.sample(&sample(Some(18), Some(46))).unwrap();
            w.summary(&summary()).unwrap();
        });
        assert_eq!(
            text,
            "# conntrend 0.1.0  sampling=5s  duration=60s  range_init=32768-60999\n\
             # columns: epoch_ms,total_port,used,free,udp_used,tcp_used,time_wait,estab,syn,close_wait,last_ack,fin_wait\n\
             1750906800000,28232,156,28076,18,138,46,120,2,5,2,9\n\
             #\n\
             # summary: start_ms=1750906800000,end_ms=1750906860000,elapsed_sec=60,samples=1,peak_used=156,peak_time_wait=46,min_free=28076,min_total_port=28232,max_total_port=28232\n"
        );
    }

    #[test]
    fn count_alone_and_unmeasured_fields() {
        let text = render(Format::Csv, Groups::default(), |w| {
            w.header(&run_info(None, Some(3))).unwrap();
            w.sample(&sample(None, Some(46))).unwrap();
            w.sample(&sample(Some(18), None)).unwrap();
        });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "# conntrend 0.1.0  sampling=5s  count=3  range_init=32768-60999"
        );
        assert_eq!(
            lines[2],
            "1750906800000,28232,156,28076,,138,46,120,2,5,2,9"
        );
        assert_eq!(lines[3], "1750906800000,28232,156,28076,18,,,,,,,");
        let text = render(Format::Csv, Groups::default(), |w| {
            w.header(&run_info(None, None)).unwrap();
        });
        assert!(
            text.starts_with("# conntrend 0.1.0  sampling=5s  duration=unlimited  range_init=")
        );
    }
}
