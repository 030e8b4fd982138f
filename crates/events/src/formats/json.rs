//! JSON plumbing shared by the adapters: syntax errors with line and column,
//! typed decoding with the failing field's path, documents that are one
//! object, an array or JSONL, and content-based format detection.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{Format, ParseError, RecordRef, utf8};

/// Turns a serde_json error into a message without serde_json's location suffix.
pub(crate) fn message(e: &serde_json::Error) -> String {
    let s = e.to_string();
    let s = match s.rsplit_once(" at line ") {
        Some((m, _)) if e.line() > 0 => m.to_owned(),
        _ => s,
    };
    // serde says "invalid type: X, expected Y"; say what was expected first.
    let s = match s
        .strip_prefix("invalid type: ")
        .or_else(|| s.strip_prefix("invalid value: "))
    {
        Some(rest) => match rest.split_once(", expected ") {
            Some((found, expected)) => format!("expected {expected}, found {found}"),
            None => s.clone(),
        },
        None => s,
    };
    // serde's wording names Rust types; say what a user would.
    s.replace("expected f64", "expected a number")
        .replace(
            "expected u32",
            "expected a whole number between 0 and 4294967295",
        )
        .replace("expected u64", "expected a whole number")
        .replace("expected i64", "expected a whole number")
        .replace("expected a borrowed string", "expected a string")
        .replace("number out of range", "number out of range (too large)")
}

/// A syntax or data error from parsing a whole document, located by line and column.
pub(crate) fn syntax_error(e: &serde_json::Error, line_offset: usize) -> ParseError {
    let what = match e.classify() {
        serde_json::error::Category::Eof => "the JSON ends too early (truncated?)".to_owned(),
        serde_json::error::Category::Syntax => format!("invalid JSON: {}", message(e)),
        _ => message(e),
    };
    if e.line() == 0 {
        return ParseError::new(what);
    }
    ParseError::at(
        RecordRef::Line(e.line() + line_offset),
        format!("{what} (column {})", e.column()),
    )
}

/// Parses a whole JSON document (after checking it is UTF-8).
pub(crate) fn parse_value(bytes: &[u8]) -> Result<Value, ParseError> {
    let text = utf8(bytes)?;
    serde_json::from_str(text).map_err(|e| syntax_error(&e, 0))
}

/// Decodes a value into `T`, naming the failing field's path.
pub(crate) fn decode<T: DeserializeOwned>(v: Value) -> Result<T, ParseError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let err = ParseError::new(message(e.inner()));
        if path == "." || path.is_empty() {
            err
        } else {
            err.with_field(path)
        }
    })
}

/// The records of a document that may be one object, an array of objects, or JSONL.
/// A single object has no record reference; array items are `Record`, JSONL lines `Line`.
pub(crate) fn records(bytes: &[u8]) -> Result<Vec<(Option<RecordRef>, Value)>, ParseError> {
    let text = utf8(bytes)?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        let v: Value = serde_json::from_str(text).map_err(|e| syntax_error(&e, 0))?;
        let Value::Array(items) = v else {
            return Err(ParseError::new("expected a JSON array"));
        };
        return Ok(items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (Some(RecordRef::Record(i + 1)), v))
            .collect());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(v) => Ok(vec![(None, v)]),
        Err(e) if is_trailing(&e) => jsonl_values(text),
        Err(e) => Err(syntax_error(&e, 0)),
    }
}

fn is_trailing(e: &serde_json::Error) -> bool {
    e.is_syntax() && e.to_string().starts_with("trailing characters")
}

/// One JSON value per non-blank line.
pub(crate) fn jsonl_values(text: &str) -> Result<Vec<(Option<RecordRef>, Value)>, ParseError> {
    super::bearing::check_line_lengths(text.as_bytes())?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line).map_err(|e| {
            let mut err = syntax_error(&e, 0);
            err.record = Some(RecordRef::Line(i + 1));
            err
        })?;
        out.push((Some(RecordRef::Line(i + 1)), v));
    }
    Ok(out)
}

