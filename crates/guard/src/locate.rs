//! Source locations for attachments read from files: the text is decoded
//! (UTF-8 or UTF-16, with or without a byte-order mark), wrapper lines before
//! the JSON are skipped, and every value gets its `line:column` under its JSON
//! pointer so a violation can point at the file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A position in a file, 1-based.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

/// JSON pointer → `[line, column]` of the value it names.
pub type LocationIndex = BTreeMap<String, [u32; 2]>;

/// Decodes file bytes to text: UTF-8 (optional BOM) or UTF-16 LE/BE (with a
/// BOM, or recognised by its zero bytes).
pub fn decode_text(bytes: &[u8]) -> Result<String, String> {
    decode_text_owned(bytes.to_vec())
}

/// [`decode_text`] of bytes read from a file, without copying UTF-8 text.
pub fn decode_text_owned(mut bytes: Vec<u8>) -> Result<String, String> {
    let utf8 = |bytes: Vec<u8>| String::from_utf8(bytes).map_err(|e| format!("invalid UTF-8: {e}"));
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        bytes.drain(..3);
        return utf8(bytes);
    }
    let utf16 = |rest: &[u8], le: bool| -> Result<String, String> {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16(&units).map_err(|e| format!("invalid UTF-16: {e}"))
    };
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16(rest, true);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return utf16(rest, false);
    }
    if bytes.len() >= 4 && bytes.len().is_multiple_of(2) {
        if bytes[1] == 0 && bytes[3] == 0 && bytes[0] != 0 {
            return utf16(&bytes, true);
        }
        if bytes[0] == 0 && bytes[2] == 0 && bytes[1] != 0 {
            return utf16(&bytes, false);
        }
    }
    utf8(bytes)
}

/// Parses the first JSON document in `text`, skipping wrapper lines before it
/// (for example a CI wrapper's `[command]terraform show -json` line), and
/// indexes every value's location.
pub fn parse_json_located(text: &str) -> Result<(serde_json::Value, LocationIndex), String> {
    let (value, start) = parse_json(text)?;
    let mut index = LocationIndex::new();
    scanner(text, start).value(&mut MapSink::new(&mut index), 0);
    Ok((value, index))
}

/// Where the values of a document parsed from a file are, as an attachment
/// keeps them: compact when it can be (see [`PreOrder`]), else by pointer.
pub(crate) enum Located {
    PreOrder(PreOrder),
    Map(LocationIndex),
}

/// [`parse_json_located`] with the compact index where it fits the document.
pub(crate) fn parse_json_compact(text: &str) -> Result<(serde_json::Value, Located), String> {
    let (value, start) = parse_json(text)?;
    let mut sink = PreOrder::default();
    scanner(text, start).value(&mut sink, 0);
    if sink.fits(&value) {
        return Ok((value, Located::PreOrder(sink)));
    }
    // Duplicate keys or nesting deeper than the scanner follows: by pointer.
    let mut index = LocationIndex::new();
    scanner(text, start).value(&mut MapSink::new(&mut index), 0);
    Ok((value, Located::Map(index)))
}

fn parse_json(text: &str) -> Result<(serde_json::Value, usize), String> {
    let start = json_start(text).ok_or_else(|| "no JSON object or array found".to_string())?;
    let mut stream =
        serde_json::Deserializer::from_str(&text[start..]).into_iter::<serde_json::Value>();
    match stream.next() {
        Some(Ok(v)) => Ok((v, start)),
        Some(Err(e)) => {
            let line = text[..start].matches('\n').count() + e.line();
            Err(format!(
                "invalid JSON at line {line}, column {}: {e}",
                e.column()
            ))
        }
        None => Err("no JSON document found".to_string()),
    }
}

fn scanner(text: &str, start: usize) -> Scanner<'_> {
    Scanner {
        bytes: text.as_bytes(),
        pos: start,
        line: 1 + text[..start].matches('\n').count() as u32,
        line_start: text[..start].rfind('\n').map_or(0, |i| i + 1),
        counted_to: 0,
        counted: 0,
        text,
    }
}

