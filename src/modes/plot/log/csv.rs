//! A CSV log's lines: the `# conntrend …` header that starts a run, the `# columns:` line, the
//! rows, and the comment lines (the lone `#` and `# summary:`) that are skipped.

use super::{Header, Log, Role, count, epoch};

impl Log {
    /// Reads one line of a CSV log.
    pub(super) fn csv_line(&mut self, line: &str) -> Result<(), String> {
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
        self.row_dst.clear();
        for part in parts {
            let f = fields
                .get(self.row.len())
                .ok_or("more fields than columns")?;
            if f.role == Role::DstName {
                self.row_dst.push_str(part);
            }
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
}
