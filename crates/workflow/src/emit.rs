//! A tiny YAML writer for generated pipelines.
//!
//! Generated files carry comments (`# serves: …`) and must be byte-for-byte
//! deterministic, which a serde serializer gives neither of. This module
//! builds a small tree ([`Node`]) in the order it should be written and emits
//! block-style YAML with two-space indentation, quoting a scalar only when a
//! YAML 1.1 or 1.2 reader could take it for something other than a string.

/// A value in a generated document.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A string, quoted when needed.
    Str(String),
    /// A scalar written as is: numbers, booleans.
    Raw(String),
    /// A multi-line string written as a literal block (`|`).
    Block(String),
    Seq(Vec<Item>),
    Map(Vec<Entry>),
}

/// One entry of a mapping, with comment lines written above it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub value: Node,
    pub comments: Vec<String>,
}

/// One item of a sequence, with comment lines written above it.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub value: Node,
    pub comments: Vec<String>,
}

/// Builds a mapping entry by entry.
#[derive(Debug, Default, Clone)]
pub struct MapBuilder {
    entries: Vec<Entry>,
    pending: Vec<String>,
}

impl MapBuilder {
    pub fn new() -> Self {
        Self::default()
    }
    /// A comment line for the next entry.
    pub fn comment(mut self, text: impl Into<String>) -> Self {
        self.pending.push(text.into());
        self
    }
    pub fn entry(mut self, key: impl Into<String>, value: Node) -> Self {
        self.entries.push(Entry {
            key: key.into(),
            value,
            comments: std::mem::take(&mut self.pending),
        });
        self
    }
    pub fn str(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.entry(key, Node::Str(value.into()))
    }
    pub fn raw(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.entry(key, Node::Raw(value.into()))
    }
    /// Adds the entry only when `value` is `Some`.
    pub fn opt(self, key: impl Into<String>, value: Option<Node>) -> Self {
        match value {
            Some(v) => self.entry(key, v),
            None => self,
        }
    }
    pub fn build(self) -> Node {
        Node::Map(self.entries)
    }
}

/// A sequence of strings.
pub fn strs<I, S>(items: I) -> Node
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Node::Seq(
        items
            .into_iter()
            .map(|v| Item {
                value: Node::Str(v.into()),
                comments: Vec::new(),
            })
            .collect(),
    )
}

/// A sequence item without comments.
pub fn item(value: Node) -> Item {
    Item {
        value,
        comments: Vec::new(),
    }
}

/// A sequence item with one comment line above it.
pub fn item_with(comment: impl Into<String>, value: Node) -> Item {
    Item {
        value,
        comments: vec![comment.into()],
    }
}

/// Writes a document: header comment lines, then the root node.
pub fn document(header: &[String], root: &Node) -> String {
    let mut out = String::new();
    for line in header {
        push_comment(&mut out, 0, line);
    }
    match root {
        Node::Map(entries) => write_entries(&mut out, 0, entries),
        other => {
            write_value_inline(&mut out, 0, other);
        }
    }
    out
}

fn push_comment(out: &mut String, indent: usize, text: &str) {
    for line in text.lines() {
        push_indent(out, indent);
        if line.is_empty() {
            out.push('#');
        } else {
            out.push_str("# ");
            out.push_str(line);
        }
        out.push('\n');
    }
}

fn push_indent(out: &mut String, indent: usize) {
    for _ in 0..indent {
        out.push(' ');
    }
}

fn write_entries(out: &mut String, indent: usize, entries: &[Entry]) {
    for (i, e) in entries.iter().enumerate() {
        // A blank line before top-level comments and jobs keeps files readable.
        if indent == 0 && i > 0 && !e.comments.is_empty() {
            out.push('\n');
        }
        for c in &e.comments {
            push_comment(out, indent, c);
        }
        push_indent(out, indent);
        write_entry_body(out, indent, e);
    }
}

/// Writes `key: value` starting at the current column (indent already written).
fn write_entry_body(out: &mut String, indent: usize, e: &Entry) {
    out.push_str(&key(&e.key));
    out.push(':');
    write_value_after_colon(out, indent, &e.value);
}

fn write_value_after_colon(out: &mut String, indent: usize, value: &Node) {
    match value {
        Node::Map(entries) if entries.is_empty() => out.push_str(" {}\n"),
        Node::Seq(items) if items.is_empty() => out.push_str(" []\n"),
        Node::Map(entries) => {
            out.push('\n');
            write_entries(out, indent + 2, entries);
        }
        Node::Seq(items) => {
            out.push('\n');
            write_items(out, indent + 2, items);
        }
        Node::Block(text) => write_block(out, indent + 2, text),
        scalar => {
            out.push(' ');
            write_value_inline(out, indent, scalar);
        }
    }
}

fn write_items(out: &mut String, indent: usize, items: &[Item]) {
    for it in items {
        for c in &it.comments {
            push_comment(out, indent, c);
        }
        if let Node::Map(entries) = &it.value {
            // Comments of the first key go above the dash.
            if let Some(first) = entries.first() {
                for c in &first.comments {
                    push_comment(out, indent, c);
                }
            }
        }
        push_indent(out, indent);
        out.push('-');
        match &it.value {
            Node::Map(entries) if !entries.is_empty() => {
                out.push(' ');
                let (first, rest) = entries.split_at(1);
                write_entry_body(out, indent + 2, &first[0]);
                write_entries(out, indent + 2, rest);
            }
            Node::Seq(inner) if !inner.is_empty() => {
                out.push('\n');
                write_items(out, indent + 2, inner);
            }
            Node::Block(text) => write_block(out, indent + 2, text),
            other => {
                out.push(' ');
                write_value_inline(out, indent, other);
            }
        }
    }
}

