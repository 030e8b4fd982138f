//! Builtins Bearing gives custom policies on top of regorus': bounded forms of
//! the builtins that allocate a whole collection or string in one step, or
//! whose time grows faster than their input (so a policy cannot abort the
//! process or outrun the time limit inside one call: regorus checks its clock
//! between expressions, never inside a builtin), and Conftest's
//! `parse_config` (YAML, JSON), `parse_config_file` and
//! `parse_combined_config_files`.
//!
//! A bounded builtin answers exactly as regorus' own within the bounds (the
//! formatting itself is delegated to regorus) and fails the evaluation with
//! an error naming the limit beyond them; the decision is then `unknown`.

use std::path::Path;

use regorus::Value;
use serde_json::json;

use crate::GuardError;
use crate::conftest::PolicyFile;

/// Most elements one `numbers.range`/`numbers.range_step` call may produce.
pub const MAX_RANGE: u64 = 1_000_000;
/// Widest padding or precision one `sprintf` verb may ask for.
pub const MAX_WIDTH: u64 = 100_000;
/// Deepest `[`/`{` nesting `yaml.unmarshal`/`yaml.is_valid` may read (the
/// parser's time grows faster than the text: 200,000 levels took 3.6 s).
pub const MAX_YAML_DEPTH: usize = 1_000;

/// Adds the bounded builtins (`sprintf` only where a policy's format is not a
/// safe literal), and `parse_combined_config_files` reading paths relative to
/// the folder of the policy that calls it; returns the names added.
pub fn add(engine: &mut regorus::Engine, files: &[PolicyFile]) -> Result<Vec<String>, GuardError> {
    let mut names = Vec::new();
    let mut add = |name: &str, nargs: u8, f: Box<dyn regorus::Extension>| {
        engine
            .add_extension(name.into(), nargs, f)
            .map_err(|e| GuardError::Eval(e.to_string()))?;
        names.push(name.to_string());
        Ok::<(), GuardError>(())
    };
    add("numbers.range", 2, Box::new(range))?;
    add("numbers.range_step", 3, Box::new(range_step))?;
    if files.iter().any(|f| needs_bounded_sprintf(&f.text)) {
        add("sprintf", 2, Box::new(sprintf))?;
    }
    for name in ["yaml.unmarshal", "yaml.is_valid"] {
        let rule = name.replace('.', "_");
        add(
            name,
            1,
            Box::new(move |args: Vec<Value>| {
                let Ok(text) = args[0].as_string() else {
                    anyhow::bail!("{name}: operand must be a string");
                };
                if flow_depth(text) > MAX_YAML_DEPTH {
                    anyhow::bail!(
                        "{name}: nesting deeper than the limit of {MAX_YAML_DEPTH} levels"
                    );
                }
                delegate(&rule, args)
            }),
        )?;
    }
    if files.iter().any(|f| f.text.contains("parse_config(")) {
        add("parse_config", 2, Box::new(parse_config))?;
    }
    let callers: Vec<&PolicyFile> = files
        .iter()
        .filter(|f| {
            f.text.contains("parse_combined_config_files") || f.text.contains("parse_config_file")
        })
        .collect();
    let Some(first) = callers.first() else {
        return Ok(names);
    };
    let dir = |f: &PolicyFile| {
        Path::new(&f.path)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    };
    let base = dir(first);
    if let Some(other) = callers.iter().find(|f| dir(f) != base) {
        return Err(GuardError::Policy {
            file: other.path.clone(),
            line: 1,
            column: 1,
            message: format!(
                "`parse_combined_config_files` and `parse_config_file` read paths relative to the calling policy's folder, and policies in `{}` and `{}` call them; keep the policies that call them in one folder",
                base.display(),
                dir(other).display()
            ),
        });
    }
    let at = base.clone();
    add(
        "parse_combined_config_files",
        1,
        Box::new(move |args: Vec<Value>| parse_combined_config_files(&at, &args[0])),
    )?;
    add(
        "parse_config_file",
        1,
        Box::new(move |args: Vec<Value>| {
            let Ok(path) = args[0].as_string() else {
                anyhow::bail!("parse_config_file: expected a file path");
            };
            let file = base.join(path.as_ref());
            let bytes = std::fs::read(&file).map_err(|e| {
                anyhow::anyhow!("parse_config_file: cannot read `{}`: {e}", file.display())
            })?;
            parsed("parse_config_file", &file.display().to_string(), &bytes)
        }),
    )?;
    Ok(names)
}

