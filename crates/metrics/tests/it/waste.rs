//! Waste metrics and the rightsizing rule: a generated utilisation history
//! whose answers are worked out by hand below, and the real OpenCost
//! responses and FOCUS sample of `$BEARING_FIXTURES` (efficiency checked
//! against OpenCost's own `totalEfficiency`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bearing_events::{Format, ParseContext, parse};

use super::usage_history::{MIB, day, history};
use bearing_intent::{Duration, FilterValue, Intent, Scope};
use bearing_metrics::{Dataset, evaluate, explain, rightsizing};
use chrono::{DateTime, TimeZone, Utc};

const INTENT: &str = r#"
version: 1
teams: [{ id: a }]
services:
  - id: web
    team: a
    cost: { match: { tags: { app: web } } }
  - id: billing
    team: a
    cost: { match: { tags: { app: billing } } }
"#;

fn intent(text: &str) -> Intent {
    bearing_intent::load_str(Path::new("bearing.yaml"), text)
        .unwrap()
        .intent
}

fn now() -> DateTime<Utc> {
    day(11)
}

/// `metric` of `service` (the organisation when `None`) over the `days`
/// before `now`, with `filter`.
fn metric_at(
    ds: &Dataset,
    metric: &str,
    service: Option<&str>,
    filter: &[(&str, &str)],
    days: u64,
    at: DateTime<Utc>,
) -> bearing_metrics::MetricValue {
    let scope = Scope {
        service: service.map(str::to_string),
        ..Scope::default()
    };
    let f: BTreeMap<String, FilterValue> = filter
        .iter()
        .map(|(k, v)| (k.to_string(), FilterValue::One(v.to_string())))
        .collect();
    evaluate(ds, metric, &scope, &f, Duration::from_days(days), at)
}

fn value(
    ds: &Dataset,
    metric: &str,
    service: &str,
    filter: &[(&str, &str)],
) -> (Option<f64>, usize) {
    let v = metric_at(ds, metric, Some(service), filter, 30, now());
    (v.value, v.samples)
}

fn close(a: Option<f64>, b: f64) {
    let a = a.expect("a value");
    assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{a} != {b}");
}

#[test]
fn efficiency_idle_and_commitment_by_hand() {
    let intent = intent(INTENT);
    let ds = Dataset::new(&intent, history(), Vec::new(), Vec::new());
    // efficiency = Σ usage/request × cost ÷ Σ cost (requests > 0 only):
    // api CPU Σ (0.1i / 2) × 1.44 = 0.72 × 5.5 = 3.96; memory 9 × 0.25 × 0.384
    // + 0.5 × 0.384 = 1.056; cost 10 × 1.824 = 18.24.
    // worker: 0.01 × 0.36 + (100/1024) × 0.048 = 0.0082875 over 0.408.
    // sidecar: no request, left out.
    let (v, n) = value(&ds, "cost.efficiency", "web", &[]);
    close(v, (3.96 + 1.056 + 0.0082875) / (18.24 + 0.408));
    assert_eq!(n, 11);
    close(
        value(
            &ds,
            "cost.efficiency",
            "web",
            &[("workload", "shop/web/api")],
        )
        .0,
        5.016 / 18.24,
    );
    close(
        value(
            &ds,
            "cost.efficiency",
            "web",
            &[("workload", "shop/web/api"), ("resource", "cpu")],
        )
        .0,
        3.96 / 14.4,
    );
    // idle = Σ cost × (request − usage)/request: api CPU Σ (1.44 − 0.072i) =
    // 14.4 − 3.96 = 10.44, memory 9 × 0.288 + 0.192 = 2.784; worker CPU
    // 0.36 × 0.99 = 0.3564, memory 0.048 × 924/1024 = 0.0433125; sidecar 0.
    let (v, n) = value(&ds, "cost.idle", "web", &[]);
    close(v, 10.44 + 2.784 + 0.3564 + 0.0433125);
    assert_eq!(n, 12);
    close(
        value(&ds, "cost.idle", "web", &[("resource", "memory")]).0,
        2.784 + 0.0433125,
    );
    // commitment: 30 used of 30 + 10
    let (v, n) = value(&ds, "cost.commitment_utilisation", "billing", &[]);
    close(v, 0.75);
    assert_eq!(n, 2);
    // explain traces the rows
    let scope = Scope {
        service: Some("web".into()),
        ..Scope::default()
    };
    let ex = explain(&ds, "cost.idle", &scope, Duration::from_days(30), now());
    assert_eq!(ex.records.len(), 12);
}

