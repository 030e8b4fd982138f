//! Kamei change metrics from a real git repository the test builds, with the
//! answers worked out by hand from the commits below.

use std::path::Path;
use std::process::Command;

use bearing_adapt::gitmetrics::repo_metrics;

fn git(dir: &Path, args: &[&str], email: &str, day: i64) {
    let date = format!("{} +0000", 1_700_000_000 + day * 86_400);
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", email)
        .env("GIT_AUTHOR_EMAIL", email)
        .env("GIT_COMMITTER_NAME", email)
        .env("GIT_COMMITTER_EMAIL", email)
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(dir: &Path, path: &str, lines: &[&str]) {
    let p = dir.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(
        p,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
}

fn commit(dir: &Path, email: &str, day: i64, msg: &str) {
    git(dir, &["add", "-A"], email, day);
    git(dir, &["commit", "-q", "-m", msg], email, day);
}

#[test]
fn metrics_of_a_repository_built_here() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    git(d, &["init", "-q", "-b", "main"], "ann@x", 0);
    // c1 (ann, day 0): core/a.rs 4 lines, core/b.rs 2 lines
    write(d, "core/a.rs", &["1", "2", "3", "4"]);
    write(d, "core/b.rs", &["x", "y"]);
    commit(d, "ann@x", 0, "initial");
    // c2 (bob, day 2): a.rs line 2 changed (+1 -1), web/ui.js new (3 lines)
    write(d, "core/a.rs", &["1", "two", "3", "4"]);
    write(d, "web/ui.js", &["a", "b", "c"]);
    commit(d, "bob@x", 2, "Fix off-by-one");
    git(d, &["tag", "v1"], "ann@x", 2);
    // c3 (ann, day 6): b.rs deleted 1 line, ui.js +1
    write(d, "core/b.rs", &["x"]);
    write(d, "web/ui.js", &["a", "b", "c", "d"]);
    commit(d, "ann@x", 6, "tidy");

    let all = repo_metrics(d, None).unwrap();
    assert_eq!(all.len(), 3);
    let c1 = &all[0];
    assert_eq!(
        (c1.ns, c1.nd, c1.nf, c1.la, c1.ld, c1.lt),
        (1.0, 1.0, 2.0, 6.0, 0.0, 0.0)
    );
    // p = 4/6, 2/6
    let e1 = -(4.0f64 / 6.0) * (4.0f64 / 6.0).log2() - (2.0f64 / 6.0) * (2.0f64 / 6.0).log2();
    assert!((c1.entropy - e1).abs() < 1e-12);
    assert_eq!(
        (c1.ndev, c1.nuc, c1.exp, c1.age, c1.fix),
        (0.0, 0.0, 0.0, None, 0.0)
    );

    let c2 = &all[1];
    assert_eq!(c2.author, "bob@x");
    // a.rs (+1 -1, 4 lines before, last changed day 0 by ann) and ui.js (+3, new)
    assert_eq!(
        (c2.ns, c2.nd, c2.nf, c2.la, c2.ld, c2.lt, c2.fix),
        (2.0, 2.0, 2.0, 4.0, 1.0, 4.0, 1.0)
    );
    let e2 = -(2.0f64 / 5.0) * (2.0f64 / 5.0).log2() - (3.0f64 / 5.0) * (3.0f64 / 5.0).log2();
    assert!((c2.entropy - e2).abs() < 1e-12);
    assert_eq!(
        (c2.ndev, c2.nuc, c2.age, c2.exp),
        (1.0, 1.0, Some(2.0), 0.0)
    );

    let c3 = &all[2];
    // b.rs (2 lines, day 0, ann/c1) and ui.js (3 lines, day 2, bob/c2)
    assert_eq!(
        (c3.ns, c3.nd, c3.nf, c3.la, c3.ld, c3.lt),
        (2.0, 2.0, 2.0, 1.0, 1.0, 5.0)
    );
    assert_eq!(
        (c3.ndev, c3.nuc, c3.age),
        (2.0, 2.0, Some((6.0 + 4.0) / 2.0))
    );
    // ann's one earlier commit (c1, 6 days ago, subsystem core)
    assert_eq!((c3.exp, c3.sexp), (1.0, 1.0));
    assert!((c3.rexp - 1.0 / (1.0 + 6.0 / 365.25)).abs() < 1e-12);

    // a range: only c3, with the history before it counted
    let range = repo_metrics(d, Some("v1..main")).unwrap();
    assert_eq!(range.len(), 1);
    assert_eq!(range[0], *c3);
    assert!(repo_metrics(d, Some("--all")).is_err());
    assert!(repo_metrics(d, Some("nope..main")).is_err());
}

/// Git quotes non-ASCII paths by default (`"src/\303\251/a.rs"`); read as
/// they are, `src/a/x.rs` and `src/é/a.rs` share the subsystem `src`.
#[test]
fn non_ascii_paths_are_read_as_they_are() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    git(d, &["init", "-q", "-b", "main"], "ann@x", 0);
    write(d, "src/a/x.rs", &["1"]);
    write(d, "src/é/a.rs", &["1", "2"]);
    commit(d, "ann@x", 0, "initial");
    let all = repo_metrics(d, None).unwrap();
    let c = &all[0];
    assert_eq!((c.ns, c.nd, c.nf, c.la), (1.0, 2.0, 2.0, 3.0));
}
