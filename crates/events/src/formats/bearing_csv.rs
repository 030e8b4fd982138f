//! Bearing's CSV event format: one event per row.
//!
//! Columns (header required, any order, names trimmed):
//! `id`, `time`, `kind` (required); `source` (default `csv`), `service`,
//! `environment`, `links` (space-separated `rel=target` pairs), `attributes`
//! (a JSON object), `data` (a JSON object) and `data.<field>` columns, which set
//! one field of `data` each. A `data.<field>` cell is a number or boolean for
//! the numeric and boolean fields of the model, JSON when it starts with `[` or
//! `{`, and text otherwise; an empty cell leaves the field unset.

use serde::de::DeserializeSeed;
use serde_json::{Map, Value};

use crate::event_de::PayloadSeed;
use crate::model::{Event, Kind, Link};

use super::{ParseContext, ParseError, Parsed, RecordRef, utf8};

const FIXED: [&str; 8] = [
    "id",
    "time",
    "kind",
    "source",
    "service",
    "environment",
    "links",
    "attributes",
];

/// Fields of the payload types that are numbers or booleans, not text.
fn scalar_field(name: &str) -> Option<Scalar> {
    Some(match name {
        "value" | "rollout" | "billed_cost" | "effective_cost" | "list_cost"
        | "consumed_quantity" => Scalar::Float,
        "files_changed" | "additions" | "deletions" => Scalar::Int,
        "enabled" | "fixable" => Scalar::Bool,
        _ => return None,
    })
}

enum Scalar {
    Float,
    Int,
    Bool,
}

enum Col {
    Fixed(&'static str),
    Data,
    DataField(String),
}

pub(super) fn parse(bytes: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    let text = utf8(bytes)?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| csv_error(&e, "cannot read the header row"))?
        .clone();
    let mut cols = Vec::with_capacity(headers.len());
    for h in headers.iter() {
        let h = h.trim();
        let col = if let Some(f) = FIXED.iter().find(|f| **f == h) {
            Col::Fixed(f)
        } else if h == "data" {
            Col::Data
        } else if let Some(f) = h.strip_prefix("data.").filter(|f| !f.is_empty()) {
            Col::DataField(f.to_owned())
        } else {
            let hint = if super::cost::is_focus_column(h) {
                " (this looks like a FOCUS cost file: use `--format focus`)"
            } else {
                ""
            };
            return Err(ParseError::at(
                RecordRef::Row(1),
                format!(
                    "unknown column `{h}`; expected `id`, `time`, `kind`, `source`, `service`, `environment`, `links`, `attributes`, `data` or `data.<field>`{hint}"
                ),
            ));
        };
        cols.push(col);
    }
    let missing: Vec<&str> = ["id", "time", "kind"]
        .into_iter()
        .filter(|r| !cols.iter().any(|c| matches!(c, Col::Fixed(f) if f == r)))
        .collect();
    if !missing.is_empty() {
        return Err(ParseError::at(
            RecordRef::Row(1),
            format!("missing required column(s) {}", quote_list(&missing)),
        ));
    }

    let mut parsed = Parsed::default();
    let mut rec = csv::StringRecord::new();
    let mut row = 1;
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(
                    csv_error(&e, "cannot read the row").with_record(RecordRef::Row(row + 1))
                );
            }
        }
        row += 1;
        let event = parse_row(&cols, &rec).map_err(|e| e.with_record(RecordRef::Row(row)))?;
        let mut event = event;
        ctx.fill_defaults(&mut event);
        parsed.push(event, Some(RecordRef::Row(row)));
    }
    Ok(parsed)
}

