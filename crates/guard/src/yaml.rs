//! Multi-document YAML (Kubernetes manifests) to JSON values, with the
//! `line:column` of every value under the pointer `/<document>/<path…>`.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};

use crate::locate::{LocationIndex, escape_token};

enum Frame {
    Seq(Vec<Value>),
    Map(Map<String, Value>, Option<String>),
}

/// Parses every document of a YAML stream; empty documents are dropped.
pub fn parse_yaml_located(text: &str) -> Result<(Vec<Value>, LocationIndex), String> {
    let mut docs: Vec<Value> = Vec::new();
    let mut index = LocationIndex::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut anchors: HashMap<usize, Value> = HashMap::new();
    let mut anchor_stack: Vec<usize> = Vec::new();
    let mut doc_no = 0usize;
    let mut parser = Parser::new_from_str(text);
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| {
            format!(
                "invalid YAML at line {}, column {}: {}",
                e.marker().line(),
                e.marker().col() + 1,
                e.info()
            )
        })?;
        match ev {
            Event::DocumentStart(_) => {
                stack.clear();
                path.clear();
            }
            Event::DocumentEnd => {}
            Event::Scalar(s, style, anchor, tag) => {
                let v = if style == ScalarStyle::Plain && tag.is_none() {
                    resolve_plain(&s)
                } else {
                    Value::String(s.into_owned())
                };
                // A scalar in key position names the next value.
                if let Some(Frame::Map(_, key @ None)) = stack.last_mut() {
                    *key = Some(match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    });
                    continue;
                }
                if anchor > 0 {
                    anchors.insert(anchor, v.clone());
                }
                record(&mut index, doc_no, &path, &stack, span);
                push_value(&mut stack, &mut docs, &mut doc_no, &mut path, v);
            }
            Event::Alias(id) => {
                let v = anchors.get(&id).cloned().unwrap_or(Value::Null);
                if let Some(Frame::Map(_, key @ None)) = stack.last_mut() {
                    *key = Some(match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    });
                    continue;
                }
                record(&mut index, doc_no, &path, &stack, span);
                push_value(&mut stack, &mut docs, &mut doc_no, &mut path, v);
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                let is_seq = matches!(ev, Event::SequenceStart(..));
                record(&mut index, doc_no, &path, &stack, span);
                if let Some(seg) = child_segment(&stack) {
                    path.push(seg);
                }
                anchor_stack.push(anchor);
                stack.push(if is_seq {
                    Frame::Seq(Vec::new())
                } else {
                    Frame::Map(Map::new(), None)
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let v = match stack.pop() {
                    Some(Frame::Seq(items)) => Value::Array(items),
                    Some(Frame::Map(map, _)) => Value::Object(map),
                    None => continue,
                };
                if let Some(anchor) = anchor_stack.pop()
                    && anchor > 0
                {
                    anchors.insert(anchor, v.clone());
                }
                if !stack.is_empty() {
                    path.pop();
                }
                push_value(&mut stack, &mut docs, &mut doc_no, &mut path, v);
            }
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
    }
    Ok((docs, index))
}

/// The path segment the next value in the innermost container gets.
fn child_segment(stack: &[Frame]) -> Option<String> {
    match stack.last()? {
        Frame::Seq(items) => Some(items.len().to_string()),
        Frame::Map(_, key) => Some(escape_token(key.as_deref().unwrap_or(""))),
    }
}

fn record(index: &mut LocationIndex, doc: usize, path: &[String], stack: &[Frame], span: Span) {
    let mut pointer = format!("/{doc}");
    for seg in path {
        pointer.push('/');
        pointer.push_str(seg);
    }
    if let Some(seg) = child_segment(stack) {
        pointer.push('/');
        pointer.push_str(&seg);
    }
    index.insert(
        pointer,
        [span.start.line() as u32, span.start.col() as u32 + 1],
    );
}

fn push_value(
    stack: &mut [Frame],
    docs: &mut Vec<Value>,
    doc_no: &mut usize,
    _path: &mut [String],
    v: Value,
) {
    match stack.last_mut() {
        Some(Frame::Seq(items)) => items.push(v),
        Some(Frame::Map(map, key)) => {
            if let Some(k) = key.take() {
                map.insert(k, v);
            }
        }
        None => {
            if !v.is_null() {
                docs.push(v);
                *doc_no += 1;
            }
        }
    }
}

/// YAML 1.2 core schema resolution of a plain scalar.
fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && let Ok(i) = s.parse::<i64>()
    {
        return Value::Number(i.into());
    }
    if let Some(hex) = s.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Value::Number(i.into());
    }
    if let Some(oct) = s.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Value::Number(i.into());
    }
    let looks_float = digits
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && digits.bytes().any(|b| b.is_ascii_digit());
    if looks_float
        && let Ok(f) = s.parse::<f64>()
        && let Some(n) = Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_document_with_locations() {
        let text = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: nginx:latest\n    ports: [80, 443]\n---\n---\nkind: Service\nreplicas: 3\nflag: true\nempty:\n";
        let (docs, idx) = parse_yaml_located(text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0]["spec"]["containers"][0]["image"], "nginx:latest");
        assert_eq!(docs[0]["spec"]["containers"][0]["ports"][1], 443);
        assert_eq!(docs[1]["replicas"], 3);
        assert_eq!(docs[1]["flag"], true);
        assert!(docs[1]["empty"].is_null());
        assert_eq!(idx["/0/spec/containers/0/image"], [6, 12]);
        assert_eq!(idx["/0/spec/containers/0/ports/1"], [7, 17]);
        assert_eq!(idx["/1/kind"], [10, 7]);
    }

    #[test]
    fn quoted_scalars_stay_strings_and_anchors_resolve() {
        let text = "a: \"1\"\nb: &x {c: 2}\nd: *x\n";
        let (docs, _) = parse_yaml_located(text).unwrap();
        assert_eq!(docs[0]["a"], "1");
        assert_eq!(docs[0]["d"]["c"], 2);
    }

    #[test]
    fn syntax_error_has_line() {
        let err = parse_yaml_located("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.contains("line"), "{err}");
    }
}
