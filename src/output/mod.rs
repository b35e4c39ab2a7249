//! Writers for the timeline, one per format behind one small trait: a header when the run starts,
//! a line per sample (flushed at once, so `tail -f` and `grep --line-buffered` see it), and the
//! summary trailer on every ending.

mod csv;
mod json;

use std::io::{self, Write};

use crate::sample::{COLUMNS, DST_COLUMNS, Sample};
use crate::summary::Summary;

pub use self::csv::CsvWriter;
pub use self::json::JsonWriter;

/// What the header says about the run.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub version: &'static str,
    pub interval_sec: u32,
    /// `None`: until interrupted.
    pub duration_sec: Option<u32>,
    pub count: Option<u64>,
    pub protocol: &'static str,
    /// The pool's range when the run started.
    pub range_init: (u16, u16),
    /// The network namespace sampled, when not the caller's own.
    pub netns: Option<String>,
    /// Whether samples carry the `--dst` columns.
    pub dst: bool,
}

impl RunInfo {
    /// The column names of this run's samples.
    pub fn columns(&self) -> Vec<&'static str> {
        let extra: &[&'static str] = if self.dst { &DST_COLUMNS } else { &[] };
        COLUMNS.iter().chain(extra).copied().collect()
    }
}

/// A timeline writer.
pub trait TimelineWriter {
    fn header(&mut self, run: &RunInfo) -> io::Result<()>;
    fn sample(&mut self, sample: &Sample) -> io::Result<()>;
    fn summary(&mut self, summary: &Summary) -> io::Result<()>;
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

/// The writer for `format` over `out`.
pub fn writer(format: Format, out: Box<dyn Write>) -> Box<dyn TimelineWriter> {
    match format {
        Format::Csv => Box::new(CsvWriter::new(out)),
        Format::Json => Box::new(JsonWriter::new(out)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A `Write` whose bytes the test can still read after the writer took it.
    #[derive(Clone, Default)]
    pub struct Shared(pub Rc<RefCell<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    pub fn run_info(duration: Option<u32>, count: Option<u64>) -> RunInfo {
        RunInfo {
            version: "0.1.0",
            interval_sec: 5,
            duration_sec: duration,
            count,
            protocol: "all",
            range_init: (32768, 60999),
            netns: None,
            dst: false,
        }
    }

    pub fn sample(udp: Option<u32>, tw: Option<u32>) -> Sample {
        Sample {
            epoch_ms: 1750906800000,
            total_port: 28232,
            used: 156,
            free: 28076,
            udp_used: udp,
            tcp_used: tw.map(|_| 138),
            time_wait: tw,
            estab: tw.map(|_| 120),
            syn: tw.map(|_| 2),
            close_wait: tw.map(|_| 5),
            last_ack: tw.map(|_| 2),
            fin_wait: tw.map(|_| 9),
            dst: None,
        }
    }

    pub fn summary() -> Summary {
        let mut s = Summary::new(1750906800000);
        s.observe(&sample(Some(18), Some(46)));
        s.end_ms = 1750906860000;
        s.elapsed_sec = 60;
        s
    }

    pub fn render(format: Format, f: impl FnOnce(&mut dyn TimelineWriter)) -> String {
        let buf = Shared::default();
        let mut w = writer(format, Box::new(buf.clone()));
        f(w.as_mut());
        drop(w);
        String::from_utf8(buf.0.borrow().clone()).unwrap()
    }
}