fn parse_row(cols: &[Col], rec: &csv::StringRecord) -> Result<Event, ParseError> {
    let mut id = None;
    let mut time = None;
    let mut kind = None;
    let mut source = None;
    let mut service = None;
    let mut environment = None;
    let mut links = Vec::new();
    let mut attributes = Default::default();
    let mut data = Map::new();
    for (col, cell) in cols.iter().zip(rec.iter()) {
        let cell = cell.trim();
        match col {
            Col::Fixed(name) => {
                if cell.is_empty() {
                    continue;
                }
                match *name {
                    "id" => id = Some(cell.to_owned()),
                    "time" => {
                        time = Some(crate::timestamp::parse_rfc3339(cell).ok_or_else(|| {
                            ParseError::new(crate::timestamp::expected_timestamp(cell))
                                .with_field("time")
                        })?)
                    }
                    "kind" => {
                        kind = Some(Kind::from_name(cell).ok_or_else(|| {
                            let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
                            ParseError::new(format!(
                                "unknown kind `{}`; expected one of {}",
                                super::truncate(cell, 40),
                                quote_list(&names)
                            ))
                            .with_field("kind")
                        })?)
                    }
                    "source" => source = Some(cell.to_owned()),
                    "service" => service = Some(cell.to_owned()),
                    "environment" => environment = Some(cell.to_owned()),
                    "links" => links = parse_links(cell)?,
                    "attributes" => {
                        attributes = serde_json::from_str(cell).map_err(|e| {
                            ParseError::new(format!(
                                "expected a JSON object: {}",
                                super::json::message(&e)
                            ))
                            .with_field("attributes")
                        })?
                    }
                    _ => {}
                }
            }
            Col::Data => {
                if cell.is_empty() {
                    continue;
                }
                match serde_json::from_str::<Value>(cell) {
                    Ok(Value::Object(m)) => {
                        for (k, v) in m {
                            data.entry(k).or_insert(v);
                        }
                    }
                    Ok(other) => {
                        return Err(ParseError::new(format!(
                            "expected a JSON object, found {}",
                            super::json::kind_of(&other)
                        ))
                        .with_field("data"));
                    }
                    Err(e) => {
                        return Err(ParseError::new(format!(
                            "expected a JSON object: {}",
                            super::json::message(&e)
                        ))
                        .with_field("data"));
                    }
                }
            }
            Col::DataField(f) => {
                if cell.is_empty() {
                    continue;
                }
                let v = cell_value(f, cell)
                    .map_err(|m| ParseError::new(m).with_field(format!("data.{f}")))?;
                data.insert(f.clone(), v);
            }
        }
    }
    let id =
        id.ok_or_else(|| ParseError::new("empty; every event needs an id").with_field("id"))?;
    let time = time.ok_or_else(|| {
        ParseError::new("empty; expected an RFC 3339 timestamp").with_field("time")
    })?;
    let kind =
        kind.ok_or_else(|| ParseError::new("empty; expected an event kind").with_field("kind"))?;
    let payload = PayloadSeed(kind)
        .deserialize(Value::Object(data))
        .map_err(|e| ParseError::new(super::json::message(&e)).with_field("data"))?;
    let mut event = Event::new(
        id,
        source.unwrap_or_else(|| "csv".to_owned()),
        time,
        payload,
    );
    event.service = service;
    event.environment = environment;
    event.links = links;
    event.attributes = attributes;
    Ok(event)
}

fn cell_value(field: &str, cell: &str) -> Result<Value, String> {
    if cell.starts_with('[') || cell.starts_with('{') {
        return serde_json::from_str(cell)
            .map_err(|e| format!("invalid JSON: {}", super::json::message(&e)));
    }
    match scalar_field(field) {
        Some(Scalar::Float) => cell
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("expected a number, found `{}`", super::truncate(cell, 40))),
        Some(Scalar::Int) => cell.parse::<u32>().map(Value::from).map_err(|_| {
            format!(
                "expected a whole number between 0 and 4294967295, found `{}`",
                super::truncate(cell, 40)
            )
        }),
        Some(Scalar::Bool) => match cell.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "0" => Ok(Value::Bool(false)),
            _ => Err(format!(
                "expected `true` or `false`, found `{}`",
                super::truncate(cell, 40)
            )),
        },
        None => Ok(Value::String(cell.to_owned())),
    }
}

fn parse_links(cell: &str) -> Result<Vec<Link>, ParseError> {
    cell.split_whitespace()
        .map(|pair| match pair.split_once('=') {
            Some((rel, target)) if !rel.is_empty() && !target.is_empty() => Ok(Link {
                rel: rel.to_owned(),
                target: target.to_owned(),
            }),
            _ => Err(ParseError::new(format!(
                "expected space-separated `rel=target` pairs, found `{}`",
                super::truncate(pair, 40)
            ))
            .with_field("links")),
        })
        .collect()
}

