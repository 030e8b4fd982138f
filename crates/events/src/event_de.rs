//! Hand-written `Deserialize` for [`Event`]: the hot path of bulk ingest.
//!
//! The derived version would need `#[serde(flatten)]` for the `kind`/`data`
//! pair, which buffers every event into an intermediate tree. Here `data` is
//! decoded straight into its payload type when `kind` comes first (as Bearing
//! writes it), and buffered only when a producer puts `data` before `kind`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::model::*;
use crate::timestamp;

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    Id,
    Source,
    Time,
    Service,
    Environment,
    Links,
    Attributes,
    Kind,
    Data,
    #[serde(other)]
    Other,
}

/// Decodes `data` for a known kind.
pub(crate) struct PayloadSeed(pub Kind);

impl<'de> DeserializeSeed<'de> for PayloadSeed {
    type Value = Payload;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Payload, D::Error> {
        Ok(match self.0 {
            Kind::Change => Payload::Change(Change::deserialize(d)?),
            Kind::PipelineRun => Payload::PipelineRun(PipelineRun::deserialize(d)?),
            Kind::Deployment => Payload::Deployment(Deployment::deserialize(d)?),
            Kind::Rollback => Payload::Rollback(Rollback::deserialize(d)?),
            Kind::Incident => Payload::Incident(Incident::deserialize(d)?),
            Kind::Cost => Payload::Cost(CostRow::deserialize(d)?),
            Kind::Finding => Payload::Finding(Finding::deserialize(d)?),
            Kind::MetricPoint => Payload::MetricPoint(MetricPoint::deserialize(d)?),
            Kind::FeatureFlag => Payload::FeatureFlag(FeatureFlag::deserialize(d)?),
        })
    }
}

/// The `time` field: RFC 3339, parsed from the input without an intermediate `String`.
struct Time(chrono::DateTime<chrono::Utc>);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        timestamp::de(d).map(Time)
    }
}

struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = Event;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event object with `id`, `source`, `time`, `kind` and `data`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Event, A::Error> {
        let mut id: Option<String> = None;
        let mut source: Option<String> = None;
        let mut time: Option<Time> = None;
        let mut service: Option<Option<String>> = None;
        let mut environment: Option<Option<String>> = None;
        let mut links: Option<Vec<Link>> = None;
        let mut attributes: Option<BTreeMap<String, serde_json::Value>> = None;
        let mut kind: Option<Kind> = None;
        let mut payload: Option<Payload> = None;
        let mut buffered: Option<serde_json::Value> = None;

        fn dup<E: de::Error>(name: &'static str) -> E {
            E::duplicate_field(name)
        }

        while let Some(key) = map.next_key::<Field>()? {
            match key {
                Field::Id => {
                    if id.is_some() {
                        return Err(dup("id"));
                    }
                    id = Some(map.next_value()?);
                }
                Field::Source => {
                    if source.is_some() {
                        return Err(dup("source"));
                    }
                    source = Some(map.next_value()?);
                }
                Field::Time => {
                    if time.is_some() {
                        return Err(dup("time"));
                    }
                    time = Some(map.next_value()?);
                }
                Field::Service => {
                    if service.is_some() {
                        return Err(dup("service"));
                    }
                    service = Some(map.next_value()?);
                }
                Field::Environment => {
                    if environment.is_some() {
                        return Err(dup("environment"));
                    }
                    environment = Some(map.next_value()?);
                }
                Field::Links => {
                    if links.is_some() {
                        return Err(dup("links"));
                    }
                    links = Some(map.next_value::<Option<Vec<Link>>>()?.unwrap_or_default());
                }
                Field::Attributes => {
                    if attributes.is_some() {
                        return Err(dup("attributes"));
                    }
                    attributes = Some(map.next_value::<Option<_>>()?.unwrap_or_default());
                }
                Field::Kind => {
                    if kind.is_some() {
                        return Err(dup("kind"));
                    }
                    let k: Kind = map.next_value()?;
                    kind = Some(k);
                    if let Some(v) = buffered.take() {
                        payload = Some(PayloadSeed(k).deserialize(v).map_err(de::Error::custom)?);
                    }
                }
                Field::Data => {
                    if payload.is_some() || buffered.is_some() {
                        return Err(dup("data"));
                    }
                    match kind {
                        Some(k) => payload = Some(map.next_value_seed(PayloadSeed(k))?),
                        None => buffered = Some(map.next_value()?),
                    }
                }
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }

        let id = id.ok_or_else(|| de::Error::missing_field("id"))?;
        if id.trim().is_empty() {
            return Err(de::Error::custom(
                "empty `id`: every event needs a stable id",
            ));
        }
        let source = source.ok_or_else(|| de::Error::missing_field("source"))?;
        if source.trim().is_empty() {
            return Err(de::Error::custom(
                "empty `source`: say where the event came from",
            ));
        }
        let Time(time) = time.ok_or_else(|| de::Error::missing_field("time"))?;
        if kind.is_none() {
            return Err(de::Error::missing_field("kind"));
        }
        let payload = payload.ok_or_else(|| de::Error::missing_field("data"))?;
        Ok(Event {
            id,
            source,
            time,
            service: service.flatten(),
            environment: environment.flatten(),
            links: links.unwrap_or_default(),
            attributes: attributes.unwrap_or_default(),
            payload,
        })
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EventVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample() -> Event {
        let mut e = Event::new(
            "d-1",
            "test",
            chrono::Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap(),
            Payload::Deployment(Deployment {
                deployment_id: "42".into(),
                version: Some("1.2.3".into()),
                commit: Some("abc".into()),
                commits: vec!["abc".into(), "def".into()],
                status: Status::Success,
                started_at: None,
                finished_at: Some(chrono::Utc.with_ymd_and_hms(2024, 5, 1, 12, 5, 0).unwrap()),
                strategy: Some("canary".into()),
                labels: vec!["hotfix".into()],
            }),
        );
        e.service = Some("checkout".into());
        e.links.push(Link {
            rel: "change".into(),
            target: "pr-1".into(),
        });
        e.attributes
            .insert("x".into(), serde_json::json!({"a": [1, 2]}));
        e
    }

    #[test]
    fn json_round_trip() {
        let e = sample();
        let s = serde_json::to_string(&e).unwrap();
        assert!(s.contains(r#""kind":"deployment","data":{"#), "{s}");
        let back: Event = serde_json::from_str(&s).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn data_before_kind_is_accepted() {
        let s = r#"{"data":{"name":"rps","value":3.5},"id":"m1","source":"s","time":"2024-05-01T12:00:00+02:00","kind":"metric_point"}"#;
        let e: Event = serde_json::from_str(s).unwrap();
        assert_eq!(e.kind(), Kind::MetricPoint);
        assert_eq!(e.time.to_rfc3339(), "2024-05-01T10:00:00+00:00");
    }

    #[test]
    fn clear_errors() {
        let err = serde_json::from_str::<Event>(
            r#"{"id":"x","source":"s","time":"yesterday","kind":"change","data":{}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("expected an RFC 3339 timestamp"), "{err}");
        let err = serde_json::from_str::<Event>(
            r#"{"id":"x","source":"s","time":"2024-05-01T12:00:00Z","data":{}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("missing field `kind`"), "{err}");
        let err = serde_json::from_str::<Event>(r#"{"id":"","source":"s","time":"2024-05-01T12:00:00Z","kind":"change","data":{"change_id":"1"}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("empty `id`"), "{err}");
    }
}
