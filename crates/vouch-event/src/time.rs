//! Timestamps: nanoseconds since the Unix epoch, UTC, written as RFC 3339.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A point in time, nanoseconds since 1970-01-01T00:00:00Z.
///
/// Vouch never reads the clock below the binary edge; callers pass time in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode,
)]
pub struct Timestamp(i64);

/// Why a string is not an RFC 3339 timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid time `{input}`: {reason} (expected RFC 3339, e.g. 2026-11-28T04:20:51Z)")]
pub struct TimestampError {
    input: String,
    reason: &'static str,
}

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// How far a time from outside (a producer's clock, a flag) may lie ahead of the clock
/// that judges it: 5 minutes.
///
/// Clocks on different machines disagree by seconds, sometimes minutes; a time further
/// ahead than this is no clock's reading but a mistake (a wrong year, a time zone applied
/// twice), and data dated in the future would look fresh forever. Every comparison of an
/// outside time with now goes through [`Timestamp::check_not_future`], so this is the one
/// place the allowance is decided.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// [`MAX_CLOCK_SKEW`] in nanoseconds (five minutes fit an i128 many times over).
const MAX_CLOCK_SKEW_NANOS: i128 = MAX_CLOCK_SKEW.as_nanos() as i128;

/// A time later than now by more than [`MAX_CLOCK_SKEW`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{field} {time} is in the future: later than now ({now}) by more than the allowed clock skew of {} minutes",
    MAX_CLOCK_SKEW.as_secs() / 60
)]
pub struct FutureTimeError {
    field: String,
    time: Timestamp,
    now: Timestamp,
}

impl FutureTimeError {
    /// What the time was given as: a field (`data.snapshot_at`) or a flag (`--as-of`).
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The time refused.
    pub fn time(&self) -> Timestamp {
        self.time
    }

    /// The time it was judged against.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The same refusal with the time named differently: the flag a field was given by.
    #[must_use]
    pub fn named(self, field: impl Into<String>) -> Self {
        FutureTimeError {
            field: field.into(),
            ..self
        }
    }
}

impl Timestamp {
    /// The epoch itself.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// A timestamp from nanoseconds since the epoch.
    pub const fn from_unix_nanos(nanos: i64) -> Self {
        Timestamp(nanos)
    }

    /// Nanoseconds since the epoch.
    pub const fn unix_nanos(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (rounded towards negative infinity).
    pub const fn unix_seconds(self) -> i64 {
        self.0.div_euclid(NANOS_PER_SEC)
    }

    /// Whether this time is later than `now` by more than [`MAX_CLOCK_SKEW`]: a time
    /// no clock could have read yet. Exact for every pair of timestamps (no overflow).
    pub fn is_beyond_skew(self, now: Timestamp) -> bool {
        i128::from(self.0) > i128::from(now.0) + MAX_CLOCK_SKEW_NANOS
    }

    /// Refuses a time from outside that lies in the future beyond the allowed clock skew.
    /// `field` names where the time came from, for the message.
    ///
    /// # Errors
    /// [`FutureTimeError`] when [`Timestamp::is_beyond_skew`] holds.
    pub fn check_not_future(self, field: &str, now: Timestamp) -> Result<(), FutureTimeError> {
        if self.is_beyond_skew(now) {
            return Err(FutureTimeError {
                field: field.to_owned(),
                time: self,
                now,
            });
        }
        Ok(())
    }

    /// Parses RFC 3339: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
    ///
    /// The one parser of times from outside, so the one place their range is decided:
    /// years 1678..=2261 in UTC (the whole years nanoseconds in an `i64` can hold), and a
    /// second `60` only where a leap second can be, at 23:59:60 UTC on the last day of a
    /// month.
    ///
    /// # Errors
    /// When the text is not such a timestamp, or is out of range.
    pub fn parse_rfc3339(input: &str) -> Result<Self, TimestampError> {
        let fail = |reason| TimestampError {
            input: input.chars().take(64).collect(),
            reason,
        };
        let b = input.as_bytes();
        if b.len() < 20 {
            return Err(fail("too short"));
        }
        let num = |range: std::ops::Range<usize>| -> Result<i64, TimestampError> {
            let part = &b[range];
            if !part.iter().all(u8::is_ascii_digit) {
                return Err(fail("expected digits"));
            }
            Ok(part
                .iter()
                .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')))
        };
        if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
            return Err(fail("expected YYYY-MM-DDTHH:MM:SS"));
        }
        if b[13] != b':' || b[16] != b':' {
            return Err(fail("expected HH:MM:SS"));
        }
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return Err(fail("no such date"));
        }
        if hour > 23 || minute > 59 || second > 60 {
            return Err(fail("no such time of day"));
        }
        let mut i = 19;
        let mut nanos = 0i64;
        if b[i] == b'.' {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let digits = i - start;
            if digits == 0 || digits > 9 {
                return Err(fail("fraction of a second must have 1 to 9 digits"));
            }
            nanos = num(start..i)? * 10i64.pow(9 - digits as u32);
        }
        let offset_seconds = match b.get(i) {
            Some(b'Z') if i + 1 == b.len() => 0,
            Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
                let (h, m) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
                if h > 23 || m > 59 {
                    return Err(fail("no such UTC offset"));
                }
                let s = h * 3600 + m * 60;
                if *sign == b'+' {
                    s
                } else {
                    -s
                }
            }
            _ => return Err(fail("expected Z or a UTC offset like +01:00 at the end")),
        };
        // The time as written, less its offset: UTC. The year has four digits, so none of
        // this overflows.
        let utc_seconds =
            days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second.min(59)
                - offset_seconds;
        if second == 60 && !is_leap_second_slot(utc_seconds) {
            return Err(fail(
                "second 60 is a leap second, which only 23:59:60 UTC on the last day of a month can be",
            ));
        }
        // A leap second is folded into the next second, as most systems do.
        let seconds = utc_seconds + i64::from(second == 60);
        if !(MIN_SECONDS..MAX_SECONDS_EXCLUSIVE).contains(&seconds) {
            return Err(fail("out of range: years 1678 to 2261 (UTC)"));
        }
        Ok(Timestamp(seconds * NANOS_PER_SEC + nanos))
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC, with as many fraction digits as needed (none for whole seconds).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(NANOS_PER_SEC);
        let nanos = self.0.rem_euclid(NANOS_PER_SEC);
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )?;
        if nanos != 0 {
            let mut frac = format!("{nanos:09}");
            while frac.ends_with('0') {
                frac.pop();
            }
            write!(f, ".{frac}")?;
        }
        f.write_str("Z")
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse_rfc3339(s)
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

