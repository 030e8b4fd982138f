//! A small YAML node tree with positions, for the linter.
//!
//! serde readers forget where a value came from; a finding must say
//! file:line:column. This module runs `saphyr-parser`'s event stream into
//! [`Node`]s that keep the position of every scalar, mapping and sequence.
//! Aliases are expanded (with a size cap, so an alias bomb is an error, not
//! an out-of-memory), tags such as GitLab's `!reference` are kept, and merge
//! keys (`<<: *defaults`) are honoured by [`Node::get`].

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// A YAML value with the position it starts at.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
    /// The tag, e.g. `!reference`.
    pub tag: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar; `plain` is false for quoted and block scalars.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A document that is not YAML, located.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{}: {message}", pos.line, pos.column)]
pub struct ParseError {
    pub pos: Pos,
    pub message: String,
}

/// More nodes than this (after alias expansion) is refused.
const MAX_NODES: usize = 1_000_000;
/// Nesting deeper than this is refused.
const MAX_DEPTH: usize = 512;

impl Node {
    /// The scalar text, if this is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }
    /// True for a null scalar (`~`, `null`, empty plain).
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(v) => Some(v),
            _ => None,
        }
    }
    /// The mapping entries, with merge keys (`<<`) expanded after own keys.
    pub fn entries(&self) -> Vec<(&Node, &Node)> {
        let mut out = Vec::new();
        self.collect_entries(&mut out, 0);
        out
    }
    fn collect_entries<'a>(&'a self, out: &mut Vec<(&'a Node, &'a Node)>, depth: usize) {
        let Value::Map(pairs) = &self.value else {
            return;
        };
        let mut merges = Vec::new();
        for (k, v) in pairs {
            if k.as_str() == Some("<<") && matches!(&k.value, Value::Scalar { plain: true, .. }) {
                merges.push(v);
            } else if !out
                .iter()
                .any(|(ok, _)| ok.as_str().is_some() && ok.as_str() == k.as_str())
            {
                out.push((k, v));
            }
        }
        if depth > 16 {
            return;
        }
        for m in merges {
            match &m.value {
                Value::Map(_) => m.collect_entries(out, depth + 1),
                Value::Seq(items) => {
                    for i in items {
                        i.collect_entries(out, depth + 1);
                    }
                }
                Value::Scalar { .. } => {}
            }
        }
    }
    pub fn is_map(&self) -> bool {
        matches!(self.value, Value::Map(_))
    }
    /// The value under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()
            .into_iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }
    /// The key node of `key`, for its position.
    pub fn key(&self, key: &str) -> Option<&Node> {
        self.entries()
            .into_iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(k, _)| k)
    }
    /// Every scalar below this node (depth first), e.g. all script lines.
    pub fn scalars(&self) -> Vec<&Node> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(n) = stack.pop() {
            match &n.value {
                Value::Scalar { .. } => out.push(n),
                Value::Seq(items) => stack.extend(items.iter().rev()),
                Value::Map(pairs) => {
                    for (k, v) in pairs.iter().rev() {
                        stack.push(v);
                        stack.push(k);
                    }
                }
            }
        }
        out
    }
}

fn pos(span: &Span) -> Pos {
    Pos {
        line: span.start.line(),
        column: span.start.col() + 1,
    }
}

enum Frame {
    Seq {
        items: Vec<Node>,
        pos: Pos,
        anchor: usize,
        tag: Option<String>,
    },
    Map {
        pairs: Vec<(Node, Node)>,
        key: Option<Node>,
        pos: Pos,
        anchor: usize,
        tag: Option<String>,
    },
}

fn count(n: &Node) -> usize {
    match &n.value {
        Value::Scalar { .. } => 1,
        Value::Seq(v) => 1 + v.iter().map(count).sum::<usize>(),
        Value::Map(v) => 1 + v.iter().map(|(k, v)| count(k) + count(v)).sum::<usize>(),
    }
}