#[test]
fn rightsizing_follows_the_rule() {
    let intent = intent(INTENT);
    let ds = Dataset::new(&intent, history(), Vec::new(), Vec::new());
    let scope = Scope {
        service: Some("web".into()),
        ..Scope::default()
    };
    let all = rightsizing(
        &ds,
        &scope,
        &BTreeMap::new(),
        Duration::from_days(30),
        now(),
    );
    assert_eq!(all.len(), 3);
    let get = |w: &str| all.iter().find(|r| r.workload == w).unwrap();
    // api: p95 (nearest rank 10 of 10) of 0.1..1.0 = 1.0 → 1.15 cores;
    // memory peak 2 GiB × 1.15 = 2355.2 MiB → 2356 MiB.
    let api = get("shop/web/api");
    assert!(
        (api.cpu_recommended - 1.15).abs() < 1e-12,
        "{}",
        api.cpu_recommended
    );
    assert_eq!(api.ram_recommended, 2356.0 * MIB);
    // prices 14.4 / (2 × 240) = 0.03 per core-hour, 3.84 / (4 GiB × 240) per byte-hour;
    // saving 730 × (0.85 × 0.03 + 1740 MiB × 0.004 / GiB) = 730 × 0.032296875
    close(Some(api.saving_per_month), 730.0 * 0.032296875);
    assert_eq!(api.risk, "low");
    assert_eq!(api.samples, 10);
    // worker: 0.01 × 1.15 → 12m, raised to the 25m minimum; 115 MiB → 250 MiB;
    // saving 730 × (0.975 × 0.03 + 774/1024 × 0.004); 12 h observed: high risk
    let worker = get("shop/web/worker");
    assert!((worker.cpu_recommended - 0.025).abs() < 1e-12);
    assert_eq!(worker.ram_recommended, 250.0 * MIB);
    close(
        Some(worker.saving_per_month),
        730.0 * (0.975 * 0.03 + 774.0 / 1024.0 * 0.004),
    );
    assert_eq!(worker.risk, "high");
    // sidecar requests nothing: raised to 0.05 × 1.15 = 58m, a negative saving
    let sidecar = get("shop/web/sidecar");
    assert!((sidecar.cpu_recommended - 0.058).abs() < 1e-12);
    close(Some(sidecar.saving_per_month), -730.0 * 0.058 * 0.03);
    // the opportunity counts cuts only
    close(
        value(&ds, "cost.savings_opportunity", "web", &[]).0,
        api.saving_per_month + worker.saving_per_month,
    );
}

fn fixtures() -> Option<PathBuf> {
    let r = std::env::var_os("BEARING_FIXTURES").map(PathBuf::from);
    if r.is_none() {
        eprintln!("BEARING_FIXTURES is not set: skipping");
    }
    r
}

#[test]
fn real_opencost_efficiency_matches_opencost() {
    let Some(root) = fixtures() else { return };
    let intent = intent(
        r#"
version: 1
teams: [{ id: a }]
services:
  - { id: kube-system, team: a, cost: { match: { tags: { "opencost:namespace": kube-system } } } }
  - { id: opencost, team: a, cost: { match: { tags: { "opencost:namespace": opencost } } } }
  - { id: prometheus, team: a, cost: { match: { tags: { "opencost:namespace": prometheus } } } }
"#,
    );
    for (file, now) in [
        (
            "opencost-website__allocation-example-output.json",
            Utc.with_ymd_and_hms(2023, 7, 20, 0, 0, 0).unwrap(),
        ),
        (
            "opencost__swagger-allocation-compute-example.json",
            Utc.with_ymd_and_hms(2023, 1, 21, 0, 0, 0).unwrap(),
        ),
    ] {
        let bytes = std::fs::read(root.join("k8s-usage").join(file)).unwrap();
        let events = parse(Format::OpenCost, &bytes, &ParseContext::new(now)).unwrap();
        let ds = Dataset::new(&intent, events, Vec::new(), Vec::new());
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        for (ns, rec) in v["data"][0].as_object().unwrap() {
            let got = metric_at(&ds, "cost.efficiency", Some(ns), &[], 30, now);
            let idle = metric_at(&ds, "cost.idle", Some(ns), &[], 30, now);
            if rec["cpuCoreRequestAverage"].as_f64().unwrap() == 0.0 {
                // requests 0: no efficiency (the two OpenCost versions disagree), no idle
                assert_eq!(got.value, None, "{file} {ns}");
                assert_eq!(idle.value, Some(0.0), "{file} {ns}");
                continue;
            }
            let want = rec["totalEfficiency"].as_f64().unwrap();
            let ours = got.value.unwrap();
            // OpenCost rounds its figures to 5–6 decimals
            assert!(
                (ours - want).abs() < 5e-5,
                "{file} {ns}: {ours} vs OpenCost {want}"
            );
            assert_eq!(got.samples, 1);
        }
        // idle of kube-system from the file's figures, computed apart in Python:
        // cpuCost × (1 − cpu usage/request) + ramCost × (1 − ram usage/request)
        let idle = metric_at(&ds, "cost.idle", Some("kube-system"), &[], 30, now);
        let want = if file.starts_with("opencost-website") {
            1.407458021124286
        } else {
            0.4026766798717341
        };
        close(idle.value, want);
    }
}