/// 1678-01-01T00:00:00Z in seconds since the epoch: the first second of the range.
const MIN_SECONDS: i64 = -9_214_560_000;
/// 2262-01-01T00:00:00Z in seconds since the epoch: just past the range. Every
/// nanosecond before it fits an `i64` (which ends in April 2262).
const MAX_SECONDS_EXCLUSIVE: i64 = 9_214_646_400;

/// Whether the UTC second written as `:59` (a leap second's `:60` less one) is 23:59:59
/// on the last day of a month: the only place a leap second is inserted.
fn is_leap_second_slot(utc_seconds: i64) -> bool {
    let (days, rem) = (
        utc_seconds.div_euclid(86_400),
        utc_seconds.rem_euclid(86_400),
    );
    let (_, month, _) = civil_from_days(days);
    let (_, next_month, _) = civil_from_days(days + 1);
    rem == 86_399 && month != next_month
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since the epoch for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: Result<&str, &str>) {
        match (Timestamp::parse_rfc3339(input), expect) {
            (Ok(t), Ok(want)) => assert_eq!(t.to_string(), want, "{input}"),
            (Err(e), Err(want)) => assert!(e.to_string().contains(want), "{input}: {e}"),
            (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn parses_and_normalises_to_utc() {
        check("1970-01-01T00:00:00Z", Ok("1970-01-01T00:00:00Z"));
        check("2026-11-28T04:20:51Z", Ok("2026-11-28T04:20:51Z"));
        check("2026-11-28T05:20:51.5+01:00", Ok("2026-11-28T04:20:51.5Z"));
        check(
            "2024-02-29T23:59:59.123456789-00:30",
            Ok("2024-03-01T00:29:59.123456789Z"),
        );
        check("1969-12-31T23:59:59.9Z", Ok("1969-12-31T23:59:59.9Z"));
    }

    #[test]
    fn rejects_what_is_not_rfc3339() {
        check("2026-11-28", Err("too short"));
        check("2026-11-28T04:20:51", Err("too short"));
        check("2026-11-28T04:20:51+0100", Err("UTC offset"));
        check("2026-11-28 04:20:51Z", Err("expected YYYY-MM-DDTHH:MM:SS"));
        check("2026-11-28T04:20:51z", Err("UTC offset"));
        check("2026-02-30T00:00:00Z", Err("no such date"));
        check("2025-02-29T00:00:00Z", Err("no such date"));
        check("2026-11-28T24:00:00Z", Err("no such time"));
        check("2026-11-28T04:20:51.Z", Err("1 to 9 digits"));
        check("2026-11-28T04:20:51.1234567890Z", Err("1 to 9 digits"));
        check("20x6-11-28T04:20:51Z", Err("digits"));
        check("9999-11-28T04:20:51Z", Err("out of range"));
    }

    #[test]
    fn the_range_is_years_1678_to_2261_in_utc() {
        check("1678-01-01T00:00:00Z", Ok("1678-01-01T00:00:00Z"));
        check(
            "2261-12-31T23:59:59.999999999Z",
            Ok("2261-12-31T23:59:59.999999999Z"),
        );
        check("1677-12-31T23:59:59.999999999Z", Err("out of range"));
        check("1677-09-21T00:12:44Z", Err("out of range"));
        check("2262-01-01T00:00:00Z", Err("out of range"));
        check("2262-04-11T23:47:16Z", Err("out of range"));
        // The range is in UTC: an offset can move a time in or out of it.
        check("1678-01-01T00:30:00+01:00", Err("out of range"));
        check("1677-12-31T23:30:00-01:00", Ok("1678-01-01T00:30:00Z"));
        check("2261-12-31T23:30:00-01:00", Err("out of range"));
        check("2262-01-01T00:30:00+01:00", Ok("2261-12-31T23:30:00Z"));
        assert_eq!(
            Timestamp::parse_rfc3339("1678-01-01T00:00:00Z").map(|t| t.unix_seconds()),
            Ok(MIN_SECONDS)
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2261-12-31T23:59:59Z").map(|t| t.unix_seconds()),
            Ok(MAX_SECONDS_EXCLUSIVE - 1)
        );
    }

    #[test]
    fn second_60_is_only_a_leap_second() {
        // 23:59:60 UTC on the last day of a month, folded into the next second.
        check("2016-12-31T23:59:60Z", Ok("2017-01-01T00:00:00Z"));
        check("2015-06-30T23:59:60.5Z", Ok("2015-07-01T00:00:00.5Z"));
        check("2017-01-01T00:59:60+01:00", Ok("2017-01-01T00:00:00Z"));
        check("2016-12-31T22:29:60-01:30", Ok("2017-01-01T00:00:00Z"));
        check("2024-02-29T23:59:60Z", Ok("2024-03-01T00:00:00Z"));
        check("2261-12-31T23:59:60Z", Err("out of range"));
        // Anywhere else it is no time at all.
        check("2026-11-28T04:20:60Z", Err("leap second"));
        check("2016-12-31T23:58:60Z", Err("leap second"));
        check("2016-12-30T23:59:60Z", Err("leap second"));
        check("2016-12-31T23:59:60+01:00", Err("leap second"));
        check("2024-02-28T23:59:60Z", Err("leap second"));
        check("2026-11-28T04:20:61Z", Err("no such time"));
    }

    #[test]
    fn the_future_starts_beyond_the_clock_skew() {
        let now = Timestamp::parse_rfc3339("2026-11-28T04:20:51Z").unwrap();
        let at = |text: &str| Timestamp::parse_rfc3339(text).unwrap();
        let skew = i64::try_from(MAX_CLOCK_SKEW.as_nanos()).unwrap();
        let ahead = |nanos: i64| Timestamp::from_unix_nanos(now.unix_nanos() + nanos);
        assert!(!at("1970-01-01T00:00:00Z").is_beyond_skew(now));
        assert!(!now.is_beyond_skew(now));
        assert!(!ahead(60 * NANOS_PER_SEC).is_beyond_skew(now));
        assert!(!ahead(skew).is_beyond_skew(now));
        assert!(ahead(skew + 1).is_beyond_skew(now));
        assert!(at("2199-01-01T00:00:00Z").is_beyond_skew(now));
        // The extremes compare without overflow.
        let (min, max) = (
            Timestamp::from_unix_nanos(i64::MIN),
            Timestamp::from_unix_nanos(i64::MAX),
        );
        assert!(max.is_beyond_skew(min));
        assert!(!min.is_beyond_skew(max));
        assert!(!max.is_beyond_skew(max));

        let e = at("2199-01-01T00:00:00Z")
            .check_not_future("--snapshot-at", now)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "--snapshot-at 2199-01-01T00:00:00Z is in the future: later than now \
             (2026-11-28T04:20:51Z) by more than the allowed clock skew of 5 minutes"
        );
        assert_eq!(ahead(skew).check_not_future("x", now), Ok(()));
    }

    #[test]
    fn display_round_trips_through_parse() {
        for nanos in [0, 1, -1, 1_764_303_651_000_000_000, -86_400_000_000_001] {
            let t = Timestamp::from_unix_nanos(nanos);
            assert_eq!(Timestamp::parse_rfc3339(&t.to_string()), Ok(t));
        }
    }
}
