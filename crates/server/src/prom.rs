//! The server's own counters and the Prometheus text exposition at `/metrics`.
//!
//! Kept dependency-free: per-route request counts by status class and a
//! latency histogram, decisions by result, ingested events by outcome. The
//! hot path only touches atomics (a read lock finds the route's cell).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Latency histogram bucket bounds in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
struct RouteStats {
    /// By status class 1xx..5xx (index 0..=4).
    by_class: [AtomicU64; 5],
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// Counters of one server process.
#[derive(Default)]
pub struct Telemetry {
    /// By method, then route template.
    routes: RwLock<BTreeMap<String, BTreeMap<String, std::sync::Arc<RouteStats>>>>,
    decisions: RwLock<BTreeMap<String, std::sync::Arc<AtomicU64>>>,
    pub ingest_accepted: AtomicU64,
    pub ingest_duplicates: AtomicU64,
    pub ingest_rejected: AtomicU64,
    /// Ingest requests answered 503 because the bus did not take their events.
    pub ingest_bus_refused: AtomicU64,
    pub decision_log_dropped: AtomicU64,
    pub decision_log_waited: AtomicU64,
    pub decision_log_written: AtomicU64,
    pub decision_log_rate_limited: AtomicU64,
    pub snapshot_refreshes: AtomicU64,
    pub snapshot_errors: AtomicU64,
    /// Evaluations run on the evaluation pool (heavy decisions, the data API).
    pub evaluations_pooled: AtomicU64,
    /// Evaluations refused because the pool's queue was full (503).
    pub evaluations_rejected: AtomicU64,
    /// Connections refused because `--max-connections` were open (503).
    pub connections_refused: AtomicU64,
}

impl Telemetry {
    /// Records one request on a route template (`/v1/decisions/{id}`, not the raw path).
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let cell = self
            .routes
            .read()
            .ok()
            .and_then(|m| m.get(method)?.get(route).cloned());
        let cell = match cell {
            Some(c) => c,
            None => match self.routes.write() {
                Ok(mut m) => m
                    .entry(method.to_string())
                    .or_default()
                    .entry(route.to_string())
                    .or_default()
                    .clone(),
                Err(_) => return,
            },
        };
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        cell.by_class[class].fetch_add(1, Ordering::Relaxed);
        // One counter per request: the smallest bucket it fits; `render` sums
        // them into Prometheus' cumulative buckets.
        let secs = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            cell.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        cell.count.fetch_add(1, Ordering::Relaxed);
        cell.sum_micros.fetch_add(
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    pub fn decision(&self, result: &str) {
        let cell = self
            .decisions
            .read()
            .ok()
            .and_then(|m| m.get(result).cloned());
        let cell = match cell {
            Some(c) => c,
            None => match self.decisions.write() {
                Ok(mut m) => m.entry(result.to_string()).or_default().clone(),
                Err(_) => return,
            },
        };
        cell.fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition text; `gauges` are extra lines (scorecard values) appended as is.
    pub fn render(&self, extra: &str) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str(
            "# HELP bearing_http_requests_total HTTP requests by route, method and status class.\n",
        );
        out.push_str("# TYPE bearing_http_requests_total counter\n");
        let routes: Vec<_> = self
            .routes
            .read()
            .map(|m| {
                m.iter()
                    .flat_map(|(method, routes)| {
                        routes
                            .iter()
                            .map(|(route, s)| ((method.clone(), route.clone()), s.clone()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        for ((method, route), s) in &routes {
            for (i, c) in s.by_class.iter().enumerate() {
                let n = c.load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "bearing_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{}xx\"}} {n}",
                        escape(route),
                        i + 1
                    );
                }
            }
        }
        out.push_str(
            "# HELP bearing_http_request_duration_seconds HTTP request latency by route.\n",
        );
        out.push_str("# TYPE bearing_http_request_duration_seconds histogram\n");
        for ((method, route), s) in &routes {
            let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
            let mut cumulative = 0;
            for (i, b) in BUCKETS.iter().enumerate() {
                cumulative += s.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "bearing_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {cumulative}"
                );
            }
            let count = s.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "bearing_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "bearing_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "bearing_http_request_duration_seconds_count{{{labels}}} {count}"
            );
        }
        out.push_str("# HELP bearing_decisions_total Guardrail decisions by result.\n");
        out.push_str("# TYPE bearing_decisions_total counter\n");
        if let Ok(m) = self.decisions.read() {
            for (result, n) in m.iter() {
                let _ = writeln!(
                    out,
                    "bearing_decisions_total{{result=\"{}\"}} {}",
                    escape(result),
                    n.load(Ordering::Relaxed)
                );
            }
        }
        out.push_str("# HELP bearing_ingested_events_total Events received by the ingest endpoints, by outcome.\n");
        out.push_str("# TYPE bearing_ingested_events_total counter\n");
        for (outcome, c) in [
            ("accepted", &self.ingest_accepted),
            ("duplicate", &self.ingest_duplicates),
            ("rejected", &self.ingest_rejected),
        ] {
            let _ = writeln!(
                out,
                "bearing_ingested_events_total{{outcome=\"{outcome}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        for (name, help, c) in [
            (
                "bearing_ingest_bus_unavailable_total",
                "Ingest requests answered 503 because the event bus did not take their events.",
                &self.ingest_bus_refused,
            ),
            (
                "bearing_decision_log_written_total",
                "Decisions written to the decision log.",
                &self.decision_log_written,
            ),
            (
                "bearing_decision_log_dropped_total",
                "Decisions not logged because the log queue stayed full past the wait, or the store failed.",
                &self.decision_log_dropped,
            ),
            (
                "bearing_decision_log_waited_total",
                "Decisions whose answer waited for room in the full decision-log queue.",
                &self.decision_log_waited,
            ),
            (
                "bearing_decision_log_rate_limited_total",
                "Decisions not logged because of --decision-log-max-rate.",
                &self.decision_log_rate_limited,
            ),
            (
                "bearing_evaluations_pooled_total",
                "Evaluations run on the evaluation pool (decisions with attachments or custom Rego, large bodies, the OPA data API).",
                &self.evaluations_pooled,
            ),
            (
                "bearing_evaluations_rejected_total",
                "Evaluations refused with 503 because --eval-queue callers already waited for the pool.",
                &self.evaluations_rejected,
            ),
            (
                "bearing_connections_refused_total",
                "Connections answered 503 and closed because --max-connections were open.",
                &self.connections_refused,
            ),
            (
                "bearing_snapshot_refreshes_total",
                "Refreshes of the in-memory outcome snapshot.",
                &self.snapshot_refreshes,
            ),
            (
                "bearing_snapshot_errors_total",
                "Failed refreshes of the in-memory outcome snapshot.",
                &self.snapshot_errors,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", c.load(Ordering::Relaxed));
        }
        out.push_str(extra);
        out
    }
}

/// Escapes a Prometheus label value.
pub fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_counts_match() {
        let t = Telemetry::default();
        t.observe("POST", "/v1/decide", 200, Duration::from_micros(300));
        t.observe("POST", "/v1/decide", 200, Duration::from_millis(3));
        t.observe("POST", "/v1/decide", 422, Duration::from_millis(30));
        t.decision("deny");
        let text = t.render("");
        assert!(text.contains(
            "bearing_http_requests_total{method=\"POST\",route=\"/v1/decide\",status=\"2xx\"} 2"
        ));
        assert!(text.contains("status=\"4xx\"} 1"));
        assert!(text.contains("route=\"/v1/decide\",le=\"0.0005\"} 1"));
        assert!(text.contains("route=\"/v1/decide\",le=\"0.005\"} 2"));
        assert!(text.contains("route=\"/v1/decide\",le=\"+Inf\"} 3"));
        assert!(text.contains("bearing_decisions_total{result=\"deny\"} 1"));
    }
}
