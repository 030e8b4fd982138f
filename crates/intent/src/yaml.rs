//! A YAML document as a tree of nodes that remember where they were written.
//!
//! The loader parses each file once with `saphyr-parser` into this tree, then
//! deserialises the typed model from it (see `de.rs`) and places every
//! diagnostic at the node it is about. Plain scalars are resolved with the YAML
//! 1.2 core schema (null, booleans, integers, floats, everything else a string).
//! The builder is iterative and bounded (nesting depth, alias expansion), so no
//! input can overflow the stack or blow up memory.

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError};

/// Deepest nesting accepted; intents are a few levels deep.
const MAX_DEPTH: usize = 64;
/// Most nodes a document may expand to, aliases included.
const MAX_NODES: usize = 500_000;

/// One node with its 1-based line and column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub value: Value,
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Scalar(Scalar),
    Seq(Vec<Node>),
    /// Entries in source order; keys are scalars.
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scalar {
    pub text: String,
    pub style: Style,
    /// Tagged `!!str`: never resolved to another type.
    pub forced_str: bool,
}

/// How a scalar was written; decides its resolution and where characters sit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Plain,
    Quoted,
    Block,
}

/// The type a scalar resolves to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str,
}

/// A located problem found while reading YAML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct YamlError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl Scalar {
    pub fn resolve(&self) -> Resolved {
        if self.style != Style::Plain || self.forced_str {
            return Resolved::Str;
        }
        resolve_plain(&self.text)
    }
}

fn resolve_plain(t: &str) -> Resolved {
    match t {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        _ => {}
    }
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = t.parse::<i64>() {
            return Resolved::Int(i);
        }
        if let Ok(f) = t.parse::<f64>() {
            return Resolved::Float(f);
        }
    }
    if let Some(hex) = t.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Resolved::Int(i);
    }
    if let Some(oct) = t.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Resolved::Int(i);
    }
    let float_chars = t
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    let starts_ok = digits.starts_with(|c: char| c.is_ascii_digit() || c == '.');
    if float_chars
        && starts_ok
        && digits.bytes().any(|b| b.is_ascii_digit())
        && let Ok(f) = t.parse::<f64>()
    {
        return Resolved::Float(f);
    }
    Resolved::Str
}

impl Node {
    /// The value under `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.scalar_text() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The key node of `key` in a mapping.
    pub fn key(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.scalar_text() == Some(key))
                .map(|(k, _)| k),
            _ => None,
        }
    }

    /// The `i`-th item of a sequence.
    pub fn idx(&self, i: usize) -> Option<&Node> {
        match &self.value {
            Value::Seq(items) => items.get(i),
            _ => None,
        }
    }

    pub fn scalar_text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) => Some(&s.text),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar(s) if s.resolve() == Resolved::Null)
    }

    /// Where the character at byte `offset` of this scalar's text sits in the
    /// file, when that can be known (single-line plain or quoted scalars);
    /// otherwise the node's own position.
    pub fn position_of(&self, offset: usize) -> (usize, usize) {
        let Value::Scalar(s) = &self.value else {
            return (self.line, self.col);
        };
        let Some(prefix) = s.text.get(..offset) else {
            return (self.line, self.col);
        };
        if s.text.contains('\n') {
            return (self.line, self.col);
        }
        let chars = prefix.chars().count();
        match s.style {
            Style::Plain => (self.line, self.col + chars),
            Style::Quoted => (self.line, self.col + 1 + chars),
            Style::Block => (self.line, self.col),
        }
    }

    fn count(&self) -> usize {
        match &self.value {
            Value::Scalar(_) => 1,
            Value::Seq(items) => 1 + items.iter().map(Node::count).sum::<usize>(),
            Value::Map(entries) => {
                1 + entries
                    .iter()
                    .map(|(k, v)| k.count() + v.count())
                    .sum::<usize>()
            }
        }
    }
}

