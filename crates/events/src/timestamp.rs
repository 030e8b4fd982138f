//! Timestamp parsing shared by the event model and the adapters, with errors
//! that say what was expected ("expected an RFC 3339 timestamp, found `yesterday`").

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use std::fmt;

use serde::Deserializer;
use serde::de::{self, Visitor};

/// Parses an RFC 3339 timestamp (`2024-05-01T12:00:00Z`, `…+02:00`) into UTC.
pub fn parse_rfc3339(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Parses the timestamps found in real exports: RFC 3339, and the zone-less
/// `2024-09-18 22:00:00` / `2024-09-18T22:00:00` / `2024-09-18` forms (taken as UTC).
pub fn parse_lenient(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Some(t) = parse_rfc3339(s) {
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

/// The message used whenever a timestamp does not parse.
pub fn expected_timestamp(found: &str) -> String {
    format!(
        "expected an RFC 3339 timestamp (e.g. `2024-05-01T12:00:00Z`), found `{}`",
        crate::formats::truncate(found, 60)
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
        assert!(parse_rfc3339("2024-09-18 22:00:00").is_none());
    }
}
