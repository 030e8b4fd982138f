//! Folder loading: which files are read, in which order, and what merges.

use std::path::Path;

use bearing_intent::{LoadError, LoadOptions, load_with};

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn a_folder_merges_yaml_and_yml_files_in_name_order() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(d, "b.yml", "teams:\n  - id: storefront\n");
    write(d, "a.yaml", "version: 1\nteams:\n  - id: payments\n");
    write(d, "notes.txt", "not: [yaml\n");
    std::fs::create_dir(d.join("sub")).unwrap();
    write(&d.join("sub"), "c.yaml", "version: 2\n");
    let loaded = load_with(d, &LoadOptions::default()).unwrap();
    let ids: Vec<&str> = loaded.intent.teams.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["payments", "storefront"]);
    assert_eq!(loaded.root, d);
}

#[test]
fn references_resolve_across_files() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(d, "1-teams.yaml", "version: 1\nteams:\n  - id: payments\n");
    write(
        d,
        "2-services.yaml",
        "services:\n  - id: checkout\n    team: payments\n",
    );
    let loaded = load_with(d, &LoadOptions::default()).unwrap();
    assert_eq!(loaded.intent.services[0].team, "payments");
}

#[test]
fn an_empty_folder_is_invalid_and_a_missing_path_is_io() {
    let tmp = tempfile::tempdir().unwrap();
    match load_with(tmp.path(), &LoadOptions::default()) {
        Err(LoadError::Invalid(d)) => assert!(d[0].message.contains("no `*.yaml`")),
        other => panic!("{other:?}"),
    }
    match load_with(&tmp.path().join("missing.yaml"), &LoadOptions::default()) {
        Err(LoadError::Io { .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_file_root_is_its_folder() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "bearing.yaml", "version: 1\n");
    let loaded = load_with(&tmp.path().join("bearing.yaml"), &LoadOptions::default()).unwrap();
    assert_eq!(loaded.root, tmp.path());
    assert_eq!(loaded.intent.version, 1);
}
