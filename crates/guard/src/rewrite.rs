//! Source rewrites around two regorus (0.14.1) bugs, each found against OPA
//! on Conftest's own `combine` example; every other statement keeps its line
//! (and its column, except after a renamed variable on the same line).
//!
//! * A `some x` declaration after a loop in the same query (`kind :=
//!   input[_].kind` … `some i`) is run again for every iteration of the loop
//!   and fails the evaluation with `duplicated definition of local variable
//!   i` once there is a second iteration. The declaration is moved to the
//!   start of its query when none of the statements before it mentions its
//!   variables: declaring it first then means the same in OPA (a variable
//!   declared with `some` cannot be used above its declaration in the same
//!   query; only a comprehension above may have a variable of the same name,
//!   which is why such declarations stay put).
//! * A `:=` in a comprehension that declares a variable the comprehension
//!   already used above (`[name | input[i].a == name; name := input[i].b]`,
//!   the earlier `name` being the rule's) is refused by regorus (`var name
//!   used before definition`); OPA reads it as a new variable shadowing the
//!   rule's from that statement on, including in the comprehension's term.
//!   That variable is renamed there, as OPA itself does when it compiles.
//! * A variable a query declares with `some` but binds only inside its
//!   comprehensions (`some i` … `[u | input[i].kind == "team"; …]`, the
//!   same example) is, in OPA, each comprehension's own: the query never
//!   binds it. regorus counts it as the query's, cannot order the query's
//!   statements, prints `could not schedule all statements` on stderr and
//!   runs the whole query in source order (wrong for a query that relies on
//!   OPA's ordering). That variable is renamed inside the comprehensions.

use serde_json::Value;

/// The texts of the loaded policies with each movable `some` declaration at
/// the start of its query, by file; `None` for a file that needs no change.
pub fn rewrite(engine: &regorus::Engine) -> Vec<(String, Option<String>)> {
    let Ok(ast) = engine.get_ast_as_json() else {
        return Vec::new();
    };
    let Ok(modules) = serde_json::from_str::<Value>(&ast) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for m in modules.as_array().into_iter().flatten() {
        let file = m["source"]["file"].as_str().unwrap_or("").to_string();
        let contents = m["source"]["contents"].as_str().unwrap_or("");
        let mut edits = Vec::new();
        queries(&m["ast"], contents, &mut edits);
        out.push((file, (!edits.is_empty()).then(|| apply(contents, edits))));
    }
    out
}

const COMPREHENSIONS: [&str; 3] = ["ArrayCompr", "SetCompr", "ObjectCompr"];

/// An edit of the text: blank `start..end`, or put `text` in its place
/// (an insertion when the range is empty).
struct Edit {
    start: usize,
    end: usize,
    text: Option<String>,
}

fn offset(span: &Value, key: &str) -> usize {
    span[key].as_u64().unwrap_or(0) as usize
}

/// Finds every query (`{"stmts": …}`) and plans the moves in it.
fn queries(v: &Value, contents: &str, edits: &mut Vec<Edit>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Array(stmts)) = m.get("stmts") {
                plan(&m["span"], stmts, contents, edits);
            }
            for kind in COMPREHENSIONS {
                if let Some(c) = m.get(kind) {
                    rename_shadowing(c, contents, edits);
                    let around = [&c["term"], &c["key"], &c["value"]];
                    comprehension_locals(&c["query"], &around, contents, edits);
                }
            }
            if let (Some(head), Some(Value::Array(bodies))) = (m.get("head"), m.get("bodies")) {
                for body in bodies {
                    let around = [head, &body["assign"]];
                    comprehension_locals(&body["query"], &around, contents, edits);
                }
            }
            for x in m.values() {
                queries(x, contents, edits);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| queries(x, contents, edits)),
        _ => {}
    }
}

fn plan(query: &Value, stmts: &[Value], contents: &str, edits: &mut Vec<Edit>) {
    let bytes = contents.as_bytes();
    let open = offset(query, "start");
    // A query starts at its `{` (a rule body) or `|` (a comprehension).
    if !matches!(bytes.get(open), Some(b'{' | b'|')) {
        return;
    }
    for (k, stmt) in stmts.iter().enumerate().skip(1) {
        let Some(some) = stmt["literal"].get("SomeVars") else {
            continue;
        };
        let names: Vec<&str> = some["vars"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| contents.get(offset(s, "start")..offset(s, "end")))
            .collect();
        if names.is_empty() || stmts[..k].iter().any(|s| mentions(s, &names)) {
            continue;
        }
        let (start, mut end) = (offset(&stmt["span"], "start"), offset(&stmt["span"], "end"));
        if contents.get(start..end).is_none() {
            continue;
        }
        // Take a `;` that ended the statement with it.
        let rest = &contents[end..];
        let after = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        if rest[after..].starts_with(';') {
            end += after + 1;
        }
        let newline_follows = contents[open + 1..]
            .trim_start_matches([' ', '\t'])
            .starts_with(['\n', '\r']);
        let sep = if newline_follows { "" } else { ";" };
        edits.push(Edit {
            start,
            end,
            text: None,
        });
        edits.push(Edit {
            start: open + 1,
            end: open + 1,
            text: Some(format!(" some {}{sep}", names.join(", "))),
        });
    }
}