/// What the scanner reports, in the document's order.
trait Sink {
    /// Whether object keys are needed (decoding them costs time).
    const KEYS: bool;
    /// A value starts at `[line, column]`; returns its handle for [`Sink::end`].
    fn start(&mut self, at: [u32; 2]) -> usize;
    fn end(&mut self, node: usize);
    fn key(&mut self, key: &str);
    fn index(&mut self, i: usize);
    /// Leaves the member or element entered by `key` or `index`.
    fn up(&mut self);
}

/// Builds a [`LocationIndex`]: every value under its JSON pointer.
struct MapSink<'a> {
    index: &'a mut LocationIndex,
    pointer: String,
    lens: Vec<usize>,
}

impl<'a> MapSink<'a> {
    fn new(index: &'a mut LocationIndex) -> MapSink<'a> {
        MapSink {
            index,
            pointer: String::new(),
            lens: Vec::new(),
        }
    }
}

impl Sink for MapSink<'_> {
    const KEYS: bool = true;
    fn start(&mut self, at: [u32; 2]) -> usize {
        self.index.insert(self.pointer.clone(), at);
        0
    }
    fn end(&mut self, _: usize) {}
    fn key(&mut self, key: &str) {
        self.lens.push(self.pointer.len());
        self.pointer.push('/');
        self.pointer.push_str(&escape_token(key));
    }
    fn index(&mut self, i: usize) {
        self.lens.push(self.pointer.len());
        self.pointer.push('/');
        self.pointer.push_str(&i.to_string());
    }
    fn up(&mut self) {
        if let Some(len) = self.lens.pop() {
            self.pointer.truncate(len);
        }
    }
}

/// Every value's `[line, column]` in document order (depth first), with
/// the number of values in its subtree: 12 bytes a value, where a pointer
/// index costs about ten times that. A pointer is resolved by walking the
/// parsed document alongside (objects keep the file's key order), which
/// holds as long as the document has one value per scanned value
/// ([`PreOrder::fits`]).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PreOrder {
    at: Vec<[u32; 2]>,
    size: Vec<u32>,
}

impl Sink for PreOrder {
    const KEYS: bool = false;
    fn start(&mut self, at: [u32; 2]) -> usize {
        self.at.push(at);
        self.size.push(1);
        self.at.len() - 1
    }
    fn end(&mut self, node: usize) {
        let size = (self.at.len() - node) as u32;
        if let Some(s) = self.size.get_mut(node) {
            *s = size;
        }
    }
    fn key(&mut self, _: &str) {}
    fn index(&mut self, _: usize) {}
    fn up(&mut self) {}
}

fn count_values(v: &serde_json::Value) -> usize {
    1 + match v {
        serde_json::Value::Array(a) => a.iter().map(count_values).sum(),
        serde_json::Value::Object(o) => o.values().map(count_values).sum(),
        _ => 0,
    }
}

impl PreOrder {
    fn fits(&self, doc: &serde_json::Value) -> bool {
        self.at.len() == count_values(doc)
    }

    /// Every value's location under its pointer, for the wire format.
    pub fn to_index(&self, doc: &serde_json::Value) -> LocationIndex {
        let mut out = LocationIndex::new();
        let mut node = 0;
        self.expand(doc, &mut String::new(), &mut node, &mut out);
        out
    }

