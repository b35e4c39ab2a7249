//! CSV: `#` comment lines for the header and the summary, one record per sample, an empty field
//! for a value that was not measured.

use std::io::{self, Write};

use super::{RunInfo, TimelineWriter};
use crate::sample::Sample;
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
            "# conntrend {}  sampling={}s",
            run.version, run.interval_sec
        );
        match run.duration_sec {
            Some(d) => line += &format!("  duration={d}s"),
            None => line += "  duration=unlimited",
        }
        if let Some(c) = run.count {
            line += &format!("  count={c}");
        }
        if run.protocol != "all" {
            line += &format!("  protocol={}", run.protocol);
        }
        if let Some(ns) = &run.netns {
            line += &format!("  netns={ns}");
        }
        line += &format!("  range_init={}-{}", run.range_init.0, run.range_init.1);
        self.comment(&line)?;
        self.comment(&format!("# columns: {}", run.columns().join(",")))?;
        self.out.flush()
    }

    fn sample(&mut self, sample: &Sample) -> io::Result<()> {
        match &sample.dst {
            Some(dst) => self.out.serialize((sample, dst))?,
            None => self.out.serialize(sample)?,
        }
        self.out.flush()
    }

    fn summary(&mut self, summary: &Summary) -> io::Result<()> {
        let text = |v: Option<String>| v.unwrap_or_default();
        let mut fields: Vec<String> = summary
            .fields()
            .iter()
            .map(|(name, v)| format!("{name}={}", text(v.map(|v| v.to_string()))))
            .collect();
        if let Some(d) = &summary.dst {
            fields.push(format!(
                "peak_dst_used={}",
                text(d.peak_dst_used.map(|v| v.to_string()))
            ));
            fields.push(format!(
                "peak_dst={}",
                text(d.peak_dst.map(|v| v.to_string()))
            ));
        }
        self.comment("#")?;
        self.comment(&format!("# summary: {}", fields.join(",")))?;
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