enum Frame {
    Seq {
        line: usize,
        col: usize,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        line: usize,
        col: usize,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

/// Parses one YAML document. Returns the root (`None` for an empty file) and
/// the problems found; a syntax error ends parsing, other problems (duplicate
/// keys, non-scalar keys) are collected and parsing goes on.
pub(crate) fn parse(text: &str) -> (Option<Node>, Vec<YamlError>) {
    let mut errors = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: std::collections::HashMap<usize, Node> = std::collections::HashMap::new();
    let mut root: Option<Node> = None;
    let mut documents = 0usize;
    let mut total = 0usize;

    for item in Parser::new_from_str(text) {
        let (event, span) = match item {
            Ok(x) => x,
            Err(e) => {
                errors.push(scan_error(text, &e));
                return (None, errors);
            }
        };
        let line = span.start.line();
        let col = span.start.col() + 1;
        let done: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => None,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    errors.push(YamlError {
                        line,
                        col,
                        message: "found a second YAML document; expected one document per file (split it into two files in a folder)".into(),
                    });
                    return (root, errors);
                }
                None
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(node) => {
                    total += node.count();
                    if total > MAX_NODES {
                        errors.push(YamlError {
                            line,
                            col,
                            message: format!(
                                "aliases expand to more than {MAX_NODES} nodes; expected a document of ordinary size"
                            ),
                        });
                        return (None, errors);
                    }
                    let mut n = node.clone();
                    n.line = line;
                    n.col = col;
                    Some((n, 0))
                }
                None => {
                    errors.push(YamlError {
                        line,
                        col,
                        message: "alias names an unknown anchor; expected an anchor defined earlier with `&name`".into(),
                    });
                    return (None, errors);
                }
            },
            Event::Scalar(text, style, anchor, tag) => {
                total += 1;
                let forced_str = tag
                    .as_ref()
                    .is_some_and(|t| t.handle == "!!" && t.suffix == "str")
                    || tag
                        .as_ref()
                        .is_some_and(|t| t.handle == "tag:yaml.org,2002:" && t.suffix == "str");
                let style = match style {
                    ScalarStyle::Plain => Style::Plain,
                    ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => Style::Quoted,
                    _ => Style::Block,
                };
                Some((
                    Node {
                        value: Value::Scalar(Scalar {
                            text: text.into_owned(),
                            style,
                            forced_str,
                        }),
                        line,
                        col,
                    },
                    anchor,
                ))
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                total += 1;
                if stack.len() >= MAX_DEPTH {
                    errors.push(YamlError {
                        line,
                        col,
                        message: format!(
                            "nesting is deeper than {MAX_DEPTH} levels; expected an intent a few levels deep"
                        ),
                    });
                    return (None, errors);
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq {
                        line,
                        col,
                        anchor,
                        items: Vec::new(),
                    }
                } else {
                    Frame::Map {
                        line,
                        col,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                    }
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq {
                    line,
                    col,
                    anchor,
                    items,
                }) => Some((
                    Node {
                        value: Value::Seq(items),
                        line,
                        col,
                    },
                    anchor,
                )),
                Some(Frame::Map {
                    line,
                    col,
                    anchor,
                    entries,
                    ..
                }) => Some((
                    Node {
                        value: Value::Map(entries),
                        line,
                        col,
                    },
                    anchor,
                )),
                None => None,
            },
        };
        let Some((node, anchor)) = done else {
            continue;
        };
        if total > MAX_NODES {
            errors.push(YamlError {
                line,
                col,
                message: format!(
                    "the document has more than {MAX_NODES} nodes; expected a document of ordinary size"
                ),
            });
            return (None, errors);
        }
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => {
                    if !matches!(node.value, Value::Scalar(_)) {
                        errors.push(YamlError {
                            line: node.line,
                            col: node.col,
                            message: "found a list or mapping used as a key; expected a plain name such as `id`".into(),
                        });
                    }
                    *key = Some(node);
                }
                Some(k) => {
                    let name = k.scalar_text();
                    let first = entries
                        .iter()
                        .find(|(prev, _)| name.is_some() && prev.scalar_text() == name);
                    if let (Some((prev, _)), Some(name)) = (first, name) {
                        errors.push(YamlError {
                            line: k.line,
                            col: k.col,
                            message: format!(
                                "duplicate key `{name}`; it is already set on line {}",
                                prev.line
                            ),
                        });
                    } else if matches!(k.value, Value::Scalar(_)) {
                        entries.push((k, node));
                    }
                }
            },
        }
    }
    (root, errors)
}

