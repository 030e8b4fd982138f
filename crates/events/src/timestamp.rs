//! Timestamp parsing shared by the event model and the adapters, with errors
//! that say what was expected ("expected an RFC 3339 timestamp, found `yesterday`").

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use std::fmt;

use serde::Deserializer;
use serde::de::{self, Visitor};

/// The earliest time an event may carry: the Unix epoch, `1970-01-01T00:00:00Z`.
pub const EARLIEST: DateTime<Utc> = DateTime::<Utc>::UNIX_EPOCH;
/// The latest time an event may carry: `9999-12-31T23:59:59.999999999Z`, the
/// end of the last four-digit year. The same range bounds the intent's dates
/// and the command line's times, and keeps every time plus or minus the
/// longest duration (100 years) representable.
pub const LATEST: DateTime<Utc> =
    match DateTime::<Utc>::from_timestamp(253_402_300_799, 999_999_999) {
        Some(t) => t,
        None => DateTime::<Utc>::MAX_UTC,
    };

/// Whether `t` lies in [`EARLIEST`]`..=`[`LATEST`].
pub fn in_range(t: DateTime<Utc>) -> bool {
    (EARLIEST..=LATEST).contains(&t)
}

/// Parses an RFC 3339 timestamp (`2024-05-01T12:00:00Z`, `…+02:00`) into
/// UTC; `None` also for a time outside [`EARLIEST`]`..=`[`LATEST`].
pub fn parse_rfc3339(s: &str) -> Option<DateTime<Utc>> {
    parse_rfc3339_unbounded(s).filter(|t| in_range(*t))
}

