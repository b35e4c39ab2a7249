//! The one time formatter: milliseconds since the epoch broken into calendar fields (UTC by
//! arithmetic, local time through the C library's zone rules), and the three ways conntrend
//! writes them — ISO-8601 UTC (`--time iso`, alerts, `top`), a clock face for chart axes (`plot`)
//! and date(1)'s default form (`conns -T d`).

use std::fmt;

/// Which clock the fields are read on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Utc,
    Local,
}

/// A moment as a calendar shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    /// 1–12.
    pub month: u32,
    /// 1–31.
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub ms: u32,
    /// 0 is Sunday.
    pub weekday: u32,
    /// The zone's abbreviation (`UTC`, `CET`).
    pub zone: String,
}

impl Civil {
    /// `epoch_ms` on the `zone` clock. Local time the C library cannot convert falls back to UTC.
    pub fn at(epoch_ms: u64, zone: Zone) -> Civil {
        match zone {
            Zone::Local => local(epoch_ms).unwrap_or_else(|| utc(epoch_ms)),
            Zone::Utc => utc(epoch_ms),
        }
    }
}

fn utc(epoch_ms: u64) -> Civil {
    let (secs, ms) = (epoch_ms / 1000, epoch_ms % 1000);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    Civil {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        minute: (rem / 60 % 60) as u32,
        second: (rem % 60) as u32,
        ms: ms as u32,
        // 1970-01-01 was a Thursday.
        weekday: ((days + 4) % 7) as u32,
        zone: "UTC".to_string(),
    }
}

fn local(epoch_ms: u64) -> Option<Civil> {
    let secs = libc::time_t::try_from(epoch_ms / 1000).ok()?;
    // SAFETY: localtime_r writes only into `tm`, which a zeroed value may be; tm_zone, when set,
    // points at a NUL-terminated name the C library keeps for the life of the process.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    if unsafe { libc::localtime_r(&secs, &mut tm) }.is_null() {
        return None;
    }
    let zone = if tm.tm_zone.is_null() {
        String::new()
    } else {
        unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) }
            .to_string_lossy()
            .into_owned()
    };
    Some(Civil {
        year: i64::from(tm.tm_year) + 1900,
        month: (tm.tm_mon + 1) as u32,
        day: tm.tm_mday as u32,
        hour: tm.tm_hour as u32,
        minute: tm.tm_min as u32,
        second: tm.tm_sec as u32,
        ms: (epoch_ms % 1000) as u32,
        weekday: tm.tm_wday as u32,
        zone,
    })
}

/// ISO-8601 UTC with milliseconds: `2025-11-25T03:00:00.000Z`.
pub fn write(f: &mut fmt::Formatter<'_>, epoch_ms: u64) -> fmt::Result {
    let c = utc(epoch_ms);
    write!(
        f,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.ms
    )
}

/// A chart's axis label: `HH:MM:SS`, or `YYYY-MM-DD HH:MM:SS` with `date`.
pub fn clock(epoch_ms: u64, zone: Zone, date: bool) -> String {
    let c = Civil::at(epoch_ms, zone);
    let hms = format!("{:02}:{:02}:{:02}", c.hour, c.minute, c.second);
    if date {
        format!("{}-{:02}-{:02} {hms}", c.year, c.month, c.day)
    } else {
        hms
    }
}

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The C library's forms in local time: `Mon Dec  7 03:25:10` then, with `zone`, the zone's
/// abbreviation, then the year.
fn c_form(epoch_ms: u64, zone: bool) -> String {
    let c = Civil::at(epoch_ms, Zone::Local);
    let zone = if zone {
        format!(" {}", c.zone)
    } else {
        String::new()
    };
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02}{zone} {}",
        DAYS[c.weekday as usize % 7],
        MONTHS[(c.month as usize + 11) % 12],
        c.day,
        c.hour,
        c.minute,
        c.second,
        c.year
    )
}

/// date(1)'s default form in local time: `Mon Dec  7 03:25:10 UTC 2026`.
pub fn date(epoch_ms: u64) -> String {
    c_form(epoch_ms, true)
}

/// asctime(3)'s form in local time, without its newline: `Mon Dec  7 03:25:10 2026`.
pub fn asctime(epoch_ms: u64) -> String {
    c_form(epoch_ms, false)
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's civil_from_days).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_fields_agree_with_the_c_library() {
        // Every day boundary over a few centuries' leap rules, against gmtime_r.
        for secs in (-0i64..4_200_000_000).step_by(86_400 * 97 + 3_671) {
            let c = utc(secs as u64 * 1000);
            let mut tm: libc::tm = unsafe { std::mem::zeroed() };
            assert!(!unsafe { libc::gmtime_r(&(secs as libc::time_t), &mut tm) }.is_null());
            let theirs = (
                i64::from(tm.tm_year) + 1900,
                (tm.tm_mon + 1) as u32,
                tm.tm_mday as u32,
                tm.tm_hour as u32,
                tm.tm_min as u32,
                tm.tm_sec as u32,
                tm.tm_wday as u32,
            );
            let ours = (
                c.year, c.month, c.day, c.hour, c.minute, c.second, c.weekday,
            );
            assert_eq!(ours, theirs, "at {secs}");
        }
    }

    #[test]
    fn the_three_forms() {
        struct Iso(u64);
        impl fmt::Display for Iso {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write(f, self.0)
            }
        }
        let ms = 1_764_039_600_123; // 2025-11-25T03:00:00.123Z, a Tuesday
        assert_eq!(Iso(ms).to_string(), "2025-11-25T03:00:00.123Z");
        assert_eq!(clock(ms, Zone::Utc, false), "03:00:00");
        assert_eq!(clock(ms, Zone::Utc, true), "2025-11-25 03:00:00");
        assert_eq!(utc(ms).weekday, 2);
        // date(1)'s and asctime's forms, in whatever zone this machine has: their shape.
        assert_eq!(asctime(ms).split_whitespace().count(), 5);
        let d = date(ms);
        let words: Vec<&str> = d.split_whitespace().collect();
        assert_eq!(words.len(), 6, "{d}");
        assert!(words[5].parse::<i64>().is_ok(), "{d}");
    }
}
