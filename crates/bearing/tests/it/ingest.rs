//! CLI tests for `ingest` and `events`, run against the built binary: the
//! summary and exit codes, whole-file rejection, and the kill test (SIGKILL
//! during a large ingest loses nothing that was acknowledged).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use bearing_store::{SqliteStore, Store};

fn bearing(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bearing"))
        .arg("--database")
        .arg(db)
        .args(args)
        .env_remove("BEARING_DATABASE")
        .output()
        .unwrap()
}

fn metric_line(i: usize) -> String {
    format!(
        r#"{{"id":"k{i}","source":"kill-test","time":"2026-01-01T00:00:{:02}Z","service":"svc-{}","environment":"prod","kind":"metric_point","data":{{"name":"business.orders","value":{i}}}}}"#,
        i % 60,
        i % 7
    )
}

fn write_jsonl(path: &Path, lines: impl Iterator<Item = String>) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
    f.flush().unwrap();
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn ingest_reports_accepted_duplicates_and_rejections() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    write_jsonl(&inputs.join("a.jsonl"), (1..=3).map(metric_line));
    // The bad record is on line 3, after two good ones: the file is rejected whole.
    let mut bad: Vec<String> = (10..=11).map(metric_line).collect();
    bad.push(metric_line(12).replace(r#""value":12"#, r#""value":"twelve""#));
    write_jsonl(&inputs.join("b.jsonl"), bad.into_iter());

    let out = bearing(
        &db,
        &["ingest", inputs.to_str().unwrap(), "--output", "json"],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v = json(&out);
    assert_eq!(v["files"], 2);
    assert_eq!(v["accepted"], 3);
    assert_eq!(v["rejected"], 1);
    let rejected = &v["reports"][1];
    assert_eq!(rejected["status"], "rejected");
    assert!(rejected["file"].as_str().unwrap().ends_with("b.jsonl"));
    assert_eq!(rejected["rejection"]["record"], "line 3");
    assert_eq!(rejected["rejection"]["field"], "data.value");

    // Nothing of the bad file was written; the good one is now all duplicates.
    let out = bearing(&db, &["ingest", inputs.join("a.jsonl").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("0 new, 3 duplicates"), "{text}");
    let out = bearing(&db, &["events", "list", "--output", "json", "--limit", "0"]);
    let ids: Vec<String> = json(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["k1", "k2", "k3"]);
}

#[test]
fn ingest_asks_for_a_format_it_cannot_tell() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let input = dir.path().join("mystery.txt");
    std::fs::write(&input, "hello\nworld\n").unwrap();
    let out = bearing(&db, &["ingest", input.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("pass `--format`"), "{text}");
    let out = bearing(
        &db,
        &["ingest", input.to_str().unwrap(), "--format", "nope"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown format `nope`"));
}

#[test]
fn events_list_filters() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let input = dir.path().join("e.jsonl");
    write_jsonl(&input, (0..14).map(metric_line));
    let mut child = Command::new(env!("CARGO_BIN_EXE_bearing"))
        .arg("--database")
        .arg(&db)
        .args(["ingest", "-", "--service", "ignored-when-set"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(&input).unwrap())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let out = bearing(
        &db,
        &[
            "events",
            "list",
            "--service",
            "svc-3",
            "--kind",
            "metric_point",
            "--output",
            "json",
        ],
    );
    let v = json(&out);
    let ids: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["k10", "k3"]);
    let out = bearing(&db, &["events", "list", "--kind", "deploy"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown kind `deploy`"));
}

/// Parses `committed FILE lines A-B: …` into (A, B).
fn committed_range(line: &str) -> Option<(usize, usize)> {
    let rest = line.strip_prefix("committed ")?;
    let range = rest.split(" lines ").nth(1)?.split(':').next()?;
    let (a, b) = range.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// A tiny PRNG for kill moments (seeded from the clock; the seed is printed).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn killed_ingest_loses_nothing_acknowledged() {
    const N: usize = 50_000;
    const BATCH: &str = "500";
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kill.db");
    let input = dir.path().join("big.jsonl");
    // Line L holds event `kL`.
    write_jsonl(&input, (1..=N).map(metric_line));
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill test seed {seed}");
    let mut rng = Rng(seed);

    let mut acknowledged = Vec::new();
    for round in 0..4 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bearing"))
            .arg("--database")
            .arg(&db)
            .args(["ingest", input.to_str().unwrap(), "--batch-size", BATCH])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        // Kill after a random number of acknowledged batches plus a random delay,
        // so the kill lands anywhere in a transaction.
        let kill_after = 1 + rng.below(6) as usize;
        let delay = Duration::from_millis(rng.below(40));
        let mut seen = 0;
        let mut killed = false;
        for line in stderr.lines() {
            let line = line.unwrap();
            if let Some(range) = committed_range(&line) {
                acknowledged.push(range);
                seen += 1;
                if seen == kill_after && !killed {
                    std::thread::sleep(delay);
                    child.kill().unwrap(); // SIGKILL
                    killed = true;
                }
            }
        }
        let status = child.wait().unwrap();
        eprintln!("round {round}: killed after {seen} batches ({status})");
    }

    let ids: HashSet<String> = rt().block_on(async {
        let store = SqliteStore::open(db.to_str().unwrap()).await.unwrap();
        store.check_integrity().await.unwrap();
        let (events, _) = store.events_after(0, N as u64 + 1).await.unwrap();
        events.into_iter().map(|e| e.id).collect()
    });
    assert!(!acknowledged.is_empty());
    for (a, b) in &acknowledged {
        for line in *a..=*b {
            assert!(
                ids.contains(&format!("k{line}")),
                "acknowledged line {line} is missing"
            );
        }
    }

    // Resuming stores the rest; what was stored comes back as duplicates.
    let out = bearing(
        &db,
        &["ingest", input.to_str().unwrap(), "--output", "json"],
    );
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["duplicates"].as_u64().unwrap(), ids.len() as u64);
    assert_eq!(v["accepted"].as_u64().unwrap(), (N - ids.len()) as u64);
    let count = rt().block_on(async {
        let store = SqliteStore::open(db.to_str().unwrap()).await.unwrap();
        store.check_integrity().await.unwrap();
        store.count_events().await.unwrap()
    });
    assert_eq!(count, N as u64);
}

/// A file name in the fixtures of `bearing-events` (`tests/shapes/`).
fn shape(file: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events/tests/shapes")
        .join(file)
}

/// Issue 14 items 12 and 13: a real scanner file with one unusable finding is
/// read, the finding skipped with its reason; `--strict` rejects it whole; the
/// same bytes again (no timestamp in the report) add nothing.
#[test]
fn scanner_reports_skip_unusable_findings_and_reingest_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let trivy = shape("trivy-legacy-list.json");
    let trivy = trivy.to_str().unwrap();

    let out = bearing(&db, &["ingest", trivy, "--strict", "--output", "json"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v = json(&out);
    assert_eq!(
        v["reports"][0]["rejection"]["field"],
        "[0].Vulnerabilities[1].VulnerabilityID"
    );

    let out = bearing(&db, &["ingest", trivy, "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json(&out);
    assert_eq!(v["accepted"], 2);
    assert_eq!(
        v["reports"][0]["skipped"][0],
        "`[0].Vulnerabilities[1]` cannot be used: field `VulnerabilityID`: missing; this field is required"
    );
    let out = bearing(&db, &["ingest", trivy]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("0 new, 2 duplicates, 1 record skipped"),
        "{text}"
    );
    assert!(
        text.contains("  skipped `[0].Vulnerabilities[1]` cannot be used"),
        "{text}"
    );
}

/// Issue 14 item 14: a misspelt `--github-event` is a usage error, not a skip;
/// recorded deliveries (JSONL) are read.
#[test]
fn github_event_names_are_checked_and_jsonl_deliveries_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let body = dir.path().join("issue.json");
    std::fs::write(
        &body,
        r#"{"action":"opened","issue":{"id":1,"number":1,"title":"down","labels":[{"name":"incident"}],"created_at":"2024-05-01T12:00:00Z","updated_at":"2024-05-01T12:00:00Z"},"repository":{"id":1,"name":"web","full_name":"acme/web"},"sender":{"login":"x"}}"#,
    )
    .unwrap();
    let out = bearing(
        &db,
        &["ingest", body.to_str().unwrap(), "--github-event", "issue"],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown GitHub event `issue`") && err.contains("did you mean `issues`?"),
        "{err}"
    );

    let deliveries = dir.path().join("deliveries.jsonl");
    let payload = std::fs::read_to_string(&body).unwrap();
    std::fs::write(
        &deliveries,
        format!(
            "{{\"event\":\"issues\",\"delivery\":\"a\",\"payload\":{payload}}}\n{{\"event\":\"star\",\"delivery\":\"b\",\"payload\":{payload}}}\n"
        ),
    )
    .unwrap();
    let out = bearing(
        &db,
        &["ingest", deliveries.to_str().unwrap(), "--output", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json(&out);
    assert_eq!(v["reports"][0]["format"], "github");
    assert_eq!(v["accepted"], 1);
    assert_eq!(
        v["reports"][0]["skipped"][0],
        "line 2: GitHub event `star` is not used by Bearing"
    );
}

/// Issue 15 items 12 and 14: a bad byte is named by line, an empty file says
/// so, and an event the store refuses is named by its line like a parse error.
#[test]
fn small_file_errors_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let reject = |name: &str, bytes: &[u8]| -> serde_json::Value {
        let f = dir.path().join(name);
        std::fs::write(&f, bytes).unwrap();
        let out = bearing(&db, &["ingest", f.to_str().unwrap(), "--output", "json"]);
        assert_eq!(out.status.code(), Some(1), "{name}: {out:?}");
        json(&out)["reports"][0]["rejection"].clone()
    };
    let mut bytes = format!("{}\n{}\n", metric_line(1), metric_line(2)).into_bytes();
    let at = bytes.len() - 5;
    bytes[at] = 0xff;
    let why = reject("bad.jsonl", &bytes);
    assert_eq!(why["record"], "line 2", "{why}");
    assert!(
        why["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid UTF-8 at byte "),
        "{why}"
    );

    let why = reject("empty.jsonl", b"");
    assert_eq!(why["message"], "the file is empty: nothing to ingest");
    let why = reject("blank.json", b"\n  \n");
    assert_eq!(why["message"], "the file is empty: nothing to ingest");

    // An id over 1024 bytes passes the parser and is refused by the store's checks.
    let long = metric_line(2).replace(r#""id":"k2""#, &format!(r#""id":"{}""#, "k".repeat(2000)));
    let why = reject(
        "long-id.jsonl",
        format!("{}\n{long}\n", metric_line(1)).as_bytes(),
    );
    assert_eq!(why["record"], "line 2", "{why}");
    assert_eq!(why["field"], "id", "{why}");
    // The 2,000-byte id is quoted shortened.
    assert!(why["message"].as_str().unwrap().len() < 200, "{why}");
    // In a JSON array the same event is `record 2`, counted from 1 whether the
    // parser or the store refuses it (the HTTP API says the same words).
    let why = reject(
        "long-id.json",
        format!("[{},{long}]", metric_line(1)).as_bytes(),
    );
    assert_eq!(why["record"], "record 2", "{why}");
    assert_eq!(why["field"], "id", "{why}");
    let bad_time = metric_line(2).replace("2026-", "yesterday-");
    assert_ne!(bad_time, metric_line(2));
    let why = reject(
        "bad-time.json",
        format!("[{},{bad_time}]", metric_line(1)).as_bytes(),
    );
    assert_eq!(why["record"], "record 2", "{why}");
    assert_eq!(why["field"], "time", "{why}");
}

/// Issue 15 item 11: a JSONL line over the documented 16 MiB is refused, also
/// when it is the first line of a large file (once read whole in memory).
#[test]
fn a_line_over_16_mib_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let f = dir.path().join("one-line.jsonl");
    let line = metric_line(1).replace(
        r#""kind""#,
        &format!(
            r#""attributes":{{"pad":"{}"}},"kind""#,
            "x".repeat(17 << 20)
        ),
    );
    std::fs::write(&f, format!("{line}\n")).unwrap();
    // Named `.jsonl`, and named so that only its content tells the format.
    let g = dir.path().join("one-line.json");
    std::fs::copy(&f, &g).unwrap();
    for f in [f, g] {
        let out = bearing(&db, &["ingest", f.to_str().unwrap(), "--output", "json"]);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let v = json(&out);
        assert_eq!(v["reports"][0]["rejection"]["record"], "line 1");
        assert_eq!(
            v["reports"][0]["rejection"]["message"],
            "the line is longer than 16 MiB; expected one event per line"
        );
    }
}

/// Issue 15 item 13: a symlink loop is not followed; every file is read once.
#[cfg(unix)]
#[test]
fn a_symlink_loop_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let root = dir.path().join("in");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    write_jsonl(&root.join("sub/a.jsonl"), (1..=2).map(metric_line));
    std::os::unix::fs::symlink(&root, root.join("sub/loop")).unwrap();
    std::os::unix::fs::symlink(root.join("sub"), root.join("again")).unwrap();
    let out = bearing(&db, &["ingest", root.to_str().unwrap(), "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json(&out);
    assert_eq!(v["files"], 1, "{v}");
    assert_eq!(v["accepted"], 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a folder already read"), "{err}");
}

/// Issue 15 item 5: ingests started at once on a database file that does not
/// exist yet all succeed (they once failed 3 times in 10 migrating it).
#[test]
fn concurrent_ingests_on_a_fresh_database_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("a.jsonl");
    write_jsonl(&input, (1..=5).map(metric_line));
    for round in 0..5 {
        let db = dir.path().join(format!("fresh-{round}.db"));
        let children: Vec<_> = (0..4)
            .map(|_| {
                Command::new(env!("CARGO_BIN_EXE_bearing"))
                    .arg("--database")
                    .arg(&db)
                    .args(["ingest", input.to_str().unwrap()])
                    .env_remove("BEARING_DATABASE")
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// `bearing … | head`: output into a closed pipe ends the command quietly
/// with SIGPIPE's status (141), as other Unix tools do; no panic.
#[test]
fn a_closed_pipe_ends_output_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("events.jsonl");
    write_jsonl(&file, (0..3).map(metric_line));
    let db = tmp.path().join("bearing.db");
    for args in [vec!["schema"], vec!["ingest", file.to_str().unwrap()]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bearing"))
            .arg("--database")
            .arg(&db)
            .args(&args)
            .env_remove("BEARING_DATABASE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes before the command has written anything.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            (out.status.code(), err.as_ref()),
            (Some(141), ""),
            "{args:?}"
        );
    }
}

/// `ingest --help` and the "cannot tell the format" message name every
/// format and threat feed `--format` takes (the events crate's registry).
#[test]
fn help_and_messages_name_every_format() {
    let names = bearing_events::Format::ingest_names();
    let help = Command::new(env!("CARGO_BIN_EXE_bearing"))
        .args(["ingest", "--help"])
        .output()
        .unwrap();
    // clap wraps the help: compare the words.
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let words: HashSet<&str> = help
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .collect();
    for n in &names {
        assert!(words.contains(n), "`ingest --help` leaves out {n}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("odd.txt");
    std::fs::write(&file, "not any format\n").unwrap();
    let out = bearing(
        &tmp.path().join("bearing.db"),
        &["ingest", file.to_str().unwrap()],
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let want = format!("pass `--format` (one of {})", names.join(", "));
    assert!(text.contains(&want), "{text}");
}
