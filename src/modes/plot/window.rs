//! `--from`, `--to` and `--last`: the stretch of the log to draw.
//!
//! A bound is a time — epoch milliseconds (`1796612400000`) or ISO-8601 with its zone
//! (`2026-12-07T03:00:00Z`, `2026-12-07T04:00:00.5+01:00`) — or a span counted back from the log's
//! last sample (`90s`, `15m`, `2h`, `1d`, `1h30m`): a log is drawn after the fact, so "the last 15
//! minutes" are the log's, not the clock's. `--last SPAN` is the SPAN before `--to` (the log's end
//! without it). Both bounds are inclusive. Samples outside the window are read (and checked) but
//! not kept, so a zoomed chart has the resolution of the window, not of the whole log.

use super::log::LAST_MS;

/// One bound as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// A time, ms since the epoch.
    At(u64),
    /// A span in ms back from the log's last sample.
    Before(u64),
}

/// The window asked for; the default is the whole log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub from: Option<When>,
    pub to: Option<When>,
    /// `--last`: a span in ms ending at `to`.
    pub last: Option<u64>,
}

impl Window {
    /// The window of the flags, refused (naming them) when it cannot hold a sample whatever the
    /// log: `--from` after `--to`, or `--last` beside `--from`.
    pub fn new(from: Option<When>, to: Option<When>, last: Option<u64>) -> Result<Window, String> {
        if last.is_some() && from.is_some() {
            return Err("--last and --from both set the window's start: give one".into());
        }
        let after = match (from, to) {
            (Some(When::At(a)), Some(When::At(b))) => a > b,
            (Some(When::Before(a)), Some(When::Before(b))) => a < b,
            _ => false,
        };
        if after {
            return Err(format!(
                "--from {} is after --to {}: the window is empty",
                describe(from.expect("matched")),
                describe(to.expect("matched"))
            ));
        }
        Ok(Window { from, to, last })
    }

    /// True when a bound counts back from the log's end, which is known only once it is read.
    pub fn needs_end(&self) -> bool {
        self.last.is_some()
            || [self.from, self.to]
                .iter()
                .any(|w| matches!(w, Some(When::Before(_))))
    }

    /// The first and the last time drawn (inclusive) for a log whose last sample is at `end`.
    pub fn resolve(&self, end: u64) -> (u64, u64) {
        let at = |w: When| match w {
            When::At(t) => t,
            When::Before(span) => end.saturating_sub(span),
        };
        let to = self.to.map_or(u64::MAX, at);
        let from = match (self.from, self.last) {
            (Some(w), _) => at(w),
            (None, Some(span)) => to.min(end).saturating_sub(span),
            (None, None) => 0,
        };
        (from, to)
    }
}

/// A bound as the user wrote it, for messages.
fn describe(w: When) -> String {
    match w {
        When::At(t) => iso(t),
        When::Before(span) => format!("({} before the log's end)", super::axis::duration(span)),
    }
}

/// ISO-8601 UTC with milliseconds.
pub fn iso(t: u64) -> String {
    struct Iso(u64);
    impl std::fmt::Display for Iso {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            crate::util::time::write(f, self.0)
        }
    }
    Iso(t).to_string()
}

/// `--from`/`--to`: epoch ms, ISO-8601 with a zone, or a span back from the log's end.
pub fn parse_when(s: &str) -> Result<When, String> {
    const HOW: &str = "a time (epoch ms, or ISO-8601 such as 2026-12-07T03:00:00Z) or a span back from the log's end (90s, 15m, 2h, 1d)";
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return match s.parse::<u64>() {
            Ok(t) if t <= LAST_MS => Ok(When::At(t)),
            _ => Err(format!("{HOW}; {s} ms is after the year 9999")),
        };
    }
    if s.len() >= 10 && s.as_bytes()[4] == b'-' {
        return parse_iso(s).map(When::At);
    }
    parse_span(s).map(When::Before).map_err(|_| HOW.to_string())
}

/// `--last` and relative bounds: `90s`, `15m`, `2h`, `1d`, or several (`1h30m`).
pub fn parse_span(s: &str) -> Result<u64, String> {
    const HOW: &str = "a span such as 90s, 15m, 2h, 1d or 1h30m";
    let mut rest = s;
    let mut total: u64 = 0;
    if rest.is_empty() {
        return Err(HOW.into());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or(HOW)?;
        let n: u64 = rest[..digits].parse().map_err(|_| HOW)?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let ms = match &rest[..unit_len] {
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(HOW.into()),
        };
        rest = &rest[unit_len..];
        total = n
            .checked_mul(ms)
            .and_then(|v| total.checked_add(v))
            .filter(|&v| v <= LAST_MS)
            .ok_or("a span longer than the years a log can hold")?;
    }
    if total == 0 {
        return Err("a span longer than 0".into());
    }
    Ok(total)
}