/// Parses every document of a YAML stream.
pub fn parse(text: &str) -> Result<Vec<Node>, ParseError> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut nodes = 0usize;
    for ev in Parser::new_from_str(text) {
        let (event, span) = ev.map_err(|e| ParseError {
            pos: Pos {
                line: e.marker().line(),
                column: e.marker().col() + 1,
            },
            message: e.info().to_string(),
        })?;
        let done: Option<(Node, usize)> = match event {
            Event::Scalar(value, style, anchor, tag) => Some((
                Node {
                    pos: pos(&span),
                    value: Value::Scalar {
                        text: value.into_owned(),
                        plain: style == ScalarStyle::Plain,
                    },
                    tag: tag.map(|t| t.to_string()),
                },
                anchor,
            )),
            Event::Alias(id) => {
                let node = anchors.get(&id).cloned().ok_or_else(|| ParseError {
                    pos: pos(&span),
                    message: "alias to an unknown anchor".to_string(),
                })?;
                nodes += count(&node);
                let mut node = node;
                node.pos = pos(&span);
                Some((node, 0))
            }
            Event::SequenceStart(anchor, tag) => {
                stack.push(Frame::Seq {
                    items: Vec::new(),
                    pos: pos(&span),
                    anchor,
                    tag: tag.map(|t| t.to_string()),
                });
                None
            }
            Event::MappingStart(anchor, tag) => {
                stack.push(Frame::Map {
                    pairs: Vec::new(),
                    key: None,
                    pos: pos(&span),
                    anchor,
                    tag: tag.map(|t| t.to_string()),
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq {
                    items,
                    pos,
                    anchor,
                    tag,
                }) => Some((
                    Node {
                        pos,
                        value: Value::Seq(items),
                        tag,
                    },
                    anchor,
                )),
                Some(Frame::Map {
                    pairs,
                    key,
                    pos,
                    anchor,
                    tag,
                }) => {
                    let mut pairs = pairs;
                    if let Some(k) = key {
                        // A key without value cannot happen in valid YAML; keep it as null.
                        let p = k.pos;
                        pairs.push((
                            k,
                            Node {
                                pos: p,
                                value: Value::Scalar {
                                    text: String::new(),
                                    plain: true,
                                },
                                tag: None,
                            },
                        ));
                    }
                    Some((
                        Node {
                            pos,
                            value: Value::Map(pairs),
                            tag,
                        },
                        anchor,
                    ))
                }
                None => None,
            },
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd
            | Event::Nothing => None,
        };
        if stack.len() > MAX_DEPTH {
            return Err(ParseError {
                pos: pos(&span),
                message: format!("nesting deeper than {MAX_DEPTH} levels"),
            });
        }
        let Some((node, anchor)) = done else {
            continue;
        };
        nodes += 1;
        if nodes > MAX_NODES {
            return Err(ParseError {
                pos: pos(&span),
                message: format!("more than {MAX_NODES} nodes (alias expansion?)"),
            });
        }
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { pairs, key, .. }) => match key.take() {
                Some(k) => pairs.push((k, node)),
                None => *key = Some(node),
            },
            None => docs.push(node),
        }
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_and_merges() {
        let text = "a: 1\nbase: &b\n  x: 2\njob:\n  <<: *b\n  steps:\n    - run: echo hi\n";
        let docs = parse(text).unwrap();
        let root = &docs[0];
        assert_eq!(root.get("a").unwrap().as_str(), Some("1"));
        let job = root.get("job").unwrap();
        assert_eq!(job.get("x").unwrap().as_str(), Some("2"));
        let run = &job.get("steps").unwrap().as_seq().unwrap()[0];
        let v = run.get("run").unwrap();
        assert_eq!(
            v.pos,
            Pos {
                line: 7,
                column: 12
            }
        );
        assert_eq!(run.key("run").unwrap().pos, Pos { line: 7, column: 7 });
    }

    #[test]
    fn errors_are_located_and_bombs_refused() {
        let err = parse("a: [1, 2\nb: 3").unwrap_err();
        assert!(err.pos.line >= 1);
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..8 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("l{}", i - 1)
            };
            bomb.push_str(&format!(
                "l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        assert!(parse(&bomb).is_err());
    }
}