fn write_block(out: &mut String, indent: usize, text: &str) {
    let body = text.trim_end_matches('\n');
    if body.starts_with([' ', '\t'])
        || body.is_empty()
        || body.chars().any(|c| c.is_control() && c != '\n')
    {
        // Would need an indentation indicator (or cannot be a block): quote it.
        out.push(' ');
        out.push_str(&quote(text));
        out.push('\n');
        return;
    }
    // A leading space would need an indentation indicator; keep it simple.
    let keep = if text.ends_with('\n') { "" } else { "-" };
    out.push_str(" |");
    out.push_str(keep);
    out.push('\n');
    for line in body.lines() {
        if line.is_empty() {
            out.push('\n');
        } else {
            push_indent(out, indent);
            out.push_str(line);
            out.push('\n');
        }
    }
}

fn write_value_inline(out: &mut String, _indent: usize, value: &Node) {
    match value {
        Node::Str(v) => out.push_str(&scalar(v)),
        Node::Raw(v) => out.push_str(v),
        Node::Map(_) => out.push_str("{}"),
        Node::Seq(_) => out.push_str("[]"),
        Node::Block(v) => out.push_str(&quote(v)),
    }
    out.push('\n');
}

fn key(k: &str) -> String {
    let plain = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !k.starts_with(['-', '.']);
    if plain { k.to_string() } else { quote(k) }
}

/// A scalar string, plain when that reads back as the same string.
pub fn scalar(v: &str) -> String {
    if needs_quotes(v) {
        quote(v)
    } else {
        v.to_string()
    }
}

fn needs_quotes(v: &str) -> bool {
    if v.is_empty() || v.trim() != v {
        return true;
    }
    let lower = v.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~"
    ) {
        return true;
    }
    if looks_numeric(v) {
        return true;
    }
    let first = v.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        return true;
    }
    if v.contains(": ") || v.contains(" #") || v.ends_with(':') {
        return true;
    }
    v.chars().any(|c| c.is_control())
}

fn looks_numeric(v: &str) -> bool {
    let t = v.trim_start_matches(['+', '-']);
    if t.is_empty() {
        return false;
    }
    let first = t.chars().next().unwrap_or('x');
    (first.is_ascii_digit() || first == '.')
        && t.chars().all(|c| {
            c.is_ascii_hexdigit()
                || matches!(c, '.' | '_' | ':' | 'x' | 'o' | 'e' | 'E' | '+' | '-')
        })
        || matches!(t.to_ascii_lowercase().as_str(), ".inf" | ".nan")
}

/// A double-quoted YAML string.
pub fn quote(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_what_would_read_back_differently() {
        assert_eq!(scalar("main"), "main");
        assert_eq!(scalar("on"), "\"on\"");
        assert_eq!(scalar("1.20"), "\"1.20\"");
        assert_eq!(scalar("a: b"), "\"a: b\"");
        assert_eq!(scalar("*.yml"), "\"*.yml\"");
        assert_eq!(scalar("${{ github.sha }}"), "${{ github.sha }}");
        assert_eq!(scalar(""), "\"\"");
        assert_eq!(scalar("say \"hi\""), "say \"hi\"");
        assert_eq!(scalar("x #y"), "\"x #y\"");
    }

    #[test]
    fn writes_nested_blocks_with_comments() {
        let root = MapBuilder::new()
            .str("name", "ci")
            .comment("jobs follow")
            .entry(
                "jobs",
                MapBuilder::new()
                    .entry(
                        "build",
                        MapBuilder::new()
                            .entry(
                                "steps",
                                Node::Seq(vec![
                                    item_with(
                                        "serves: speed",
                                        MapBuilder::new()
                                            .str("name", "Build")
                                            .entry("run", Node::Block("make\nmake test\n".into()))
                                            .build(),
                                    ),
                                    item(strs(["a"])),
                                ]),
                            )
                            .entry("env", MapBuilder::new().build())
                            .build(),
                    )
                    .build(),
            )
            .build();
        let text = document(&["generated".to_string()], &root);
        assert_eq!(
            text,
            "# generated\nname: ci\n\n# jobs follow\njobs:\n  build:\n    steps:\n      # serves: speed\n      - name: Build\n        run: |\n          make\n          make test\n      -\n        - a\n    env: {}\n"
        );
        let back: serde_json::Value = yaml_serde::from_str(&text).unwrap();
        assert_eq!(
            back["jobs"]["build"]["steps"][0]["run"],
            "make\nmake test\n"
        );
    }

    #[test]
    fn quoted_strings_read_back() {
        for v in ["a\"b\\c", "tab\there", "1e5", "- x", "yes", "ctrl\u{1}"] {
            let doc = document(&[], &MapBuilder::new().str("k", v).build());
            let back: serde_json::Value = yaml_serde::from_str(&doc).unwrap();
            assert_eq!(back["k"], v, "{doc}");
        }
    }
}
