//! Reading the logs conntrend writes back: CSV (`#` header, `# columns:`, rows, `# summary:`) or
//! JSON Lines (`{"header":…}`, samples, `{"summary":…}`), told apart by the first byte. Each run
//! in the log (a header) starts a segment. Each numeric column goes into a [`Track`] as it is read,
//! which keeps its extremes exactly and its points decimated (see track.rs): memory is bounded by
//! the chart's width, not the log's length. A time or a value no conntrend run writes (an
//! epoch_ms past the year 9999, a value that is not a whole number fitting its column) is an
//! error naming the file, the line and the column.

use std::io::BufRead;

use super::track::{Limits, Track};

/// 9999-12-31T23:59:59.999Z: the last epoch_ms a log can hold. Beyond it the time is in µs or ns,
/// or garbage.
pub const LAST_MS: u64 = 253_402_300_799_999;

/// What a run's header says, as written (`sampling=5s`, `range_init=32768-60999`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub sampling: Option<String>,
    pub range: Option<String>,
}

/// Everything the chart needs from the logs read, in memory bounded by the chart's width.
#[derive(Debug)]
pub struct Log {
    limits: Limits,
    /// Runs (headers) read, over every file.
    pub segments: usize,
    /// Runs with at least one sample.
    pub runs_with_samples: usize,
    /// The header of the first run with a sample.
    pub first: Option<Header>,
    /// The earliest and the latest sample time.
    pub span: Option<(u64, u64)>,
    /// The numeric columns, in the order first seen, each with its track.
    pub columns: Vec<(String, Track)>,
    /// The run being read (it goes on into the next file, as one log split in two).
    run: Option<Run>,
    /// One row's values, reused.
    row: Vec<Option<u64>>,
}

/// The run being read.
#[derive(Debug)]
struct Run {
    header: Header,
    segment: usize,
    has_samples: bool,
    /// The fields after epoch_ms, in order; `None` until the CSV `# columns:` line.
    fields: Option<Vec<Field>>,
}

/// A field of the rows.
#[derive(Debug)]
struct Field {
    name: String,
    /// Its track; `None` for a text column.
    track: Option<usize>,
    /// The largest value it may hold.
    limit: u64,
}

/// A log that cannot be read: the file, the line (1-based) and why.
#[derive(Debug, PartialEq, Eq)]
pub struct LogError {
    pub file: String,
    pub line: usize,
    pub why: String,
}

impl std::fmt::Display for LogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.why)
    }
}

impl std::error::Error for LogError {}

/// Columns that are not numbers (the ISO time, the destination).
const TEXT_COLUMNS: [&str; 2] = ["time", "worst_dst"];

/// The columns conntrend writes as u32 counts; the others (conntrack, forecast, and columns this
/// version does not know) take any u64.
const U32_COLUMNS: [&str; 13] = [
    "total_port",
    "used",
    "free",
    "udp_used",
    "tcp_used",
    "time_wait",
    "estab",
    "syn",
    "close_wait",
    "last_ack",
    "fin_wait",
    "worst_dst_used",
    "worst_dst_free",
];

fn limit(column: &str) -> u64 {
    if U32_COLUMNS.contains(&column) {
        u32::MAX.into()
    } else {
        u64::MAX
    }
}

/// `field` as a value of `column`.
fn count(field: &str, column: &str, limit: u64) -> Result<u64, String> {
    match field.parse::<u64>() {
        Ok(v) if v <= limit => Ok(v),
        _ if field.parse::<f64>().is_ok() => Err(not_a_count(field, column, limit)),
        _ => Err(format!("'{field}' is not a number ({column})")),
    }
}

fn not_a_count(field: &str, column: &str, limit: u64) -> String {
    format!("'{field}' is not a count ({column}): conntrend writes whole numbers from 0 to {limit}")
}

/// `field` as epoch_ms; `None` when it is not a number at all.
fn epoch(field: &str) -> Option<Result<u64, String>> {
    match field.parse::<u64>() {
        Ok(t) if t <= LAST_MS => Some(Ok(t)),
        _ if field.parse::<f64>().is_ok() => Some(Err(format!(
            "epoch_ms {field} is not a time conntrend writes (milliseconds since 1970, before the year 10000)"
        ))),
        _ => None,
    }
}

impl Default for Log {
    fn default() -> Self {
        Log::new(Limits::default())
    }
}

impl Log {
    pub fn new(limits: Limits) -> Self {
        Log {
            limits,
            segments: 0,
            runs_with_samples: 0,
            first: None,
            span: None,
            columns: Vec::new(),
            run: None,
            row: Vec::new(),
        }
    }

    /// The track of column `name`.
    pub fn track(&self, name: &str) -> Option<&Track> {
        self.columns.iter().find(|c| c.0 == name).map(|c| &c.1)
    }

    /// Reads one log (`name` for errors).
    pub fn read(&mut self, name: &str, mut input: impl BufRead) -> Result<(), LogError> {
        let err = |line: usize, why: String| LogError {
            file: name.to_string(),
            line,
            why,
        };
        let mut json = None;
        let mut buf = String::new();
        let mut n = 0;
        loop {
            n += 1;
            buf.clear();
            match input.read_line(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(err(n, format!("cannot read: {e}"))),
            }
            let line = buf.trim_end();
            if line.is_empty() {
                continue;
            }
            let is_json = *json.get_or_insert(line.starts_with('{'));
            let read = if is_json {
                self.json_line(line)
            } else {
                self.csv_line(line)
            };
            read.map_err(|why| err(n, why))?;
        }
    }