/// `YYYY-MM-DDTHH:MM[:SS[.fff]]` then `Z` or `±HH:MM` (a space may stand for the `T`).
fn parse_iso(s: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "'{s}' is not an ISO-8601 time: write it as 2026-12-07T03:00:00Z, or with an offset (…+01:00)"
        )
    };
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Result<i64, String> {
        let part = s.get(from..from + len).ok_or_else(bad)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    if b.len() < 16 || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' {
        return Err(bad());
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute) = (num(11, 2)?, num(14, 2)?);
    let mut at = 16;
    let (mut second, mut ms) = (0, 0);
    if b.get(at) == Some(&b':') {
        second = num(at + 1, 2)?;
        at += 3;
        if b.get(at) == Some(&b'.') {
            let digits = b[at + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            if digits == 0 {
                return Err(bad());
            }
            // Milliseconds: the first three digits, the rest dropped.
            let frac = &s[at + 1..at + 1 + digits.min(3)];
            ms = frac.parse::<i64>().map_err(|_| bad())? * 10i64.pow(3 - frac.len() as u32);
            at += 1 + digits;
        }
    }
    let offset_min = match &s[at..] {
        "Z" | "z" => 0,
        "" => {
            return Err(format!(
                "'{s}' has no zone: add Z for UTC (2026-12-07T03:00:00Z) or an offset (…+01:00)"
            ));
        }
        zone if zone.len() == 6 && zone.as_bytes()[3] == b':' => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return Err(bad()),
            };
            sign * (num(at + 1, 2)? * 60 + num(at + 4, 2)?)
        }
        _ => return Err(bad()),
    };
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if !(1..=days_in_month).contains(&day) || hour > 23 || minute > 59 || second > 59 {
        return Err(bad());
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_min * 60;
    let t = secs * 1000 + ms;
    match u64::try_from(t) {
        Ok(t) if t <= LAST_MS => Ok(t),
        _ => Err(format!("'{s}' is not between 1970 and the year 9999")),
    }
}

/// Days since 1970-01-01 of a date (Howard Hinnant's days_from_civil).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_spans() {
        assert_eq!(parse_when("1796612400000"), Ok(When::At(1_796_612_400_000)));
        assert_eq!(parse_when("1970-01-01T00:00:00Z"), Ok(When::At(0)));
        // 2026-12-07T03:00:00Z, as date -d says: 1796612400.
        assert_eq!(
            parse_when("2026-12-07T03:00:00Z"),
            Ok(When::At(1_796_612_400_000))
        );
        assert_eq!(
            parse_when("2026-12-07 04:30:00.25+01:30"),
            Ok(When::At(1_796_612_400_250))
        );
        assert_eq!(
            parse_when("2026-12-07T03:00Z"),
            Ok(When::At(1_796_612_400_000))
        );
        assert_eq!(
            parse_when("2024-02-29T00:00:00-00:00"),
            Ok(When::At(1_709_164_800_000))
        );
        assert_eq!(
            parse_when("9999-12-31T23:59:59.999Z"),
            Ok(When::At(LAST_MS))
        );
        assert_eq!(parse_when("15m"), Ok(When::Before(900_000)));
        assert_eq!(parse_span("1h30m"), Ok(5_400_000));
        assert_eq!(parse_span("2d"), Ok(172_800_000));
        for bad in [
            "",
            "15",
            "15x",
            "m",
            "0s",
            "2026-02-30T00:00:00Z",
            "2026-12-07T24:00:00Z",
            "2026-12-07T03:00:00",
            "2026-12-07T03:00:00+1",
            "1969-12-31T23:59:59Z",
            "10000-01-01T00:00:00Z",
            "yesterday",
            "253402300800000",
        ] {
            let why = match bad {
                "15" => parse_span(bad),
                _ => parse_when(bad).map(|_| 0),
            };
            assert!(why.is_err(), "{bad:?} was taken");
        }
        assert!(
            parse_when("2026-12-07T03:00:00")
                .unwrap_err()
                .contains("no zone")
        );
    }

    #[test]
    fn windows_resolve_against_the_end() {
        let end = 10_000_000;
        assert_eq!(Window::default().resolve(end), (0, u64::MAX));
        assert!(!Window::default().needs_end());
        let last = Window::new(None, None, Some(60_000)).unwrap();
        assert!(last.needs_end());
        assert_eq!(last.resolve(end), (end - 60_000, u64::MAX));
        let before = Window::new(None, Some(When::At(5_000_000)), Some(60_000)).unwrap();
        assert_eq!(before.resolve(end), (4_940_000, 5_000_000));
        let rel = Window::new(
            Some(When::Before(120_000)),
            Some(When::Before(60_000)),
            None,
        )
        .unwrap();
        assert_eq!(rel.resolve(end), (end - 120_000, end - 60_000));
        // A span longer than the log: from its start.
        assert_eq!(last.resolve(1000), (0, u64::MAX));
        assert!(
            Window::new(Some(When::At(2)), Some(When::At(1)), None)
                .unwrap_err()
                .starts_with("--from 1970-01-01T00:00:00.002Z is after --to")
        );
        assert!(Window::new(Some(When::Before(1)), Some(When::Before(2)), None).is_err());
        assert!(Window::new(Some(When::At(1)), None, Some(5)).is_err());
    }
}
