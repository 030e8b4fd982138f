//! The change metrics of Kamei et al. (2013, "A large-scale empirical study
//! of just-in-time quality assurance", TSE) computed from a git repository by
//! walking `git log --numstat` once, oldest first (merges are not followed;
//! renames are a delete plus an add). Per commit:
//!
//! | metric | definition |
//! |---|---|
//! | `ns` | subsystems touched (distinct top-level directories; a file at the root is in subsystem `""`) |
//! | `nd` | directories touched (distinct parent directories) |
//! | `nf` | files touched |
//! | `entropy` | `−Σ p_k log2 p_k` over files, `p_k` = the file's added+deleted lines / the commit's (0 when nothing changed) |
//! | `la`, `ld` | lines added, deleted (binary files count 0) |
//! | `lt` | lines in the touched files before the commit (tracked from the numstat since the first commit) |
//! | `fix` | 1 when the subject mentions fix / bug / defect / patch (a word starting so) |
//! | `ndev` | distinct authors who changed the touched files before |
//! | `age` | mean days since each touched file was last changed (`None` when every file is new) |
//! | `nuc` | distinct earlier commits that changed the touched files |
//! | `exp` | the author's earlier commits |
//! | `rexp` | the author's earlier commits weighted `1 / (1 + years ago)` |
//! | `sexp` | the author's earlier commits touching the same subsystems |

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::process::Command;

use serde::Serialize;

/// The metrics of one commit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommitMetrics {
    pub sha: String,
    /// Author time, Unix seconds.
    pub time: i64,
    pub author: String,
    pub ns: f64,
    pub nd: f64,
    pub nf: f64,
    pub entropy: f64,
    pub la: f64,
    pub ld: f64,
    pub lt: f64,
    pub fix: f64,
    pub ndev: f64,
    /// `None` when every touched file is new.
    pub age: Option<f64>,
    pub nuc: f64,
    pub exp: f64,
    pub rexp: f64,
    pub sexp: f64,
}

/// Errors running or reading git.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git in `{repo}`: {message}")]
    Run { repo: String, message: String },
    #[error("git log output, commit {commit}: {message}")]
    Parse { commit: usize, message: String },
}

/// One commit as `git log --numstat` gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogCommit {
    pub sha: String,
    pub time: i64,
    pub author: String,
    pub subject: String,
    /// `(path, added, deleted)`; binary files are `(path, 0, 0)`.
    pub files: Vec<(String, u64, u64)>,
}

const LOG_FORMAT: &str = "--format=%x1e%H%x1f%at%x1f%aE%x1f%s";

/// Parses `git log --numstat` output written with [`LOG_FORMAT`].
pub fn parse_log(text: &str) -> Result<Vec<LogCommit>, GitError> {
    let mut out = Vec::new();
    for (i, rec) in text.split('\u{1e}').skip(1).enumerate() {
        let err = |message: String| GitError::Parse {
            commit: i + 1,
            message,
        };
        let mut lines = rec.lines();
        let head = lines.next().unwrap_or("");
        let f: Vec<&str> = head.split('\u{1f}').collect();
        let [sha, time, author, subject] = f[..] else {
            return Err(err(format!("`{head}` is not sha, time, author, subject")));
        };
        let time = time
            .parse::<i64>()
            .map_err(|_| err(format!("`{time}` is not Unix seconds")))?;
        let mut files = Vec::new();
        for line in lines.filter(|l| !l.trim().is_empty()) {
            let mut p = line.splitn(3, '\t');
            let (Some(a), Some(d), Some(path)) = (p.next(), p.next(), p.next()) else {
                return Err(err(format!("`{line}` is not `added<TAB>deleted<TAB>path`")));
            };
            let n = |v: &str| -> Result<u64, GitError> {
                if v == "-" {
                    Ok(0)
                } else {
                    v.parse()
                        .map_err(|_| err(format!("`{v}` is not a line count in `{line}`")))
                }
            };
            files.push((path.to_string(), n(a)?, n(d)?));
        }
        out.push(LogCommit {
            sha: sha.to_string(),
            time,
            author: author.to_string(),
            subject: subject.to_string(),
            files,
        });
    }
    Ok(out)
}

fn subsystem(path: &str) -> &str {
    path.split_once('/').map_or("", |(s, _)| s)
}

