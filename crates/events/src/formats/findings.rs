//! What the scanner adapters share: severity and target normalisation, the scan
//! id, and building finding events.
//!
//! Cross-scanner identity ([`crate::Finding::dedup_key`]) is
//! `(vulnerability, package, target)`, each normalised so that Trivy and Grype
//! reporting the same CVE in the same package of the same image agree:
//!
//! - vulnerability: trimmed, upper-cased (`cve-2021-3712` = `CVE-2021-3712`).
//!   Grype reports some matches under a GHSA id with the CVE as a related
//!   vulnerability; the adapter reports the CVE then (the GHSA stays in `attributes`).
//! - package: lower-cased; a Maven `group:artifact` keeps the artifact only
//!   (Grype names Java packages by artifact id); `_` and `.` become `-` (PyPI
//!   normalisation; harmless elsewhere because both sides get it).
//! - target: the scanned artifact, not a file inside it. An image reference keeps
//!   registry and repository and drops the tag and digest (`docker.io/library/`
//!   is dropped too), so a later scan of a newer tag of the same image is "the
//!   same target" and findings missing from it count as fixed. Trivy's
//!   `alpine:3.10 (alpine 3.10.2)` result targets lose the distro suffix. Paths
//!   are kept as they are.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::model::{Event, Finding, Payload, Severity};

use super::ParseContext;

/// Canonical vulnerability id: trimmed and upper-cased.
pub fn normalize_vulnerability(id: &str) -> String {
    id.trim().to_ascii_uppercase()
}

/// Canonical package name (see the module docs).
pub fn normalize_package(name: &str) -> String {
    let name = name.trim().to_ascii_lowercase();
    let name = match name.rsplit_once(':') {
        Some((_, artifact)) if !artifact.is_empty() => artifact.to_owned(),
        _ => name,
    };
    name.replace(['_', '.'], "-")
}

/// Canonical scan target (see the module docs).
pub fn normalize_target(target: &str) -> String {
    let mut t = target.trim();
    // Trivy: `alpine:3.10 (alpine 3.10.2)`.
    if let Some((head, tail)) = t.rsplit_once(" (")
        && tail.ends_with(')')
        && !head.is_empty()
    {
        t = head.trim_end();
    }
    if !looks_like_image(t) {
        return t.to_owned();
    }
    let no_digest = t.split('@').next().unwrap_or(t);
    // A tag is a `:` after the last `/` (a `:` before it is a registry port).
    let last_slash = no_digest.rfind('/').map_or(0, |i| i + 1);
    let no_tag = match no_digest[last_slash..].find(':') {
        Some(i) => &no_digest[..last_slash + i],
        None => no_digest,
    };
    let lower = no_tag.to_ascii_lowercase();
    for prefix in [
        "docker.io/library/",
        "index.docker.io/library/",
        "docker.io/",
        "index.docker.io/",
    ] {
        if let Some(rest) = lower.strip_prefix(prefix) {
            return rest.to_owned();
        }
    }
    lower
}

/// An image reference, as opposed to a path, URL or archive file.
fn looks_like_image(t: &str) -> bool {
    if t.is_empty()
        || t.contains(' ')
        || t.contains("://")
        || t.starts_with(['/', '.', '~'])
        || t.chars().nth(1) == Some(':')
    {
        return false;
    }
    let lower = t.to_ascii_lowercase();
    let file_like = [
        ".tar", ".tar.gz", ".tgz", ".json", ".lock", ".txt", ".xml", ".yaml", ".yml", ".toml",
        ".mod", ".sum",
    ];
    if file_like.iter().any(|ext| lower.ends_with(ext)) {
        return false;
    }
    // `name:tag`, `name@sha256:…`, `registry/name`: an image; a bare word is left alone.
    t.contains(':') || t.contains('@') || t.contains('/')
}

