//! A text table laid out as grout's CLI lays its tables out: columns two spaces apart, numbers
//! on the right, trailing blanks cut. The first rows are held back to size the columns (grout
//! holds a screenful; here [`HELD_ROWS`]), then the header and those rows are written and later
//! rows stream with the same widths (a longer cell pushes its row to the right). A table without
//! rows writes nothing, not even its header, as grout's does.
//!
//! Held cells live in one buffer: no allocation per row once it has grown.

/// How many rows size the columns (grout's count when the output is not a terminal).
pub const HELD_ROWS: usize = 128;
const SEPARATOR: &[u8] = b"  ";

/// A column: its header and whether its cells are aligned on the right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub right: bool,
}

pub struct Table {
    columns: Vec<Column>,
    widths: Vec<usize>,
    /// True until the held rows are written.
    holding: bool,
    /// The held rows' cells, one after another, and where each ends.
    held: Vec<u8>,
    ends: Vec<usize>,
    cell: Vec<u8>,
}

impl Table {
    pub fn new(columns: &[Column]) -> Self {
        Table {
            widths: columns.iter().map(|c| c.name.len()).collect(),
            columns: columns.to_vec(),
            holding: true,
            held: Vec::new(),
            ends: Vec::new(),
            cell: Vec::new(),
        }
    }

    /// A table that holds nothing back and writes no header: rows are written at once, sized
    /// by the headers.
    pub fn streaming(columns: &[Column]) -> Self {
        Table {
            holding: false,
            ..Table::new(columns)
        }
    }

    /// The same table with each column at least as wide as `widths` says.
    pub fn with_widths(mut self, widths: &[usize]) -> Self {
        for (w, &at_least) in self.widths.iter_mut().zip(widths) {
            *w = (*w).max(at_least);
        }
        self
    }

    /// One row: `fill(i, cell)` writes column `i`'s cell into the empty `cell`.
    pub fn row(&mut self, out: &mut Vec<u8>, mut fill: impl FnMut(usize, &mut Vec<u8>)) {
        if !self.holding {
            let mut cell = std::mem::take(&mut self.cell);
            let mut line = LineWriter::new(out);
            for (i, c) in self.columns.iter().enumerate() {
                cell.clear();
                fill(i, &mut cell);
                line.cell(&cell, self.widths[i], c.right, i + 1 == self.columns.len());
            }
            line.end();
            self.cell = cell;
            return;
        }
        for (i, width) in self.widths.iter_mut().enumerate() {
            let start = self.held.len();
            fill(i, &mut self.held);
            *width = (*width).max(self.held.len() - start);
            self.ends.push(self.held.len());
        }
        if self.ends.len() >= HELD_ROWS * self.columns.len() {
            self.release(out);
        }
    }

    /// Writes the header and the held rows, if any; later rows are written as they come.
    pub fn release(&mut self, out: &mut Vec<u8>) {
        if !self.holding {
            return;
        }
        self.holding = false;
        if self.ends.is_empty() {
            return;
        }
        let n = self.columns.len();
        let mut line = LineWriter::new(out);
        for (i, c) in self.columns.iter().enumerate() {
            line.cell(c.name.as_bytes(), self.widths[i], c.right, i + 1 == n);
        }
        line.end();
        let mut start = 0;
        for (k, &end) in self.ends.iter().enumerate() {
            let i = k % n;
            let c = self.columns[i];
            line.cell(&self.held[start..end], self.widths[i], c.right, i + 1 == n);
            if i + 1 == n {
                line.end();
            }
            start = end;
        }
        self.held = Vec::new();
        self.ends = Vec::new();
    }

    /// The header line alone, sized by the headers (for a table that streams).
    pub fn header(&self, out: &mut Vec<u8>) {
        let n = self.columns.len();
        let mut line = LineWriter::new(out);
        for (i, c) in self.columns.iter().enumerate() {
            line.cell(c.name.as_bytes(), self.widths[i], c.right, i + 1 == n);
        }
        line.end();
    }
}

/// Writes one line cell by cell, then cuts its trailing blanks.
struct LineWriter<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
}

impl<'a> LineWriter<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        let start = out.len();
        LineWriter { out, start }
    }

    fn cell(&mut self, text: &[u8], width: usize, right: bool, last: bool) {
        let pad = width.saturating_sub(text.len());
        if right {
            self.out.resize(self.out.len() + pad, b' ');
        }
        self.out.extend_from_slice(text);
        if !right {
            self.out.resize(self.out.len() + pad, b' ');
        }
        if !last {
            self.out.extend_from_slice(SEPARATOR);
        }
    }

    fn end(&mut self) {
        while self.out.len() > self.start && self.out.last() == Some(&b' ') {
            self.out.pop();
        }
        self.out.push(b'\n');
        self.start = self.out.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLS: [Column; 3] = [
        Column {
            name: "ID",
            right: true,
        },
        Column {
            name: "STATE",
            right: false,
        },
        Column {
            name: "N",
            right: true,
        },
    ];

    fn rows(t: &mut Table, out: &mut Vec<u8>, cells: &[[&str; 3]]) {
        for r in cells {
            t.row(out, |i, c| c.extend_from_slice(r[i].as_bytes()));
        }
    }

    #[test]
    fn held_rows_size_the_columns_and_blanks_are_cut() {
        let (mut t, mut out) = (Table::new(&COLS), Vec::new());
        rows(
            &mut t,
            &mut out,
            &[["0x1", "established", "5"], ["", "", ""]],
        );
        assert!(out.is_empty(), "held back");
        t.release(&mut out);
        rows(&mut t, &mut out, &[["0x12345", "new", "12345"]]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            " ID  STATE        N\n0x1  established  5\n\n0x12345  new          12345\n"
        );
    }

    #[test]
    fn an_empty_table_writes_nothing_and_a_full_hold_is_released() {
        let (mut t, mut out) = (Table::new(&COLS), Vec::new());
        t.release(&mut out);
        assert!(out.is_empty());
        let mut t = Table::new(&COLS);
        for _ in 0..HELD_ROWS {
            rows(&mut t, &mut out, &[["1", "x", "2"]]);
        }
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), HELD_ROWS + 1);
        let mut s = Table::streaming(&COLS);
        let mut line = Vec::new();
        s.header(&mut line);
        rows(&mut s, &mut line, &[["1", "x", "2"]]);
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "ID  STATE  N\n 1  x      2\n"
        );
    }
}
