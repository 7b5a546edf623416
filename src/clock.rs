//! The time the daemon goes by: the system's, or one set by `OGI_AUDIT_CLOCK` to rehearse a
//! reporting season.
//!
//! `OGI_AUDIT_CLOCK=2026-01-24T09:00:00+08:00` starts the clock at that time when the process
//! starts, and it runs on from there: reports are stamped received then, deadlines and reminders
//! are counted from it. An office uses it to see what the daemon would do on the day a
//! reminder is due; the tests use it to set a reporting season up. Intervals (how long a copy
//! has been still, when a summary is due) always follow the real clock.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use jiff::civil::Date;
use jiff::tz::Offset;
use jiff::Timestamp;

/// The environment variable that sets the clock.
pub const VAR: &str = "OGI_AUDIT_CLOCK";

/// How far the set clock is from the system's: (ahead, amount).
static SHIFT: OnceLock<Option<(bool, Duration)>> = OnceLock::new();

/// Reads `OGI_AUDIT_CLOCK`: `None` when unset, an error when it is not a time.
pub fn setting() -> Result<Option<Timestamp>, String> {
    match std::env::var(VAR) {
        Err(_) => Ok(None),
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => v.trim().parse::<Timestamp>().map(Some).map_err(|e| {
            format!(
                "{VAR}={v}: give a time with its offset, such as 2026-01-24T09:00:00+08:00 ({e})"
            )
        }),
    }
}

fn shift() -> Option<(bool, Duration)> {
    *SHIFT.get_or_init(|| {
        let set = setting().ok().flatten()?;
        let real = SystemTime::now();
        let set = SystemTime::try_from(set).ok()?;
        match set.duration_since(real) {
            Ok(ahead) => Some((true, ahead)),
            Err(behind) => Some((false, behind.duration())),
        }
    })
}

/// Now, by the daemon's clock.
pub fn now() -> SystemTime {
    let real = SystemTime::now();
    match shift() {
        None => real,
        Some((true, d)) => real.checked_add(d).unwrap_or(real),
        Some((false, d)) => real.checked_sub(d).unwrap_or(real),
    }
}

/// Whether the clock is set (for the daemon's start-up line).
pub fn is_set() -> bool {
    shift().is_some()
}

/// Today's date at `offset` from UTC (China: +08:00).
pub fn today(offset: Offset) -> Date {
    date_of(now(), offset)
}

/// The date at `offset` of a moment.
pub fn date_of(at: SystemTime, offset: Offset) -> Date {
    offset
        .to_datetime(Timestamp::try_from(at).unwrap_or(Timestamp::UNIX_EPOCH))
        .date()
}

/// The date at `offset` of an RFC 3339 time as the store keeps it; `None` if it is not one.
pub fn date_of_stamp(stamp: &str, offset: Offset) -> Option<Date> {
    let t: Timestamp = stamp.parse().ok()?;
    Some(offset.to_datetime(t).date())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_taken_in_the_office_time_zone() {
        let eight = Offset::constant(8);
        // 20:00 UTC on 31 January is already 1 February in Beijing.
        assert_eq!(
            date_of_stamp("2026-01-31T20:00:00Z", eight),
            Some(jiff::civil::date(2026, 2, 1))
        );
        assert_eq!(
            date_of_stamp("2026-01-31T15:59:59Z", eight),
            Some(jiff::civil::date(2026, 1, 31))
        );
        assert_eq!(date_of_stamp("x", eight), None);
    }
}
