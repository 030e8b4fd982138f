//! Golden diagnostics: every case under `tests/cases/` (a `*.yaml` file or a
//! folder) is loaded and its diagnostics compared with `<case>.out`.
//! Run with `BEARING_BLESS=1` to rewrite the expected files after reviewing
//! the change.

use std::path::{Path, PathBuf};

use bearing_intent::{LoadError, LoadOptions, load_with};
use chrono::NaiveDate;

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

fn opts() -> LoadOptions {
    LoadOptions {
        today: NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(),
    }
}

/// The diagnostics of one case as text, paths relative to the cases folder.
fn render(path: &Path) -> String {
    let dir = cases_dir();
    let (status, diags) = match load_with(path, &opts()) {
        Ok(l) => ("valid", l.warnings),
        Err(LoadError::Invalid(d)) => ("invalid", d),
        Err(e) => return format!("io error: {e}\n"),
    };
    let mut out = String::new();
    for d in diags {
        let rel = d.file.strip_prefix(&dir).unwrap_or(&d.file).to_path_buf();
        let message = d.message.replace(&format!("{}/", dir.display()), "");
        let d = bearing_intent::Diagnostic {
            file: rel,
            message,
            ..d
        };
        out.push_str(&format!("{d}\n"));
    }
    out.push_str(status);
    out.push('\n');
    out
}

fn cases() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() || p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    v.sort();
    v
}

#[test]
fn diagnostics_match_golden_files() {
    let bless = std::env::var_os("BEARING_BLESS").is_some();
    let mut failures = Vec::new();
    let cases = cases();
    assert!(cases.len() >= 25, "only {} cases", cases.len());
    for case in &cases {
        let got = render(case);
        let expected_path = case.with_extension("out");
        if bless {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| format!("missing {}", expected_path.display()));
        if got != expected {
            failures.push(format!(
                "--- {}\nexpected:\n{expected}got:\n{got}",
                case.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_broken_case_has_an_error_and_every_error_a_position() {
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        match load_with(&case, &opts()) {
            Ok(l) => assert!(
                name.starts_with("warn_"),
                "{name} loaded without errors (warnings: {:?})",
                l.warnings
            ),
            Err(LoadError::Invalid(d)) => {
                assert!(!name.starts_with("warn_"), "{name}: {d:?}");
                for x in d {
                    assert!(x.line >= 1 && x.column >= 1, "{name}: {x}");
                }
            }
            Err(e) => panic!("{name}: {e}"),
        }
    }
}

#[test]
fn starter_and_example_are_valid() {
    let starter = bearing_intent::load_sources(
        &[("bearing.yaml".into(), bearing_intent::STARTER.to_string())],
        &opts(),
    )
    .unwrap();
    assert!(starter.warnings.is_empty(), "{:?}", starter.warnings);
    assert_eq!(starter.intent.teams.len(), 3);
    assert_eq!(starter.intent.adaptation.len(), 2);

    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme");
    let loaded = load_with(&example, &opts()).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.root, example);
    assert!(loaded.intent.services.len() >= 3);
}