/// In one comprehension, renames each variable that a `:=` declares after
/// the comprehension used it (then the rule's variable), from that `:=` on
/// and in the comprehension's term.
fn rename_shadowing(compr: &Value, contents: &str, edits: &mut Vec<Edit>) {
    let Some(stmts) = compr["query"]["stmts"].as_array() else {
        return;
    };
    for (k, stmt) in stmts.iter().enumerate().skip(1) {
        let Some(assign) = stmt["literal"]["Expr"]["expr"].get("AssignExpr") else {
            continue;
        };
        let Some(name) = assign["lhs"]["Var"]["value"].as_str() else {
            continue;
        };
        if assign["op"] != "ColEq"
            || name == "_"
            || !stmts[..k].iter().any(|s| mentions(s, &[name]))
        {
            continue;
        }
        let mut fresh = format!("__{name}");
        while contents.contains(&fresh) {
            fresh.push('_');
        }
        let mut spans = Vec::new();
        for part in stmts[k..]
            .iter()
            .chain([&compr["term"], &compr["key"], &compr["value"]])
        {
            var_spans(part, name, &mut spans);
        }
        for (start, end) in spans {
            edits.push(Edit {
                start,
                end,
                text: Some(fresh.clone()),
            });
        }
    }
}

/// In one query (a rule body or a comprehension's), renames inside its
/// comprehensions each variable the query declares with `some` and mentions
/// nowhere else (nor does `around`: the rule head, the comprehension's term).
fn comprehension_locals(query: &Value, around: &[&Value], contents: &str, edits: &mut Vec<Edit>) {
    let Some(stmts) = query["stmts"].as_array() else {
        return;
    };
    let declared = stmts
        .iter()
        .filter_map(|s| s["literal"]["SomeVars"]["vars"].as_array())
        .flatten()
        .filter_map(|span| contents.get(offset(span, "start")..offset(span, "end")));
    for name in declared {
        if name == "_"
            || around.iter().any(|v| mentions(v, &[name]))
            || stmts
                .iter()
                .any(|s| mentions_outside_comprehensions(s, name))
        {
            continue;
        }
        let mut spans = Vec::new();
        stmts
            .iter()
            .for_each(|s| spans_in_comprehensions(s, name, contents, &mut spans));
        if spans.is_empty() {
            continue;
        }
        let mut fresh = format!("__{name}");
        while contents.contains(&fresh) {
            fresh.push('_');
        }
        for (start, end) in spans {
            edits.push(Edit {
                start,
                end,
                text: Some(fresh.clone()),
            });
        }
    }
}

/// Whether a statement mentions a variable outside the comprehensions in it.
fn mentions_outside_comprehensions(v: &Value, name: &str) -> bool {
    match v {
        Value::Object(m) => {
            m.get("Var").and_then(|var| var["value"].as_str()) == Some(name)
                || m.iter()
                    .filter(|(k, _)| !COMPREHENSIONS.contains(&k.as_str()))
                    .any(|(_, x)| mentions_outside_comprehensions(x, name))
        }
        Value::Array(a) => a.iter().any(|x| mentions_outside_comprehensions(x, name)),
        _ => false,
    }
}

/// The spans of a variable named `name` inside the comprehensions of a
/// subtree: its uses and its `some` declarations.
fn spans_in_comprehensions(v: &Value, name: &str, contents: &str, out: &mut Vec<(usize, usize)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if COMPREHENSIONS.contains(&k.as_str()) {
                    var_spans(x, name, out);
                    declared_spans(x, name, contents, out);
                } else {
                    spans_in_comprehensions(x, name, contents, out);
                }
            }
        }
        Value::Array(a) => a
            .iter()
            .for_each(|x| spans_in_comprehensions(x, name, contents, out)),
        _ => {}
    }
}

/// The spans of every `some` declaration of `name` in a subtree.
fn declared_spans(v: &Value, name: &str, contents: &str, out: &mut Vec<(usize, usize)>) {
    match v {
        Value::Object(m) => {
            for span in m
                .get("SomeVars")
                .and_then(|s| s["vars"].as_array())
                .into_iter()
                .flatten()
            {
                let (start, end) = (offset(span, "start"), offset(span, "end"));
                if contents.get(start..end) == Some(name) {
                    out.push((start, end));
                }
            }
            m.values()
                .for_each(|x| declared_spans(x, name, contents, out));
        }
        Value::Array(a) => a
            .iter()
            .for_each(|x| declared_spans(x, name, contents, out)),
        _ => {}
    }
}

/// The spans of every variable named `name` in a subtree.
fn var_spans(v: &Value, name: &str, out: &mut Vec<(usize, usize)>) {
    match v {
        Value::Object(m) => {
            if let Some(var) = m.get("Var").filter(|v| v["value"].as_str() == Some(name)) {
                out.push((offset(&var["span"], "start"), offset(&var["span"], "end")));
            }
            m.values().for_each(|x| var_spans(x, name, out));
        }
        Value::Array(a) => a.iter().for_each(|x| var_spans(x, name, out)),
        _ => {}
    }
}