fn scan_error(text: &str, e: &ScanError) -> YamlError {
    let m = e.marker();
    let line = m.line().max(1);
    let mut message = format!("invalid YAML: {}", e.info());
    // The most common cause in intent files: a target written unquoted.
    let src_line = text.lines().nth(line - 1).unwrap_or("");
    let hint = src_line.split_once(": ").map(|(_, v)| v.trim_start());
    let unclosed = unclosed_bracket(text, line);
    if let Some(v) = hint
        && v.starts_with('*')
        && e.info().contains("anchor")
    {
        message = format!(
            "invalid YAML: `{}` refers to an anchor that is not defined; expected `&name` on an earlier value, or quote the text",
            v.split_whitespace().next().unwrap_or(v)
        );
    } else if let Some((open, at)) = unclosed {
        message.push_str(&format!("; the `{open}` on line {at} is not closed"));
    } else if let Some(v) = hint
        && (v.starts_with(['>', '!', '|', '&', '*', '@', '`', '%']))
    {
        message.push_str(&format!(
            "; a value starting with `{}` must be quoted, e.g. `\"{}\"`",
            &v[..1],
            v.trim_end()
        ));
    }
    YamlError {
        line,
        col: m.col() + 1,
        message,
    }
}

/// The last line before `line` whose `[` or `{` is never closed, if any:
/// the usual cause of a flow collection error reported lines later.
fn unclosed_bracket(text: &str, line: usize) -> Option<(char, usize)> {
    let mut open: Vec<(char, usize)> = Vec::new();
    for (i, l) in text.lines().take(line.saturating_sub(1)).enumerate() {
        let mut quote: Option<char> = None;
        for c in l.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') => break,
                (None, '[' | '{') => open.push((c, i + 1)),
                (None, ']' | '}') => {
                    open.pop();
                }
                _ => {}
            }
        }
    }
    open.pop().filter(|(_, at)| *at < line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> Node {
        let (n, errs) = parse(text);
        assert!(errs.is_empty(), "{errs:?}");
        n.unwrap()
    }

    #[test]
    fn positions_are_one_based() {
        let n = root("a: 1\nb:\n  - x\n  - {c: d}\n");
        let b = n.get("b").unwrap();
        assert_eq!((b.line, b.col), (3, 3));
        let c = b.idx(1).unwrap().get("c").unwrap();
        assert_eq!((c.line, c.col), (4, 9));
        assert_eq!(n.key("b").map(|k| (k.line, k.col)), Some((2, 1)));
    }

    #[test]
    fn resolves_core_schema() {
        let r = |s: &str| resolve_plain(s);
        assert_eq!(r("~"), Resolved::Null);
        assert_eq!(r("true"), Resolved::Bool(true));
        assert_eq!(r("12"), Resolved::Int(12));
        assert_eq!(r("-1.5"), Resolved::Float(-1.5));
        assert_eq!(r("2027-03-31"), Resolved::Str);
        assert_eq!(r("30d"), Resolved::Str);
        assert_eq!(r("inf"), Resolved::Str);
        assert_eq!(r("e5"), Resolved::Str);
    }

    #[test]
    fn duplicate_keys_and_documents_are_reported() {
        let (_, errs) = parse("a: 1\na: 2\n");
        assert_eq!(errs[0].line, 2);
        let (_, errs) = parse("a: 1\n---\nb: 2\n");
        assert_eq!(errs[0].line, 2);
    }

    #[test]
    fn aliases_expand_and_bombs_stop() {
        let n = root("a: &x [1, 2]\nb: *x\n");
        assert_eq!(n.get("b").unwrap().idx(1).unwrap().scalar_text(), Some("2"));
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let (_, errs) = parse(&bomb);
        assert!(errs[0].message.contains("aliases expand"), "{errs:?}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        let (_, errs) = parse(&deep);
        assert!(!errs.is_empty());
    }

    #[test]
    fn positions_inside_strings() {
        let n = root("w: \"a > b\"\nv: a > b\n");
        assert_eq!(n.get("w").unwrap().position_of(2), (1, 7));
        assert_eq!(n.get("v").unwrap().position_of(2), (2, 6));
    }
}
