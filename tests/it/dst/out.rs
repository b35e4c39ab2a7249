//! Reading a `--dst`/`--netns` run's CSV or JSON as text fields, and checking it.

use std::collections::BTreeMap;
use std::process::Command;

use crate::util::{COLUMNS, Run, conntrend, run};

const DST: [&str; 3] = ["worst_dst", "worst_dst_used", "worst_dst_free"];

/// A sample or a summary: field → value as text (`None`: empty in CSV, null in JSON).
pub(super) type Fields = BTreeMap<String, Option<String>>;

/// What --dst must show: (worst_dst, worst_dst_used, worst_dst_free), `None` with no destination.
pub(super) type Worst = Option<(String, u64, u64)>;

/// One run's output, CSV or JSON, as text fields.
pub(super) struct Out {
    /// The CSV header line, or the JSON header object.
    pub(super) header: serde_json::Value,
    pub(super) columns: Vec<String>,
    pub(super) samples: Vec<Fields>,
    /// Summary keys in output order (CSV) or sorted (JSON).
    pub(super) summary_keys: Vec<String>,
    pub(super) summary: Fields,
}

pub(super) fn parse_csv(text: &str) -> Out {
    let lines: Vec<&str> = text.lines().collect();
    let n = lines.len();
    assert!(n >= 4 && lines[n - 2] == "#", "CSV shape:\n{text}");
    let field = |v: &str| (!v.is_empty()).then(|| v.to_string());
    let columns: Vec<String> = lines[1]
        .strip_prefix("# columns: ")
        .unwrap_or_else(|| panic!("no columns line:\n{text}"))
        .split(',')
        .map(String::from)
        .collect();
    let samples = lines[2..n - 2]
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), columns.len(), "row width: {l}");
            columns
                .iter()
                .cloned()
                .zip(f.into_iter().map(field))
                .collect()
        })
        .collect();
    let pairs: Vec<(String, Option<String>)> = lines[n - 1]
        .strip_prefix("# summary: ")
        .unwrap_or_else(|| panic!("no summary line:\n{text}"))
        .split(',')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("summary field is key=value");
            (k.to_string(), field(v))
        })
        .collect();
    Out {
        header: lines[0].into(),
        columns,
        samples,
        summary_keys: pairs.iter().map(|(k, _)| k.clone()).collect(),
        summary: pairs.into_iter().collect(),
    }
}

/// A JSON field as text; destinations must be strings, everything else a number (or null).
fn text_of(key: &str, v: &serde_json::Value) -> Option<String> {
    let named = ["worst_dst", "peak_dst"].contains(&key);
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) if named => Some(s.clone()),
        serde_json::Value::Number(n) if !named && n.is_u64() => Some(n.to_string()),
        other => panic!("{key}: unexpected JSON value {other}"),
    }
}

pub(super) fn parse_json(text: &str) -> Out {
    let values: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(values.len() >= 2, "too few JSON lines:\n{text}");
    let header = values[0]["header"].clone();
    let columns: Vec<String> = header["columns"]
        .as_array()
        .unwrap_or_else(|| panic!("header without columns:\n{text}"))
        .iter()
        .map(|c| c.as_str().expect("column name").to_string())
        .collect();
    let fields = |v: &serde_json::Value| -> Fields {
        let obj = v
            .as_object()
            .unwrap_or_else(|| panic!("not an object: {v}"));
        obj.iter()
            .map(|(k, v)| (k.clone(), text_of(k, v)))
            .collect()
    };
    let samples: Vec<Fields> = values[1..values.len() - 1].iter().map(fields).collect();
    let mut want: Vec<&String> = columns.iter().collect();
    want.sort();
    for s in &samples {
        let got: Vec<&String> = s.keys().collect();
        assert_eq!(
            got, want,
            "sample keys differ from the header's columns:\n{text}"
        );
    }
    let summary = fields(&values[values.len() - 1]["summary"]);
    Out {
        header,
        columns,
        samples,
        summary_keys: summary.keys().cloned().collect(),
        summary,
    }
}

