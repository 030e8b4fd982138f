//! A small client of GitHub's REST API for `bearing sync github`: GET with
//! a token, conditional requests (`If-None-Match`, 304), pagination (the
//! `Link` header's `rel="next"`) and rate limits (403/429 answered by
//! waiting for `retry-after` or `x-ratelimit-reset`, up to a cap).

use std::time::Duration;

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// How many times one request waits for a rate limit before giving up.
const MAX_RATE_LIMIT_WAITS: u32 = 5;
/// The wait for a secondary rate limit that names no time (GitHub's advice:
/// at least a minute).
const SECONDARY_WAIT: Duration = Duration::from_secs(60);

pub struct Client {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
    max_wait: Duration,
    /// Requests sent, and how many of them were answered 304.
    pub requests: u64,
    pub not_modified: u64,
}

/// One answer to a GET.
pub enum Answer {
    /// 304: unchanged since the ETag sent.
    NotModified,
    Page {
        body: Value,
        etag: Option<String>,
        next: Option<String>,
    },
}

/// A listing read page by page.
pub enum Listing {
    /// The first page is unchanged since the ETag sent.
    NotModified,
    /// The items read, and the ETag of the first page.
    Items {
        items: Vec<Value>,
        etag: Option<String>,
    },
}

impl Client {
    /// `base` is the API root (`https://api.github.com`, or a GitHub
    /// Enterprise Server's `https://HOST/api/v3`).
    pub fn new(base: &str, token: Option<String>, max_wait: Duration) -> Client {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .user_agent(concat!("bearing/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client {
            agent,
            base: base.trim_end_matches('/').to_owned(),
            token: token.filter(|t| !t.trim().is_empty()),
            max_wait,
            requests: 0,
            not_modified: 0,
        }
    }

    /// GET `path` (below the API root, or an absolute URL from a `Link`
    /// header), sending `etag` as `If-None-Match`; waits out rate limits.
    pub fn get(&mut self, path: &str, etag: Option<&str>) -> anyhow::Result<Answer> {
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let mut waits = 0;
        loop {
            let mut req = self
                .agent
                .get(&url)
                .header("accept", "application/vnd.github+json")
                .header("x-github-api-version", "2022-11-28");
            if let Some(t) = &self.token {
                req = req.header("authorization", &format!("Bearer {}", t.trim()));
            }
            if let Some(e) = etag {
                req = req.header("if-none-match", e);
            }
            self.requests += 1;
            let mut resp = req.call().with_context(|| format!("GET {url}"))?;
            let status = resp.status().as_u16();
            let header = |name: &str| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let etag_out = header("etag");
            let next = header("link").and_then(|l| next_link(&l));
            let retry_after = header("retry-after");
            let remaining = header("x-ratelimit-remaining");
            let reset = header("x-ratelimit-reset");
            if status == 304 {
                self.not_modified += 1;
                return Ok(Answer::NotModified);
            }
            let text = resp
                .body_mut()
                .with_config()
                .limit(64 << 20)
                .read_to_string()
                .with_context(|| format!("reading the answer to GET {url}"))?;
            if (200..300).contains(&status) {
                let body = serde_json::from_str(&text)
                    .with_context(|| format!("GET {url}: the answer is not JSON"))?;
                return Ok(Answer::Page {
                    body,
                    etag: etag_out,
                    next,
                });
            }
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| text.trim().chars().take(200).collect());
            if status == 403 || status == 429 {
                let now = Utc::now();
                let limit = rate_limit_wait(
                    retry_after.as_deref(),
                    remaining.as_deref(),
                    reset.as_deref(),
                    &message,
                    now,
                );
                if let Some(wait) = limit {
                    let until = now + chrono::Duration::from_std(wait).unwrap_or_default();
                    if wait > self.max_wait {
                        bail!(
                            "GitHub's rate limit is used up until {} ({} from now), longer than `--max-wait` {}: run the sync again then (it resumes where it stopped), or raise `--max-wait`",
                            until.format("%Y-%m-%d %H:%M:%S UTC"),
                            human(wait),
                            human(self.max_wait)
                        );
                    }
                    if waits >= MAX_RATE_LIMIT_WAITS {
                        bail!("GET {url}: still rate limited after {waits} waits: {message}");
                    }
                    waits += 1;
                    eprintln!(
                        "waiting {} for GitHub's rate limit (until {})",
                        human(wait),
                        until.format("%H:%M:%S UTC")
                    );
                    std::thread::sleep(wait);
                    continue;
                }
            }
            let hint = match status {
                401 => ": the token is missing, wrong or expired (`--token` or `GITHUB_TOKEN`)",
                403 | 404 => {
                    ": check `--repo`, and that the token can read the repository's contents, deployments, actions and issues"
                }
                _ => "",
            };
            bail!("GET {url}: GitHub answered {status}: {message}{hint}");
        }
    }

    /// GET one object.
    pub fn object(&mut self, path: &str) -> anyhow::Result<Value> {
        match self.get(path, None)? {
            Answer::Page { body, .. } => Ok(body),
            Answer::NotModified => bail!("GET {path}: unexpected 304 Not Modified"),
        }
    }

