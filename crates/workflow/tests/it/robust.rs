//! The linter never panics, whatever it is given.

use std::path::Path;

use bearing_workflow::{LintOptions, lint_str};
use proptest::prelude::*;

fn yamlish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("jobs:".to_string()),
        Just("on:".to_string()),
        Just("  ".to_string()),
        Just("\n".to_string()),
        Just("- ".to_string()),
        Just("uses: a/b@v1".to_string()),
        Just("environment: prod".to_string()),
        Just("steps:".to_string()),
        Just("run: kubectl apply -f x".to_string()),
        Just("&a ".to_string()),
        Just("*a".to_string()),
        Just("<<: ".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(": ".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("|".to_string()),
        Just("!reference ".to_string()),
        Just("when: manual".to_string()),
        "[a-z]{1,6}".prop_map(|s| s),
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(token, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn lint_never_panics_on_yamlish_text(text in yamlish()) {
        for name in [".github/workflows/x.yml", ".gitlab-ci.yml", "x.yml"] {
            let _ = lint_str(Path::new(name), &text, &LintOptions::default());
        }
    }

    #[test]
    fn lint_never_panics_on_arbitrary_text(text in ".{0,200}") {
        let _ = lint_str(Path::new(".github/workflows/x.yml"), &text, &LintOptions::default());
    }
}

#[test]
fn alias_bombs_are_refused_not_expanded() {
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 0..9 {
        let prev = if i == 0 {
            "a".to_string()
        } else {
            format!("l{}", i - 1)
        };
        bomb.push_str(&format!("l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
    }
    let findings = lint_str(Path::new(".gitlab-ci.yml"), &bomb, &LintOptions::default());
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].rule.id(), "syntax");
}