/// Severity from the words scanners use.
pub(crate) fn severity_word(s: &str) -> Option<Severity> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "critical" => Severity::Critical,
        "high" | "error" => Severity::High,
        "medium" | "moderate" | "warning" => Severity::Medium,
        "low" | "note" => Severity::Low,
        "info" | "informational" | "negligible" | "none" => Severity::Info,
        "unknown" | "" => Severity::Unknown,
        _ => return None,
    })
}

/// Severity from a CVSS score (the SARIF `security-severity` convention).
pub(crate) fn severity_score(score: f64) -> Severity {
    if score >= 9.0 {
        Severity::Critical
    } else if score >= 7.0 {
        Severity::High
    } else if score >= 4.0 {
        Severity::Medium
    } else if score > 0.0 {
        Severity::Low
    } else {
        Severity::Info
    }
}

/// Identifies one scan by its content: a digest of the report and the scanner.
///
/// Not of the scan time: a report without its own timestamp is dated at ingest,
/// and ingesting the same bytes again must give the same ids (duplicates), not
/// a new scan with "new" findings. A report that has a timestamp carries it in
/// its bytes.
pub(crate) fn scan_id(bytes: &[u8], scanner: &str) -> String {
    let bytes = super::strip_bom(bytes);
    super::digest(&[bytes, scanner.as_bytes()])[..16].to_owned()
}

/// Builds the event for the `n`th finding of a scan.
pub(crate) fn event(
    finding: Finding,
    n: usize,
    time: DateTime<Utc>,
    ctx: &ParseContext,
    attributes: Vec<(&str, Value)>,
) -> Event {
    let id = format!("{}:{}:{n}", finding.scanner, finding.scan_id);
    let mut e = Event::new(id, finding.scanner.clone(), time, Payload::Finding(finding));
    e.service.clone_from(&ctx.service);
    e.environment.clone_from(&ctx.environment);
    for (k, v) in attributes {
        if !v.is_null() {
            e.attributes.insert(k.to_owned(), v);
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            normalize_target("vulnerable-image:latest"),
            "vulnerable-image"
        );
        assert_eq!(
            normalize_target("teamdojo:latest (alpine 3.9.4)"),
            "teamdojo"
        );
        assert_eq!(normalize_target("docker.io/library/alpine:3.11"), "alpine");
        assert_eq!(
            normalize_target("localhost:5000/app/web:1.2@sha256:abc"),
            "localhost:5000/app/web"
        );
        assert_eq!(
            normalize_target("anchore/test_images@sha256:10008791"),
            "anchore/test_images"
        );
        assert_eq!(
            normalize_target("cgr.dev/chainguard/ruby:latest-3.0"),
            "cgr.dev/chainguard/ruby"
        );
        assert_eq!(
            normalize_target("testdata/fixtures/images/alpine-310.tar.gz"),
            "testdata/fixtures/images/alpine-310.tar.gz"
        );
        assert_eq!(normalize_target("requirements.txt"), "requirements.txt");
        assert_eq!(normalize_target("."), ".");
        assert_eq!(normalize_target("C:/code/file1.c"), "C:/code/file1.c");
        assert_eq!(normalize_target("/some/path"), "/some/path");
    }

    #[test]
    fn packages_and_ids() {
        assert_eq!(
            normalize_package("com.fasterxml.jackson.core:jackson-databind"),
            "jackson-databind"
        );
        assert_eq!(normalize_package("Werkzeug"), normalize_package("werkzeug"));
        assert_eq!(
            normalize_package("typing_extensions"),
            normalize_package("typing-extensions")
        );
        assert_eq!(normalize_vulnerability(" cve-2021-1 "), "CVE-2021-1");
    }

    #[test]
    fn severities() {
        assert_eq!(severity_score(9.8), Severity::Critical);
        assert_eq!(severity_score(5.3), Severity::Medium);
        assert_eq!(severity_word("Negligible"), Some(Severity::Info));
        assert_eq!(severity_word("bogus"), None);
    }
}