    /// Reads a listing from `path` page by page: the items are the answer
    /// (an array) or its `key` member. Stops at the first item `stop`
    /// refuses (not kept) and at the last page. `etag` is sent with the
    /// first page only.
    pub fn list(
        &mut self,
        path: &str,
        key: Option<&str>,
        etag: Option<&str>,
        mut stop: impl FnMut(&Value) -> bool,
    ) -> anyhow::Result<Listing> {
        let mut items = Vec::new();
        let mut first_etag = None;
        let mut url = Some(path.to_owned());
        let mut first = true;
        while let Some(u) = url.take() {
            let (body, etag_out, next) = match self.get(&u, if first { etag } else { None })? {
                Answer::NotModified if first => return Ok(Listing::NotModified),
                Answer::NotModified => bail!("GET {u}: unexpected 304 Not Modified"),
                Answer::Page { body, etag, next } => (body, etag, next),
            };
            if first {
                first_etag = etag_out;
                first = false;
            }
            let page = match key {
                Some(k) => body.get(k).cloned().unwrap_or(Value::Null),
                None => body,
            };
            let Value::Array(page) = page else {
                bail!(
                    "GET {u}: expected {}, found something else",
                    key.map_or("a JSON array".to_owned(), |k| format!(
                        "`{k}`, a JSON array"
                    ))
                );
            };
            for item in page {
                if stop(&item) {
                    return Ok(Listing::Items {
                        items,
                        etag: first_etag,
                    });
                }
                items.push(item);
            }
            url = next;
        }
        Ok(Listing::Items {
            items,
            etag: first_etag,
        })
    }

    /// Every item of a listing.
    pub fn list_all(&mut self, path: &str, key: Option<&str>) -> anyhow::Result<Vec<Value>> {
        match self.list(path, key, None, |_| false)? {
            Listing::Items { items, .. } => Ok(items),
            Listing::NotModified => Ok(Vec::new()),
        }
    }
}

/// The `rel="next"` URL of a `Link` header.
pub fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"));
        let url = url.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| url.to_owned())
    })
}

/// How long to wait before asking again, when a 403/429 is a rate limit:
/// `retry-after` seconds; else until `x-ratelimit-reset` (epoch seconds,
/// plus a second for clock skew) when `x-ratelimit-remaining` is 0; else a
/// minute for a secondary rate limit that names no time. `None` when the
/// answer is not about a rate limit (a permission refused).
pub fn rate_limit_wait(
    retry_after: Option<&str>,
    remaining: Option<&str>,
    reset: Option<&str>,
    message: &str,
    now: DateTime<Utc>,
) -> Option<Duration> {
    if let Some(secs) = retry_after.and_then(|s| s.trim().parse::<u64>().ok()) {
        return Some(Duration::from_secs(secs));
    }
    if remaining.map(str::trim) == Some("0") {
        let reset = reset.and_then(|s| s.trim().parse::<i64>().ok())?;
        let ms = (reset * 1000 - now.timestamp_millis()).max(0) + 1000;
        return Some(Duration::from_millis(u64::try_from(ms).unwrap_or(0)));
    }
    message
        .to_ascii_lowercase()
        .contains("rate limit")
        .then_some(SECONDARY_WAIT)
}

/// `2s`, `15m`, `1h 5m`.
fn human(d: Duration) -> String {
    let s = d.as_secs() + u64::from(d.subsec_millis() >= 500);
    match s {
        0..60 => format!("{s}s"),
        60..3600 if s.is_multiple_of(60) => format!("{}m", s / 60),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        _ if s.is_multiple_of(3600) => format!("{}h", s / 3600),
        _ => format!("{}h {}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next() {
        let link = r#"<https://api.github.com/repositories/1/deployments?page=2>; rel="next", <https://api.github.com/repositories/1/deployments?page=5>; rel="last""#;
        assert_eq!(
            next_link(link).as_deref(),
            Some("https://api.github.com/repositories/1/deployments?page=2")
        );
        let last = r#"<https://api.github.com/x?page=1>; rel="prev", <https://api.github.com/x?page=1>; rel="first""#;
        assert_eq!(next_link(last), None);
    }

    #[test]
    fn rate_limit_waits() {
        let now = DateTime::from_timestamp(1_000, 0).unwrap_or_default();
        assert_eq!(
            rate_limit_wait(Some("30"), Some("10"), None, "", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            rate_limit_wait(
                None,
                Some("0"),
                Some("1002"),
                "API rate limit exceeded",
                now
            ),
            Some(Duration::from_secs(3))
        );
        // A reset already past: only the second for clock skew.
        assert_eq!(
            rate_limit_wait(None, Some("0"), Some("990"), "", now),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            rate_limit_wait(
                None,
                Some("4000"),
                None,
                "You have exceeded a secondary rate limit",
                now
            ),
            Some(SECONDARY_WAIT)
        );
        assert_eq!(
            rate_limit_wait(
                None,
                Some("4000"),
                None,
                "Resource not accessible by integration",
                now
            ),
            None
        );
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_millis(2400)), "2s");
        assert_eq!(human(Duration::from_secs(900)), "15m");
        assert_eq!(human(Duration::from_secs(2530)), "42m 10s");
        assert_eq!(human(Duration::from_secs(3900)), "1h 5m");
    }
}
