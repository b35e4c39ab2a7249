//! Reading the logs conntrend writes back: CSV (`#` header, `# columns:`, rows, `# summary:`) or
//! JSON Lines (`{"header":…}`, samples, `{"summary":…}`), told apart by the first byte. Each run
//! in the log (a header) starts a segment. Each numeric column goes into a [`Track`] as it is read,
//! which keeps its extremes exactly and its points decimated (see track.rs): memory is bounded by
//! the chart's width, not the log's length. A time or a value no conntrend run writes (an
//! epoch_ms past the year 9999, a value that is not a whole number fitting its column) is an
//! error naming the file, the line and the column.
//!
//! `--from`/`--to` (a window) keep only the samples in it; the rest are read and checked all the
//! same. Beside the tracks the log keeps the time each run's samples cover (for the chart's time
//! axis, at most [`MAX_SPANS`] of them) and the destination `worst_dst` names at the peak of
//! `worst_dst_used` (for the legend).
//!
//! This file holds what both forms share: the runs, the columns and their tracks, and the values a
//! run can write; csv.rs and json.rs read one line of each form.

use std::io::BufRead;

use super::track::{Limits, Track};

mod csv;
mod json;
#[cfg(test)]
mod tests;

/// 9999-12-31T23:59:59.999Z: the last epoch_ms a log can hold. Beyond it the time is in µs or ns,
/// or garbage.
pub const LAST_MS: u64 = 253_402_300_799_999;

/// What a run's header says, as written (`sampling=5s`, `range_init=32768-60999`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub sampling: Option<String>,
    pub range: Option<String>,
}

/// The most run spans kept: past it the two closest merge (their gap is too small to cut out).
pub const MAX_SPANS: usize = 64;

/// Destinations `worst_dst` names that are told apart (past it, only that there were more).
const MAX_NAMES: usize = 8;

/// The longest destination kept (an IPv6 one is at most 47 characters).
const NAME_CHARS: usize = 64;

/// Everything the chart needs from the logs read, in memory bounded by the chart's width.
#[derive(Debug)]
pub struct Log {
    limits: Limits,
    /// The samples kept: from the first time to the second, inclusive.
    window: (u64, u64),
    /// Runs (headers) read, over every file.
    pub segments: usize,
    /// Runs with at least one sample.
    pub runs_with_samples: usize,
    /// The header of the first run with a sample.
    pub first: Option<Header>,
    /// The earliest and the latest sample time (in the window).
    pub span: Option<(u64, u64)>,
    /// The earliest and the latest sample time read, in the window or not.
    pub read_span: Option<(u64, u64)>,
    /// The numeric columns, in the order first seen, each with its track.
    pub columns: Vec<(String, Track)>,
    /// What `worst_dst` named.
    pub worst: Worst,
    /// The time covered by each finished run's samples (in the window).
    spans: Vec<(u64, u64)>,
    /// The run being read (it goes on into the next file, as one log split in two).
    run: Option<Run>,
    /// One row's values, reused.
    row: Vec<Option<u64>>,
    /// The row's worst_dst; empty when it has none.
    row_dst: String,
}

/// The destinations the `worst_dst` column named, over the samples kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Worst {
    /// The one named at the (first) peak of `worst_dst_used`.
    pub at_peak: Option<String>,
    /// The distinct destinations named, in the order first seen, at most [`MAX_NAMES`].
    pub names: Vec<String>,
    /// More were named than `names` holds.
    pub more: bool,
}

/// The run being read.
#[derive(Debug)]
struct Run {
    header: Header,
    segment: usize,
    has_samples: bool,
    /// The time its samples (in the window) cover so far.
    extent: Option<(u64, u64)>,
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
    /// What it says about the worst destination.
    role: Role,
}

