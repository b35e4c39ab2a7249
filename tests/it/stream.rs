//! One typed reader of conntrend's output, CSV or JSON Lines, strict about the shape: the header,
//! the column list, sample rows with exactly those columns in that order, and the summary last.
//! Every field is kept as written (text, `None` for empty/null) and as a count where it is one.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

/// Columns and summary fields whose values are text, not counts.
const TEXT: [&str; 3] = ["time", "worst_dst", "peak_dst"];

/// A sample or summary as counts: field → value (`None` where empty or null); text fields left out.
pub type Row = BTreeMap<String, Option<u64>>;

/// A sample or summary as written: field → text (`None` where empty or null).
pub type Fields = BTreeMap<String, Option<String>>;

/// One run's output.
#[derive(Debug)]
pub struct Stream {
    /// CSV: the first header line (a JSON string); JSON: the header object.
    pub header: serde_json::Value,
    pub columns: Vec<String>,
    pub fields: Vec<Fields>,
    pub samples: Vec<Row>,
    /// Summary field names in output order.
    pub summary_keys: Vec<String>,
    pub summary_fields: Fields,
    pub summary: Row,
}

impl Stream {
    fn new(
        header: serde_json::Value,
        columns: Vec<String>,
        rows: Vec<Vec<(String, Option<String>)>>,
        summary: Vec<(String, Option<String>)>,
    ) -> Stream {
        for row in &rows {
            let keys: Vec<&String> = row.iter().map(|(k, _)| k).collect();
            let want: Vec<&String> = columns.iter().collect();
            assert_eq!(keys, want, "a sample's fields differ from the column list");
        }
        let fields: Vec<Fields> = rows.into_iter().map(|r| r.into_iter().collect()).collect();
        let summary_keys = summary.iter().map(|(k, _)| k.clone()).collect();
        let summary_fields: Fields = summary.into_iter().collect();
        Stream {
            header,
            columns,
            samples: fields.iter().map(counts).collect(),
            fields,
            summary_keys,
            summary: counts(&summary_fields),
            summary_fields,
        }
    }
}

fn counts(fields: &Fields) -> Row {
    fields
        .iter()
        .filter(|(k, _)| !TEXT.contains(&k.as_str()))
        .map(|(k, v)| {
            let n = v.as_ref().map(|v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("{k} is not a count: {v:?}"))
            });
            (k.clone(), n)
        })
        .collect()
}

/// Parses conntrend's CSV strictly: a `# conntrend` line, a `# columns:` line, sample rows, a
/// lone `#`, then one `# summary:` line which must be the last.
pub fn parse_csv(text: &str) -> Stream {
    let lines: Vec<&str> = text.lines().collect();
    let n = lines.len();
    assert!(n >= 4, "too few lines in CSV output:\n{text}");
    assert!(
        lines[0].starts_with("# conntrend "),
        "bad header line:\n{text}"
    );
    let columns: Vec<String> = lines[1]
        .strip_prefix("# columns: ")
        .unwrap_or_else(|| panic!("bad columns line:\n{text}"))
        .split(',')
        .map(str::to_string)
        .collect();
    assert_eq!(lines[n - 2], "#", "summary must follow a lone '#':\n{text}");
    let field = |v: &str| (!v.is_empty()).then(|| v.to_string());
    let rows = lines[2..n - 2]
        .iter()
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(
                f.len(),
                columns.len(),
                "row width differs from header: {line}"
            );
            columns
                .iter()
                .cloned()
                .zip(f.into_iter().map(field))
                .collect()
        })
        .collect();
    let summary = lines[n - 1]
        .strip_prefix("# summary: ")
        .unwrap_or_else(|| panic!("last line is not the summary:\n{text}"))
        .split(',')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("summary field is key=value");
            (k.to_string(), field(v))
        })
        .collect();
    Stream::new(lines[0].into(), columns, rows, summary)
}

/// Parses conntrend's JSON Lines strictly: `{"header":…}` first, samples with exactly the
/// header's columns in order, `{"summary":…}` last. Text fields must be strings, counts numbers.
pub fn parse_json(text: &str) -> Stream {
    let lines: Vec<Ordered> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() >= 2, "too few JSON lines:\n{text}");
    let only = |o: &Ordered, key: &str| -> serde_json::Value {
        match o.0.as_slice() {
            [(k, v)] if k == key => v.clone(),
            _ => panic!("expected one {key:?} object:\n{text}"),
        }
    };
    let header = only(&lines[0], "header");
    let columns: Vec<String> = header["columns"]
        .as_array()
        .unwrap_or_else(|| panic!("header without columns:\n{text}"))
        .iter()
        .map(|c| c.as_str().expect("column name").to_string())
        .collect();
    let rows = lines[1..lines.len() - 1]
        .iter()
        .map(|o| {
            o.0.iter()
                .map(|(k, v)| (k.clone(), text_of(k, v)))
                .collect()
        })
        .collect();
    let summary = only(&lines[lines.len() - 1], "summary");
    let summary: Ordered = serde_json::from_value(summary).unwrap();
    let summary = summary
        .0
        .iter()
        .map(|(k, v)| (k.clone(), text_of(k, v)))
        .collect();
    Stream::new(header, columns, rows, summary)
}

/// A JSON field as text: text fields must be strings, everything else a count (or null).
fn text_of(key: &str, v: &serde_json::Value) -> Option<String> {
    let text = TEXT.contains(&key);
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) if text => Some(s.clone()),
        serde_json::Value::Number(n) if !text && n.is_u64() => Some(n.to_string()),
        other => panic!("{key}: unexpected JSON value {other}"),
    }
}

/// A JSON object's members in the order written (serde_json's map sorts them).
struct Ordered(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    out.push(entry);
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V)
    }
}
