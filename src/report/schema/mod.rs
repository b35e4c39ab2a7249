//! The one description of what conntrend writes: every column a sample can carry and every summary
//! field, in output order, each with the group (flag) that adds it, a one-line meaning and how to
//! read its value. The CSV and JSON writers, the header's column list, `--help` and the README
//! check all read these tables, so a new column group is one entry here plus its fold.

use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::fold::dst::Dst;
pub use crate::fold::groups::{Group, Groups};
use crate::fold::owners::ProcName;

mod tables;

pub use tables::{COLUMNS, SUMMARY};

/// One field's value in a row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// Not measured: an empty CSV field, JSON `null`.
    Null,
    U64(u64),
    /// A destination, `10.1.2.3:443` or `[2001:db8::1]:443`.
    Dst(Dst),
    /// Milliseconds since the Unix epoch, written as ISO-8601 UTC (`2026-11-25T03:04:05.123Z`).
    Iso(u64),
    /// A process, `comm[pid]`.
    Proc(ProcName),
}

impl From<ProcName> for Value {
    fn from(v: ProcName) -> Value {
        Value::Proc(v)
    }
}

impl From<u64> for Value {
    fn from(v: u64) -> Value {
        Value::U64(v)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Value {
        Value::U64(v.into())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

impl From<Dst> for Value {
    fn from(v: Dst) -> Value {
        Value::Dst(v)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::U64(v) => write!(f, "{v}"),
            Value::Dst(d) => write!(f, "{d}"),
            Value::Iso(ms) => crate::util::time::write(f, *ms),
            Value::Proc(p) => write!(f, "{p}"),
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_none(),
            Value::U64(v) => s.serialize_u64(*v),
            Value::Dst(_) | Value::Iso(_) | Value::Proc(_) => s.collect_str(self),
        }
    }
}

/// One column or summary field.
pub struct Field<T> {
    pub name: &'static str,
    pub group: Group,
    /// What it counts, in one line (`--help`; the README explains at length).
    pub meaning: &'static str,
    pub get: fn(&T) -> Value,
}

/// The fields of `table` a run with `groups` writes.
pub fn fields<T>(
    table: &'static [Field<T>],
    groups: Groups,
) -> impl Iterator<Item = &'static Field<T>> {
    table.iter().filter(move |f| groups.contains(f.group))
}

/// The names of the columns a run with `groups` writes.
pub fn column_names(groups: Groups) -> Vec<&'static str> {
    fields(COLUMNS, groups).map(|f| f.name).collect()
}

/// One sample or summary as a flat object of its fields, in order (JSON), or as values (CSV).
pub struct Row<'a, T: 'static> {
    pub table: &'static [Field<T>],
    pub groups: Groups,
    pub item: &'a T,
}

impl<T> Row<'_, T> {
    /// (name, value) of every field written, in order.
    pub fn values(&self) -> impl Iterator<Item = (&'static str, Value)> + '_ {
        fields(self.table, self.groups).map(|f| (f.name, (f.get)(self.item)))
    }
}

impl<T> Serialize for Row<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (name, value) in self.values() {
            map.serialize_entry(name, &value)?;
        }
        map.end()
    }
}

/// The columns and their groups for `--help`, from the table.
pub fn help() -> String {
    let mut out = String::from("Columns (see the README for what each one counts):\n");
    for group in Group::ALL {
        let names: Vec<&str> = COLUMNS
            .iter()
            .filter(|f| f.group == group)
            .map(|f| f.name)
            .collect();
        match group.flag() {
            None => out += &format!("  {}\n", names.join(",")),
            Some(flag) => out += &format!("  {flag} adds {}\n", names.join(",")),
        }
    }
    out += "A field that was not sampled is empty (CSV) or null (JSON).";
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times() {
        assert_eq!(Value::Iso(0).to_string(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            Value::Iso(1_750_906_800_123).to_string(),
            "2025-06-26T03:00:00.123Z"
        );
        // 2024 is a leap year: the day after Feb 28 is Feb 29.
        assert_eq!(
            Value::Iso(1_709_164_800_000).to_string(),
            "2024-02-29T00:00:00.000Z"
        );
        assert_eq!(
            Value::Iso(1_735_689_599_999).to_string(),
            "2024-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn names_are_unique_and_groups_filter() {
        let all = Groups::default().with(Group::Time).with(Group::Dst);
        let mut names = column_names(all);
        names.extend(fields(SUMMARY, all).map(|f| f.name));
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "a name is used twice");
        assert_eq!(column_names(Groups::default()).len(), 12);
        assert_eq!(column_names(Groups::default().with(Group::Time))[1], "time");
    }

    /// Every column and summary field has a row in the tables of the README or the timeline's
    /// reference (docs/timeline.md, docs/conntrack.md), and every name in those tables is one the program writes.
    #[test]
    fn readme_tables_list_exactly_the_schema() {
        // The README's tables, the timeline's reference (--dst, --forecast) and conntrack's (--conntrack).
        let readme = ["README.md", "docs/timeline.md", "docs/conntrack.md"]
            .map(|f| {
                std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(f))
                    .unwrap()
            })
            .join("\n");
        let mut documented: Vec<String> = Vec::new();
        let mut in_table = false;
        for line in readme.lines() {
            if line.starts_with("| column |") || line.starts_with("| summary field |") {
                in_table = true;
                continue;
            }
            if !line.starts_with('|') {
                in_table = false;
                continue;
            }
            if !in_table || line.starts_with("|---") {
                continue;
            }
            let first = line.split('|').nth(1).unwrap_or_default();
            documented.extend(first.split('`').skip(1).step_by(2).map(str::to_string));
        }
        documented.sort();
        documented.dedup();
        let mut written: Vec<String> = COLUMNS
            .iter()
            .map(|f| f.name)
            .chain(SUMMARY.iter().map(|f| f.name))
            .map(str::to_string)
            .collect();
        written.sort();
        // `ct_drops` is both a column (per sample) and a summary field (the run's total).
        written.dedup();
        assert_eq!(documented, written);
    }

    #[test]
    fn help_lists_every_column_once() {
        let help = help();
        let tokens: Vec<&str> = help.split([',', ' ', '\n']).collect();
        for f in COLUMNS {
            let n = tokens.iter().filter(|t| **t == f.name).count();
            assert_eq!(n, 1, "{}\n{help}", f.name);
        }
    }
}