/// An integer argument (anything else is an error, as in OPA).
fn integer(name: &str, v: &Value) -> anyhow::Result<i64> {
    v.as_number()
        .ok()
        .filter(|n| n.is_integer())
        .and_then(|n| n.as_i64())
        .ok_or_else(|| anyhow::anyhow!("{name}: operand must be integer"))
}

fn bounded_len(name: &str, len: u64) -> anyhow::Result<()> {
    if len > MAX_RANGE {
        anyhow::bail!(
            "{name}: {len} elements is over the limit of {MAX_RANGE} elements per collection"
        );
    }
    Ok(())
}

/// `numbers.range(a, b)`: the integers from `a` to `b`, both included, up or down.
fn range(args: Vec<Value>) -> anyhow::Result<Value> {
    let name = "numbers.range";
    let (a, b) = (integer(name, &args[0])?, integer(name, &args[1])?);
    bounded_len(name, a.abs_diff(b).saturating_add(1))?;
    let items: Vec<Value> = if a <= b {
        (a..=b).map(Value::from).collect()
    } else {
        (b..=a).rev().map(Value::from).collect()
    };
    Ok(Value::from(items))
}

/// `numbers.range_step(a, b, step)`: from `a` towards `b` by a positive `step`.
fn range_step(args: Vec<Value>) -> anyhow::Result<Value> {
    let name = "numbers.range_step";
    let (a, b) = (integer(name, &args[0])?, integer(name, &args[1])?);
    let step = match integer(name, &args[2]) {
        Ok(s) if s > 0 => s.unsigned_abs(),
        _ => anyhow::bail!("{name}: step must be a positive integer"),
    };
    bounded_len(name, a.abs_diff(b) / step + 1)?;
    let steps = a.abs_diff(b) / step;
    let items: Vec<Value> = (0..=steps)
        .map(|i| {
            let delta = (i * step) as i128;
            let v = if a <= b {
                a as i128 + delta
            } else {
                a as i128 - delta
            };
            Value::from(v as i64)
        })
        .collect();
    Ok(Value::from(items))
}

/// `sprintf(format, values)` with each verb's width and precision bounded,
/// formatted by regorus' own builtin.
fn sprintf(args: Vec<Value>) -> anyhow::Result<Value> {
    let Ok(format) = args[0].as_string() else {
        anyhow::bail!("sprintf: the format must be a string");
    };
    check_format(format)?;
    delegate("sprintf", args)
}

/// A `sprintf` format whose widths and precisions regorus can pad safely
/// (it reads them as `u32`, and a non-ASCII digit panics it).
fn check_format(format: &str) -> anyhow::Result<()> {
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        let mut width: u64 = 0;
        for d in chars.by_ref() {
            match d {
                '0'..='9' => {
                    width = width
                        .saturating_mul(10)
                        .saturating_add(u64::from(d as u8 - b'0'))
                }
                '.' => width = 0,
                d if d.is_numeric() => {
                    anyhow::bail!("sprintf: `{d}` is not a digit in a width")
                }
                _ => break,
            }
            if width > MAX_WIDTH {
                anyhow::bail!("sprintf: a width over the limit of {MAX_WIDTH} characters");
            }
        }
    }
    Ok(())
}

