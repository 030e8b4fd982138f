//! Bearing's own JSON formats: a JSON array of events, a single event, or JSONL
//! (one event per line). [`JsonlReader`] streams JSONL for million-line files.

use std::io::{BufRead, Read};

use crate::model::Event;

use super::json::{message, syntax_error};
use super::{ParseContext, ParseError, Parsed, RecordRef, strip_bom, utf8};

/// Lines longer than this are rejected rather than buffered without bound.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

pub(super) fn parse(bytes: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    let bytes = strip_bom(bytes);
    let first = bytes.iter().copied().find(|b| !b.is_ascii_whitespace());
    let mut parsed = Parsed::default();
    match first {
        Some(b'[') => {
            for (i, e) in parse_array(bytes)?.into_iter().enumerate() {
                parsed.push(e, Some(RecordRef::Record(i + 1)));
            }
        }
        Some(b'{') => {
            // The line limit holds however the input is read (streamed or whole).
            check_line_lengths(bytes)?;
            let text = utf8(bytes)?;
            match serde_json::from_str::<serde_json::Value>(text) {
                // One (possibly pretty-printed) object.
                Ok(v) => {
                    // A one-line document is JSONL with one line; otherwise name no record.
                    let one_line = !text.trim().contains('\n');
                    let record = one_line.then_some(RecordRef::Line(1));
                    let event = decode_event(v).map_err(|e| match record {
                        Some(r) => e.with_record(r),
                        None => e,
                    })?;
                    parsed.push(event, record);
                }
                // JSONL: the first value parsed and more followed.
                Err(e) if e.is_syntax() && e.to_string().starts_with("trailing characters") => {
                    let mut lines = JsonlReader::new(bytes);
                    while let Some(event) = lines.next() {
                        let line = lines.line();
                        parsed.push(event?, Some(RecordRef::Line(line)));
                    }
                }
                Err(e) => return Err(syntax_error(&e, 0)),
            }
        }
        None => {}
        Some(_) => {
            return Err(ParseError::at(
                RecordRef::Line(1),
                "expected a JSON array, a JSON object or JSONL of Bearing events",
            ));
        }
    };
    for e in &mut parsed.events {
        ctx.fill_defaults(e);
    }
    Ok(parsed)
}

/// Refuses a line longer than [`MAX_LINE_BYTES`], naming it.
pub(crate) fn check_line_lengths(bytes: &[u8]) -> Result<(), ParseError> {
    if bytes.len() <= MAX_LINE_BYTES {
        return Ok(());
    }
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.len() > MAX_LINE_BYTES {
            return Err(too_long(i + 1));
        }
    }
    Ok(())
}

fn too_long(line: usize) -> ParseError {
    ParseError::at(
        RecordRef::Line(line),
        format!(
            "the line is longer than {} MiB; expected one event per line",
            MAX_LINE_BYTES >> 20
        ),
    )
}

fn parse_array(bytes: &[u8]) -> Result<Vec<Event>, ParseError> {
    let text = utf8(bytes)?;
    // Fast path: decode straight into events; on error, locate the bad item.
    match serde_json::from_str::<Vec<Event>>(text) {
        Ok(v) => Ok(v),
        Err(e) if !e.is_data() => Err(syntax_error(&e, 0)),
        Err(_) => {
            let items: Vec<serde_json::Value> =
                serde_json::from_str(text).map_err(|e| syntax_error(&e, 0))?;
            for (i, v) in items.into_iter().enumerate() {
                decode_event(v).map_err(|e| e.with_record(RecordRef::Record(i + 1)))?;
            }
            Err(ParseError::new("expected an array of Bearing events"))
        }
    }
}

fn decode_event(v: serde_json::Value) -> Result<Event, ParseError> {
    if !v.is_object() {
        return Err(ParseError::new(format!(
            "expected an event object, found {}",
            super::json::kind_of(&v)
        )));
    }
    super::json::decode(v)
}

/// Decodes one JSONL line; on failure, decodes again to find the failing field.
fn decode_line(line: &str, n: usize) -> Result<Event, ParseError> {
    match serde_json::from_str::<Event>(line) {
        Ok(e) => Ok(e),
        Err(e) if !e.is_data() => {
            let mut err = syntax_error(&e, 0);
            err.record = Some(RecordRef::Line(n));
            Err(err)
        }
        Err(first) => {
            let de = &mut serde_json::Deserializer::from_str(line);
            let err = match serde_path_to_error::deserialize::<_, Event>(de) {
                Ok(_) => ParseError::new(message(&first)),
                Err(e) => {
                    let path = e.path().to_string();
                    let err = ParseError::new(message(e.inner()));
                    if path == "." {
                        err
                    } else {
                        err.with_field(path)
                    }
                }
            };
            Err(err.with_record(RecordRef::Line(n)))
        }
    }
}