/// Whether a subtree mentions a variable of one of these names.
fn mentions(v: &Value, names: &[&str]) -> bool {
    match v {
        Value::Object(m) => {
            m.get("Var")
                .and_then(|var| var["value"].as_str())
                .is_some_and(|n| names.contains(&n))
                || m.values().any(|x| mentions(x, names))
        }
        Value::Array(a) => a.iter().any(|x| mentions(x, names)),
        _ => false,
    }
}

/// Applies the edits from the end of the text backwards (so each offset
/// still holds); a blanked range keeps its newlines.
fn apply(contents: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|e| std::cmp::Reverse((e.start, e.text.is_none())));
    // Two rewrites may rename the same variable: once is enough.
    edits.dedup_by(|a, b| a.start == b.start && a.end == b.end && a.text == b.text);
    let mut text = contents.to_string();
    for e in edits {
        let fits = e.start <= e.end
            && e.end <= text.len()
            && text.is_char_boundary(e.start)
            && text.is_char_boundary(e.end);
        if !fits {
            continue;
        }
        match e.text {
            Some(insert) => text.replace_range(e.start..e.end, &insert),
            None => {
                let blank: String = text[e.start..e.end]
                    .chars()
                    .map(|c| if c == '\n' { '\n' } else { ' ' })
                    .collect();
                text.replace_range(e.start..e.end, &blank);
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(text: &str) -> Option<String> {
        let mut e = regorus::Engine::new();
        e.add_policy("a.rego".into(), text.into())
            .unwrap_or_else(|err| panic!("{err}"));
        rewrite(&e).into_iter().next().and_then(|(_, t)| t)
    }

    #[test]
    fn a_some_after_a_loop_moves_to_the_start_of_its_query() {
        let text = "package main\nimport rego.v1\nd contains x if {\n\tk := input[_]\n\tsome i, j\n\tx := [a | a := input[k]; some q; q := 2]\n}\n";
        let out = rewritten(text).unwrap_or_else(|| panic!("not rewritten"));
        assert_eq!(
            out,
            "package main\nimport rego.v1\nd contains x if { some i, j\n\tk := input[_]\n\t         \n\tx := [a | some q; a := input[k];         q := 2]\n}\n"
        );
    }

    #[test]
    fn a_variable_a_comprehension_shadows_is_renamed_from_its_declaration_on() {
        let out = rewritten("package p\nimport rego.v1\nd contains name if {\n\tname := input[_].a\n\tseen := [name | some i; input[i].a == name; name := input[i].b]\n\tcount(seen) > 0\n}\n")
            .unwrap_or_else(|| panic!("not rewritten"));
        assert_eq!(
            out,
            "package p\nimport rego.v1\nd contains name if {\n\tname := input[_].a\n\tseen := [__name | some i; input[i].a == name; __name := input[i].b]\n\tcount(seen) > 0\n}\n"
        );
    }

    #[test]
    fn a_some_bound_only_in_comprehensions_is_theirs() {
        let out = rewritten("package p\nimport rego.v1\nd contains n if {\n\tsome i\n\txs := [x | x := input[i].a]\n\tys := {y | some i; y := input[i].b}\n\tn := count(xs) + count(ys)\n}\n")
            .unwrap_or_else(|| panic!("not rewritten"));
        assert_eq!(
            out,
            "package p\nimport rego.v1\nd contains n if {\n\tsome i\n\txs := [x | x := input[__i].a]\n\tys := {y | some __i; y := input[__i].b}\n\tn := count(xs) + count(ys)\n}\n"
        );
        // Bound by the query itself, or read by the head: the query's.
        for kept in [
            "package p\nimport rego.v1\nd contains n if { some i; input[i]; n := [x | x := input[i]] }\n",
            "package p\nimport rego.v1\nd contains i if { some i; n := [x | x := input[i]] }\n",
        ] {
            assert_eq!(rewritten(kept), None, "{kept}");
        }
    }

    #[test]
    fn offsets_hold_after_non_ascii_text() {
        let out = rewritten("package main\nimport rego.v1\n# ünïcødé — ✓\nd contains x if {\n\tk := input[_] # é\n\tsome i\n\tx := [k, i, \"ß\"]\n}\n")
            .unwrap_or_else(|| panic!("not rewritten"));
        assert_eq!(
            out,
            "package main\nimport rego.v1\n# ünïcødé — ✓\nd contains x if { some i\n\tk := input[_] # é\n\t      \n\tx := [k, i, \"ß\"]\n}\n"
        );
    }

    #[test]
    fn a_some_whose_name_appears_above_stays() {
        assert_eq!(
            rewritten(
                "package p\nimport rego.v1\nd contains x if { y := [a | a := input[i]]; some i; x := input[i] }\n"
            ),
            None
        );
        assert_eq!(
            rewritten(
                "package p\nimport rego.v1\nd contains x if {\n\tsome i\n\tx := input[i]\n}\n"
            ),
            None
        );
    }
}