/// Runs `cmd` (on the calling thread, so in its namespace) plus `args`, in CSV or JSON; expects
/// exit 0 and an empty stderr. Returns the parsed output and the run's description for messages.
pub(super) fn ct(cmd: Command, args: &[&str], json: bool) -> (Out, String) {
    let mut cmd = cmd;
    cmd.args(args);
    if json {
        cmd.args(["--format", "json"]);
    }
    let r: Run = run(cmd);
    let d = r.describe();
    r.expect_code(0);
    assert!(r.stderr().is_empty(), "stderr not empty\n{d}");
    let out = if json {
        parse_json(&r.stdout())
    } else {
        parse_csv(&r.stdout())
    };
    (out, d)
}

fn dst_of(f: &Fields) -> [Option<String>; 3] {
    DST.map(|k| {
        f.get(k)
            .unwrap_or_else(|| panic!("no {k} in {f:?}"))
            .clone()
    })
}

fn want_of(w: &Worst) -> [Option<String>; 3] {
    match w {
        None => [None, None, None],
        Some((d, u, f)) => [Some(d.clone()), Some(u.to_string()), Some(f.to_string())],
    }
}

/// Checks a `--dst` run: 15 columns, each sample's three fields against `wants`, and the summary's
/// peak (the sample with the highest worst_dst_used; the tests never tie it).
pub(super) fn check_dst(out: &Out, wants: &[Worst], d: &str) {
    let mut cols: Vec<&str> = COLUMNS.to_vec();
    cols.extend(DST);
    assert_eq!(out.columns, cols, "columns\n{d}");
    assert_eq!(out.samples.len(), wants.len(), "samples\n{d}");
    for (i, (s, w)) in out.samples.iter().zip(wants).enumerate() {
        assert_eq!(
            dst_of(s),
            want_of(w),
            "sample {i}: left conntrend, right expected\n{d}"
        );
    }
    let peak = wants.iter().flatten().max_by_key(|w| w.1);
    let got = ["peak_dst_used", "peak_dst"].map(|k| out.summary.get(k).cloned().flatten());
    let want = [peak.map(|p| p.1.to_string()), peak.map(|p| p.0.clone())];
    assert_eq!(got, want, "summary peak_dst_used, peak_dst\n{d}");
    if out.header.is_string() {
        let tail: Vec<&str> = out
            .summary_keys
            .iter()
            .rev()
            .take(3)
            .map(String::as_str)
            .collect();
        assert_eq!(
            tail,
            ["peak_dst", "peak_dst_used", "max_total_port"],
            "summary order\n{d}"
        );
    }
}

/// `conntrend -c 1 --dst` in this namespace, CSV and JSON: the worst destination is `want` and
/// tcp_used is `tcp_used`.
pub(super) fn snapshot(want: &Worst, tcp_used: u64) {
    for json in [false, true] {
        let (out, d) = ct(conntrend(), &["-c", "1", "--dst"], json);
        check_dst(&out, std::slice::from_ref(want), &d);
        let got = out.samples[0]["tcp_used"].clone();
        assert_eq!(got, Some(tcp_used.to_string()), "tcp_used\n{d}");
    }
}

/// The standard twelve columns of the single sample of `out`, epoch_ms aside, as numbers.
pub(super) fn counts(out: &Out) -> Vec<(String, Option<u64>)> {
    let s = &out.samples[0];
    let num = |k: &str| s[k].as_ref().map(|v| v.parse().expect("a count"));
    COLUMNS[1..]
        .iter()
        .map(|k| (k.to_string(), num(k)))
        .collect()
}

pub(super) fn want_counts(v: [u64; 11]) -> Vec<(String, Option<u64>)> {
    COLUMNS[1..]
        .iter()
        .zip(v)
        .map(|(k, n)| (k.to_string(), Some(n)))
        .collect()
}
