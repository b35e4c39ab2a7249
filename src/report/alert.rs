//! `--alert 'COLUMN OP NUMBER'`: conditions on a sample's columns (and `used_pct`), told once on
//! stderr when they start to hold and once when they clear; `--exit-on-alert` ends the run at the
//! first one, with exit status 3.

use crate::fold::sample::Sample;
use crate::report::schema::{self, Groups, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        }
    }
}

/// `used / total_port × 100`.
pub const USED_PCT: &str = "used_pct";

/// One `--alert`.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// As given, spaces removed.
    pub expr: String,
    column: &'static str,
    op: Op,
    threshold: f64,
    /// Holds as of the last sample that had the column.
    pub holding: bool,
}

impl Alert {
    /// Parses `COLUMN OP NUMBER` against the columns a run with `groups` writes.
    pub fn parse(text: &str, groups: Groups) -> Result<Alert, String> {
        let expr: String = text.split_whitespace().collect();
        let ops = [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<", Op::Lt),
            (">", Op::Gt),
        ];
        let (at, sym, op) = ops
            .iter()
            .filter_map(|&(sym, op)| expr.find(sym).map(|at| (at, sym, op)))
            .min_by_key(|&(at, sym, _)| (at, std::cmp::Reverse(sym.len())))
            .ok_or_else(|| {
                format!(
                    "--alert '{text}': no comparison (COLUMN OP NUMBER, OP one of < <= > >= == !=)"
                )
            })?;
        let (name, number) = (&expr[..at], &expr[at + sym.len()..]);
        let numeric: Vec<&'static str> = schema::column_names(groups)
            .into_iter()
            .filter(|&c| !matches!(c, "time" | "worst_dst" | "owner" | "likely"))
            .chain([USED_PCT])
            .collect();
        let column = *numeric.iter().find(|&&c| c == name).ok_or_else(|| {
            format!(
                "--alert '{text}': unknown column '{name}' for these flags (columns: {})",
                numeric.join(", ")
            )
        })?;
        let threshold: f64 = number
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| format!("--alert '{text}': '{number}' is not a number"))?;
        Ok(Alert {
            expr,
            column,
            op,
            threshold,
            holding: false,
        })
    }

    /// The column's value in `s`, if measured.
    fn value(&self, s: &Sample) -> Option<f64> {
        if self.column == USED_PCT {
            return (s.total_port > 0).then(|| f64::from(s.used) * 100.0 / f64::from(s.total_port));
        }
        let field = schema::COLUMNS.iter().find(|f| f.name == self.column)?;
        match (field.get)(s) {
            Value::U64(v) => Some(v as f64),
            _ => None,
        }
    }
}

/// A run's alerts and how many started.
#[derive(Debug, Clone, Default)]
pub struct Alerts {
    pub list: Vec<Alert>,
    pub started: u64,
}

/// What one sample changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Started {
        expr: String,
        column: &'static str,
        value: f64,
    },
    Cleared {
        expr: String,
        column: &'static str,
        value: f64,
    },
}

impl Alerts {
    pub fn new(list: Vec<Alert>) -> Self {
        Alerts { list, started: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Evaluates every alert on `s`; what started or cleared. A column without a value leaves
    /// its alert as it was.
    pub fn check(&mut self, s: &Sample) -> Vec<Change> {
        let mut changes = Vec::new();
        for a in &mut self.list {
            let Some(v) = a.value(s) else { continue };
            let holds = a.op.holds(v, a.threshold);
            if holds != a.holding {
                a.holding = holds;
                let (expr, column, value) = (a.expr.clone(), a.column, v);
                changes.push(if holds {
                    self.started += 1;
                    Change::Started {
                        expr,
                        column,
                        value,
                    }
                } else {
                    Change::Cleared {
                        expr,
                        column,
                        value,
                    }
                });
            }
        }
        changes
    }
}

/// How a change reads on stderr, stamped with the sample's time.
pub fn describe(change: &Change, epoch_ms: u64) -> String {
    let time = Value::Iso(epoch_ms);
    let num = |v: f64| {
        if v.fract() == 0.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        }
    };
    match change {
        Change::Started {
            expr,
            column,
            value,
        } => {
            format!("ALERT {time} {expr} holds ({column}={})", num(*value))
        }
        Change::Cleared {
            expr,
            column,
            value,
        } => {
            format!("alert cleared {time} {expr} ({column}={})", num(*value))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::schema::Group;

    fn sample(free: u32) -> Sample {
        let mut s = crate::report::output::tests::sample(Some(1), Some(2));
        s.total_port = 1000;
        s.used = 1000 - free;
        s.free = free;
        s
    }

    #[test]
    fn parses_every_operator_and_refuses_bad_input() {
        let g = Groups::default();
        for (text, op) in [
            ("free<1000", Op::Lt),
            ("free <= 5", Op::Le),
            ("free>1", Op::Gt),
            ("free>=1", Op::Ge),
            ("free==1", Op::Eq),
            ("free!=1", Op::Ne),
        ] {
            assert_eq!(Alert::parse(text, g).unwrap().op, op, "{text}");
        }
        assert_eq!(
            Alert::parse("used_pct > 90", g).unwrap().expr,
            "used_pct>90"
        );
        assert!(
            Alert::parse("free", g)
                .unwrap_err()
                .contains("no comparison")
        );
        assert!(
            Alert::parse("fre<1", g)
                .unwrap_err()
                .contains("unknown column 'fre'")
        );
        assert!(
            Alert::parse("free<x", g)
                .unwrap_err()
                .contains("'x' is not a number")
        );
        assert!(
            Alert::parse("worst_dst_free<1", g)
                .unwrap_err()
                .contains("unknown column")
        );
        assert!(Alert::parse("worst_dst_free<1", g.with(Group::Dst)).is_ok());
        assert!(
            Alert::parse("worst_dst<1", g.with(Group::Dst)).is_err(),
            "not a number column"
        );
    }

    #[test]
    fn starts_once_and_clears_once() {
        let mut alerts = Alerts::new(vec![Alert::parse("free<500", Groups::default()).unwrap()]);
        assert!(alerts.check(&sample(800)).is_empty());
        let c = alerts.check(&sample(400));
        assert_eq!(
            c,
            [Change::Started {
                expr: "free<500".into(),
                column: "free",
                value: 400.0
            }]
        );
        assert!(
            alerts.check(&sample(300)).is_empty(),
            "still holding: said once"
        );
        assert!(matches!(
            alerts.check(&sample(600))[..],
            [Change::Cleared { .. }]
        ));
        alerts.check(&sample(100));
        assert_eq!(alerts.started, 2);
        let mut pct = Alerts::new(vec![
            Alert::parse("used_pct>=90", Groups::default()).unwrap(),
        ]);
        assert_eq!(pct.check(&sample(100)).len(), 1, "900 of 1000 used is 90%");
        assert!(
            describe(&pct.check(&sample(500))[0], 0)
                .starts_with("alert cleared 1970-01-01T00:00:00.000Z used_pct>=90 (used_pct=50)")
        );
    }
}
