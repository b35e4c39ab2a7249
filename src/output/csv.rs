//! CSV: `#` comment lines for the header and the summary, one record per sample, an empty field
//! for a value that was not measured.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::{RunInfo, TimelineWriter};
use crate::sample::{COLUMNS, Sample};
use crate::summary::Summary;

pub struct CsvWriter {
    /// Samples are numbers and never need quotes; comment lines go through the same writer as a
    /// single unquoted field, so nothing bypasses its buffer.
    out: csv::Writer<Box<dyn Write>>,
}

impl CsvWriter {
    pub fn new(out: Box<dyn Write>) -> Self {
        CsvWriter {
            out: csv::WriterBuilder::new()
                .has_headers(false)
                .flexible(true)
                .quote_style(csv::QuoteStyle::Never)
                .from_writer(out),
        }
    }

    fn comment(&mut self, line: &str) -> io::Result<()> {
        self.out.write_record([line])?;
        Ok(())
    }
}

impl TimelineWriter for CsvWriter {
    fn header(&mut self, run: &RunInfo) -> io::Result<()> {
        let mut line = format!(
            "# conntrend {}  sampling={}s  ",
            run.version, run.interval_sec
        );
        match run.duration_sec {
            Some(d) => write!(line, "duration={d}s"),
            None => write!(line, "duration=unlimited"),
        }
        .expect("writing to a String");
        if let Some(c) = run.count {
            write!(line, "  count={c}").expect("writing to a String");
        }
        if run.protocol != "all" {
            write!(line, "  protocol={}", run.protocol).expect("writing to a String");
        }
        write!(
            line,
            "  range_init={}-{}",
            run.range_init.0, run.range_init.1
        )
        .expect("writing to a String");
        self.comment(&line)?;
        self.comment(&format!("# columns: {}", COLUMNS.join(",")))?;
        self.out.flush()
    }

    fn sample(&mut self, sample: &Sample) -> io::Result<()> {
        self.out.serialize(sample)?;
        self.out.flush()
    }

    fn summary(&mut self, summary: &Summary) -> io::Result<()> {
        let mut line = String::from("# summary: ");
        for (i, (name, value)) in summary.fields().into_iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            match value {
                Some(v) => write!(line, "{sep}{name}={v}"),
                None => write!(line, "{sep}{name}="),
            }
            .expect("writing to a String");
        }
        self.comment("#")?;
        self.comment(&line)?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::super::Format;
    use super::super::tests::{render, run_info, sample, summary};

    #[test]
    fn shape_matches_the_readme() {
        let text = render(Format::Csv, |w| {
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
    fn unlimited_count_and_unmeasured_fields() {
        let text = render(Format::Csv, |w| {
            w.header(&run_info(None, Some(3))).unwrap();
            w.sample(&sample(None, Some(46))).unwrap();
            w.sample(&sample(Some(18), None)).unwrap();
        });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "# conntrend 0.1.0  sampling=5s  duration=unlimited  count=3  range_init=32768-60999"
        );
        assert_eq!(
            lines[2],
            "1750906800000,28232,156,28076,,138,46,120,2,5,2,9"
        );
        assert_eq!(lines[3], "1750906800000,28232,156,28076,18,,,,,,,");
    }
}