    /// A new run: a header.
    fn start(&mut self, header: Header) {
        self.run = Some(Run {
            header,
            segment: self.segments,
            has_samples: false,
            fields: None,
        });
        self.segments += 1;
    }

    /// The fields named `names` (after epoch_ms) for the run being read.
    fn set_fields<'a>(&mut self, names: impl Iterator<Item = &'a str>) {
        let mut fields = Vec::new();
        for name in names {
            let track = (!TEXT_COLUMNS.contains(&name)).then(|| {
                self.columns
                    .iter()
                    .position(|c| c.0 == name)
                    .unwrap_or_else(|| {
                        self.columns
                            .push((name.to_string(), Track::new(self.limits)));
                        self.columns.len() - 1
                    })
            });
            fields.push(Field {
                name: name.to_string(),
                track,
                limit: limit(name),
            });
        }
        if let Some(run) = &mut self.run {
            run.fields = Some(fields);
        }
    }

    /// Takes the row in `self.row` (one value or `None` per field) at time `t`.
    fn sample(&mut self, t: u64) {
        let run = self.run.as_mut().expect("checked by the caller");
        let fields = run.fields.as_ref().expect("checked by the caller");
        for (f, v) in fields.iter().zip(&self.row) {
            let Some(k) = f.track else { continue };
            let track = &mut self.columns[k].1;
            match *v {
                Some(v) => track.push(run.segment, t, v),
                None => track.gap(),
            }
        }
        if !run.has_samples {
            run.has_samples = true;
            self.runs_with_samples += 1;
            if self.first.is_none() {
                self.first = Some(run.header.clone());
            }
        }
        self.span = Some(match self.span {
            Some((lo, hi)) => (lo.min(t), hi.max(t)),
            None => (t, t),
        });
    }

    fn csv_line(&mut self, line: &str) -> Result<(), String> {
        if let Some(rest) = line.strip_prefix("# conntrend ") {
            let word = |key: &str| {
                rest.split_whitespace()
                    .find_map(|w| w.strip_prefix(key))
                    .map(str::to_string)
            };
            self.start(Header {
                sampling: word("sampling="),
                range: word("range_init="),
            });
            return Ok(());
        }
        if let Some(cols) = line.strip_prefix("# columns: ") {
            if self.run.is_none() {
                return Err("a `# columns:` line before any `# conntrend` header".into());
            }
            let mut names = cols.split(',');
            if names.next() != Some("epoch_ms") {
                return Err("the columns do not start with epoch_ms: not a conntrend log".into());
            }
            self.set_fields(names);
            return Ok(());
        }
        if line.starts_with('#') {
            return Ok(()); // the summary and the lone `#` before it
        }
        let Some(fields) = self.run.as_ref().and_then(|r| r.fields.as_ref()) else {
            return Err(
                "a data line before any `# conntrend` header and `# columns:` line: not a conntrend log"
                    .into(),
            );
        };
        let mut parts = line.split(',');
        let t = parts
            .next()
            .and_then(epoch)
            .ok_or("the first field is not epoch_ms")??;
        self.row.clear();
        for part in parts {
            let f = fields
                .get(self.row.len())
                .ok_or("more fields than columns")?;
            self.row.push(match f.track {
                Some(_) if !part.is_empty() => Some(count(part, &f.name, f.limit)?),
                _ => None,
            });
        }
        if self.row.len() != fields.len() {
            return Err(format!(
                "{} fields where the header has {}",
                self.row.len() + 1,
                fields.len() + 1
            ));
        }
        self.sample(t);
        Ok(())
    }

    fn json_line(&mut self, line: &str) -> Result<(), String> {
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| format!("not JSON ({e}): not a conntrend log"))?;
        let obj = v.as_object().ok_or("not a JSON object")?;
        if let Some(h) = obj.get("header") {
            let cols = h["columns"]
                .as_array()
                .ok_or("a header without columns: not a conntrend log")?;
            self.start(Header {
                sampling: h["sampling_sec"].as_u64().map(|s| format!("{s}s")),
                range: h["range_init"].as_str().map(str::to_string),
            });
            self.set_fields(
                cols.iter()
                    .filter_map(|c| c.as_str())
                    .filter(|c| *c != "epoch_ms"),
            );
            return Ok(());
        }
        if obj.contains_key("summary") {
            return Ok(());
        }
        let t = match obj.get("epoch_ms") {
            Some(t) => epoch(&t.to_string()),
            None => None,
        }
        .ok_or("neither a header, a sample with epoch_ms nor a summary: not a conntrend log")??;
        let Some(fields) = self.run.as_ref().and_then(|r| r.fields.as_ref()) else {
            return Err("a sample before any header: not a conntrend log".into());
        };
        self.row.clear();
        for f in fields {
            self.row.push(match (f.track, obj.get(f.name.as_str())) {
                (None, _) | (_, None | Some(serde_json::Value::Null)) => None,
                (Some(_), Some(v)) => match v.as_u64() {
                    Some(x) if x <= f.limit => Some(x),
                    _ if v.is_number() => {
                        return Err(not_a_count(&v.to_string(), &f.name, f.limit));
                    }
                    _ => return Err(format!("'{v}' is not a number ({})", f.name)),
                },
            });
        }
        self.sample(t);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
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
        let csv =
            |row: &str| format!("# conntrend 0.1.0\n# columns: epoch_ms,used,ct_used\n{row}\n");
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
            bad("1,1,-1").why.ends_with(
                "(ct_used): conntrend writes whole numbers from 0 to 18446744073709551615"
            )
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
}
