//! Durations and timestamps from HTTP clients are bounded: `?window=` on the
//! metric, explain and scorecard endpoints, and event times posted to
//! `/v1/events` and `/v1/webhooks/github`. Each answer is the right one
//! (`window_seconds` exact, `from` = `to` - window) or a 4xx with the
//! documented error body naming the value; never a panic, never a 500.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bearing_server::{AuthMode, Options};
use chrono::DateTime;
use proptest::prelude::*;

use crate::harness::{Reply, assert_error, get, post, send, server, server_with};

const MAX_SECS: u128 = 36_500 * 86_400;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A count near a boundary or anywhere, with a unit: `(text, exact seconds)`.
fn duration() -> impl Strategy<Value = (String, u128)> {
    let n = prop_oneof![
        Just(0u64),
        any::<u64>(),
        0u64..100,
        36_495u64..36_505,
        52_559_995u64..52_560_005,
        3_153_599_995u64..3_153_600_005,
    ];
    let unit = proptest::sample::select(vec![
        ("s", 1u64),
        ("m", 60),
        ("h", 3_600),
        ("d", 86_400),
        ("w", 604_800),
    ]);
    (n, unit).prop_map(|(n, (u, m))| (format!("{n}{u}"), u128::from(n) * u128::from(m)))
}

fn check_window(r: &Reply, text: &str, secs: u128, path: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        r.status != StatusCode::INTERNAL_SERVER_ERROR,
        "{}: {}",
        path,
        r.text
    );
    if secs == 0 {
        prop_assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}: {}", path, r.text);
    } else if secs <= MAX_SECS {
        prop_assert_eq!(r.status, StatusCode::OK, "{}: {}", path, r.text);
        let v = r.json();
        if path == "/v1/scorecard" {
            // Every key result over that window, as `bearing report --window`.
            let window = v["filter"]["window"].as_str().unwrap_or_default();
            let parsed = window.parse::<bearing_intent::Duration>();
            prop_assert_eq!(parsed.map(|d| u128::from(d.as_secs())), Ok(secs));
            for o in v["objectives"].as_array().unwrap() {
                for k in o["key_results"].as_array().unwrap() {
                    prop_assert_eq!(k["window_seconds"].as_u64().map(u128::from), Some(secs));
                }
            }
        }
        if path.starts_with("/v1/explain/") {
            prop_assert_eq!(v["window_seconds"].as_u64().map(u128::from), Some(secs));
            let at = |k: &str| DateTime::parse_from_rfc3339(v[k].as_str().unwrap()).unwrap();
            prop_assert_eq!((at("to") - at("from")).num_seconds() as u128, secs);
        }
    } else {
        prop_assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}: {}", path, r.text);
        let v = r.json();
        prop_assert_eq!(&v["error"]["code"], "bad_request");
        let m = v["error"]["message"].as_str().unwrap();
        let want = format!(
            "invalid `window`: duration `{text}` is too long; expected at most `36500d` (100 years)"
        );
        prop_assert_eq!(m, want.as_str());
    }
    Ok(())
}

#[test]
fn the_window_query_parameter_is_exact_or_refused() {
    let rt = rt();
    let s = rt.block_on(server(AuthMode::Off));
    // The reported reproduction: a read request with a huge window.
    let r = rt.block_on(send(
        &s.state,
        get("/v1/explain/dora.lead_time.p50?window=999999999999d", None),
    ));
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 128,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &(
                duration(),
                proptest::sample::select(vec![
                    "/v1/explain/dora.deployment_frequency",
                    "/v1/explain/slo.burn_rate",
                    "/v1/metrics/dora.lead_time.p50",
                    "/v1/metrics/cost.anomalies",
                    "/v1/scorecard",
                ]),
            ),
            |((text, secs), path)| {
                let r = rt.block_on(send(
                    &s.state,
                    get(&format!("{path}?service=checkout&window={text}"), None),
                ));
                check_window(&r, &text, secs, path)
            },
        )
        .unwrap();
}