    fn expand(
        &self,
        v: &serde_json::Value,
        pointer: &mut String,
        node: &mut usize,
        out: &mut LocationIndex,
    ) {
        let Some(at) = self.at.get(*node) else { return };
        out.insert(pointer.clone(), *at);
        *node += 1;
        let mut child = |pointer: &mut String, token: &str, c: &serde_json::Value| {
            let len = pointer.len();
            pointer.push('/');
            pointer.push_str(token);
            self.expand(c, pointer, node, out);
            pointer.truncate(len);
        };
        match v {
            serde_json::Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    child(pointer, &i.to_string(), c);
                }
            }
            serde_json::Value::Object(o) => {
                for (k, c) in o {
                    child(pointer, &escape_token(k), c);
                }
            }
            _ => {}
        }
    }

    /// The location of `pointer` in `doc`, or of the nearest enclosing
    /// value that exists.
    pub fn lookup(&self, doc: &serde_json::Value, pointer: &str) -> Option<[u32; 2]> {
        let mut node = 0usize;
        let mut v = doc;
        let tokens = pointer.split('/').skip(1);
        for token in tokens {
            let token = token.replace("~1", "/").replace("~0", "~");
            let mut child = node + 1;
            let found = match v {
                serde_json::Value::Array(a) => token.parse::<usize>().ok().and_then(|i| {
                    for _ in 0..i.min(a.len()) {
                        child += *self.size.get(child)? as usize;
                    }
                    a.get(i)
                }),
                serde_json::Value::Object(o) => {
                    let mut found = None;
                    for (k, c) in o {
                        if *k == token {
                            found = Some(c);
                            break;
                        }
                        child += *self.size.get(child)? as usize;
                    }
                    found
                }
                _ => None,
            };
            match found {
                Some(c) => {
                    v = c;
                    node = child;
                }
                None => break,
            }
        }
        self.at.get(node).copied()
    }
}

/// Byte offset of the first line that starts (after spaces) with `{` or `[`.
fn json_start(text: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            // A `[command]…` wrapper line starts with `[` but is not JSON.
            let is_json = trimmed.starts_with('{')
                || serde_json::Deserializer::from_str(&text[offset + line.len() - trimmed.len()..])
                    .into_iter::<serde_json::Value>()
                    .next()
                    .is_some_and(|r| r.is_ok());
            if is_json {
                return Some(offset + line.len() - trimmed.len());
            }
        }
        offset += line.len();
    }
    None
}

/// Escapes one JSON pointer token.
pub fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

struct Scanner<'a> {
    bytes: &'a [u8],
    text: &'a str,
    pos: usize,
    line: u32,
    line_start: usize,
    /// Characters between `line_start` and `counted_to`, so that each
    /// column is counted on from the previous one (a minified file is one
    /// line: counting from the line start for every value is quadratic).
    counted_to: usize,
    counted: u32,
}

const MAX_DEPTH: usize = 256;

impl Scanner<'_> {
    fn skip_ws(&mut self) {
        while let Some(&b) = self.bytes.get(self.pos) {
            match b {
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    self.line_start = self.pos;
                }
                b' ' | b'\t' | b'\r' => self.pos += 1,
                _ => break,
            }
        }
    }

    /// The 1-based column of `pos`, in characters, not bytes.
    fn column(&mut self) -> u32 {
        if self.counted_to < self.line_start || self.counted_to > self.pos {
            self.counted_to = self.line_start;
            self.counted = 0;
        }
        let end = self.pos.min(self.bytes.len());
        // A character starts at every byte that is not a UTF-8 continuation byte.
        let new = self.bytes[self.counted_to.min(end)..end]
            .iter()
            .filter(|&&b| b & 0xC0 != 0x80)
            .count();
        self.counted = self.counted.saturating_add(new as u32);
        self.counted_to = end;
        self.counted + 1
    }

    fn value<S: Sink>(&mut self, sink: &mut S, depth: usize) {
        self.skip_ws();
        let column = self.column();
        let node = sink.start([self.line, column]);
        if depth > MAX_DEPTH {
            return;
        }
        match self.bytes.get(self.pos) {
            Some(b'{') => {
                self.pos += 1;
                loop {
                    self.skip_ws();
                    match self.bytes.get(self.pos) {
                        Some(b'}') => {
                            self.pos += 1;
                            break;
                        }
                        Some(b',') => {
                            self.pos += 1;
                            continue;
                        }
                        Some(b'"') => {
                            if S::KEYS {
                                let key = self.string();
                                sink.key(&key);
                            } else {
                                self.skip_string();
                                sink.key("");
                            }
                            self.skip_ws();
                            if self.bytes.get(self.pos) == Some(&b':') {
                                self.pos += 1;
                            }
                            self.value(sink, depth + 1);
                            sink.up();
                        }
                        _ => break,
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let mut i = 0usize;
                loop {
                    self.skip_ws();
                    match self.bytes.get(self.pos) {
                        Some(b']') => {
                            self.pos += 1;
                            break;
                        }
                        Some(b',') => {
                            self.pos += 1;
                            continue;
                        }
                        None => break,
                        _ => {
                            sink.index(i);
                            self.value(sink, depth + 1);
                            sink.up();
                            i += 1;
                        }
                    }
                }
            }
            Some(b'"') => self.skip_string(),
            Some(_) => {
                while let Some(&b) = self.bytes.get(self.pos) {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                        break;
                    }
                    self.pos += 1;
                }
            }
            None => {}
        }
        sink.end(node);
    }

    /// Moves past a string starting at `"`.
    fn skip_string(&mut self) {
        self.pos += 1;
        while let Some(&b) = self.bytes.get(self.pos) {
            match b {
                b'\\' => self.pos += 2,
                b'"' => {
                    self.pos += 1;
                    break;
                }
                _ => self.pos += 1,
            }
        }
    }

    /// Reads a string starting at `"`, returns its decoded text.
    fn string(&mut self) -> String {
        let start = self.pos;
        self.skip_string();
        let raw = self
            .text
            .get(start..self.pos.min(self.bytes.len()))
            .unwrap_or("\"\"");
        serde_json::from_str::<String>(raw).unwrap_or_default()
    }
}

