//! Event times: parsing what producers send (RFC 3339 / ISO-8601 strings, epoch
//! milliseconds) and formatting what the pipeline writes (RFC 3339 UTC with
//! millisecond precision and a `Z`).
//!
//! Both directions sit on the transformer's hot path, so formatting writes into
//! fixed-size stack buffers and parsing is a single pass over the bytes; chrono
//! does the calendar arithmetic.

use std::fmt;

use chrono::{NaiveDate, Utc};
use serde::{Serialize, Serializer};

/// A point in time, in whole milliseconds since the Unix epoch (UTC).
///
/// The representable range is 1970-01-01T00:00:00.000Z to
/// 9999-12-31T23:59:59.999Z: four-digit years keep the dates in the S3
/// partitions (`dt=YYYY-MM-DD`) and the output well-formed, and no chat
/// event predates the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// Length of [`Timestamp::rfc3339`]: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub(crate) const RFC3339_LEN: usize = 24;

/// Epoch milliseconds below this (1973-03-03) are refused as "epoch seconds
/// by mistake": a chat event stamped with seconds would otherwise land in a
/// 1970 partition without a word.
pub(crate) const MIN_PLAUSIBLE_EPOCH_MILLIS: i64 = 100_000_000_000;

/// Why an event time was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("not an ISO-8601 date-time ({0})")]
    Syntax(&'static str),
    #[error("no such calendar date or time of day")]
    InvalidDate,
    #[error("outside the supported range 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z")]
    OutOfRange,
    #[error("not a finite number")]
    NotFinite,
    #[error("looks like epoch seconds; epoch milliseconds are expected")]
    LooksLikeSeconds,
}

/// Calendar fields of a [`Timestamp`], in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub millisecond: u16,
}

impl Timestamp {
    /// 1970-01-01T00:00:00.000Z
    pub const MIN: Timestamp = Timestamp(0);
    /// 9999-12-31T23:59:59.999Z
    pub const MAX: Timestamp = Timestamp(253_402_300_799_999);

    /// A timestamp from epoch milliseconds, if it is in range.
    pub fn from_millis(ms: i64) -> Result<Self, TimeError> {
        if (Self::MIN.0..=Self::MAX.0).contains(&ms) {
            Ok(Timestamp(ms))
        } else {
            Err(TimeError::OutOfRange)
        }
    }