/// Times at and around the ends of the range, and forms that are not times.
fn time() -> impl Strategy<Value = String> {
    prop_oneof![
        (1968u32..1972, 1u32..=12, 1u32..=28, any::<bool>()).prop_map(|(y, m, d, z)| {
            format!(
                "{y:04}-{m:02}-{d:02}T00:30:00{}",
                if z { "Z" } else { "+01:00" }
            )
        }),
        (9998u32..=9999, 1u32..=12, 1u32..=31, any::<bool>()).prop_map(|(y, m, d, z)| {
            format!(
                "{y:04}-{m:02}-{d:02}T23:30:00{}",
                if z { "Z" } else { "-01:00" }
            )
        }),
        (0u32..=9999).prop_map(|y| format!("{y:04}-06-15T12:00:00Z")),
        any::<i64>().prop_map(|n| n.to_string()),
        (-300_000i32..300_000).prop_map(|y| format!("{y:+}-06-15T12:00:00Z")),
    ]
}

/// The exact UTC instant if `s` is RFC 3339, in range or not.
fn parsed(s: &str) -> Option<DateTime<chrono::Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

fn in_range(t: DateTime<chrono::Utc>) -> bool {
    (1970..=9999).contains(&chrono::Datelike::year(&t))
}

fn check_ingest(
    r: &Reply,
    time: &str,
    stored_before: usize,
    stored_after: usize,
) -> Result<(), TestCaseError> {
    prop_assert!(r.status != StatusCode::INTERNAL_SERVER_ERROR, "{}", r.text);
    match parsed(time) {
        Some(t) if in_range(t) => {
            prop_assert!(r.status.is_success(), "`{}`: {}", time, r.text);
            prop_assert_eq!(stored_after, stored_before + 1);
        }
        other => {
            prop_assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "`{}`: {}",
                time,
                r.text
            );
            let m = r.json()["error"]["message"].as_str().unwrap().to_owned();
            let want = if other.is_some() {
                format!(
                    "timestamp `{time}` is out of range; expected a time from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z"
                )
            } else {
                format!("found `{time}`")
            };
            prop_assert!(m.contains(&want), "`{}`: {}", time, m);
            prop_assert_eq!(stored_after, stored_before, "nothing is stored");
        }
    }
    Ok(())
}

#[test]
fn event_times_posted_are_stored_exactly_or_refused_whole() {
    let rt = rt();
    let options = Options {
        github_secret: Some("s3cret".into()),
        ..Options::default()
    };
    let s = rt.block_on(server_with(AuthMode::Off, crate::harness::INTENT, options));
    let count = |rt: &tokio::runtime::Runtime| {
        rt.block_on(s.store.events(&bearing_store::EventQuery::default()))
            .unwrap()
            .len()
    };
    let next = std::cell::Cell::new(0u64);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 96,
        ..ProptestConfig::default()
    });
    runner
        .run(&(time(), any::<bool>()), |(time, webhook)| {
            next.set(next.get() + 1);
            let n = next.get();
            let before = count(&rt);
            let r = if webhook {
                let body = format!(
                    r#"{{"ref":"refs/heads/main","after":"sha{n}","repository":{{"id":1,"name":"checkout","full_name":"acme/checkout","default_branch":"main"}},"pusher":{{"name":"a"}},"head_commit":{{"id":"sha{n}","timestamp":"{time}"}},"commits":[{{"id":"sha{n}","timestamp":"{time}"}}]}}"#
                );
                let req = Request::post("/v1/webhooks/github")
                    .header("content-type", "application/json")
                    .header("x-github-event", "push")
                    .header("x-github-delivery", format!("delivery-{n}"))
                    .header(
                        "x-hub-signature-256",
                        bearing_events::github::sign(b"s3cret", body.as_bytes()),
                    )
                    .body(Body::from(body))
                    .unwrap();
                rt.block_on(send(&s.state, req))
            } else {
                let body = format!(
                    "{{\"id\":\"e{n}\",\"source\":\"t\",\"time\":\"{time}\",\"kind\":\"metric_point\",\"service\":\"checkout\",\"data\":{{\"name\":\"rps\",\"value\":1}}}}\n"
                );
                rt.block_on(send(
                    &s.state,
                    post("/v1/events", None, "application/x-ndjson", body),
                ))
            };
            check_ingest(&r, &time, before, count(&rt))
        })
        .unwrap();
}
