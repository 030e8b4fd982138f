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
