//! Reading the logs conntrend writes back: CSV (`#` header, `# columns:`, rows, `# summary:`) or
//! JSON Lines (`{"header":…}`, samples, `{"summary":…}`), told apart by the first byte. Each run
//! in the log (a header) starts a segment. Only the numeric columns are kept, as f32, in one flat
//! array per segment: 1.2 million samples of a dozen columns fit in ~60 MB.

use std::io::BufRead;

/// One run of the log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Segment {
    /// `sampling=5s`, `range_init=32768-60999` from the header, as written.
    pub sampling: Option<String>,
    pub range: Option<String>,
    /// The numeric columns after `epoch_ms`, in the header's order.
    pub columns: Vec<String>,
    /// Sample times, ms since the epoch.
    pub times: Vec<u64>,
    /// `times.len() × columns.len()` values, row by row; NaN where a field was empty or null.
    pub values: Vec<f32>,
}

impl Segment {
    /// The values of column `i`.
    pub fn column(&self, i: usize) -> impl Iterator<Item = f32> + '_ {
        let n = self.columns.len();
        self.values.iter().skip(i).step_by(n.max(1)).copied()
    }

    pub fn index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
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

/// Reads one log into `segments`.
pub fn read(name: &str, input: impl BufRead, segments: &mut Vec<Segment>) -> Result<(), LogError> {
    let err = |line: usize, why: String| LogError {
        file: name.to_string(),
        line,
        why,
    };
    let mut json = None;
    // Per segment: where each CSV field (or JSON key) goes in the row; None for text columns.
    let mut slots: Vec<Option<usize>> = Vec::new();
    let mut row: Vec<f32> = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let n = i + 1;
        let line = line.map_err(|e| err(n, format!("cannot read: {e}")))?;
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        let is_json = *json.get_or_insert(line.starts_with('{'));
        if is_json {
            json_line(line, segments, &mut row).map_err(|why| err(n, why))?;
        } else {
            csv_line(line, segments, &mut slots, &mut row).map_err(|why| err(n, why))?;
        }
    }
    Ok(())
}

fn csv_line(
    line: &str,
    segments: &mut Vec<Segment>,
    slots: &mut Vec<Option<usize>>,
    row: &mut Vec<f32>,
) -> Result<(), String> {
    if let Some(rest) = line.strip_prefix("# conntrend ") {
        let word = |key: &str| {
            rest.split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .map(str::to_string)
        };
        segments.push(Segment {
            sampling: word("sampling="),
            range: word("range_init="),
            ..Segment::default()
        });
        return Ok(());
    }
    if let Some(cols) = line.strip_prefix("# columns: ") {
        let seg = segments
            .last_mut()
            .ok_or("a `# columns:` line before any `# conntrend` header")?;
        let names: Vec<&str> = cols.split(',').collect();
        if names.first() != Some(&"epoch_ms") {
            return Err("the columns do not start with epoch_ms: not a conntrend log".into());
        }
        slots.clear();
        seg.columns.clear();
        for name in &names[1..] {
            if TEXT_COLUMNS.contains(name) {
                slots.push(None);
            } else {
                slots.push(Some(seg.columns.len()));
                seg.columns.push((*name).to_string());
            }
        }
        return Ok(());
    }
    if line.starts_with('#') {
        return Ok(()); // the summary and the lone `#` before it
    }
    let seg = segments
        .last_mut()
        .filter(|s| !slots.is_empty() || !s.columns.is_empty())
        .ok_or("a data line before any `# conntrend` header and `# columns:` line: not a conntrend log")?;
    let mut fields = line.split(',');
    let t = fields
        .next()
        .and_then(|f| f.parse::<u64>().ok())
        .ok_or("the first field is not epoch_ms")?;
    row.clear();
    row.resize(seg.columns.len(), f32::NAN);
    let mut count = 0;
    for (k, field) in fields.enumerate() {
        count += 1;
        let slot = *slots.get(k).ok_or("more fields than columns")?;
        if let Some(at) = slot
            && !field.is_empty()
        {
            row[at] = field
                .parse::<f64>()
                .map_err(|_| format!("'{field}' is not a number ({})", seg.columns[at]))?
                as f32;
        }
    }
    if count != slots.len() {
        return Err(format!(
            "{} fields where the header has {}",
            count + 1,
            slots.len() + 1
        ));
    }
    seg.times.push(t);
    seg.values.extend_from_slice(row);
    Ok(())
}

