//! Every generated pipeline validates against the platform's published JSON
//! schema (SchemaStore's GitHub workflow schema; GitLab's CI schema, both the
//! current upstream one and SchemaStore's last copy). The schemas are draft-07
//! with only local `#/definitions` references, so validation is offline.

use bearing_intent::WorkflowTarget;

use crate::common::{TARGETS, fixtures, generate_all, intents, load};

fn schema(name: &str) -> Option<jsonschema::Validator> {
    let dir = fixtures()?.join("ci-schemas");
    let text = std::fs::read_to_string(dir.join(name))
        .unwrap_or_else(|e| panic!("missing schema fixture {name}: {e}"));
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    Some(jsonschema::draft7::new(&value).unwrap_or_else(|e| panic!("schema {name}: {e}")))
}

fn check(validator: &jsonschema::Validator, label: &str, contents: &str) -> Vec<String> {
    let value: serde_json::Value = yaml_serde::from_str(contents).unwrap();
    validator
        .iter_errors(&value)
        .map(|e| format!("{label}: {} at {}", e, e.instance_path))
        .collect()
}

#[test]
fn generated_pipelines_validate_against_published_schemas() {
    let Some(github) = schema("github-workflow.json") else {
        return;
    };
    let gitlab = [
        schema("gitlab-ci.gitlab-upstream.json").unwrap(),
        schema("gitlab-ci.json").unwrap(),
    ];
    let mut errors = Vec::new();
    let mut checked = 0;
    for (name, path, text) in intents() {
        let intent = load(path, &text);
        for (target, tname) in TARGETS {
            for f in generate_all(&intent, path, target) {
                let label = format!("{name}/{tname}/{}", f.path.display());
                match target {
                    WorkflowTarget::GithubActions => {
                        errors.extend(check(&github, &label, &f.contents))
                    }
                    WorkflowTarget::GitlabCi => {
                        for v in &gitlab {
                            errors.extend(check(v, &label, &f.contents));
                        }
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 4);
    assert!(errors.is_empty(), "schema errors:\n{}", errors.join("\n"));
}

#[test]
fn the_schema_check_can_fail() {
    let Some(github) = schema("github-workflow.json") else {
        return;
    };
    // `runs-on` missing and an unknown key: the validator must say so.
    let bad = "on: push\njobs:\n  a:\n    stepz: []\n";
    assert!(!check(&github, "bad", bad).is_empty());
}