/// Whether a policy calls `sprintf` with a format that is not a literal
/// [`check_format`] accepts (then the bounded form is needed; a policy whose
/// formats are all safe literals keeps regorus' builtin, which is faster).
fn needs_bounded_sprintf(text: &str) -> bool {
    text.match_indices("sprintf(").any(|(at, call)| {
        let rest = text[at + call.len()..].trim_start();
        let Some(quote) = rest.chars().next().filter(|q| *q == '"' || *q == '`') else {
            return true;
        };
        let body = &rest[1..];
        let mut end = None;
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            if c == quote && !escaped {
                end = Some(i);
                break;
            }
            escaped = quote == '"' && c == '\\' && !escaped;
        }
        end.is_none_or(|end| check_format(&body[..end]).is_err())
    })
}

/// The module [`delegate`] evaluates: each bounded builtin as regorus has it.
const PLAIN: &str = "package plain\n\
sprintf := sprintf(input[0], input[1])\n\
yaml_unmarshal := yaml.unmarshal(input[0])\n\
yaml_is_valid := yaml.is_valid(input[0])\n";

/// regorus' own builtin (`rule` of [`PLAIN`]) over `input = args`, on an
/// engine prepared once per thread: a new engine and query per call cost
/// ~200 µs, 3-4× the builtin.
fn delegate(rule: &str, args: Vec<Value>) -> anyhow::Result<Value> {
    thread_local! {
        static ENGINE: std::cell::RefCell<Option<regorus::Engine>> =
            const { std::cell::RefCell::new(None) };
    }
    ENGINE.with(|cell| {
        let mut cell = cell.borrow_mut();
        let engine = match cell.as_mut() {
            Some(engine) => engine,
            None => {
                let mut engine = regorus::Engine::new();
                engine.add_policy("plain.rego".into(), PLAIN.into())?;
                cell.insert(engine)
            }
        };
        engine.set_input(Value::from(args));
        engine.eval_rule(format!("data.plain.{rule}"))
    })
}