/// A field's part in naming the worst destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Plain,
    /// `worst_dst`: the destination.
    DstName,
    /// `worst_dst_used`: its ports, whose peak picks the destination named.
    DstUsed,
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
            window: (0, u64::MAX),
            segments: 0,
            runs_with_samples: 0,
            first: None,
            span: None,
            read_span: None,
            columns: Vec::new(),
            worst: Worst::default(),
            spans: Vec::new(),
            run: None,
            row: Vec::new(),
            row_dst: String::new(),
        }
    }

    /// A log that keeps only the samples from `from` to `to` (inclusive).
    pub fn within(mut self, (from, to): (u64, u64)) -> Self {
        self.window = (from, to);
        self
    }

    /// The time covered by each run's samples (in the window), in time order, overlapping ones
    /// merged.
    pub fn spans(&self) -> Vec<(u64, u64)> {
        let mut all = self.spans.clone();
        all.extend(self.run.as_ref().and_then(|r| r.extent));
        merge(&mut all);
        all
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
        let ended = self.run.replace(Run {
            header,
            segment: self.segments,
            has_samples: false,
            extent: None,
            fields: None,
        });
        if let Some(extent) = ended.and_then(|r| r.extent) {
            self.spans.push(extent);
            if self.spans.len() > MAX_SPANS {
                merge(&mut self.spans);
                while self.spans.len() > MAX_SPANS / 2 {
                    let closest = (1..self.spans.len())
                        .min_by_key(|&i| self.spans[i].0 - self.spans[i - 1].1)
                        .expect("more than one span");
                    self.spans[closest - 1].1 = self.spans[closest].1;
                    self.spans.remove(closest);
                }
            }
        }
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
                role: match name {
                    "worst_dst" => Role::DstName,
                    "worst_dst_used" => Role::DstUsed,
                    _ => Role::Plain,
                },
            });
        }
        if let Some(run) = &mut self.run {
            run.fields = Some(fields);
        }
    }

    /// Takes the row in `self.row` (one value or `None` per field) at time `t`.
    fn sample(&mut self, t: u64) {
        self.read_span = Some(extend(self.read_span, t));
        if t < self.window.0 || t > self.window.1 {
            return;
        }
        let run = self.run.as_mut().expect("checked by the caller");
        let fields = run.fields.as_ref().expect("checked by the caller");
        for (f, v) in fields.iter().zip(&self.row) {
            let Some(k) = f.track else { continue };
            let track = &mut self.columns[k].1;
            match *v {
                Some(v) => {
                    if f.role == Role::DstUsed && track.max.is_none_or(|m| v > m.v) {
                        self.worst.at_peak = name(&self.row_dst);
                    }
                    track.push(run.segment, t, v);
                }
                None => track.gap(),
            }
        }
        if !self.row_dst.is_empty() && !self.worst.names.contains(&self.row_dst) {
            match (self.worst.names.len() < MAX_NAMES, name(&self.row_dst)) {
                (true, Some(n)) => self.worst.names.push(n),
                _ => self.worst.more = true,
            }
        }
        run.extent = Some(extend(run.extent, t));
        if !run.has_samples {
            run.has_samples = true;
            self.runs_with_samples += 1;
            if self.first.is_none() {
                self.first = Some(run.header.clone());
            }
        }
        self.span = Some(extend(self.span, t));
    }
}

/// `span` grown to take in `t`.
fn extend(span: Option<(u64, u64)>, t: u64) -> (u64, u64) {
    match span {
        Some((lo, hi)) => (lo.min(t), hi.max(t)),
        None => (t, t),
    }
}

/// Spans sorted by start, the overlapping ones merged.
fn merge(spans: &mut Vec<(u64, u64)>) {
    spans.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(spans.len());
    for &(a, b) in spans.iter() {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    *spans = out;
}

/// A destination as kept: `None` for none, cut to [`NAME_CHARS`].
fn name(dst: &str) -> Option<String> {
    match dst.char_indices().nth(NAME_CHARS) {
        _ if dst.is_empty() => None,
        Some((at, _)) => Some(format!("{}…", &dst[..at])),
        None => Some(dst.to_string()),
    }
}
