//! The loader never panics: random text and mutated intents give diagnostics.

use std::path::Path;

use proptest::prelude::*;

fn load(text: &str) {
    let _ = bearing_intent::load_str(Path::new("fuzz.yaml"), text);
}

/// Characters that make YAML interesting.
fn yamlish() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just(":".to_string()),
            Just("- ".to_string()),
            Just("\n".to_string()),
            Just("  ".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just("{".to_string()),
            Just("}".to_string()),
            Just("&a ".to_string()),
            Just("*a".to_string()),
            Just("\"".to_string()),
            Just("'".to_string()),
            Just("#".to_string()),
            Just("|".to_string()),
            Just(">".to_string()),
            Just("!!str ".to_string()),
            Just("version: 1\n".to_string()),
            Just("teams:\n".to_string()),
            Just("id: x".to_string()),
            Just("when: ".to_string()),
            Just("target: ".to_string()),
            "[a-z0-9_.%/<>=]{0,8}",
        ],
        0..60,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(s in "\\PC{0,200}") {
        load(&s);
    }

    #[test]
    fn yaml_like_text_never_panics(s in yamlish()) {
        load(&s);
    }

    #[test]
    fn mutated_starter_never_panics(
        cut in 0usize..8000,
        len in 0usize..40,
        insert in "[\\-:{}\\[\\]\"'#&*!|> a-z0-9%/=\n]{0,6}",
    ) {
        let s = bearing_intent::STARTER;
        let mut start = cut.min(s.len());
        while !s.is_char_boundary(start) { start -= 1; }
        let mut end = (start + len).min(s.len());
        while !s.is_char_boundary(end) { end -= 1; }
        let mutated = format!("{}{}{}", &s[..start], insert, &s[end..]);
        load(&mutated);
    }

    #[test]
    fn mutated_lines_never_panic(drop_line in 0usize..200, dup_line in 0usize..200) {
        let lines: Vec<&str> = bearing_intent::STARTER.lines().collect();
        let mut out: Vec<&str> = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            if i != drop_line { out.push(l); }
            if i == dup_line { out.push(l); }
        }
        load(&out.join("\n"));
    }
}
