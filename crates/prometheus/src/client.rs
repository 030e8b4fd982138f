//! A small client of Prometheus' HTTP API: range queries only.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

/// Errors reading Prometheus, each naming the server and what went wrong.
#[derive(Debug, thiserror::Error)]
pub enum PromError {
    #[error("invalid Prometheus URL `{url}`: {message}")]
    BadUrl { url: String, message: String },
    /// No answer at all: refused, timed out, DNS.
    #[error("Prometheus at `{url}` is unreachable: {message}")]
    Unreachable { url: String, message: String },
    /// An answer that is not a success (Prometheus' own error when it gave one).
    #[error("Prometheus at `{url}` answered HTTP {status} to `{query}`: {message}")]
    Status {
        url: String,
        status: u16,
        query: String,
        message: String,
    },
    #[error("Prometheus at `{url}` sent an answer Bearing cannot read for `{query}`: {message}")]
    Invalid {
        url: String,
        query: String,
        message: String,
    },
    /// A query that should give one series gave several.
    #[error(
        "`{query}` returned {count} series ({labels}); expected one: aggregate it, e.g. `sum(...)`"
    )]
    SeveralSeries {
        query: String,
        count: usize,
        labels: String,
    },
}

/// One series of a range query: its labels and `(unix seconds, value)` samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub values: Vec<(f64, f64)>,
}

impl Series {
    /// The labels as PromQL writes them: `{job="a", code="500"}`.
    pub fn labels_text(&self) -> String {
        let inner: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        format!("{{{}}}", inner.join(", "))
    }
}

/// Prometheus at one base URL.
#[derive(Clone)]
pub struct Client {
    base: url::Url,
    agent: ureq::Agent,
}

/// How long one request may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(30);

impl Client {
    /// A client of the Prometheus at `url` (its base, e.g. `http://prometheus:9090`).
    pub fn new(url: &str, timeout: Duration) -> Result<Client, PromError> {
        let bad = |message: String| PromError::BadUrl {
            url: url.to_string(),
            message,
        };
        let mut base = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || !base.has_host() {
            return Err(bad(
                "expected an http(s) URL, e.g. `http://prometheus:9090`".into(),
            ));
        }
        // A base with a path prefix (`http://h/prometheus`) keeps it.
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Client { base, agent })
    }

    /// The base URL as given (without the added trailing `/`).
    pub fn url(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// `query` evaluated at `start`, `start + step`, … up to `end` (unix
    /// seconds): every series returned, samples in time order.
    pub fn query_range(
        &self,
        query: &str,
        start: f64,
        end: f64,
        step: f64,
    ) -> Result<Vec<Series>, PromError> {
        let mut endpoint = self
            .base
            .join("api/v1/query_range")
            .map_err(|e| PromError::BadUrl {
                url: self.url().to_string(),
                message: e.to_string(),
            })?;
        endpoint
            .query_pairs_mut()
            .append_pair("query", query)
            .append_pair("start", &start.to_string())
            .append_pair("end", &end.to_string())
            .append_pair("step", &step.to_string());
        let url = self.url().to_string();
        let mut resp =
            self.agent
                .get(endpoint.as_str())
                .call()
                .map_err(|e| PromError::Unreachable {
                    url: url.clone(),
                    message: e.to_string(),
                })?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(256 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| PromError::Unreachable {
                url: url.clone(),
                message: format!("reading the answer: {e}"),
            })?;
        let answer: Result<Answer, _> = serde_json::from_str(&text);
        if !(200..300).contains(&status) {
            let message = match &answer {
                Ok(Answer {
                    error: Some(e),
                    error_type,
                    ..
                }) => match error_type {
                    Some(t) => format!("{t}: {e}"),
                    None => e.clone(),
                },
                _ => snippet(&text),
            };
            return Err(PromError::Status {
                url,
                status,
                query: query.to_string(),
                message,
            });
        }
        let invalid = |message: String| PromError::Invalid {
            url: url.clone(),
            query: query.to_string(),
            message,
        };
        let answer = answer.map_err(|e| invalid(format!("{e}: {}", snippet(&text))))?;
        if answer.status != "success" {
            return Err(invalid(format!(
                "status `{}`: {}",
                answer.status,
                answer.error.unwrap_or_default()
            )));
        }
        let data = answer.data.ok_or_else(|| invalid("no `data`".into()))?;
        if data.result_type != "matrix" {
            return Err(invalid(format!(
                "result type `{}`; expected `matrix`",
                data.result_type
            )));
        }
        data.result
            .into_iter()
            .map(|s| {
                let values = s
                    .values
                    .into_iter()
                    .map(|(t, v)| {
                        parse_value(&v)
                            .map(|v| (t, v))
                            .ok_or_else(|| invalid(format!("sample value `{v}` is not a number")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Series {
                    labels: s.metric,
                    values,
                })
            })
            .collect()
    }
}

impl Client {
    /// Every finite value of every series `query` returns over
    /// `[end - range, end]` at `step` (seconds), pooled: the samples a canary
    /// judge compares (each pod's series adds its values).
    pub fn samples(
        &self,
        query: &str,
        end: f64,
        range: f64,
        step: f64,
    ) -> Result<Vec<f64>, PromError> {
        let series = self.query_range(query, end - range, end, step)?;
        Ok(series
            .into_iter()
            .flat_map(|s| s.values)
            .map(|(_, v)| v)
            .filter(|v| v.is_finite())
            .collect())
    }
}

/// Prometheus writes sample values as text: numbers, `NaN`, `+Inf`, `-Inf`.
fn parse_value(v: &str) -> Option<f64> {
    match v {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => v.parse().ok(),
    }
}

/// The start of an answer, for error messages.
fn snippet(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_string(),
    }
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    data: Option<Data>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<RawSeries>,
}

#[derive(Deserialize)]
struct RawSeries {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    values: Vec<(f64, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_as_prometheus_writes_them() {
        assert_eq!(parse_value("1.5"), Some(1.5));
        assert_eq!(parse_value("+Inf"), Some(f64::INFINITY));
        assert!(parse_value("NaN").is_some_and(f64::is_nan));
        assert_eq!(parse_value("x"), None);
    }

    #[test]
    fn urls_must_be_http() {
        assert!(matches!(
            Client::new("ftp://p", TIMEOUT),
            Err(PromError::BadUrl { .. })
        ));
        assert!(matches!(
            Client::new("p:9090", TIMEOUT),
            Err(PromError::BadUrl { .. })
        ));
        let c = Client::new("http://p:9090/prom", TIMEOUT).unwrap();
        assert_eq!(c.url(), "http://p:9090/prom");
    }

    #[test]
    fn labels_print_as_promql() {
        let s = Series {
            labels: [("code".to_string(), "500".to_string())].into(),
            values: vec![],
        };
        assert_eq!(s.labels_text(), r#"{code="500"}"#);
    }
}
