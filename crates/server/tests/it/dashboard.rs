//! The dashboard on the demo organisation: every page renders, shows what it
//! is about, and draws its charts.

use axum::http::StatusCode;
use bearing_server::{AuthMode, Options};
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn every_page_renders_the_demo() {
    let org = bearing_demo::generate(3, chrono::Utc::now());
    let s = server_with(
        AuthMode::AnonymousRead,
        &org.intent_yaml,
        Options::default(),
    )
    .await;
    for chunk in org.events.chunks(5000) {
        s.store.ingest(chunk).await.unwrap();
    }
    // The demo's threat feeds, as `bearing demo` applies them.
    for bytes in [&org.feeds.kev_older, &org.feeds.epss, &org.feeds.kev_newer] {
        let feed = bearing_events::formats::threat::parse_feed(bytes).unwrap();
        bearing_server::threat::apply(&s.store, feed, chrono::Utc::now())
            .await
            .unwrap();
    }
    s.state.refresh().await.unwrap();
    // The demo's story: reconcile switches payments-api to canary and freezes search, only them.
    s.state.reconcile().await.unwrap();
    let snap = s.state.snapshot();
    let tightened: Vec<(&str, &str, bool)> = snap
        .plans
        .iter()
        .filter(|p| p.freeze || p.strategy != "direct")
        .map(|p| (p.service.as_str(), p.strategy.as_str(), p.freeze))
        .collect();
    assert_eq!(
        tightened,
        vec![
            ("payments-api", "canary", false),
            ("search", "direct", true)
        ]
    );
    let d = s
        .state
        .decide(
            serde_json::from_value(
                json!({"service": "search", "environment": "production", "strategy": "direct"}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let d: serde_json::Value = serde_json::from_slice(&d.json).unwrap();
    s.state.flush_decisions().await;

    let page = |path: &'static str| {
        let state = s.state.clone();
        async move {
            let r = send(&state, get(path, None)).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
            assert!(
                r.headers["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/html")
            );
            r.text
        }
    };
    let home = page("/").await;
    for needle in [
        "Scorecard",
        "Ship to customers every day",
        "Keep cloud spend within budget",
        "No known critical vulnerability",
        "More visitors complete their checkout",
        "<svg",
    ] {
        assert!(home.contains(needle), "scorecard lacks {needle}");
    }
    assert!(
        ["met", "at risk", "off track"]
            .iter()
            .all(|w| home.contains(w)),
        "status words"
    );

    // A key result's explain link carries its filter, and the API applies
    // it: the records are the scorecard's, not every finding past its SLA.
    let start = home
        .find("/v1/explain/security.findings_past_sla?")
        .expect("explain link of the filtered key result");
    let link = home[start..home[start..].find('"').unwrap() + start].replace("&amp;", "&");
    assert!(link.contains("filter=severity%3Dcritical%2Chigh"), "{link}");
    let explained = send(&s.state, get(&link, None)).await;
    assert_eq!(explained.status, StatusCode::OK, "{}", explained.text);
    let filtered = explained.json()["records"].as_array().unwrap().len();
    let kr = snap
        .scorecard
        .objectives
        .iter()
        .flat_map(|o| &o.key_results)
        .find(|k| k.metric == "security.findings_past_sla")
        .unwrap();
    // one record per critical or high finding past its SLA: the figure itself
    assert_eq!(Some(filtered as f64), kr.value, "{link}");
    let unfiltered = link.split("&filter=").next().unwrap().to_string();
    let all = send(&s.state, get(&unfiltered, None)).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    assert!(
        all.json()["records"].as_array().unwrap().len() > filtered,
        "the demo has findings of other severities past their SLA"
    );
    let bad = send(
        &s.state,
        get(
            "/v1/explain/security.findings_past_sla?filter=sev%3Dhigh",
            None,
        ),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);

    let svc = page("/services/payments-api").await;
    assert!(svc.contains("Lead time for changes") && svc.contains("Deployments and incidents"));
    assert!(
        svc.matches("<svg").count() >= 5,
        "charts on the service page"
    );
    assert!(
        svc.contains("INC-PAYMENTS-API"),
        "incidents on the timeline"
    );

    let services = page("/services").await;
    assert!(services.contains("analytics-pipeline") && services.contains("class=\"spark\""));

    let cost = page("/cost").await;
    assert!(
        cost.contains("month-end forecast")
            && cost.contains("recommendations")
            && cost.contains("class=\"budget\"")
    );
    // waste and savings: the idle cost of `search` over 14 days, from the
    // demo's own requests and usage (Σ cost × (request − usage) / request)
    let since = chrono::Utc::now() - chrono::Duration::days(14);
    let idle: f64 = org
        .events
        .iter()
        .filter(|e| e.service.as_deref() == Some("search"))
        .filter_map(|e| match &e.payload {
            bearing_events::Payload::Cost(c) if c.charge_period_start > since => c.usage.as_ref(),
            _ => None,
        })
        .map(|u| {
            let part = |used: f64, req: f64, cost: f64| {
                if req > used {
                    cost * (req - used) / req
                } else {
                    0.0
                }
            };
            part(u.cpu_usage_cores, u.cpu_request_cores, u.cpu_cost)
                + part(u.ram_usage_bytes, u.ram_request_bytes, u.ram_cost)
        })
        .sum();
    assert!(idle > 0.0);
    let dollars = (idle.round() as i64).to_string();
    let grouped: String = dollars
        .chars()
        .enumerate()
        .flat_map(|(i, c)| {
            let sep = i > 0 && (dollars.len() - i).is_multiple_of(3);
            sep.then_some(',').into_iter().chain(std::iter::once(c))
        })
        .collect();
    for needle in [
        "Waste and savings".to_string(),
        "Top rightsizing opportunities".to_string(),
        "Realised vs expected savings".to_string(),
        "/app</td>".to_string(),
        format!(r#"<b>search</b></a></td><td class="num">${grouped}</td>"#),
    ] {
        assert!(cost.contains(&needle), "the cost page lacks {needle}");
    }

    // An accepted pipeline change, measured: saved nothing.
    let accepted = |id: &str, outcome: Option<serde_json::Value>| bearing_events::Action {
        id: format!("pipelines:{id}:20261101T000000Z"),
        created_at: chrono::Utc::now() - chrono::Duration::days(20),
        service: Some("checkout".into()),
        origin: "pipelines".into(),
        summary: "accepted".into(),
        status: bearing_events::ActionStatus::Applied,
        metric: "pipeline.step.duration.p50".into(),
        baseline: Some(190.0),
        evaluate_at: None,
        outcome,
        evidence: json!({
            "target": {"id": id, "kind": "uncached-install", "service": "checkout", "pipeline": "ci"},
            "expected": {"minutes_per_week": 31.7, "money_per_week": 0.25, "lead_time_minutes_per_week": 31.7},
        }),
        change: Some(json!({"kind": "apply", "action": "pipeline", "insight": id})),
    };
    let none = json!({"pipeline": {"realised_minutes_per_week": 0.0, "realised_money_per_week": 0.0,
        "realised_lead_time_minutes_per_week": 0.0, "verdict": "unchanged", "worse": false}});
    s.store
        .put_action(&accepted(
            "uncached-install:checkout:ci:build:Run npm ci",
            Some(none),
        ))
        .await
        .unwrap();
    s.store
        .put_action(&accepted("flaky-job:checkout:ci:integration", None))
        .await
        .unwrap();

    // The demo's CI problems, each named with its job or step.
    let pipelines = page("/pipelines").await;
    for needle in [
        "Accepted changes: realised vs expected savings",
        "uncached-install:checkout:ci:build:Run npm ci",
        "31.7 CI min · $0.25 · 31.7 min waiting",
        "0.0 CI min · $0.00 · 0.0 min waiting",
        "no saving",
        "not measured yet",
    ] {
        assert!(pipelines.contains(needle), "/pipelines lacks {needle}");
    }
    for needle in [
        "job `integration` is flaky",
        "step `Run npm ci` of job `build` takes 3m",
        "p50 with no cache",
        "job `e2e` is",
        "of the critical path of `ci`",
        "p50 for a runner (`self-hosted,linux`)",
        "cancel-in-progress: true",
        "(critical path)",
        "waited",
    ] {
        assert!(pipelines.contains(needle), "/pipelines lacks {needle}");
    }

    // The same report as JSON.
    let r = send(&s.state, get("/v1/pipelines?service=checkout", None)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let v = r.json();
    let flaky = v["insights"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "flaky-job")
        .unwrap_or_else(|| panic!("no flaky job: {v}"));
    assert_eq!(flaky["job"], "integration");
    assert!(flaky["record_count"].as_u64().unwrap() >= 2);
    assert_eq!(v["pipelines"][0]["pipeline"], "ci");
    let r = send(&s.state, get("/v1/pipelines?service=nope", None)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = send(&s.state, get("/v1/pipelines?window=0s", None)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let sec = page("/security").await;
    assert!(
        sec.contains("Findings past SLA") && sec.contains("CVE-"),
        "security table"
    );
    assert!(sec.contains("critical"));

    // The demo's known-exploited CVEs head their internet-facing services'
    // work lists: high 8 × KEV 1 × tier critical 2 × exposure internet 2 = 32,
    // past the KEV SLA of 7 days (open 20 and 27 days) though within a
    // high's 30.
    assert!(sec.contains("Security work list") && sec.contains("CVE-2025-48384"));
    for (service, cve) in [
        ("api-gateway", "CVE-2023-44487"),
        ("web-frontend", "CVE-2025-48384"),
    ] {
        let r = send(
            &s.state,
            get(&format!("/v1/security/priorities?service={service}"), None),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let v = r.json();
        let first = &v["findings"][0];
        assert_eq!(first["cve"], cve, "{service}: {first}");
        assert_eq!(first["priority"], 32.0, "{first}");
        assert_eq!(first["likelihood"], 1.0, "{first}");
        assert_eq!(first["exposure"], "internet", "{first}");
        assert_eq!(first["past_sla"], true, "{first}");
        assert_eq!(first["sla_seconds"], 7 * 86_400, "{first}");
        assert!(first["kev"]["date_added"].is_string(), "{first}");
    }

    let decisions = page("/decisions").await;
    assert!(decisions.contains(d["id"].as_str().unwrap()));
    let plans = page("/plans").await;
    assert!(plans.contains("Delivery plans") && plans.contains("freeze-on-spent-budget"));

    let r = send(&s.state, get("/services/nope", None)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