fn json_line(line: &str, segments: &mut Vec<Segment>, row: &mut Vec<f32>) -> Result<(), String> {
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("not JSON ({e}): not a conntrend log"))?;
    let obj = v.as_object().ok_or("not a JSON object")?;
    if let Some(h) = obj.get("header") {
        let cols = h["columns"]
            .as_array()
            .ok_or("a header without columns: not a conntrend log")?;
        let columns = cols
            .iter()
            .filter_map(|c| c.as_str())
            .filter(|c| *c != "epoch_ms" && !TEXT_COLUMNS.contains(c))
            .map(str::to_string)
            .collect();
        segments.push(Segment {
            sampling: h["sampling_sec"].as_u64().map(|s| format!("{s}s")),
            range: h["range_init"].as_str().map(str::to_string),
            columns,
            ..Segment::default()
        });
        return Ok(());
    }
    if obj.contains_key("summary") {
        return Ok(());
    }
    let t = obj
        .get("epoch_ms")
        .and_then(|t| t.as_u64())
        .ok_or("neither a header, a sample with epoch_ms nor a summary: not a conntrend log")?;
    let seg = segments
        .last_mut()
        .ok_or("a sample before any header: not a conntrend log")?;
    row.clear();
    row.extend(seg.columns.iter().map(|c| match obj.get(c.as_str()) {
        Some(v) => v.as_f64().map_or(f32::NAN, |x| x as f32),
        None => f32::NAN,
    }));
    seg.times.push(t);
    seg.values.extend_from_slice(row);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "# conntrend 0.1.0  sampling=1s  duration=unlimited  range_init=32768-60999\n\
# columns: epoch_ms,time,total_port,used,free,udp_used\n\
1000,1970-01-01T00:00:01.000Z,100,10,90,\n\
2000,1970-01-01T00:00:02.000Z,100,20,80,1\n\
#\n# summary: samples=2\n\
# conntrend 0.1.0  sampling=1s  duration=unlimited  range_init=32768-60999\n\
# columns: epoch_ms,total_port,used,free,udp_used\n\
9000,100,30,70,2\n";

    #[test]
    fn csv_runs_are_segments() {
        let mut segs = Vec::new();
        read("log.csv", CSV.as_bytes(), &mut segs).unwrap();
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[0].columns, ["total_port", "used", "free", "udp_used"]);
        assert_eq!(segs[0].times, [1000, 2000]);
        assert_eq!(segs[0].column(1).collect::<Vec<_>>(), [10.0, 20.0]);
        assert!(segs[0].column(3).next().unwrap().is_nan(), "empty is not 0");
        assert_eq!(segs[1].times, [9000]);
        assert_eq!(segs[0].range.as_deref(), Some("32768-60999"));
    }

    #[test]
    fn json_lines_and_bad_input() {
        let json = "{\"header\":{\"sampling_sec\":5,\"range_init\":\"1-10\",\"columns\":[\"epoch_ms\",\"used\",\"udp_used\"]}}\n\
{\"epoch_ms\":5,\"used\":3,\"udp_used\":null}\n{\"summary\":{}}\n";
        let mut segs = Vec::new();
        read("log.json", json.as_bytes(), &mut segs).unwrap();
        assert_eq!(segs[0].columns, ["used", "udp_used"]);
        assert_eq!(segs[0].values[0], 3.0);
        assert!(segs[0].values[1].is_nan());
        let bad = |text: &str| read("x", text.as_bytes(), &mut Vec::new()).unwrap_err();
        assert_eq!(bad(&CSV.replace(",20,80,", ",2x,80,")).line, 4);
        assert!(bad("hello\n").why.contains("not a conntrend log"));
        assert!(bad("{\"a\":1}\n").why.contains("not a conntrend log"));
        assert_eq!(
            bad("# conntrend 0.1.0\n# columns: epoch_ms,used\n1,2,3\n").why,
            "more fields than columns"
        );
    }
}