/// The deepest nesting of `[` and `{` in a text (quotes not considered: an
/// over-estimate is only ever refused, never misread).
fn flow_depth(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for b in text.bytes() {
        match b {
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Conftest's `parse_config(parser, text)` for the `yaml` and `json` parsers.
fn parse_config(args: Vec<Value>) -> anyhow::Result<Value> {
    let (Ok(parser), Ok(text)) = (args[0].as_string(), args[1].as_string()) else {
        anyhow::bail!("parse_config: expected a parser name and a text");
    };
    if !["yaml", "yml", "json"].contains(&parser.as_ref()) {
        anyhow::bail!("parse_config: parser `{parser}` is not supported (yaml, json)");
    }
    parsed("parse_config", "the text", text.as_bytes())
}

/// A YAML or JSON text as Conftest's parsers give it: one document as
/// itself, several as an array.
fn parsed(name: &str, file: &str, bytes: &[u8]) -> anyhow::Result<Value> {
    let parsed = crate::Attachment::from_manifest_bytes(file, bytes)
        .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    Ok(Value::from(match parsed.content {
        serde_json::Value::Array(mut docs) if docs.len() == 1 => docs.remove(0),
        other => other,
    }))
}

/// Conftest's `parse_combined_config_files(paths)`: each file (YAML, several
/// documents allowed, or JSON) as `{path, contents}` entries, one per document,
/// sorted by path.
fn parse_combined_config_files(base: &Path, paths: &Value) -> anyhow::Result<Value> {
    let name = "parse_combined_config_files";
    let Ok(paths) = paths.as_array() else {
        anyhow::bail!("{name}: expected an array of file paths");
    };
    let mut entries = Vec::new();
    for p in paths.iter() {
        let Ok(p) = p.as_string() else {
            anyhow::bail!("{name}: expected an array of file paths");
        };
        let file = base.join(p.as_ref());
        let bytes = std::fs::read(&file)
            .map_err(|e| anyhow::anyhow!("{name}: cannot read `{}`: {e}", file.display()))?;
        let parsed = crate::Attachment::from_manifest_bytes(&file.display().to_string(), &bytes)
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        for doc in crate::engine::documents(&parsed.content) {
            entries.push((file.display().to_string(), doc.clone()));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let entries: Vec<serde_json::Value> = entries
        .into_iter()
        .map(|(path, contents)| json!({"path": path, "contents": contents}))
        .collect();
    Ok(Value::from(serde_json::Value::Array(entries)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(query: &str) -> Result<serde_json::Value, String> {
        let mut engine = regorus::Engine::new();
        let dynamic = PolicyFile {
            path: "d.rego".into(),
            text: "package d\nf(x) := sprintf(x, [])\n".into(),
            rego_v0: false,
            package: "d".into(),
            rules: Vec::new(),
        };
        add(&mut engine, &[dynamic]).map_err(|e| e.to_string())?;
        let r = engine
            .eval_query(query.into(), false)
            .map_err(|e| e.to_string())?;
        let v = r
            .result
            .first()
            .and_then(|r| r.expressions.first())
            .map(|e| e.value.clone())
            .unwrap_or(Value::Undefined);
        serde_json::to_value(&v).map_err(|e| e.to_string())
    }

    #[test]
    fn bounded_builtins_answer_as_regorus_within_bounds() {
        for q in [
            "numbers.range(1, 5)",
            "numbers.range(5, -2)",
            "numbers.range(3, 3)",
            "numbers.range_step(1, 10, 3)",
            "numbers.range_step(10, 1, 4)",
            "numbers.range_step(2, 2, 7)",
            r#"sprintf("%s has %d items, %05d, %.2f, %-4s|%%", ["x", 3, 42, 3.14159, "ab"])"#,
            r#"sprintf("%v", [{"a": [1, "b"]}])"#,
            r#"yaml.unmarshal("a: [1, {b: c}]\nd: e")"#,
            r#"yaml.is_valid("a: [")"#,
        ] {
            let ours = eval(q).unwrap_or_else(|e| panic!("{q}: {e}"));
            let mut plain = regorus::Engine::new();
            let r = plain.eval_query(q.into(), false).unwrap();
            let theirs = r
                .result
                .first()
                .and_then(|r| r.expressions.first())
                .map(|e| serde_json::to_value(&e.value).unwrap())
                .unwrap_or(serde_json::Value::Null);
            assert_eq!(ours, theirs, "{q}");
        }
    }

    #[test]
    fn sprintf_is_bounded_only_where_a_format_is_not_a_safe_literal() {
        assert!(!needs_bounded_sprintf(
            r#"msg := sprintf("%s has %05d \"items\"", [a, b]); m := sprintf(`%v`, [c])"#
        ));
        assert!(needs_bounded_sprintf("msg := sprintf(input.format, [a])"));
        assert!(needs_bounded_sprintf(r#"msg := sprintf("%0999999d", [a])"#));
        assert!(needs_bounded_sprintf(r#"msg := sprintf("unterminated"#));
    }

    #[test]
    fn beyond_the_bounds_the_error_names_the_limit() {
        let err = eval("count(numbers.range(1, 2000000000))").unwrap_err();
        assert!(err.contains("over the limit of 1000000 elements"), "{err}");
        let err = eval("numbers.range_step(0, 9000000000000, 2)").unwrap_err();
        assert!(err.contains("over the limit of 1000000 elements"), "{err}");
        let err = eval(r#"sprintf("%09999999999d", [1])"#).unwrap_err();
        assert!(err.contains("width over the limit"), "{err}");
        let err = eval(&format!("yaml.unmarshal(\"{}\")", "[".repeat(1001))).unwrap_err();
        assert!(
            err.contains("deeper than the limit of 1000 levels"),
            "{err}"
        );
        let err = eval("numbers.range(1.5, 3)").unwrap_err();
        assert!(err.contains("operand must be integer"), "{err}");
        let err = eval("numbers.range_step(1, 5, 0)").unwrap_err();
        assert!(err.contains("positive integer"), "{err}");
    }
}
