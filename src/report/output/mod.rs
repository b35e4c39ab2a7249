//! Writers for the timeline, one per format behind one small trait: a header when the run starts,
//! a line per sample (flushed at once, so `tail -f` and `grep --line-buffered` see it), and the
//! summary trailer on every ending. What the fields are comes from the schema, never from here.

mod csv;
mod json;
pub mod prom;

use std::io::{self, Write};

use crate::diag::Protocols;
use crate::fold::sample::Sample;
use crate::report::schema::{self, Groups};
use crate::report::summary::Summary;

pub use self::csv::CsvWriter;
pub use self::json::JsonWriter;

/// What the header says about the run.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub version: &'static str,
    pub interval_sec: u32,
    /// `None`: until interrupted (or until the count).
    pub duration_sec: Option<u32>,
    pub count: Option<u64>,
    pub protocols: Protocols,
    /// The pool's range when the run started.
    pub range_init: (u16, u16),
    /// The network namespace sampled, when not the caller's own.
    pub netns: Option<String>,
    /// The saved proc tree read (`--proc-root`), when not the live system.
    pub proc_root: Option<String>,
    /// `bpf` when the samples are counted in the kernel (`--source`); `None` for netlink or proc.
    pub source: Option<&'static str>,
    /// The column groups the samples carry.
    pub groups: Groups,
}

impl RunInfo {
    /// The column names of this run's samples.
    pub fn columns(&self) -> Vec<&'static str> {
        schema::column_names(self.groups)
    }
}

/// A timeline writer.
pub trait TimelineWriter {
    fn header(&mut self, run: &RunInfo) -> io::Result<()>;
    fn sample(&mut self, sample: &Sample) -> io::Result<()>;
    fn summary(&mut self, summary: &Summary) -> io::Result<()>;
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    /// Prometheus text, the file rewritten whole each sample (see [`prom`]).
    Prom,
}

/// The writer for `format` over `out`, writing the columns of `groups`.
pub fn writer(format: Format, groups: Groups, out: Box<dyn Write>) -> Box<dyn TimelineWriter> {
    match format {
        Format::Csv => Box::new(CsvWriter::new(out, groups)),
        Format::Json => Box::new(JsonWriter::new(out, groups)),
        Format::Prom => unreachable!("the prom writer writes a file: prom::PromWriter"),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::report::schema::Group;
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
            protocols: Protocols::ALL,
            range_init: (32768, 60999),
            netns: None,
            proc_root: None,
            source: None,
            groups: Groups::default(),
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
            ct: None,
            forecast: None,
            owners: None,
            detail: Default::default(),
        }
    }

    pub fn summary() -> Summary {
        let mut s = Summary::new(1750906800000);
        s.observe(&sample(Some(18), Some(46)));
        s.end_ms = 1750906860000;
        s.elapsed_sec = 60;
        s
    }

    pub fn render(
        format: Format,
        groups: Groups,
        f: impl FnOnce(&mut dyn TimelineWriter),
    ) -> String {
        let buf = Shared::default();
        let mut w = writer(format, groups, Box::new(buf.clone()));
        f(w.as_mut());
        drop(w);
        String::from_utf8(buf.0.borrow().clone()).unwrap()
    }

    /// Both formats carry the same names, in the same order, for every group.
    #[test]
    fn csv_and_json_agree_on_every_field() {
        let groups = Groups::default().with(Group::Time).with(Group::Dst);
        let mut info = run_info(None, None);
        info.groups = groups;
        let csv = render(Format::Csv, groups, |w| {
            w.header(&info).unwrap();
            w.sample(&sample(Some(1), Some(2))).unwrap();
            w.summary(&summary()).unwrap();
        });
        let json = render(Format::Json, groups, |w| {
            w.header(&info).unwrap();
            w.sample(&sample(Some(1), Some(2))).unwrap();
            w.summary(&summary()).unwrap();
        });
        let csv: Vec<&str> = csv.lines().collect();
        let json: Vec<&str> = json.lines().collect();
        let names: Vec<&str> = csv[1]
            .trim_start_matches("# columns: ")
            .split(',')
            .collect();
        let row: Vec<&str> = csv[2].split(',').collect();
        let obj: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(json[1]).unwrap();
        assert_eq!(obj.len(), names.len());
        let mut at = 0;
        for (name, text) in names.iter().zip(&row) {
            // Same order: each key is found after the previous one.
            at += json[1][at..].find(&format!("\"{name}\":")).expect(name);
            let as_text = match &obj[*name] {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(&as_text, text, "{name}");
        }
        let summary = csv[4].trim_start_matches("# summary: ");
        let mut at = 0;
        for kv in summary.split(',') {
            let (key, value) = kv.split_once('=').unwrap();
            at += json[2][at..].find(&format!("\"{key}\":")).expect(key);
            let v: serde_json::Value = serde_json::from_str(json[2]).unwrap();
            let v = &v["summary"][key];
            assert_eq!(v.is_null(), value.is_empty(), "{key}");
        }
    }
}