#[test]
fn real_focus_commitment_utilisation() {
    let Some(root) = fixtures() else { return };
    let intent = intent("version: 1\nteams: [{ id: a }]\nservices: [{ id: x, team: a }]\n");
    let now = Utc.with_ymd_and_hms(2024, 10, 1, 0, 0, 0).unwrap();
    let bytes = std::fs::read(root.join("focus-cost/focus-1.0_sample_part-a.csv")).unwrap();
    let events = parse(Format::Focus, &bytes, &ParseContext::new(now)).unwrap();
    let ds = Dataset::new(&intent, events, Vec::new(), Vec::new());
    let v = metric_at(&ds, "cost.commitment_utilisation", None, &[], 60, now);
    // one `Used` savings-plan row and no `Unused` one, with an EffectiveCost
    // of 0 in this anonymised sample: counted, but no ratio to give
    assert_eq!((v.value, v.samples), (None, 1));
    assert_eq!(
        v.note.as_deref(),
        Some("the commitment rows carry no effective cost")
    );
    let v = metric_at(&ds, "cost.efficiency", None, &[], 60, now);
    assert_eq!((v.value, v.samples), (None, 0), "FOCUS has no requests");
}

#[test]
fn a_raise_from_nothing_gets_the_minimums() {
    let Some(root) = fixtures() else { return };
    let intent = intent(
        r#"
version: 1
teams: [{ id: a }]
services:
  - { id: prometheus, team: a, cost: { match: { tags: { "opencost:namespace": prometheus } } } }
"#,
    );
    let now = Utc.with_ymd_and_hms(2023, 7, 20, 0, 0, 0).unwrap();
    let file = root.join("k8s-usage/opencost-website__allocation-example-output.json");
    let events = parse(
        Format::OpenCost,
        &std::fs::read(file).unwrap(),
        &ParseContext::new(now),
    )
    .unwrap();
    let ds = Dataset::new(&intent, events, Vec::new(), Vec::new());
    let scope = Scope {
        service: Some("prometheus".into()),
        ..Scope::default()
    };
    let all = rightsizing(&ds, &scope, &BTreeMap::new(), Duration::from_days(30), now);
    let [p] = all.as_slice() else {
        panic!("{all:#?}")
    };
    // requests 0; CPU 0.00794 × 1.15 = 9.131m → 10m, below VPA's 25m minimum;
    // memory 319273758.11711 × 1.15 = 367164821.8 bytes = 350.2 MiB → 351 MiB
    assert_eq!((p.cpu_request, p.ram_request), (0.0, 0.0));
    assert!((p.cpu_recommended - 0.025).abs() < 1e-12, "{p:?}");
    assert_eq!(p.ram_recommended, 351.0 * MIB);
    // no `properties.pod`: the figures are the namespace's totals
    assert_eq!(p.pods, None);
}

#[test]
fn an_allocation_of_one_pod_is_sized_as_one() {
    let intent = intent(INTENT);
    let now = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
    let body = |pod: Option<&str>| {
        let mut props = serde_json::json!({"namespace": "shop", "controller": "web",
            "container": "api", "labels": {"app": "web"}});
        if let Some(p) = pod {
            props["pod"] = p.into();
        }
        serde_json::json!({"code": 200, "data": [{"shop/web/api": {"name": "shop/web/api",
            "properties": props, "start": "2026-03-01T00:00:00Z", "end": "2026-03-02T00:00:00Z",
            "minutes": 1440.0, "cpuCoreRequestAverage": 1.0, "cpuCoreUsageAverage": 0.5,
            "cpuCost": 0.72, "ramByteRequestAverage": 1073741824.0,
            "ramByteUsageAverage": 536870912.0, "ramCost": 0.096, "totalCost": 0.816}}]})
        .to_string()
    };
    for (pod, want) in [(Some("web-7d9f-abcde"), Some(1.0)), (None, None)] {
        let events = parse(
            Format::OpenCost,
            body(pod).as_bytes(),
            &ParseContext::new(now),
        )
        .unwrap();
        let ds = Dataset::new(&intent, events, Vec::new(), Vec::new());
        let all = rightsizing(
            &ds,
            &Scope::default(),
            &BTreeMap::new(),
            Duration::from_days(7),
            now,
        );
        assert_eq!(all[0].pods, want, "{pod:?}");
        // 0.5 × 1.15 = 575m either way: one pod, or totals
        assert!((all[0].cpu_recommended - 0.575).abs() < 1e-12);
    }
}