    /// The current time, truncated to the millisecond.
    pub fn now() -> Self {
        Timestamp(Utc::now().timestamp_millis().clamp(Self::MIN.0, Self::MAX.0))
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// An event time given as epoch milliseconds in a JSON integer.
    pub(crate) fn from_epoch_millis_int(ms: i128) -> Result<Self, TimeError> {
        let ms = i64::try_from(ms).map_err(|_| TimeError::OutOfRange)?;
        if (0..MIN_PLAUSIBLE_EPOCH_MILLIS).contains(&ms) {
            return Err(TimeError::LooksLikeSeconds);
        }
        Self::from_millis(ms)
    }

    /// An event time given as epoch milliseconds in a JSON float (as
    /// `time.time() * 1000` produces); the fraction is truncated.
    pub(crate) fn from_epoch_millis_float(ms: f64) -> Result<Self, TimeError> {
        if !ms.is_finite() {
            return Err(TimeError::NotFinite);
        }
        let floored = ms.floor();
        if !(i64::MIN as f64..=i64::MAX as f64).contains(&floored) {
            return Err(TimeError::OutOfRange);
        }
        Self::from_epoch_millis_int(floored as i128)
    }

    /// Parses an ISO-8601 / RFC 3339 date-time:
    /// `YYYY-MM-DD(T|t| )HH:MM:SS[(.|,)fraction][Z|z|±HH:MM|±HHMM|±HH]`.
    ///
    /// Without an offset the time is UTC (Python's `datetime.utcnow().isoformat()`
    /// writes no offset). The fraction may have any number of digits and is
    /// truncated to milliseconds, so an event never moves into the next second,
    /// hour or partition.
    pub fn parse_iso8601(s: &str) -> Result<Self, TimeError> {
        let b = s.as_bytes();
        let mut p = Cursor { b, i: 0 };
        let year = p.digits(4, "expected a four-digit year")?;
        p.expect(b'-', "expected '-' after the year")?;
        let month = p.digits(2, "expected a two-digit month")?;
        p.expect(b'-', "expected '-' after the month")?;
        let day = p.digits(2, "expected a two-digit day")?;
        match p.next() {
            Some(b'T' | b't' | b' ') => {}
            Some(_) => return Err(TimeError::Syntax("expected 'T' between date and time")),
            None => return Err(TimeError::Syntax("expected a time of day after the date")),
        }
        let hour = p.digits(2, "expected a two-digit hour")?;
        p.expect(b':', "expected ':' after the hour")?;
        let minute = p.digits(2, "expected two-digit minutes")?;
        p.expect(b':', "expected ':' after the minutes")?;
        let second = p.digits(2, "expected two-digit seconds")?;
        let mut millis = 0u32;
        if matches!(p.peek(), Some(b'.' | b',')) {
            p.i += 1;
            let start = p.i;
            while let Some(d @ b'0'..=b'9') = p.peek() {
                let place = p.i - start;
                if place < 3 {
                    millis = millis * 10 + u32::from(d - b'0');
                }
                p.i += 1;
            }
            let n = p.i - start;
            if n == 0 {
                return Err(TimeError::Syntax("expected digits after the decimal mark"));
            }
            for _ in n..3 {
                millis *= 10;
            }
        }
        let offset_minutes: i64 = match p.next() {
            None => 0,
            Some(b'Z' | b'z') => 0,
            Some(sign @ (b'+' | b'-')) => {
                let h = p.digits(2, "expected a two-digit offset hour")?;
                let m = match p.peek() {
                    None => 0,
                    Some(b':') => {
                        p.i += 1;
                        p.digits(2, "expected two-digit offset minutes")?
                    }
                    Some(_) => p.digits(2, "expected two-digit offset minutes")?,
                };
                if h > 23 || m > 59 {
                    return Err(TimeError::InvalidDate);
                }
                let total = i64::from(h * 60 + m);
                if sign == b'+' { total } else { -total }
            }
            Some(_) => return Err(TimeError::Syntax("unexpected character after the time")),
        };
        if p.peek().is_some() {
            return Err(TimeError::Syntax("unexpected characters after the offset"));
        }
        let date = NaiveDate::from_ymd_opt(year as i32, month, day).ok_or(TimeError::InvalidDate)?;
        let time = date
            .and_hms_milli_opt(hour, minute, second, millis)
            .ok_or(TimeError::InvalidDate)?;
        let ms = time.and_utc().timestamp_millis() - offset_minutes * 60_000;
        Self::from_millis(ms)
    }

    /// Calendar fields in UTC (Howard Hinnant's `civil_from_days`, which is
    /// exact for the whole range and cheap enough for the per-record path).
    pub fn civil(self) -> Civil {
        let ms = self.0.max(0);
        let days = ms / 86_400_000;
        let ms_of_day = ms % 86_400_000;
        let z = days + 719_468;
        let era = z / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Civil {
            year: year as u16,
            month: month as u8,
            day: day as u8,
            hour: (ms_of_day / 3_600_000) as u8,
            minute: (ms_of_day / 60_000 % 60) as u8,
            second: (ms_of_day / 1000 % 60) as u8,
            millisecond: (ms_of_day % 1000) as u16,
        }
    }

    /// Writes `YYYY-MM-DDTHH:MM:SS.mmmZ` into `buf` and returns it as a `&str`.
    pub(crate) fn rfc3339(self, buf: &mut [u8; RFC3339_LEN]) -> &str {
        self.civil().rfc3339(buf)
    }

    /// The same as `Timestamp::rfc3339`, allocated.
    pub fn to_rfc3339(self) -> String {
        let mut buf = [0u8; RFC3339_LEN];
        self.rfc3339(&mut buf).to_owned()
    }
}

impl Civil {
    /// The bytes of `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub(crate) fn rfc3339_bytes(&self) -> [u8; RFC3339_LEN] {
        let mut b = *b"0000-00-00T00:00:00.000Z";
        b[0..2].copy_from_slice(&two_digits(self.year / 100));
        b[2..4].copy_from_slice(&two_digits(self.year % 100));
        b[5..7].copy_from_slice(&two_digits(u16::from(self.month)));
        b[8..10].copy_from_slice(&two_digits(u16::from(self.day)));
        b[11..13].copy_from_slice(&two_digits(u16::from(self.hour)));
        b[14..16].copy_from_slice(&two_digits(u16::from(self.minute)));
        b[17..19].copy_from_slice(&two_digits(u16::from(self.second)));
        b[20] = b'0' + (self.millisecond / 100) as u8;
        b[21..23].copy_from_slice(&two_digits(self.millisecond % 100));
        b
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`
    pub(crate) fn rfc3339<'b>(&self, buf: &'b mut [u8; RFC3339_LEN]) -> &'b str {
        *buf = self.rfc3339_bytes();
        // Only ASCII digits and punctuation were written.
        std::str::from_utf8(buf).unwrap_or_default()
    }

    /// The bytes of `YYYY-MM-DD`.
    pub(crate) fn date_bytes(&self) -> [u8; 10] {
        let mut b = [0u8; 10];
        b.copy_from_slice(&self.rfc3339_bytes()[..10]);
        b
    }
}

/// `n` (below 100) as two ASCII digits.
#[inline]
fn two_digits(n: u16) -> [u8; 2] {
    let n = (n % 100) as u8;
    [b'0' + n / 10, b'0' + n % 10]
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; RFC3339_LEN];
        f.write_str(self.rfc3339(&mut buf))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; RFC3339_LEN];
        serializer.serialize_str(self.rfc3339(&mut buf))
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek();
        if c.is_some() {
            self.i += 1;
        }
        c
    }

    fn expect(&mut self, want: u8, msg: &'static str) -> Result<(), TimeError> {
        match self.next() {
            Some(c) if c == want => Ok(()),
            _ => Err(TimeError::Syntax(msg)),
        }
    }

    fn digits(&mut self, n: usize, msg: &'static str) -> Result<u32, TimeError> {
        let mut v = 0u32;
        for _ in 0..n {
            match self.next() {
                Some(d @ b'0'..=b'9') => v = v * 10 + u32::from(d - b'0'),
                _ => return Err(TimeError::Syntax(msg)),
            }
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use proptest::prelude::*;

    fn ms(s: &str) -> i64 {
        Timestamp::parse_iso8601(s).unwrap().millis()
    }

    #[test]
    fn parses_python_isoformat_without_offset_as_utc() {
        assert_eq!(ms("2023-12-12T10:00:00.123456"), 1_702_375_200_123);
        assert_eq!(ms("2023-12-12 10:00:00"), 1_702_375_200_000);
    }

    #[test]
    fn parses_offsets_and_truncates_the_fraction() {
        assert_eq!(ms("2023-12-12T10:00:00Z"), 1_702_375_200_000);
        assert_eq!(ms("2023-12-12T11:30:00.9999+01:30"), 1_702_375_200_999);
        assert_eq!(ms("2023-12-12T08:00:00-0200"), 1_702_375_200_000);
        assert_eq!(ms("2023-12-12T12:00:00+02"), 1_702_375_200_000);
        assert_eq!(ms("2023-12-12t10:00:00.1z"), 1_702_375_200_100);
    }

    #[test]
    fn refuses_malformed_and_impossible_times() {
        for bad in [
            "",
            "2023-12-12",
            "2023-12-12T10:00",
            "2023-13-01T00:00:00Z",
            "2023-02-30T00:00:00Z",
            "2023-12-12T24:00:00Z",
            "2023-12-12T10:00:60Z",
            "2023-12-12T10:00:00.Z",
            "2023-12-12T10:00:00+25:00",
            "2023-12-12T10:00:00Zjunk",
            "1969-12-31T23:59:59Z",
            "２023-12-12T10:00:00Z",
        ] {
            assert!(Timestamp::parse_iso8601(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn epoch_millis_guard_rejects_seconds() {
        assert_eq!(
            Timestamp::from_epoch_millis_int(1_702_375_200),
            Err(TimeError::LooksLikeSeconds)
        );
        assert_eq!(
            Timestamp::from_epoch_millis_float(1_702_375_200_123.9)
                .unwrap()
                .millis(),
            1_702_375_200_123
        );
        assert_eq!(Timestamp::from_epoch_millis_float(f64::NAN), Err(TimeError::NotFinite));
        assert_eq!(Timestamp::from_epoch_millis_int(-1), Err(TimeError::OutOfRange));
    }

    #[test]
    fn formats_with_millisecond_precision() {
        let t = Timestamp::from_millis(1_702_375_200_007).unwrap();
        assert_eq!(t.to_rfc3339(), "2023-12-12T10:00:00.007Z");
        assert_eq!(Timestamp::MAX.to_rfc3339(), "9999-12-31T23:59:59.999Z");
        assert_eq!(Timestamp::MIN.to_rfc3339(), "1970-01-01T00:00:00.000Z");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(ms in Timestamp::MIN.millis()..=Timestamp::MAX.millis()) {
            let t = Timestamp::from_millis(ms).unwrap();
            prop_assert_eq!(Timestamp::parse_iso8601(&t.to_rfc3339()), Ok(t));
            let chrono = DateTime::<Utc>::from_timestamp_millis(ms).unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            prop_assert_eq!(t.to_rfc3339(), chrono);
        }

        #[test]
        fn civil_agrees_with_chrono(ms in Timestamp::MIN.millis()..=Timestamp::MAX.millis()) {
            use chrono::{Datelike, Timelike};
            let c = Timestamp::from_millis(ms).unwrap().civil();
            let d = DateTime::<Utc>::from_timestamp_millis(ms).unwrap();
            prop_assert_eq!(
                (i32::from(c.year), u32::from(c.month), u32::from(c.day), u32::from(c.hour), u32::from(c.minute), u32::from(c.second), u32::from(c.millisecond)),
                (d.year(), d.month(), d.day(), d.hour(), d.minute(), d.second(), d.timestamp_subsec_millis())
            );
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = Timestamp::parse_iso8601(&s);
        }
    }
}
