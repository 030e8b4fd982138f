//! What a CI runner relies on: completions and man page from the CLI
//! definition, an empty `BEARING_SERVER` meaning offline, and the outcomes
//! snapshot (`bearing outcomes export` → `bearing check --outcomes`) carrying
//! a delivery plan's freeze to a gate without a store or server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

use crate::cli::{bearing, stderr, stdout};

fn check_with_env(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bearing"));
    c.args(["--database", "sqlite://none.db", "check", "--no-log"])
        .args(args)
        .current_dir(dir)
        .env_remove("BEARING_INTENT")
        .env_remove("BEARING_DATABASE")
        .env_remove("BEARING_SERVER")
        .env_remove("BEARING_TOKEN")
        .env_remove("BEARING_OUTCOMES");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn starter() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("bearing.yaml"), bearing_intent::STARTER).unwrap();
    tmp
}

#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    let tmp = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "_bearing()"),
        ("zsh", "#compdef bearing"),
        ("fish", "complete -c bearing"),
    ] {
        let o = bearing(&["completions", shell], tmp.path());
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let out = stdout(&o);
        assert!(out.contains(marker), "{shell}: {out}");
        for sub in ["check", "workflow", "outcomes", "completions"] {
            assert!(out.contains(sub), "{shell} completion lacks `{sub}`");
        }
    }
    let o = bearing(&["completions", "tcsh"], tmp.path());
    assert_eq!(o.status.code(), Some(2));

    let o = bearing(&["man"], tmp.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = stdout(&o);
    assert!(
        page.starts_with(".ie \\n(.g .ds Aq") || page.contains(".TH bearing"),
        "{page}"
    );
    assert!(page.contains(".TH bearing 1"), "{page}");
    assert!(page.contains("bearing\\-check"), "subcommands are listed");

    let o = bearing(&["man", "--out", "man"], tmp.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for f in ["bearing.1", "bearing-check.1", "bearing-outcomes-export.1"] {
        assert!(tmp.path().join("man").join(f).is_file(), "{f} not written");
    }
}

#[test]
fn an_empty_server_decides_offline_and_an_outcomes_file_carries_the_freeze() {
    let tmp = starter();
    let dir = tmp.path();
    let args = [
        "--service",
        "ledger",
        "--env",
        "production",
        "--output",
        "json",
    ];

    // An unset CI variable is an empty string: offline, not "bad uri" (exit 3),
    // and no outcomes file, not a usage error (exit 2).
    let o = check_with_env(
        dir,
        &args,
        &[
            ("BEARING_SERVER", ""),
            ("BEARING_TOKEN", ""),
            ("BEARING_OUTCOMES", ""),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));

    // The exported snapshot's plan freezes ledger: denied with the plan's reason.
    let snapshot = serde_json::json!({
        "generated_at": "2026-12-01T00:00:00Z",
        "services": {},
        "plans": {"ledger": {
            "service": "ledger", "strategy": "direct", "freeze": true,
            "extra_gates": [], "reasons": ["freeze-on-spent-budget"],
            "updated_at": "2026-12-01T00:00:00Z"
        }}
    });
    std::fs::write(dir.join("outcomes.json"), snapshot.to_string()).unwrap();
    let mut with_file = args.to_vec();
    with_file.extend(["--outcomes", "outcomes.json"]);
    let o = check_with_env(dir, &with_file, &[("BEARING_SERVER", "")]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let d: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(d["result"], "deny");
    assert!(
        stdout(&o).contains("the delivery plan of ledger says freeze (freeze-on-spent-budget)"),
        "{}",
        stdout(&o)
    );
    // The same through BEARING_OUTCOMES, as the generated gate passes it.
    let o = check_with_env(dir, &args, &[("BEARING_OUTCOMES", "outcomes.json")]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // A hotfix is exempt: warned, not denied.
    let mut hotfix = with_file.clone();
    hotfix.extend(["--label", "hotfix"]);
    let o = check_with_env(dir, &hotfix, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn outcomes_export_writes_what_check_reads() {
    let tmp = starter();
    let dir = tmp.path();
    // No store: refused, not created.
    let o = bearing(
        &["--database", "sqlite://missing.db", "outcomes", "export"],
        dir,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no event store"), "{}", stderr(&o));
    assert!(!dir.join("missing.db").exists());

    // A store (created here by `token create`): every service of the intent, and the plans.
    let o = bearing(
        &[
            "--database",
            "sqlite://s.db",
            "token",
            "create",
            "--name",
            "ci",
            "--scope",
            "decide",
        ],
        dir,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = bearing(
        &[
            "--database",
            "sqlite://s.db",
            "outcomes",
            "export",
            "--out",
            "o.json",
        ],
        dir,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("o.json")).unwrap()).unwrap();
    for s in ["checkout", "ledger", "web", "search"] {
        assert!(v["services"].get(s).is_some(), "{s} missing: {v}");
    }
    assert!(v["plans"].is_object(), "{v}");
    let o = check_with_env(
        dir,
        &[
            "--service",
            "ledger",
            "--env",
            "production",
            "--outcomes",
            "o.json",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
}