fn parse_rfc3339_unbounded(s: &str) -> Option<DateTime<Utc>> {
    fast_rfc3339(s.as_bytes()).or_else(|| {
        DateTime::parse_from_rfc3339(s.trim())
            .ok()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// The common shape `YYYY-MM-DDTHH:MM:SS[.fffffffff](Z|±HH:MM)`, parsed by hand
/// (bulk ingest parses two timestamps per event). Anything else, including leap
/// seconds and out-of-range values, is left to chrono.
fn fast_rfc3339(b: &[u8]) -> Option<DateTime<Utc>> {
    fn num(b: &[u8]) -> Option<u32> {
        b.iter().try_fold(0u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    }
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let year = num(&b[0..4])?;
    let (month, day) = (num(&b[5..7])?, num(&b[8..10])?);
    let (hour, min, sec) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
    let mut rest = &b[19..];
    let mut nanos = 0;
    if let [b'.', frac @ ..] = rest {
        let digits = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        nanos = num(&frac[..digits])? * 10u32.pow(9 - digits as u32);
        rest = &frac[digits..];
    }
    let offset_secs: i64 = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (h, m) = (num(&[*h1, *h2])?, num(&[*m1, *m2])?);
            if h > 23 || m > 59 {
                return None;
            }
            let secs = i64::from(h * 3600 + m * 60);
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    if sec > 59 {
        return None;
    }
    let t = date.and_hms_nano_opt(hour, min, sec, nanos)?.and_utc();
    t.checked_sub_signed(chrono::TimeDelta::seconds(offset_secs))
}

/// Parses the timestamps found in real exports: RFC 3339, and the zone-less
/// `2024-09-18 22:00:00` / `2024-09-18T22:00:00` / `2024-09-18` forms (taken
/// as UTC); `None` also for a time outside [`EARLIEST`]`..=`[`LATEST`].
pub fn parse_lenient(s: &str) -> Option<DateTime<Utc>> {
    parse_lenient_unbounded(s).filter(|t| in_range(*t))
}

fn parse_lenient_unbounded(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Some(t) = parse_rfc3339_unbounded(s) {
        return Some(t);
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    // `2024-09-18 22:00:00 +0000`, `2024-09-18 22:00:00Z`
    for fmt in ["%Y-%m-%d %H:%M:%S%.f %z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    if let Some(t) = s
        .strip_suffix('Z')
        .and_then(|n| NaiveDateTime::parse_from_str(n, "%Y-%m-%d %H:%M:%S%.f").ok())
    {
        return Some(t.and_utc());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// The message used whenever a timestamp does not parse: out of range when it
/// is a well-formed time outside [`EARLIEST`]`..=`[`LATEST`].
pub fn expected_timestamp(found: &str) -> String {
    let found_short = crate::formats::truncate(found, 60);
    if parse_lenient_unbounded(found).is_some_and(|t| !in_range(t)) {
        return out_of_range(&found_short);
    }
    format!("expected an RFC 3339 timestamp (e.g. `2024-05-01T12:00:00Z`), found `{found_short}`")
}

/// The message for a well-formed time outside [`EARLIEST`]`..=`[`LATEST`].
pub fn out_of_range(found: &str) -> String {
    format!(
        "timestamp `{}` is out of range; expected a time from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z",
        found.trim()
    )
}

/// Parses a timestamp string during deserialisation without copying it.
struct TimeVisitor;

impl<'de> Visitor<'de> for TimeVisitor {
    type Value = DateTime<Utc>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an RFC 3339 timestamp")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        parse_rfc3339(s).ok_or_else(|| E::custom(expected_timestamp(s)))
    }
}

struct OptTimeVisitor;

impl<'de> Visitor<'de> for OptTimeVisitor {
    type Value = Option<DateTime<Utc>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an RFC 3339 timestamp or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        de(d).map(Some)
    }
}

/// `deserialize_with` for `DateTime<Utc>` fields: RFC 3339 with a clear error.
pub fn de<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    d.deserialize_str(TimeVisitor)
}

/// `deserialize_with` for `Option<DateTime<Utc>>` fields (`null` is `None`).
pub fn de_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    d.deserialize_option(OptTimeVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_world_forms() {
        let want = "2024-09-18T22:00:00Z";
        for s in [
            "2024-09-18T22:00:00Z",
            "2024-09-18T22:00:00+00:00",
            "2024-09-19T00:00:00+02:00",
            "2024-09-18 22:00:00",
            "2024-09-18T22:00:00",
            "2024-09-18 22:00:00Z",
        ] {
            assert_eq!(
                parse_lenient(s)
                    .unwrap()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                want,
                "{s}"
            );
        }
        assert!(parse_lenient("yesterday").is_none());
        // The hand-written fast path agrees with chrono.
        for s in [
            "2024-02-29T23:59:59.123456789Z",
            "2024-05-01T12:00:00+02:00",
            "2024-05-01t12:00:00-05:30",
            "1999-12-31T23:59:59.5z",
            "2023-02-29T00:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:00:00+24:00",
            "2016-12-31T23:59:60Z",
            "2024-05-01T12:00:00.Z",
            "2024-05-01T12:00:00.1234567891Z",
            "2024-05-01 12:00:00Z",
            "0000-01-01T00:00:00Z",
        ] {
            let chrono = DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.with_timezone(&Utc));
            assert_eq!(parse_rfc3339_unbounded(s), chrono, "{s}");
            assert_eq!(parse_rfc3339(s), chrono.filter(|t| in_range(*t)), "{s}");
            if let Some(fast) = fast_rfc3339(s.as_bytes()) {
                assert_eq!(Some(fast), chrono, "{s}");
            }
        }
        assert!(parse_rfc3339("2024-09-18 22:00:00").is_none());
    }

    #[test]
    fn times_outside_the_range_are_refused_with_a_clear_message() {
        for s in [
            "1970-01-01T00:00:00Z",
            "1970-01-01T01:00:00+01:00",
            "9999-12-31T23:59:59.999999999Z",
            "9999-12-31T18:59:59-05:00",
        ] {
            assert!(parse_rfc3339(s).is_some(), "{s}");
            assert!(parse_lenient(s).is_some(), "{s}");
        }
        for s in [
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:59:59+01:00",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59-00:01",
            "9999-12-31T19:00:00-05:00",
            "1969-12-31",
            "0001-01-01 00:00:00",
            "+10000-01-01T00:00:00",
            "-262143-01-01 00:00:00",
        ] {
            assert_eq!(parse_rfc3339(s), None, "{s}");
            assert_eq!(parse_lenient(s), None, "{s}");
            assert_eq!(
                expected_timestamp(s),
                format!(
                    "timestamp `{s}` is out of range; expected a time from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z"
                ),
            );
        }
        // A malformed time keeps the format message; so does a zone-less time where RFC 3339 is required.
        assert!(expected_timestamp("yesterday").starts_with("expected an RFC 3339 timestamp"));
        assert!(expected_timestamp("2024-09-18 22:00:00").starts_with("expected an RFC 3339"));
        assert_eq!(EARLIEST.to_rfc3339(), "1970-01-01T00:00:00+00:00");
        assert_eq!(LATEST.to_rfc3339(), "9999-12-31T23:59:59.999999999+00:00");
    }
}
