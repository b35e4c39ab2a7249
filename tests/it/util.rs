//! Running the real binary and reading what it wrote: typed views of the CSV and JSON streams, and
//! failures that print the command, its stdout and its stderr.

use std::collections::BTreeMap;
use std::process::{Command, Output};

/// The column set, in order, as the README documents it.
pub const COLUMNS: [&str; 12] = [
    "epoch_ms",
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
];

/// A `Command` for the conntrend binary under test.
pub fn conntrend() -> Command {
    Command::new(env!("CARGO_BIN_EXE_conntrend"))
}

/// What one finished run left behind.
pub struct Run {
    pub cmdline: String,
    pub output: Output,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// Everything a person needs to see when an assertion about this run fails.
    pub fn describe(&self) -> String {
        format!(
            "command: {}\nstatus: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.cmdline,
            self.output.status,
            self.stdout(),
            self.stderr()
        )
    }

    /// Panics with the whole picture unless the run exited with `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            Some(code),
            "unexpected exit code\n{}",
            self.describe()
        );
        self
    }
}

/// Runs `cmd` to completion on the calling thread (so it inherits that thread's network namespace).
pub fn run(mut cmd: Command) -> Run {
    let cmdline = format!("{cmd:?}");
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmdline}: {e}"));
    Run { cmdline, output }
}

/// One sample row: column name → value (`None` where the field was empty or null).
pub type Row = BTreeMap<String, Option<u64>>;

/// A CSV stream split into its parts.
#[derive(Debug)]
pub struct CsvStream {
    pub header: String,
    pub columns: Vec<String>,
    pub samples: Vec<Row>,
    pub summary: Row,
}

/// Parses conntrend's CSV output strictly: a `# conntrend` line, a `# columns:` line, sample rows,
/// a lone `#`, then one `# summary:` line which must be the last.
pub fn parse_csv(text: &str) -> CsvStream {
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 4, "too few lines in CSV output:\n{text}");
    let header = lines[0].to_string();
    assert!(
        header.starts_with("# conntrend "),
        "bad header line: {header}"
    );
    let columns: Vec<String> = lines[1]
        .strip_prefix("# columns: ")
        .unwrap_or_else(|| panic!("bad columns line: {}", lines[1]))
        .split(',')
        .map(str::to_string)
        .collect();
    let n = lines.len();
    assert_eq!(lines[n - 2], "#", "summary must follow a lone '#':\n{text}");
    let summary_text = lines[n - 1]
        .strip_prefix("# summary: ")
        .unwrap_or_else(|| panic!("last line is not the summary:\n{text}"));
    let summary = summary_text
        .split(',')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("summary field is key=value");
            (k.to_string(), parse_field(v))
        })
        .collect();
    let samples = lines[2..n - 2]
        .iter()
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(
                fields.len(),
                columns.len(),
                "row width differs from header: {line}"
            );
            columns
                .iter()
                .zip(fields)
                .map(|(c, f)| (c.clone(), parse_field(f)))
                .collect()
        })
        .collect();
    CsvStream {
        header,
        columns,
        samples,
        summary,
    }
}

fn parse_field(v: &str) -> Option<u64> {
    if v.is_empty() {
        None
    } else {
        Some(v.parse().unwrap_or_else(|_| panic!("not a number: {v:?}")))
    }
}

/// A JSON Lines stream split into its parts.
#[derive(Debug)]
pub struct JsonStream {
    pub header: serde_json::Value,
    pub samples: Vec<Row>,
    pub summary: Row,
}

/// Parses conntrend's JSON Lines output strictly: a `{"header":…}` object first, samples with exactly
/// the documented keys, and a `{"summary":…}` object last.
pub fn parse_json(text: &str) -> JsonStream {
    let values: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(values.len() >= 2, "too few JSON lines:\n{text}");
    let header = values[0]
        .get("header")
        .unwrap_or_else(|| panic!("first line is not the header:\n{text}"))
        .clone();
    let summary = values
        .last()
        .unwrap()
        .get("summary")
        .unwrap_or_else(|| panic!("last line is not the summary:\n{text}"));
    let summary = to_row(summary);
    let samples = values[1..values.len() - 1]
        .iter()
        .map(|v| {
            let obj = v.as_object().expect("sample is an object");
            let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
            let mut want = COLUMNS.to_vec();
            want.sort_unstable();
            let mut got = keys.clone();
            got.sort_unstable();
            assert_eq!(got, want, "sample keys differ from the CSV columns: {v}");
            to_row(v)
        })
        .collect();
    JsonStream {
        header,
        samples,
        summary,
    }
}

fn to_row(v: &serde_json::Value) -> Row {
    v.as_object()
        .expect("an object")
        .iter()
        .map(|(k, v)| {
            let n = if v.is_null() {
                None
            } else {
                Some(
                    v.as_u64()
                        .unwrap_or_else(|| panic!("{k} is not a count: {v}")),
                )
            };
            (k.clone(), n)
        })
        .collect()
}