fn directory(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

fn is_fix(subject: &str) -> bool {
    subject
        .split(|c: char| !c.is_ascii_alphanumeric())
        .map(str::to_ascii_lowercase)
        .any(|w| {
            ["fix", "bug", "defect", "patch"]
                .iter()
                .any(|k| w.starts_with(k))
        })
}

#[derive(Default)]
struct FileState {
    lines: i64,
    last_change: Option<i64>,
    authors: HashSet<String>,
    commits: HashSet<usize>,
}

/// Computes the metrics of every commit of `log` (oldest first).
pub fn metrics(log: &[LogCommit]) -> Vec<CommitMetrics> {
    let mut files: HashMap<String, FileState> = HashMap::new();
    // author -> (time, subsystems) of earlier commits
    let mut by_author: HashMap<String, Vec<(i64, BTreeSet<String>)>> = HashMap::new();
    let mut out = Vec::with_capacity(log.len());
    for (idx, c) in log.iter().enumerate() {
        let subsystems: BTreeSet<String> = c
            .files
            .iter()
            .map(|f| subsystem(&f.0).to_string())
            .collect();
        let dirs: BTreeSet<&str> = c.files.iter().map(|f| directory(&f.0)).collect();
        let (la, ld): (u64, u64) = c.files.iter().fold((0, 0), |(a, d), f| (a + f.1, d + f.2));
        let total = (la + ld) as f64;
        let entropy = if total > 0.0 {
            c.files
                .iter()
                .map(|f| (f.1 + f.2) as f64 / total)
                .filter(|p| *p > 0.0)
                .map(|p| -p * p.log2())
                .sum::<f64>()
                + 0.0 // one file: −(1 · log2 1) is −0, printed `-0.000000`
        } else {
            0.0
        };
        let (mut lt, mut devs, mut prior, mut ages) =
            (0i64, HashSet::new(), HashSet::new(), Vec::new());
        for (path, _, _) in &c.files {
            if let Some(s) = files.get(path) {
                lt += s.lines.max(0);
                devs.extend(s.authors.iter().cloned());
                prior.extend(s.commits.iter().copied());
                if let Some(t) = s.last_change {
                    ages.push((c.time - t) as f64 / 86_400.0);
                }
            }
        }
        let earlier = by_author.get(&c.author).map_or(&[][..], Vec::as_slice);
        let rexp = earlier
            .iter()
            .map(|(t, _)| 1.0 / (1.0 + ((c.time - t) as f64 / (365.25 * 86_400.0)).max(0.0)))
            .sum::<f64>()
            + 0.0; // an empty f64 sum is −0, printed `-0.000000`
        let sexp = earlier
            .iter()
            .filter(|(_, s)| !s.is_disjoint(&subsystems))
            .count() as f64;
        out.push(CommitMetrics {
            sha: c.sha.clone(),
            time: c.time,
            author: c.author.clone(),
            ns: subsystems.len() as f64,
            nd: dirs.len() as f64,
            nf: c.files.len() as f64,
            entropy,
            la: la as f64,
            ld: ld as f64,
            lt: lt as f64,
            fix: if is_fix(&c.subject) { 1.0 } else { 0.0 },
            ndev: devs.len() as f64,
            age: (!ages.is_empty()).then(|| ages.iter().sum::<f64>() / ages.len() as f64),
            nuc: prior.len() as f64,
            exp: earlier.len() as f64,
            rexp,
            sexp,
        });
        for (path, a, d) in &c.files {
            let s = files.entry(path.clone()).or_default();
            s.lines += *a as i64 - *d as i64;
            s.last_change = Some(c.time);
            s.authors.insert(c.author.clone());
            s.commits.insert(idx);
        }
        by_author
            .entry(c.author.clone())
            .or_default()
            .push((c.time, subsystems));
    }
    out
}

/// The metrics of the commits of `range` (a git revision range such as
/// `v1.0..HEAD`; default every commit reachable from `HEAD`) in `repo`,
/// oldest first. History before the range counts (experience, file ages).
pub fn repo_metrics(repo: &Path, range: Option<&str>) -> Result<Vec<CommitMetrics>, GitError> {
    let run = |args: &[&str]| -> Result<String, GitError> {
        let err = |message: String| GitError::Run {
            repo: repo.display().to_string(),
            message,
        };
        // `core.quotepath=false`: a non-ASCII path (`src/é/a.rs`) comes out
        // as itself, not quoted in octal (`"src/\303\251/a.rs"`).
        let out = Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(["-c", "core.quotepath=false"])
            .args(args)
            .output()
            .map_err(|e| err(e.to_string()))?;
        if !out.status.success() {
            return Err(err(String::from_utf8_lossy(&out.stderr).trim().to_string()));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let range = range.unwrap_or("HEAD");
    if range.starts_with('-') {
        return Err(GitError::Run {
            repo: repo.display().to_string(),
            message: format!("`{range}` is not a revision range"),
        });
    }
    // the tip the history is walked from: what follows `..` (or the range itself)
    let tip = match range.split_once("..") {
        Some((_, t)) => t.trim_start_matches('.'),
        None => range,
    };
    let tip = if tip.is_empty() { "HEAD" } else { tip };
    let wanted: HashSet<String> = run(&["rev-list", "--no-merges", range, "--"])?
        .lines()
        .map(str::to_string)
        .collect();
    let log = parse_log(&run(&[
        "log",
        "--reverse",
        "--no-merges",
        "--no-renames",
        "--numstat",
        LOG_FORMAT,
        tip,
        "--",
    ])?)?;
    Ok(metrics(&log)
        .into_iter()
        .filter(|m| wanted.contains(&m.sha))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(
        sha: &str,
        day: i64,
        author: &str,
        subject: &str,
        files: &[(&str, u64, u64)],
    ) -> LogCommit {
        LogCommit {
            sha: sha.into(),
            time: day * 86_400,
            author: author.into(),
            subject: subject.into(),
            files: files
                .iter()
                .map(|(p, a, d)| (p.to_string(), *a, *d))
                .collect(),
        }
    }

    #[test]
    fn parses_git_log_numstat() {
        let text = "\u{1e}abc\u{1f}100\u{1f}a@x\u{1f}Fix crash\n\n3\t1\tsrc/a.rs\n-\t-\timg.png\n\u{1e}def\u{1f}200\u{1f}b@x\u{1f}empty\n";
        let log = parse_log(text).unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(
            log[0].files,
            vec![("src/a.rs".into(), 3, 1), ("img.png".into(), 0, 0)]
        );
        assert!(log[1].files.is_empty());
        let e = parse_log("\u{1e}abc\u{1f}x\u{1f}a\u{1f}s\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "git log output, commit 1: `x` is not Unix seconds"
        );
    }

    #[test]
    fn kamei_metrics_by_hand() {
        let log = vec![
            commit(
                "c1",
                0,
                "ann",
                "initial",
                &[("core/a.rs", 10, 0), ("core/b.rs", 5, 0)],
            ),
            commit(
                "c2",
                10,
                "bob",
                "Fix overflow",
                &[("core/a.rs", 2, 3), ("web/ui/x.js", 4, 0)],
            ),
            commit(
                "c3",
                375,
                "ann",
                "refactor",
                &[
                    ("core/a.rs", 1, 1),
                    ("core/b.rs", 0, 2),
                    ("web/ui/x.js", 1, 0),
                ],
            ),
        ];
        let m = metrics(&log);
        // c1: everything new
        assert_eq!(
            (m[0].ns, m[0].nd, m[0].nf, m[0].la, m[0].ld, m[0].lt),
            (1.0, 1.0, 2.0, 15.0, 0.0, 0.0)
        );
        let e1 =
            -(10.0f64 / 15.0) * (10.0f64 / 15.0).log2() - (5.0f64 / 15.0) * (5.0f64 / 15.0).log2();
        assert!((m[0].entropy - e1).abs() < 1e-12);
        assert_eq!(
            (m[0].ndev, m[0].nuc, m[0].exp, m[0].age),
            (0.0, 0.0, 0.0, None)
        );
        // c2: a.rs has 10 lines, last changed 10 days ago by ann in c1; x.js is new
        let c2 = &m[1];
        assert_eq!(
            (c2.ns, c2.nd, c2.nf, c2.la, c2.ld, c2.lt, c2.fix),
            (2.0, 2.0, 2.0, 6.0, 3.0, 10.0, 1.0)
        );
        let e2 = -(5.0f64 / 9.0) * (5.0f64 / 9.0).log2() - (4.0f64 / 9.0) * (4.0f64 / 9.0).log2();
        assert!((c2.entropy - e2).abs() < 1e-12);
        assert_eq!((c2.ndev, c2.nuc, c2.age), (1.0, 1.0, Some(10.0)));
        assert_eq!((c2.exp, c2.rexp, c2.sexp), (0.0, 0.0, 0.0));
        // Zero, not −0 (which `risk features` would print as `-0.000000`).
        assert_eq!(format!("{:.6}", m[0].rexp), "0.000000");
        // c3 (ann, day 375): a.rs 9 lines (c1, c2; last day 10), b.rs 5 (c1; day 0), x.js 4 (c2; day 10)
        let c3 = &m[2];
        assert_eq!(
            (c3.ns, c3.nd, c3.nf, c3.lt, c3.fix),
            (2.0, 2.0, 3.0, 18.0, 0.0)
        );
        assert_eq!((c3.ndev, c3.nuc), (2.0, 2.0));
        let age = (365.0 + 375.0 + 365.0) / 3.0;
        assert!((c3.age.unwrap() - age).abs() < 1e-12);
        // ann's one earlier commit, 375 days ago, touching `core`
        assert_eq!((c3.exp, c3.sexp), (1.0, 1.0));
        let rexp = 1.0 / (1.0 + 375.0 / 365.25);
        assert!((c3.rexp - rexp).abs() < 1e-12);
    }

    #[test]
    fn fix_words() {
        assert!(is_fix("Fixes #12"));
        assert!(is_fix("bugfix: x"));
        assert!(is_fix("[PATCH] y"));
        assert!(!is_fix("prefix handling"));
    }

    #[test]
    fn a_first_one_file_commit_has_zeros_not_negative_zeros() {
        let m = metrics(&[commit("c1", 0, "ann", "init", &[("a.rs", 3, 0)])]);
        let text = format!("{:.6},{:.6}", m[0].entropy, m[0].rexp);
        assert_eq!(text, "0.000000,0.000000");
    }
}