pub(crate) fn csv_error(e: &csv::Error, what: &str) -> ParseError {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => ParseError::new(format!(
            "the row has {len} field(s) but the header has {expected_len}; check for missing or extra commas"
        )),
        csv::ErrorKind::Utf8 { err, .. } => {
            ParseError::new(format!("invalid UTF-8 in field {}", err.field() + 1))
        }
        _ => ParseError::new(format!("{what}: {e}")),
    }
}

pub(crate) fn quote_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Payload;

    fn ctx() -> ParseContext {
        ParseContext::new(chrono::Utc::now())
    }

    #[test]
    fn flattened_and_json_data_columns() {
        let csv = "id,time,kind,service,data.name,data.value,data.dimensions,links\n\
                   m1,2024-05-01T12:00:00Z,metric_point,checkout,rps,12.5,\"{\"\"region\"\":\"\"eu\"\"}\",dashboard=https://x/y?a=b\n";
        let p = parse(csv.as_bytes(), &ctx()).unwrap();
        let e = &p.events[0];
        let Payload::MetricPoint(m) = &e.payload else {
            panic!()
        };
        assert_eq!((m.name.as_str(), m.value), ("rps", 12.5));
        assert_eq!(m.dimensions["region"], "eu");
        assert_eq!(e.links[0].target, "https://x/y?a=b");
        assert_eq!(e.source, "csv");

        let csv = "id,time,kind,data\nc1,2024-05-01T12:00:00Z,change,\"{\"\"change_id\"\":\"\"42\"\"}\"\n";
        let p = parse(csv.as_bytes(), &ctx()).unwrap();
        assert!(matches!(&p.events[0].payload, Payload::Change(c) if c.change_id == "42"));
    }

    #[test]
    fn errors_name_row_and_field() {
        let csv =
            "id,time,kind,data.name,data.value\nm1,2024-05-01T12:00:00Z,metric_point,rps,fast\n";
        let e = parse(csv.as_bytes(), &ctx()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "row 2, field `data.value`: expected a number, found `fast`"
        );

        let csv = "id,time,kind\nm1,2024-05-01T12:00:00Z\n";
        let e = parse(csv.as_bytes(), &ctx()).unwrap_err();
        assert_eq!(e.record, Some(RecordRef::Row(2)));
        assert!(e.message.contains("2 field(s) but the header has 3"), "{e}");

        let e = parse(b"id,when,kind\n", &ctx()).unwrap_err();
        assert!(e.message.contains("unknown column `when`"), "{e}");

        let csv = "id,time,kind,data.name\nm1,2024-05-01T12:00:00Z,metric_point,rps\n";
        let e = parse(csv.as_bytes(), &ctx()).unwrap_err();
        assert_eq!(e.to_string(), "row 2, field `data`: missing field `value`");
    }

    #[test]
    fn docs_examples() {
        let csv = "id,time,kind,service,environment,data.name,data.value,data.dimensions\n\
                   m-1,2024-05-01T12:00:00Z,metric_point,checkout,prod,orders,1523,\"{\"\"region\"\":\"\"eu\"\"}\"\n\
                   f-1,2024-05-01T12:00:00Z,feature_flag,checkout,prod,,,\n";
        let e = parse(csv.as_bytes(), &ctx()).unwrap_err();
        assert_eq!(e.to_string(), "row 3, field `data`: missing field `flag`");
        let csv = "id,time,kind,service,environment,data.deployment_id,data.version,data.status,data.strategy,data.commits\n\
                   d-7,2024-05-01T12:05:00Z,deployment,checkout,prod,7,1.4.0,success,canary,\"[\"\"9f2c\"\",\"\"a1b3\"\"]\"\n";
        let p = parse(csv.as_bytes(), &ctx()).unwrap();
        let Payload::Deployment(d) = &p.events[0].payload else {
            panic!()
        };
        assert_eq!(d.commits, ["9f2c", "a1b3"]);
        assert_eq!(d.strategy.as_deref(), Some("canary"));
    }
}