/// Streams Bearing JSONL: one event per line, blank lines ignored, `\r\n` accepted.
///
/// Yields `Err` for the first bad line (naming it) and then stops.
pub struct JsonlReader<R: BufRead> {
    reader: R,
    buf: Vec<u8>,
    line: usize,
    done: bool,
    service: Option<String>,
    environment: Option<String>,
}

impl<R: BufRead> JsonlReader<R> {
    pub fn new(reader: R) -> JsonlReader<R> {
        JsonlReader {
            reader,
            buf: Vec::with_capacity(1024),
            line: 0,
            done: false,
            service: None,
            environment: None,
        }
    }

    /// Fills service and environment of events that lack them from `ctx`.
    pub fn with_context(mut self, ctx: &ParseContext) -> JsonlReader<R> {
        self.service.clone_from(&ctx.service);
        self.environment.clone_from(&ctx.environment);
        self
    }

    /// The number of lines read so far.
    pub fn line(&self) -> usize {
        self.line
    }

    fn fail(&mut self, err: ParseError) -> Option<Result<Event, ParseError>> {
        self.done = true;
        Some(Err(err))
    }
}

impl<R: BufRead> Iterator for JsonlReader<R> {
    type Item = Result<Event, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            self.buf.clear();
            let limit = MAX_LINE_BYTES as u64 + 1;
            let read = (&mut self.reader)
                .take(limit)
                .read_until(b'\n', &mut self.buf);
            let n = match read {
                Ok(n) => n,
                Err(e) => {
                    let line = self.line + 1;
                    return self.fail(ParseError::at(
                        RecordRef::Line(line),
                        format!("cannot read the input: {e}"),
                    ));
                }
            };
            if n == 0 {
                self.done = true;
                return None;
            }
            self.line += 1;
            if self.buf.len() > MAX_LINE_BYTES {
                let line = self.line;
                return self.fail(too_long(line));
            }
            let mut bytes = self.buf.as_slice();
            if self.line == 1 {
                bytes = strip_bom(bytes);
            }
            while let [rest @ .., b'\n' | b'\r'] = bytes {
                bytes = rest;
            }
            if bytes.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let line = self.line;
            let text = match std::str::from_utf8(bytes) {
                Ok(t) => t,
                Err(e) => {
                    return self.fail(ParseError::at(
                        RecordRef::Line(line),
                        format!(
                            "invalid UTF-8 at byte {} of the line: the input must be UTF-8 text",
                            e.valid_up_to()
                        ),
                    ));
                }
            };
            return match decode_line(text, line) {
                Ok(mut e) => {
                    if e.service.is_none() {
                        e.service.clone_from(&self.service);
                    }
                    if e.environment.is_none() {
                        e.environment.clone_from(&self.environment);
                    }
                    Some(Ok(e))
                }
                Err(err) => self.fail(err),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;

    const LINE: &str = r#"{"id":"e1","source":"t","time":"2024-05-01T12:00:00Z","kind":"metric_point","data":{"name":"rps","value":1.5}}"#;

    #[test]
    fn streams_jsonl_with_blank_and_crlf_lines() {
        let input = format!("{LINE}\r\n\n{}\n", LINE.replace("e1", "e2"));
        let events: Vec<_> = JsonlReader::new(input.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].id, "e2");
        assert_eq!(events[0].kind(), Kind::MetricPoint);
    }

    #[test]
    fn names_line_and_field() {
        let bad = LINE.replace("2024-05-01T12:00:00Z", "yesterday");
        let input = format!("{LINE}\n{bad}\n{LINE}\n");
        let mut it = JsonlReader::new(input.as_bytes());
        assert!(it.next().unwrap().is_ok());
        let err = it.next().unwrap().unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2, field `time`: expected an RFC 3339 timestamp (e.g. `2024-05-01T12:00:00Z`), found `yesterday`"
        );
        assert!(it.next().is_none(), "stops after the first error");

        let bad = LINE.replace("1.5", "\"fast\"");
        let err = JsonlReader::new(bad.as_bytes())
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("data.value"), "{err}");
    }

    #[test]
    fn whole_document_forms() {
        let ctx = ParseContext::new(chrono::Utc::now());
        assert_eq!(
            parse(format!("[{LINE},{LINE}]").as_bytes(), &ctx)
                .unwrap()
                .events
                .len(),
            2
        );
        let pretty =
            serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(LINE).unwrap())
                .unwrap();
        assert_eq!(parse(pretty.as_bytes(), &ctx).unwrap().events.len(), 1);
        assert_eq!(
            parse(format!("{LINE}\n{LINE}").as_bytes(), &ctx)
                .unwrap()
                .events
                .len(),
            2
        );
        let err = parse(format!("[{LINE},{{\"id\":1}}]").as_bytes(), &ctx).unwrap_err();
        assert_eq!(err.record, Some(RecordRef::Record(2)));
    }
}
