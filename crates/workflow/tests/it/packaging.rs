//! The repository's CI packaging: the composite GitHub Action (`action.yml`),
//! the GitLab CI/CD component (`templates/gate.yml`), the release workflow
//! and the Dockerfile. Each validates against its published schema where
//! one exists, and they agree with the generated pipelines on how Bearing is
//! installed: the same install script, the same release targets and asset
//! names, the same version.

use bearing_workflow::script;
use serde_json::Value;

use crate::common::{crate_dir, fixtures};

fn repo_file(path: &str) -> String {
    let p = crate_dir().join("../..").join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

fn yaml(text: &str) -> Value {
    yaml_serde::from_str(text).unwrap()
}

fn validator(name: &str) -> Option<jsonschema::Validator> {
    let text = std::fs::read_to_string(fixtures()?.join("ci-schemas").join(name)).unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    Some(jsonschema::draft7::new(&value).unwrap())
}

fn errors(v: &jsonschema::Validator, label: &str, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{label}: {e} at {}", e.instance_path))
        .collect()
}

/// The component's two YAML documents: the `spec:` header and the jobs.
fn component_docs() -> (Value, Value) {
    let text = repo_file("templates/gate.yml");
    let (head, body) = text.split_once("\n---\n").expect("a `---` after spec:");
    (yaml(head), yaml(body))
}

#[test]
fn packaging_files_validate_against_published_schemas() {
    let (Some(action), Some(workflow), Some(gitlab)) = (
        validator("github-action.json"),
        validator("github-workflow.json"),
        validator("gitlab-ci.gitlab-upstream.json"),
    ) else {
        return;
    };
    let mut errs = errors(&action, "action.yml", &yaml(&repo_file("action.yml")));
    errs.extend(errors(
        &workflow,
        "release.yml",
        &yaml(&repo_file(".github/workflows/release.yml")),
    ));
    let (head, body) = component_docs();
    errs.extend(errors(&gitlab, "templates/gate.yml (spec)", &head));
    errs.extend(errors(&gitlab, "templates/gate.yml (jobs)", &body));
    assert!(errs.is_empty(), "schema errors:\n{}", errs.join("\n"));

    // The checks can fail: an action without `runs`, a component job with an unknown key.
    let mut broken = yaml(&repo_file("action.yml"));
    broken.as_object_mut().unwrap().remove("runs");
    assert!(!errors(&action, "broken", &broken).is_empty());
    let mut broken = body.clone();
    broken["$[[ inputs.job-name ]]"]["scripts"] = Value::from("x");
    assert!(!errors(&gitlab, "broken", &broken).is_empty());
}

#[test]
fn the_action_and_the_component_install_bearing_like_the_generated_pipelines() {
    let action = yaml(&repo_file("action.yml"));
    let inputs = action["inputs"].as_object().unwrap();
    for input in ["intent", "service", "env", "attachments", "server", "token"] {
        assert!(inputs.contains_key(input), "action input `{input}` missing");
    }
    assert_eq!(action["runs"]["using"], "composite");
    let steps = action["runs"]["steps"].as_array().unwrap();
    let install = steps
        .iter()
        .find(|s| s["name"] == "Install Bearing")
        .unwrap();
    assert!(
        install["run"]
            .as_str()
            .unwrap()
            .ends_with(&script::install_bearing()),
        "action.yml's install step is not the generated pipelines' install script"
    );
    let gate = steps.last().unwrap()["run"].as_str().unwrap();
    assert!(gate.contains("bearing check \"${args[@]}\""), "{gate}");
    assert!(
        gate.contains(&script::fetch_outcomes()),
        "action.yml fetches the outcomes otherwise than the generated gate"
    );

    let (head, body) = component_docs();
    assert_eq!(
        head["spec"]["inputs"]["version"]["default"],
        script::BEARING_VERSION,
        "templates/gate.yml installs another version than this build"
    );
    let job = &body["$[[ inputs.job-name ]]"];
    assert_eq!(job["script"][0], script::install_bearing());
    assert!(
        job["script"][1]
            .as_str()
            .unwrap()
            .contains("bearing check \"$@\"")
    );
    assert!(
        job["script"][1]
            .as_str()
            .unwrap()
            .contains(&script::fetch_outcomes()),
        "templates/gate.yml fetches the outcomes otherwise than the generated gate"
    );
}

#[test]
fn releases_publish_what_the_install_script_downloads() {
    let release = repo_file(".github/workflows/release.yml");
    let install = script::install_bearing();
    // Every target the install script picks is built, and named the same way.
    let targets: Vec<&str> = install
        .lines()
        .filter_map(|l| l.split_once(" target=")?.1.strip_suffix(" ;;"))
        .filter(|t| !t.is_empty())
        .collect();
    assert_eq!(targets.len(), 4, "{install}");
    for t in targets {
        assert!(
            release.contains(&format!("target: {t}\n")),
            "release.yml does not build {t}"
        );
    }
    assert!(install.contains("/v${BEARING_VERSION}/bearing-${target}.tar.gz\""));
    assert!(install.contains("\"${url}.sha256\""));
    assert!(release.contains("tar -czf \"dist/bearing-${TARGET}.tar.gz\""));
    assert!(release.contains("> \"bearing-${TARGET}.tar.gz.sha256\""));
    assert!(script::RELEASES.starts_with("https://github.com/"));
    // The package `cargo install` falls back to is this workspace's binary crate.
    let manifest = repo_file("crates/bearing/Cargo.toml");
    assert!(manifest.contains(&format!("name = \"{}\"", script::PACKAGE)));
}

#[test]
fn the_dockerfile_is_multi_stage_non_root_and_health_checked() {
    let d = repo_file("Dockerfile");
    let froms = d.lines().filter(|l| l.starts_with("FROM ")).count();
    assert!(froms >= 2, "not multi-stage");
    let user = d
        .lines()
        .rfind(|l| l.starts_with("USER "))
        .expect("a USER line");
    assert!(!user.contains("root") && !user.ends_with(" 0") && !user.contains(" 0:"));
    assert!(d.contains("HEALTHCHECK") && d.contains("/healthz"));
    assert!(d.contains("-p bearing-cli"));
}
