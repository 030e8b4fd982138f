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
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return String::from_utf8(rest.to_vec()).map_err(|e| format!("invalid UTF-8: {e}"));
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
            return utf16(bytes, true);
        }
        if bytes[0] == 0 && bytes[2] == 0 && bytes[1] != 0 {
            return utf16(bytes, false);
        }
    }
    String::from_utf8(bytes.to_vec()).map_err(|e| format!("invalid UTF-8: {e}"))
}

/// Parses the first JSON document in `text`, skipping wrapper lines before it
/// (for example a CI wrapper's `[command]terraform show -json` line), and
/// indexes every value's location.
pub fn parse_json_located(text: &str) -> Result<(serde_json::Value, LocationIndex), String> {
    let start = json_start(text).ok_or_else(|| "no JSON object or array found".to_string())?;
    let mut stream =
        serde_json::Deserializer::from_str(&text[start..]).into_iter::<serde_json::Value>();
    let value = match stream.next() {
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            let line = text[..start].matches('\n').count() + e.line();
            return Err(format!(
                "invalid JSON at line {line}, column {}: {e}",
                e.column()
            ));
        }
        None => return Err("no JSON document found".to_string()),
    };
    let mut index = LocationIndex::new();
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        pos: start,
        line: 1 + text[..start].matches('\n').count() as u32,
        line_start: text[..start].rfind('\n').map_or(0, |i| i + 1),
        text,
    };
    scanner.value(&mut String::new(), &mut index, 0);
    Ok((value, index))
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

    fn column(&self) -> u32 {
        // Columns count characters, not bytes.
        self.text
            .get(self.line_start..self.pos)
            .map_or(1, |s| s.chars().count() as u32 + 1)
    }

    fn value(&mut self, pointer: &mut String, index: &mut LocationIndex, depth: usize) {
        self.skip_ws();
        index.insert(pointer.clone(), [self.line, self.column()]);
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
                            return;
                        }
                        Some(b',') => {
                            self.pos += 1;
                            continue;
                        }
                        Some(b'"') => {
                            let key = self.string();
                            self.skip_ws();
                            if self.bytes.get(self.pos) == Some(&b':') {
                                self.pos += 1;
                            }
                            let len = pointer.len();
                            pointer.push('/');
                            pointer.push_str(&escape_token(&key));
                            self.value(pointer, index, depth + 1);
                            pointer.truncate(len);
                        }
                        _ => return,
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
                            return;
                        }
                        Some(b',') => {
                            self.pos += 1;
                            continue;
                        }
                        None => return,
                        _ => {
                            let len = pointer.len();
                            pointer.push('/');
                            pointer.push_str(&i.to_string());
                            self.value(pointer, index, depth + 1);
                            pointer.truncate(len);
                            i += 1;
                        }
                    }
                }
            }
            Some(b'"') => {
                self.string();
            }
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
    }

    /// Reads a string starting at `"`, returns its decoded text.
    fn string(&mut self) -> String {
        let start = self.pos;
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
    fn reports_invalid_json_with_line() {
        let err = parse_json_located("wrapper\n{\"a\": }").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }
}
