//! One report's rows, formatted as the dump arrives into one reused buffer that goes out whenever
//! it passes 32 KiB: no allocation per connection, no table held in memory. Text (fixed-width
//! columns under a header in capitals), parsable (`-P`: comma-separated, no header) or JSON Lines.

use std::io::Write as _;

use super::fields::{Conn, Field, Value};
use super::filter::Filter;
use crate::diag::{Protocol, Record};
use crate::fold::Visit;
use crate::probes::owners::Owners;
use crate::probes::pool::Pool;

/// Rows are handed to the output once this much is buffered.
const FLUSH_AT: usize = 32 * 1024;

/// How rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Fixed-width columns; addresses this wide.
    Text { addr_width: usize },
    /// `-P`: values joined by commas.
    Parsable,
    /// `--json`: one object per connection.
    Json,
}

/// The header line of a text report.
pub fn header(fields: &[Field], addr_width: usize, out: &mut Vec<u8>) {
    for (i, f) in fields.iter().enumerate() {
        let name = f.name().to_ascii_uppercase();
        cell(
            out,
            name.as_bytes(),
            f.width(addr_width),
            i + 1 == fields.len(),
        );
    }
    out.push(b'\n');
}

/// Writes `text`, then pads to `width` unless it is the last column.
fn cell(out: &mut Vec<u8>, text: &[u8], width: usize, last: bool) {
    out.extend_from_slice(text);
    if !last {
        out.resize(out.len() + width.saturating_sub(text.len()), b' ');
        out.push(b' ');
    }
}

/// The visitor that turns each record passing the filter into a row.
pub struct Rows<'a, W: std::io::Write> {
    pub filter: &'a Filter,
    pub fields: &'a [Field],
    pub style: Style,
    pub owners: &'a Owners,
    pub epoch_ms: u64,
    pub out: &'a mut W,
    pub buf: &'a mut Vec<u8>,
    /// Scratch for one value.
    pub value: &'a mut Vec<u8>,
    /// Rows written in this report.
    pub rows: u64,
    /// The first write error; later rows are dropped.
    pub error: Option<std::io::Error>,
}

impl<W: std::io::Write> Rows<'_, W> {
    /// Writes whatever is buffered; the first error is kept.
    pub fn flush(&mut self) {
        if self.error.is_none()
            && !self.buf.is_empty()
            && let Err(e) = self.out.write_all(self.buf)
        {
            self.error = Some(e);
        }
        self.buf.clear();
    }

    fn row(&mut self, conn: &Conn<'_, '_>) {
        let buf = &mut *self.buf;
        if self.style == Style::Json {
            let _ = write!(buf, "{{\"epoch_ms\":{}", self.epoch_ms);
        }
        for (i, &f) in self.fields.iter().enumerate() {
            let last = i + 1 == self.fields.len();
            self.value.clear();
            let v = f.value(conn);
            match self.style {
                Style::Text { addr_width } => {
                    text(self.value, v);
                    cell(buf, self.value, f.width(addr_width), last);
                }
                Style::Parsable => {
                    text(self.value, v);
                    buf.extend_from_slice(self.value);
                    if !last {
                        buf.push(b',');
                    }
                }
                Style::Json => {
                    let _ = write!(buf, ",\"{}\":", f.name());
                    json(buf, v, f.is_text());
                }
            }
        }
        if self.style == Style::Json {
            buf.push(b'}');
        }
        buf.push(b'\n');
    }
}

fn text(out: &mut Vec<u8>, v: Value<'_>) {
    let _ = match v {
        Value::Empty => Ok(()),
        Value::Num(n) => write!(out, "{n}"),
        Value::Ms(ms) => write!(out, "{ms}"),
        Value::Addr(a) => write!(out, "{a}"),
        Value::Str(s) => write!(out, "{s}"),
    };
}

fn json(out: &mut Vec<u8>, v: Value<'_>, quoted: bool) {
    match v {
        Value::Empty => out.extend_from_slice(b"null"),
        Value::Str(s) => json_string(out, s),
        Value::Addr(_) if quoted => {
            out.push(b'"');
            text(out, v);
            out.push(b'"');
        }
        _ => text(out, v),
    }
}

/// A JSON string: quotes, backslashes and control characters escaped (a process may name itself
/// anything).
fn json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let mut b = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    out.push(b'"');
}

impl<W: std::io::Write> Visit for Rows<'_, W> {
    /// Rows already written cannot be taken back; `conns` never asks for a second attempt.
    fn reset(&mut self) {}

    fn visit(&mut self, _: &Pool, protocol: Protocol, record: &Record<'_>) {
        if protocol != Protocol::Tcp || self.error.is_some() || !self.filter.matches(record) {
            return;
        }
        let owner = match record.inode() {
            0 => None,
            inode => self.owners.owner(inode).map(|i| &self.owners.processes[i]),
        };
        self.row(&Conn::new(record, owner));
        self.rows += 1;
        if self.buf.len() >= FLUSH_AT {
            self.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::raw_record;
    use crate::modes::conns::fields::DEFAULT;
    use std::net::Ipv4Addr;

    fn report(style: Style, fields: &[Field], records: &[[u8; 72]]) -> String {
        let filter = Filter::default();
        let owners = Owners::default();
        let (mut out, mut buf, mut value) = (Vec::new(), Vec::new(), Vec::new());
        let mut rows = Rows {
            filter: &filter,
            fields,
            style,
            owners: &owners,
            epoch_ms: 7,
            out: &mut out,
            buf: &mut buf,
            value: &mut value,
            rows: 0,
            error: None,
        };
        for raw in records {
            rows.visit(&Pool::default(), Protocol::Tcp, &Record::new(raw).unwrap());
        }
        rows.flush();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_rows_line_up_under_the_header() {
        let recs = [
            raw_record(1, 40000, Ipv4Addr::new(10, 0, 0, 1), 443),
            raw_record(6, 5, Ipv4Addr::LOCALHOST, 80),
        ];
        let mut head = Vec::new();
        header(&DEFAULT, 15, &mut head);
        let head = String::from_utf8(head).unwrap();
        assert_eq!(head, "LADDR           LPORT RADDR           RPORT STATE\n");
        let body = report(Style::Text { addr_width: 15 }, &DEFAULT, &recs);
        assert_eq!(
            body,
            "0.0.0.0         40000 10.0.0.1        443   ESTABLISHED\n\
             0.0.0.0         5     127.0.0.1       80    TIME_WAIT\n"
        );
    }

    #[test]
    fn parsable_and_json_leave_what_was_not_measured_empty() {
        let recs = [raw_record(6, 5, Ipv4Addr::LOCALHOST, 80)];
        let fields = [Field::Rport, Field::Rtt, Field::State, Field::Cong];
        assert_eq!(report(Style::Parsable, &fields, &recs), "80,,TIME_WAIT,\n");
        assert_eq!(
            report(
                Style::Json,
                &[Field::Raddr, Field::Rtt, Field::State],
                &recs
            ),
            "{\"epoch_ms\":7,\"raddr\":\"127.0.0.1\",\"rtt\":null,\"state\":\"TIME_WAIT\"}\n"
        );
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut out = Vec::new();
        json_string(&mut out, "a\"b\\c\u{1}");
        assert_eq!(out, b"\"a\\\"b\\\\c\\u0001\"");
    }
}
