//! Helpers shared by the integration tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bearing_intent::{Intent, WorkflowTarget};
use bearing_workflow::{GenerateOptions, GeneratedFile, generate};

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The intents pipelines are generated for in tests: (name, path shown,
/// text): the starter intent `bearing init` writes, and this crate's sample
/// (Terraform, a server URL, every strategy) and a canary analysed from
/// Prometheus.
pub fn intents() -> Vec<(&'static str, &'static str, String)> {
    let sample = std::fs::read_to_string(crate_dir().join("tests/intent.yaml")).unwrap();
    let prometheus =
        std::fs::read_to_string(crate_dir().join("tests/intent-prometheus.yaml")).unwrap();
    vec![
        (
            "starter",
            "bearing.yaml",
            bearing_intent::STARTER.to_string(),
        ),
        ("sample", "bearing.yaml", sample),
        ("prometheus", "bearing.yaml", prometheus),
    ]
}

pub fn load(path: &str, text: &str) -> Intent {
    match bearing_intent::load_str(Path::new(path), text) {
        Ok(l) => l.intent,
        Err(e) => panic!("test intent does not load: {e:?}"),
    }
}

pub fn generate_all(intent: &Intent, path: &str, target: WorkflowTarget) -> Vec<GeneratedFile> {
    let plans = BTreeMap::new();
    generate(
        intent,
        &GenerateOptions {
            target,
            service: None,
            plans: &plans,
            intent_path: path,
        },
    )
    .unwrap()
}

/// The fixtures folder, or `None` (with a note) when `BEARING_FIXTURES` is unset.
pub fn fixtures() -> Option<PathBuf> {
    match std::env::var_os("BEARING_FIXTURES") {
        Some(p) => {
            let p = PathBuf::from(p);
            assert!(
                p.is_dir(),
                "BEARING_FIXTURES={} is not a folder",
                p.display()
            );
            Some(p)
        }
        None => {
            eprintln!("note: BEARING_FIXTURES is unset; skipping fixture test");
            None
        }
    }
}

pub const TARGETS: [(WorkflowTarget, &str); 2] = [
    (WorkflowTarget::GithubActions, "github-actions"),
    (WorkflowTarget::GitlabCi, "gitlab-ci"),
];
