//! A JSON Lines log's lines: `{"header":…}` starts a run (its columns with it), a sample is an
//! object with `epoch_ms`, `{"summary":…}` is skipped.

use super::{Header, Log, Role, epoch, not_a_count};

impl Log {
    /// Reads one line of a JSON Lines log.
    pub(super) fn json_line(&mut self, line: &str) -> Result<(), String> {
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
        self.row_dst.clear();
        for f in fields {
            if f.role == Role::DstName
                && let Some(dst) = obj.get(f.name.as_str()).and_then(|v| v.as_str())
            {
                self.row_dst.push_str(dst);
            }
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