/// Borrowing accessors for the loosely typed JSON of third-party formats.
pub(crate) trait Get {
    fn path(&self, path: &str) -> Option<&Value>;
    fn str_at(&self, path: &str) -> Option<&str> {
        self.path(path)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }
    fn u64_at(&self, path: &str) -> Option<u64> {
        self.path(path)
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
    }
    fn bool_at(&self, path: &str) -> Option<bool> {
        self.path(path).and_then(Value::as_bool)
    }
    fn arr_at(&self, path: &str) -> &[Value] {
        self.path(path)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

impl Get for Value {
    /// `a.b.c` walks objects; a numeric segment indexes arrays.
    fn path(&self, path: &str) -> Option<&Value> {
        let mut v = self;
        for seg in path.split('.') {
            v = match v {
                Value::Object(m) => m.get(seg)?,
                Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(v)
    }
}

/// Requires a string field, with a message naming it.
pub(crate) fn req_str<'a>(v: &'a Value, path: &str) -> Result<&'a str, ParseError> {
    match v.path(path) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(Value::String(_)) => {
            Err(ParseError::new("expected a non-empty string, found `\"\"`").with_field(path))
        }
        Some(other) => Err(
            ParseError::new(format!("expected a string, found {}", kind_of(other)))
                .with_field(path),
        ),
        None => Err(ParseError::new("missing; this field is required").with_field(path)),
    }
}

/// Requires an RFC 3339 timestamp field.
pub(crate) fn req_time(v: &Value, path: &str) -> Result<chrono::DateTime<chrono::Utc>, ParseError> {
    let s = req_str(v, path)?;
    crate::timestamp::parse_rfc3339(s)
        .ok_or_else(|| ParseError::new(crate::timestamp::expected_timestamp(s)).with_field(path))
}

/// An optional RFC 3339 timestamp field: absent or `null` is `None`, anything else must parse.
pub(crate) fn opt_time(
    v: &Value,
    path: &str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ParseError> {
    match v.path(path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(_) => req_time(v, path).map(Some),
    }
}

pub(crate) fn kind_of(v: &Value) -> String {
    match v {
        Value::Null => "`null`".into(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("the number `{n}`"),
        Value::String(s) => format!("the string `{}`", super::truncate(s, 40)),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// Content-based detection of the JSON formats.
pub(crate) fn detect(bytes: &[u8], ext: &str) -> Option<Format> {
    // A prefix of a file may end inside a character, and a file may have a bad
    // byte further on: classify the valid part, so that the parser of the right
    // format names the bad byte (`line 7: invalid UTF-8 at byte 12 …`).
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).ok()?,
    };
    let first: Value = match serde_json::from_str::<Value>(text) {
        Ok(v) => v,
        Err(e) if is_trailing(&e) => {
            // JSONL (or concatenated JSON): classify the first record.
            let mut it = serde_json::Deserializer::from_str(text).into_iter::<Value>();
            it.next()?.ok()?
        }
        Err(_) => {
            // Truncated or broken: still tell the user which parser to blame when the
            // file name says so, so the error comes from the right adapter.
            return match ext {
                "sarif" => Some(Format::Sarif),
                "jsonl" | "ndjson" => Some(Format::Bearing),
                _ => None,
            };
        }
    };
    match &first {
        Value::Object(m) => {
            if ext == "sarif" && m.contains_key("runs") {
                return Some(Format::Sarif);
            }
            classify_object(m)
        }
        Value::Array(items) => {
            let Some(Value::Object(m)) = items.first() else {
                return None;
            };
            if is_trivy_result(m) {
                return Some(Format::Trivy);
            }
            match classify_object(m)? {
                f @ (Format::Bearing | Format::CdEvents) => Some(f),
                _ => None,
            }
        }
        _ => None,
    }
}

fn classify_object(m: &Map<String, Value>) -> Option<Format> {
    let has = |k: &str| m.contains_key(k);
    let mut found = Vec::new();
    if has("runs")
        && (m.get("version").and_then(Value::as_str) == Some("2.1.0")
            || schema_mentions(m, "sarif"))
    {
        found.push(Format::Sarif);
    }
    if has("SchemaVersion")
        || (has("ArtifactName") && has("Results"))
        || (has("ClusterName")
            && (has("Vulnerabilities") || has("Misconfigurations") || has("Resources")))
    {
        found.push(Format::Trivy);
    }
    if has("matches") && (has("descriptor") || has("source") || grype_matches(m.get("matches"))) {
        found.push(Format::Grype);
    }
    if has("projects") && (has("totalMonthlyCost") || has("currency")) {
        found.push(Format::Infracost);
    }
    if (has("context") && has("subject")) || is_cdevents_cloudevent(m) {
        found.push(Format::CdEvents);
    }
    if has("code") && has("data") && opencost_shape(m.get("data")) {
        found.push(Format::OpenCost);
    }
    if has("id") && has("kind") && has("time") && has("source") {
        found.push(Format::Bearing);
    }
    if super::github::looks_like_webhook(m) || super::github::looks_like_delivery(m) {
        found.push(Format::GithubWebhook);
    }
    if super::gitlab::looks_like_hook(m) {
        found.push(Format::GitlabWebhook);
    }
    if found.len() == 1 { found.pop() } else { None }
}

/// A result of Trivy's legacy list: `{"Target", "Type"/"Class", "Vulnerabilities"…}`.
fn is_trivy_result(m: &Map<String, Value>) -> bool {
    m.contains_key("Target")
        && [
            "Vulnerabilities",
            "Type",
            "Class",
            "Misconfigurations",
            "Secrets",
        ]
        .iter()
        .any(|k| m.contains_key(*k))
}

/// Grype's `matches` without `descriptor` or `source` (older Grype, or a
/// report trimmed by a pipeline): a list whose first match has `vulnerability`
/// and `artifact`.
fn grype_matches(matches: Option<&Value>) -> bool {
    match matches {
        Some(Value::Array(a)) => a.first().is_some_and(|m| {
            m.get("vulnerability").is_some_and(Value::is_object)
                && m.get("artifact").is_some_and(Value::is_object)
        }),
        _ => false,
    }
}

fn schema_mentions(m: &Map<String, Value>, what: &str) -> bool {
    m.get("$schema")
        .and_then(Value::as_str)
        .is_some_and(|s| s.to_ascii_lowercase().contains(what))
}

fn is_cdevents_cloudevent(m: &Map<String, Value>) -> bool {
    m.contains_key("specversion")
        && m.get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.starts_with("dev.cdevents"))
}

fn opencost_shape(data: Option<&Value>) -> bool {
    let entry_ok = |v: &Value| v.get("totalCost").is_some() || v.get("start").is_some();
    let map_ok = |m: &Map<String, Value>| m.values().next().is_none_or(entry_ok);
    match data {
        Some(Value::Object(m)) => map_ok(m),
        Some(Value::Array(a)) => a.iter().all(|x| x.as_object().is_some_and(map_ok)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_are_located() {
        let e = parse_value(b"{\n  \"a\": 1,\n  \"b\": \n").unwrap_err();
        assert_eq!(e.record, Some(RecordRef::Line(4)));
        assert!(e.message.contains("truncated"), "{e}");
    }

    #[test]
    fn records_handles_object_array_and_jsonl() {
        assert_eq!(records(b"{\"a\":1}").unwrap().len(), 1);
        let r = records(b"[{\"a\":1},{\"a\":2}]").unwrap();
        assert_eq!(r[1].0, Some(RecordRef::Record(2)));
        let r = records(b"{\"a\":1}\n\n{\"a\":2}\n").unwrap();
        assert_eq!(r[1].0, Some(RecordRef::Line(3)));
        let e = records(b"{\"a\":1}\n{\"a\":\n").unwrap_err();
        assert_eq!(e.record, Some(RecordRef::Line(2)));
    }
}