/// The location of `pointer` in an index, falling back to the nearest
/// enclosing value that has one.
pub fn lookup(index: &LocationIndex, pointer: &str) -> Option<[u32; 2]> {
    let mut p = pointer;
    loop {
        if let Some(loc) = index.get(p) {
            return Some(*loc);
        }
        if p.is_empty() {
            return None;
        }
        p = p.rfind('/').map_or("", |i| &p[..i]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_nested_values() {
        let text = "{\n  \"a\": [1,\n    {\"b/c\": \"x\"}]\n}\n";
        let (v, idx) = parse_json_located(text).unwrap();
        assert_eq!(v["a"][1]["b/c"], "x");
        assert_eq!(idx[""], [1, 1]);
        assert_eq!(idx["/a"], [2, 8]);
        assert_eq!(idx["/a/0"], [2, 9]);
        assert_eq!(idx["/a/1/b~1c"], [3, 13]);
        assert_eq!(lookup(&idx, "/a/1/missing"), Some([3, 5]));
    }

    #[test]
    fn skips_wrapper_lines_and_counts_them() {
        let text = "[command]/usr/bin/terraform show -json tfplan\n{\"x\": 1}\n::debug::exit 0\n";
        let (v, idx) = parse_json_located(text).unwrap();
        assert_eq!(v["x"], 1);
        assert_eq!(idx["/x"], [2, 7]);
    }

    #[test]
    fn decodes_utf16_and_boms() {
        let s = "{\"é\": 1}";
        let mut le = vec![0xFF, 0xFE];
        le.extend(s.encode_utf16().flat_map(|u| u.to_le_bytes()));
        assert_eq!(decode_text(&le).unwrap(), s);
        let be: Vec<u8> = s.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        assert_eq!(decode_text(&be).unwrap(), s);
        let mut bom8 = vec![0xEF, 0xBB, 0xBF];
        bom8.extend(s.as_bytes());
        assert_eq!(decode_text(&bom8).unwrap(), s);
    }

    #[test]
    fn columns_on_one_long_line_count_characters_and_restart_per_line() {
        // `terraform show -json` writes one line: columns grow along it, and
        // a multi-byte character counts once.
        let text = "{\"é\":[\"ü\",2],\"b\":{\"c\":3}}\n{\"x\":1}";
        let (_, idx) = parse_json_located(text).unwrap();
        assert_eq!(idx["/é"], [1, 6]);
        assert_eq!(idx["/é/0"], [1, 7]);
        assert_eq!(idx["/é/1"], [1, 11]);
        assert_eq!(idx["/b/c"], [1, 23]);
        let (_, idx) = parse_json_located("{\"a\":\n  [1,\n 2]}").unwrap();
        assert_eq!(idx["/a/0"], [2, 4]);
        assert_eq!(idx["/a/1"], [3, 2]);
    }

    #[test]
    fn indexing_a_minified_document_is_linear() {
        // 20,000 values on one line: counting from the line start for every
        // value took seconds; counting on from the previous value takes
        // milliseconds. Compare two sizes so the test does not depend on
        // the machine's speed: quadratic work would grow 16×, not 4×.
        let doc = |n: usize| {
            let items: Vec<String> = (0..n).map(|i| format!("{{\"k\":\"v{i}\"}}")).collect();
            format!("{{\"items\":[{}]}}", items.join(","))
        };
        let time = |text: &str| {
            let started = std::time::Instant::now();
            let (_, idx) = parse_json_located(text).unwrap();
            (started.elapsed(), idx)
        };
        let (small, _) = time(&doc(20_000));
        let big_text = doc(80_000);
        let (big, idx) = time(&big_text);
        let last = "/items/79999/k";
        let expected = big_text.rfind("\"v79999\"").unwrap() as u32 + 1;
        assert_eq!(idx[last], [1, expected]);
        assert!(
            big < small * 10 + std::time::Duration::from_millis(50),
            "4× the input took {big:?} against {small:?}"
        );
    }

    /// The compact index answers every pointer as the pointer index does,
    /// including pointers to values that do not exist, and writes out as it.
    fn assert_compact_matches(text: &str) {
        let (doc, map) = parse_json_located(text).unwrap();
        let Located::PreOrder(compact) = parse_json_compact(text).unwrap().1 else {
            panic!("not compact: {text}");
        };
        for (pointer, at) in &map {
            assert_eq!(compact.lookup(&doc, pointer), Some(*at), "{pointer}");
            for missing in ["/zz", "/99", "/zz/1"] {
                let p = format!("{pointer}{missing}");
                assert_eq!(compact.lookup(&doc, &p), lookup(&map, &p), "{p}");
            }
        }
        assert_eq!(compact.to_index(&doc), map);
    }

    #[test]
    fn compact_locations_agree_with_pointer_locations() {
        for text in [
            "{\"a\": [1, {\"b/c\": \"x\", \"~\": [[], {}]}], \"z\": null, \"é\": {\"k\": [true, false]}}",
            "[command]terraform show -json\n{\"resource_changes\":[{\"change\":{\"after\":{\"policy\":\"{}\"}}}],\"b\":2}\n",
            "[1,[2,[3,[4]]],{\"10\":1,\"2\":2}]",
            "{\n  \"z\": 1,\n  \"a\": {\n    \"y\": [\n      \"\\\"quoted\\\"\"\n    ]\n  }\n}\n",
        ] {
            assert_compact_matches(text);
        }
        if let Some(dir) = std::env::var_os("BEARING_FIXTURES") {
            let dir = std::path::Path::new(&dir);
            let mut n = 0;
            for sub in ["terraform-plans", "sarif/defectdojo", "trivy", "grype"] {
                let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
                    continue;
                };
                for e in entries.flatten() {
                    let Ok(bytes) = std::fs::read(e.path()) else {
                        continue;
                    };
                    let Ok(text) = decode_text_owned(bytes) else {
                        continue;
                    };
                    if parse_json_located(&text).is_ok() {
                        assert_compact_matches(&text);
                        n += 1;
                    }
                }
            }
            assert!(n >= 20, "only {n} fixture files compared");
        }
    }

    #[test]
    fn duplicate_keys_fall_back_to_pointer_locations() {
        // The parsed document keeps one value where the file has two.
        let text = "{\"a\": {\"x\": 1}, \"b\": 2, \"a\": 3}";
        let Located::Map(map) = parse_json_compact(text).unwrap().1 else {
            panic!("duplicate keys kept compact");
        };
        assert_eq!(map["/b"], [1, 22]);
    }

    #[test]
    fn reports_invalid_json_with_line() {
        let err = parse_json_located("wrapper\n{\"a\": }").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }
}
