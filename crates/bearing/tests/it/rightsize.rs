//! `bearing rightsize` end to end on the generated utilisation history of
//! bearing-metrics' tests (answers worked out there): the diff it prints
//! applies cleanly with GNU `patch`, the result re-reads with a YAML parser
//! with the recommended requests, limits keeping their ratio and every
//! comment kept; `--write` writes the same text and logs the actions, and
//! `bearing reconcile` a window later measures the saving realised and
//! whether the SLO held. On the real manifests of `$BEARING_FIXTURES` the
//! same holds for a Deployment without `resources`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use bearing_events::Event;
use serde_json::{Value, json};

use crate::adapt::bearing;
use crate::usage_history::{GIB, day, history, slo_points, usage_row};

const INTENT: &str = r#"
version: 1
teams: [{ id: a }]
services:
  - id: web
    team: a
    cost: { match: { tags: { app: web } } }
    slos: [{ id: avail, target: 99%, window: 30d, sli: { good: ok, total: all } }]
"#;

const MANIFEST: &str = r#"# Shop web tier
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 1 # one zone (the usage rows request 2 cores in all)
  template:
    spec:
      containers:
        - name: api
          image: shop/api:1.4
          resources:
            requests:
              cpu: "2"        # two cores for the JIT warm-up
              memory: 4Gi
            limits:
              cpu: "4"
              memory: 8Gi  # twice the request
        - name: worker
          image: shop/worker:1.4
          # no resources yet
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {ports: [{port: 80}]}
"#;

/// The JSON output of `bearing reconcile --at AT` (with `--manifests k8s`
/// and `--dry-run` when asked) and its actions from `origin`.
fn reconcile(d: &Path, at: &str, extra: &[&str], origin: &str) -> (Value, Vec<Value>) {
    let args = [&["reconcile", "--at", at, "--output", "json"][..], extra].concat();
    let o = bearing(d, &args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let mine = r["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["origin"] == origin)
        .cloned()
        .collect();
    (r, mine)
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn store_events(dir: &Path, events: &[Event]) {
    let db = dir.join("bearing.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = bearing_store::open(db.to_str().unwrap()).await.unwrap();
        store.ingest(events).await.unwrap();
    });
}

/// A temporary folder with `intent` as `bearing.yaml`, `files` under
/// `k8s/` and `events` in `bearing.db`.
fn setup(intent: &str, files: &[(&str, &str)], events: &[Event]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("bearing.yaml"), intent).unwrap();
    std::fs::create_dir(d.join("k8s")).unwrap();
    for (name, text) in files {
        std::fs::write(d.join("k8s").join(name), text).unwrap();
    }
    store_events(d, events);
    dir
}

/// The generated history with SLO points of `web` (`good` of 1000) on day 10.
fn web_history(good: f64) -> Vec<Event> {
    let mut events = history();
    events.extend(slo_points("web", 10, good));
    events
}

/// Applies a unified diff to a copy of `src` with GNU patch.
fn patched_copy(src: &Path, diff: &str) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, copy.path().join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(copy.path().join("change.diff"), diff).unwrap();
    let out = Command::new("patch")
        .args(["-p1", "--forward", "--batch", "-i", "change.diff"])
        .current_dir(copy.path())
        .output()
        .expect("GNU patch");
    assert!(
        out.status.success(),
        "patch failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(copy.path().join("change.diff")).unwrap();
    copy
}

fn comments(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.find('#').map(|i| l[i..].to_string()))
        .collect()
}

fn docs(text: &str) -> Vec<Value> {
    yaml_serde::Deserializer::from_str(text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
}

#[test]
fn the_patch_applies_keeps_comments_and_the_effect_is_measured() {
    let dir = setup(INTENT, &[("web.yaml", MANIFEST)], &web_history(1000.0));
    let d = dir.path();
    let m = d.join("k8s");
    let at = ["--at", "2026-03-11T00:00:00Z", "--window", "30d"];

    let dry = bearing(
        d,
        &[&["rightsize", "--manifests", "k8s"][..], &at[..]].concat(),
    );
    assert_eq!(
        dry.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let text = stdout(&dry);
    assert!(
        text.contains("web.yaml:16: Deployment shop/web container api: requests.cpu 2 -> 1150m"),
        "{text}"
    );
    assert!(
        text.contains(
            "web.yaml:17: Deployment shop/web container api: requests.memory 4Gi -> 2356Mi"
        ),
        "{text}"
    );
    assert!(
        text.contains("not placed: shop/web/sidecar: no container in the manifests matches"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(m.join("web.yaml")).unwrap(),
        MANIFEST,
        "a dry run writes nothing"
    );

    let json_out = bearing(
        d,
        &[
            &["rightsize", "--manifests", "k8s", "--output", "json"][..],
            &at[..],
        ]
        .concat(),
    );
    let v: Value = serde_json::from_slice(&json_out.stdout).unwrap();
    let diff = v["diff"].as_str().unwrap();
    let copy = patched_copy(&m, diff);
    let after = std::fs::read_to_string(copy.path().join("web.yaml")).unwrap();
    assert_eq!(
        comments(&after),
        comments(MANIFEST),
        "every comment kept, in order"
    );
    let parsed = docs(&after);
    assert_eq!(parsed.len(), 2);
    let containers = &parsed[0]["spec"]["template"]["spec"]["containers"];
    let api = &containers[0]["resources"];
    // 1.0 core p95 × 1.15; 2 GiB peak × 1.15 → 2356 MiB; limits keep 2× the request
    assert_eq!(api["requests"], json!({"cpu": "1150m", "memory": "2356Mi"}));
    assert_eq!(api["limits"], json!({"cpu": "2300m", "memory": "4712Mi"}));
    // the worker had no resources: 25m / 250Mi minimums, no limits
    assert_eq!(
        containers[1]["resources"],
        json!({"requests": {"cpu": "25m", "memory": "250Mi"}})
    );
    assert_eq!(containers[1]["image"], "shop/worker:1.4");
    assert_eq!(parsed[1], docs(MANIFEST)[1], "other documents untouched");
    assert!(
        after.contains("cpu: \"1150m\"        # two cores for the JIT warm-up"),
        "{after}"
    );

    let wrote = bearing(
        d,
        &[
            &[
                "rightsize",
                "--manifests",
                "k8s",
                "--write",
                "--output",
                "json",
            ][..],
            &at[..],
        ]
        .concat(),
    );
    let w: Value = serde_json::from_slice(&wrote.stdout).unwrap();
    assert_eq!(
        std::fs::read_to_string(m.join("web.yaml")).unwrap(),
        after,
        "--write writes what the diff says"
    );
    let actions = w["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 2, "api and worker");

    // a month later, the api ran at its new requests with the same usage
    let mut later = Vec::new();
    for i in 12..=21u32 {
        let ram_used = if i == 21 { 2.0 * GIB } else { GIB };
        later.push(usage_row(
            &format!("api-after{i}"),
            day(i),
            1440.0,
            "shop/web/api",
            (1.15, 0.1 * f64::from(i - 11), 1.15 * 24.0 * 0.03),
            (
                2356.0 / 1024.0 * GIB,
                ram_used,
                2356.0 / 1024.0 * 24.0 * 0.004,
            ),
        ));
    }
    later.extend(slo_points("web", 20, 1000.0));
    store_events(d, &later);
    let (_, measured) = reconcile(d, "2026-04-11T00:00:00Z", &[], "rightsize");
    assert_eq!(measured.len(), 2);
    let api = measured
        .iter()
        .find(|a| a["change"]["workload"] == "shop/web/api")
        .unwrap();
    let effect = &api["outcome"]["rightsize"];
    // 0.076 an hour before (1.824 a day), 1.048875 / 24 after: 730 × 0.032296875
    let realised = effect["realised_saving_per_month"].as_f64().unwrap();
    assert!((realised - 730.0 * 0.032296875).abs() < 1e-9, "{effect}");
    assert!((effect["expected_saving_per_month"].as_f64().unwrap() - realised).abs() < 1e-9);
    assert_eq!(effect["slo_held"], true);
    assert_eq!(
        api["outcome"]["verdict"], "improved",
        "idle cost went down: {}",
        api["outcome"]
    );
}

#[test]
fn a_real_deployment_without_resources_gets_them() {
    let Some(root) = std::env::var_os("BEARING_FIXTURES") else {
        eprintln!("BEARING_FIXTURES is not set: skipping");
        return;
    };
    let src = Path::new(&root).join("k8s-manifests/checkov_kubernetes-dashboard-deployment.yaml");
    let original = std::fs::read_to_string(&src).unwrap();
    // one day of usage of the dashboard container
    let dir = setup(
        INTENT,
        &[("dashboard.yaml", &original)],
        &[usage_row(
            "dash",
            day(10),
            1440.0,
            "kubernetes-dashboard/kubernetes-dashboard/kubernetes-dashboard",
            (0.0, 0.2, 0.144),
            (0.0, 300.0 * 1024.0 * 1024.0, 0.0),
        )],
    );
    let d = dir.path();
    let m = d.join("k8s");
    let o = bearing(
        d,
        &[
            "rightsize",
            "--manifests",
            "k8s",
            "--at",
            "2026-03-11T00:00:00Z",
            "--output",
            "json",
        ],
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let copy = patched_copy(&m, v["diff"].as_str().unwrap());
    let after = std::fs::read_to_string(copy.path().join("dashboard.yaml")).unwrap();
    assert_eq!(comments(&after), comments(&original));
    let before = docs(&original);
    let parsed = docs(&after);
    assert_eq!(parsed.len(), before.len());
    let c = &parsed[0]["spec"]["template"]["spec"]["containers"][0];
    // 0.2 × 1.15 = 230m; 300 MiB × 1.15 = 345 MiB
    assert_eq!(
        c["resources"],
        json!({"requests": {"cpu": "230m", "memory": "345Mi"}})
    );
    let mut c0 = c.clone();
    c0.as_object_mut().unwrap().remove("resources");
    assert_eq!(
        c0, before[0]["spec"]["template"]["spec"]["containers"][0],
        "the rest unchanged"
    );
}

#[test]
fn a_rule_rightsizes_through_reconcile() {
    let intent = format!(
        "{INTENT}adaptation:\n  - id: trim-idle\n    when: \"cost.efficiency(30d) < 40%\"\n    then: {{ action: rightsize }}\n"
    );
    let dir = setup(&intent, &[("web.yaml", MANIFEST)], &web_history(1000.0));
    let d = dir.path();
    let m = d.join("k8s");
    // what `bearing rightsize` would write, for comparison
    let o = bearing(
        d,
        &[
            "rightsize",
            "--manifests",
            "k8s",
            "--at",
            "2026-03-11T00:00:00Z",
            "--window",
            "30d",
            "--output",
            "json",
        ],
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let want = std::fs::read_to_string(
        patched_copy(&m, v["diff"].as_str().unwrap())
            .path()
            .join("web.yaml"),
    )
    .unwrap();

    let at = "2026-03-11T00:00:00Z";
    let (dry, _) = reconcile(d, at, &["--dry-run", "--manifests", "k8s"], "trim-idle");
    assert!(
        dry["manifests"]["diff"]
            .as_str()
            .unwrap()
            .contains("+              cpu: \"1150m\"")
    );
    assert_eq!(
        std::fs::read_to_string(m.join("web.yaml")).unwrap(),
        MANIFEST
    );

    let (r, mine) = reconcile(d, at, &["--manifests", "k8s"], "trim-idle");
    // api, worker (cuts) and the sidecar (a raise, not in the manifests: stays proposed)
    assert_eq!(mine.len(), 3, "{mine:#?}");
    let status =
        |w: &str| mine.iter().find(|a| a["change"]["workload"] == w).unwrap()["status"].clone();
    assert_eq!(status("shop/web/api"), "applied");
    assert_eq!(status("shop/web/worker"), "applied");
    assert_eq!(status("shop/web/sidecar"), "proposed");
    assert_eq!(std::fs::read_to_string(m.join("web.yaml")).unwrap(), want);
    assert!(
        r["plans"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["reasons"].to_string().find("trim-idle").is_none())
    );

    // an hour later nothing new is proposed for the same workloads
    let (_, again) = reconcile(
        d,
        "2026-03-11T01:00:00Z",
        &["--manifests", "k8s"],
        "trim-idle",
    );
    assert!(again.is_empty(), "{again:#?}");
}

const HPA: &str = r#"apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
  namespace: shop
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2 # never fewer than two
  maxReplicas: 40
"#;

/// 56 days of `orders` for `web` up to 2026-03-10: 300 a day on weekdays,
/// 100 at weekends, no noise; SLO points with `good` of 1000 on day 10.
fn demand(good: f64) -> Vec<Event> {
    let first = chrono::NaiveDate::from_ymd_opt(2026, 1, 14).unwrap();
    let mut out: Vec<Event> = (0..56)
        .map(|k| {
            let date = first + chrono::Days::new(k);
            let weekend = chrono::Datelike::weekday(&date).number_from_monday() >= 6;
            let at = date.and_hms_opt(12, 0, 0).unwrap().and_utc().to_rfc3339();
            serde_json::from_value(
                json!({"id": format!("orders-{k}"), "source": "t", "time": at,
                "kind": "metric_point", "service": "web",
                "data": {"name": "orders", "value": if weekend { 100.0 } else { 300.0 }}}),
            )
            .unwrap()
        })
        .collect();
    out.extend(slo_points("web", 10, good));
    out
}

/// The `follow-demand` rule's action and the HPA manifest after reconcile.
fn scale_run(good: f64) -> (Value, String) {
    let intent = format!(
        "{INTENT}adaptation:\n  - id: follow-demand\n    when: \"business.orders(7d) > 0\"\n    then: {{ action: scale, demand: business.orders, per_replica: 30 }}\n"
    );
    let dir = setup(&intent, &[("hpa.yaml", HPA)], &demand(good));
    let d = dir.path();
    let m = d.join("k8s");
    let (_, mine) = reconcile(
        d,
        "2026-03-11T00:00:00Z",
        &["--manifests", "k8s"],
        "follow-demand",
    );
    let action = mine
        .into_iter()
        .next()
        .expect("an action from follow-demand");
    (action, std::fs::read_to_string(m.join("hpa.yaml")).unwrap())
}

#[test]
fn a_rule_sets_hpa_replicas_from_the_demand_forecast() {
    // the forecast of a noise-free weekly pattern is the pattern: a weekday
    // peak of 300, so ⌈300 / 30⌉ = 10 replicas at least; the predictive
    // scale is floored at the data's resolution (300 − 100 = 200), so at
    // most ⌈(300 + 3 × 200) / 30⌉ = 30
    let (a, after) = scale_run(1000.0);
    assert_eq!(a["change"]["min_replicas"], 10, "{a}");
    assert_eq!(a["change"]["max_replicas"], 30);
    assert_eq!(a["status"], "applied");
    let forecast = a["evidence"]["scale"]["forecast"].as_array().unwrap();
    assert_eq!(forecast.len(), 7);
    // 2026-03-11 is a Wednesday, 03-14 a Saturday
    assert_eq!(forecast[0]["expected"], 300.0);
    assert_eq!(forecast[3]["expected"], 100.0);
    assert_eq!(
        after,
        HPA.replace("minReplicas: 2 #", "minReplicas: 10 #")
            .replace("maxReplicas: 40", "maxReplicas: 30")
    );
    let doc = &docs(&after)[0];
    assert_eq!(
        (
            doc["spec"]["minReplicas"].as_u64(),
            doc["spec"]["maxReplicas"].as_u64()
        ),
        (Some(10), Some(30))
    );
}

#[test]
fn while_the_budget_burns_replicas_only_go_up() {
    let (a, after) = scale_run(900.0);
    assert_eq!(a["change"]["only_raise"], true);
    // min goes up to 10; max stays at 40 instead of going down to 30
    assert_eq!(after, HPA.replace("minReplicas: 2 #", "minReplicas: 10 #"));
}

/// The VPA fixture of this repository, next to the rule's recommendation.
const VPA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vpa/web.yaml");

#[test]
fn vpa_targets_are_shown_next_to_the_recommendation() {
    let dir = setup(INTENT, &[], &web_history(1000.0));
    let at = ["--at", "2026-03-11T00:00:00Z", "--window", "30d"];
    let o = bearing(
        dir.path(),
        &[&["rightsize", "--vpa", VPA][..], &at[..]].concat(),
    );
    let text = stdout(&o);
    // 1050m / 2Gi for api; 25m / 262144k (= 250 MiB) for worker
    assert!(
        text.contains("shop/web/api: CPU 2000m -> 1150m, memory 4096Mi -> 2356Mi"),
        "{text}"
    );
    assert!(text.contains("VPA target 1050m / 2048Mi"), "{text}");
    assert!(text.contains("VPA target 25m / 250Mi"), "{text}");
    let o = bearing(
        dir.path(),
        &[
            &["rightsize", "--vpa", VPA, "--output", "json"][..],
            &at[..],
        ]
        .concat(),
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["vpa"]["shop/web/api"]["cpu"], 1.05);
    assert_eq!(v["vpa"]["shop/web/api"]["line"], 24);
    assert!(v["vpa"].get("shop/web/sidecar").is_none());
    // a bad quantity names the file and line
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(VPA)
            .unwrap()
            .replace("cpu: 1050m", "cpu: lots"),
    )
    .unwrap();
    let o = bearing(dir.path(), &["rightsize", "--vpa", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.yaml:26: target.cpu `lots` is not a Kubernetes quantity"),
        "{err}"
    );
}

/// Checks `v` against an OpenAPI v3 schema of a CRD: known properties,
/// required ones, types (int-or-string), enums; returns the first problem.
fn conforms(v: &Value, schema: &Value, at: &str) -> Result<(), String> {
    if let Some(list) = schema["enum"].as_array()
        && !list.contains(v)
    {
        return Err(format!("{at}: {v} not in {list:?}"));
    }
    let int_or_string =
        schema["x-kubernetes-int-or-string"] == true || schema.get("anyOf").is_some();
    let ok = match schema["type"].as_str() {
        _ if int_or_string => v.is_string() || v.is_i64() || v.is_u64(),
        Some("object") => v.is_object(),
        Some("array") => v.is_array(),
        Some("string") => v.is_string(),
        Some("integer") => v.is_i64() || v.is_u64(),
        Some("number") => v.is_number(),
        Some("boolean") => v.is_boolean(),
        _ => true,
    };
    if !ok {
        return Err(format!("{at}: {v} is not of type {}", schema["type"]));
    }
    for r in schema["required"].as_array().into_iter().flatten() {
        if v.get(r.as_str().unwrap()).is_none() {
            return Err(format!("{at}: missing required `{r}`"));
        }
    }
    if let Some(obj) = v.as_object() {
        for (k, x) in obj {
            let sub = match (&schema["properties"][k], &schema["additionalProperties"]) {
                (Value::Null, Value::Null) if schema.get("properties").is_some() => {
                    return Err(format!("{at}: unknown property `{k}`"));
                }
                (Value::Null, Value::Null) => continue,
                (Value::Null, extra) => extra,
                (p, _) => p,
            };
            conforms(x, sub, &format!("{at}.{k}"))?;
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), v.as_array()) {
        for (i, x) in list.iter().enumerate() {
            conforms(x, items, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

#[test]
fn the_vpa_fixture_follows_the_crd() {
    let Some(root) = std::env::var_os("BEARING_FIXTURES") else {
        eprintln!("BEARING_FIXTURES is not set: skipping");
        return;
    };
    let crd =
        std::fs::read_to_string(Path::new(&root).join("k8s-usage/vpa-v1-crd-gen.yaml")).unwrap();
    let crds = docs(&crd);
    let vpa = crds
        .iter()
        .find(|d| d["metadata"]["name"] == "verticalpodautoscalers.autoscaling.k8s.io")
        .unwrap();
    let v1 = vpa["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "v1")
        .unwrap();
    let schema = &v1["schema"]["openAPIV3Schema"];
    let fixture = &docs(&std::fs::read_to_string(VPA).unwrap())[0];
    assert_eq!(conforms(fixture, schema, "vpa"), Ok(()));
    // the checker does find problems
    let mut broken = fixture.clone();
    broken["status"]["recommendation"]["containerRecommendations"][0]["targett"] = json!({});
    assert!(
        conforms(&broken, schema, "vpa")
            .unwrap_err()
            .contains("unknown property `targett`")
    );
    let mut broken = fixture.clone();
    broken["spec"]["updatePolicy"]["updateMode"] = json!("Sometimes");
    assert!(conforms(&broken, schema, "vpa").is_err());
}

/// OpenCost `/allocation` steps for `shop/web/api` aggregated by
/// namespace, controller and container: one per day from 2026-11-01, each
/// with the pods' summed requests and usage as OpenCost adds them
/// (`pods[i]` pods of 1 core / 1 GiB, each using 0.8 core and 0.8 GiB).
fn summed_allocations(pods: &[f64]) -> String {
    let gib = GIB;
    let steps: Vec<Value> = pods
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let start = format!("2026-11-{:02}T00:00:00Z", i + 1);
            let end = format!("2026-11-{:02}T00:00:00Z", i + 2);
            json!({"shop/web/api": {
                "name": "shop/web/api",
                "properties": {"cluster": "c1", "namespace": "shop", "controller": "web",
                    "controllerKind": "deployment", "container": "api", "labels": {"app": "web"}},
                "window": {"start": start, "end": end}, "start": start, "end": end,
                "minutes": 1440.0,
                "cpuCoreRequestAverage": n * 1.0, "cpuCoreUsageAverage": n * 0.8,
                "cpuCost": n * 24.0 * 0.03,
                "ramByteRequestAverage": n * gib, "ramByteUsageAverage": n * 0.8 * gib,
                "ramCost": n * 24.0 * 0.004,
                "totalCost": n * 24.0 * 0.034}})
        })
        .collect();
    json!({"code": 200, "data": steps}).to_string()
}

fn deployment(replicas: u32, hpa: bool) -> String {
    let mut m = format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: {replicas}
  template:
    spec:
      containers:
        - name: api
          resources:
            requests:
              cpu: \"1\"
              memory: 1Gi
"
    );
    if hpa {
        m.push_str(
            "---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 4
",
        );
    }
    m
}

/// [`setup`] with `manifest` as `web.yaml` and the allocations of `pods`
/// ingested as OpenCost's response.
fn setup_summed(intent: &str, pods: &[f64], manifest: &str) -> tempfile::TempDir {
    let dir = setup(intent, &[("web.yaml", manifest)], &[]);
    let d = dir.path();
    std::fs::write(d.join("alloc.json"), summed_allocations(pods)).unwrap();
    let o = bearing(d, &["ingest", "--format", "opencost", "alloc.json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    dir
}

/// `bearing rightsize --manifests k` over the allocations of `pods`.
fn rightsize_summed(pods: &[f64], manifest: &str) -> String {
    let dir = setup_summed(INTENT, pods, manifest);
    let d = dir.path();
    let o = bearing(
        d,
        &["rightsize", "--at", "2026-11-12", "--manifests", "k8s"],
    );
    stdout(&o)
}

#[test]
fn opencost_totals_of_several_pods_are_sized_per_pod() {
    // 3 pods of 1 core / 1 GiB: OpenCost reports 3.0 cores requested, 2.4
    // used; per pod 0.8 × 1.15 = 920m and 819.2 MiB × 1.15 = 942.08 → 943Mi.
    // Saving: 3 pods × (0.08 core × 0.03 + 81/1024 GiB × 0.004) × 730
    // = 5.256 + 0.692930 = 5.95 a month.
    let text = rightsize_summed(&[3.0; 10], &deployment(3, false));
    assert!(
        text.contains(
            "CPU 1000m -> 920m, memory 1024Mi -> 943Mi, +5.95 USD/month (per pod, 3.0 pod(s)"
        ),
        "{text}"
    );
    assert!(
        text.contains("web.yaml:14: Deployment shop/web container api: requests.cpu 1 -> 920m"),
        "{text}"
    );
    assert!(
        text.contains(
            "web.yaml:15: Deployment shop/web container api: requests.memory 1Gi -> 943Mi"
        ),
        "{text}"
    );
}

#[test]
fn with_an_hpa_each_row_is_divided_by_its_own_pods() {
    // 2, 3 or 4 pods a day, each using 0.8 core: per pod always 0.8
    let pods = [2.0, 3.0, 4.0, 3.0, 2.0, 4.0, 3.0, 2.0, 3.0, 3.0];
    let text = rightsize_summed(&pods, &deployment(2, true));
    assert!(text.contains("requests.cpu 1 -> 920m"), "{text}");
    assert!(text.contains("requests.memory 1Gi -> 943Mi"), "{text}");
    // the latest row had 3 pods
    assert!(text.contains("(per pod, 3.0 pod(s)"), "{text}");
}

#[test]
fn totals_that_disagree_with_fixed_replicas_are_not_placed() {
    // 3 cores requested in all, but the manifest runs 2 pods of 1 core
    let text = rightsize_summed(&[3.0; 10], &deployment(2, false));
    assert!(
        text.contains("not placed: shop/web/api: the stored requests (CPU 3000m, memory 3072Mi in all) are 3.00 times the pod's request at web.yaml:14 but web.yaml:7 runs 2 replica(s)"),
        "{text}"
    );
    assert!(!text.contains("requests.cpu"), "{text}");
}

#[test]
fn a_held_cut_keeps_its_request_and_the_raise_beside_it_is_written() {
    let manifest = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: mixed
          resources:
            requests:
              cpu: \"2\"
              memory: 100Mi
";
    let mut events = vec![
        // CPU cut to 115m (held: the budget is spent), memory raise to 1178Mi
        usage_row(
            "mixed",
            day(10),
            1440.0,
            "shop/web/mixed",
            (2.0, 0.1, 1.44),
            (100.0 * 1024.0 * 1024.0, GIB, 0.096),
        ),
        // requests nothing and costs nothing: raised to the minimums, saving 0
        usage_row(
            "tiny",
            day(10),
            1440.0,
            "shop/web/tiny",
            (0.025, 0.001, 0.0),
            (0.0, 0.0, 0.0),
        ),
    ];
    events.extend(slo_points("web", 10, 900.0));
    let dir = setup(INTENT, &[("web.yaml", manifest)], &events);
    let d = dir.path();
    let at = ["--at", "2026-03-11T00:00:00Z", "--window", "30d"];
    let text = stdout(&bearing(
        d,
        &[&["rightsize", "--manifests", "k8s"][..], &at[..]].concat(),
    ));
    assert!(
        text.contains("shop/web/mixed: CPU 2000m -> 2000m, memory 100Mi -> 1178Mi, -3.07 USD/month (per pod, 1.0 pod(s); medium risk; held: CPU cut to 115m held: error budget"),
        "{text}"
    );
    assert!(
        text.contains("shop/web/tiny: CPU 25m -> 25m, memory 0 -> 250Mi, 0.00 USD/month"),
        "{text}"
    );
    assert!(
        text.contains(
            "web.yaml:13: Deployment shop/web container mixed: requests.memory 100Mi -> 1178Mi"
        ),
        "{text}"
    );
    assert!(!text.contains("requests.cpu"), "{text}");
    let o = bearing(
        d,
        &[&["rightsize", "--output", "json"][..], &at[..]].concat(),
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let mixed = v["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["workload"] == "shop/web/mixed")
        .unwrap();
    assert_eq!(
        mixed["held_cuts"],
        json!([{"resource": "cpu", "recommended": 0.115}])
    );
    assert_eq!(mixed["cpu_recommended"], json!(2.0));
}

#[test]
fn reconcile_writes_the_per_pod_size_too() {
    // the rule's proposal is sized without manifests (totals of 3 pods);
    // `reconcile --manifests` sizes it again per pod before writing
    let intent = format!(
        "{INTENT}adaptation:\n  - id: trim-idle\n    when: \"cost.efficiency(30d) < 90%\"\n    then: {{ action: rightsize }}\n"
    );
    let dir = setup_summed(&intent, &[3.0; 10], &deployment(3, false));
    let d = dir.path();
    let (_, mine) = reconcile(
        d,
        "2026-11-12T00:00:00Z",
        &["--manifests", "k8s"],
        "trim-idle",
    );
    assert_eq!(mine.len(), 1, "{mine:#?}");
    assert_eq!(mine[0]["status"], "applied");
    assert_eq!(mine[0]["change"]["pods"], json!(3.0));
    assert_eq!(mine[0]["change"]["requests"]["cpu"], json!(0.92));
    let after = std::fs::read_to_string(d.join("k8s/web.yaml")).unwrap();
    let c = &docs(&after)[0]["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["resources"]["requests"],
        json!({"cpu": "920m", "memory": "943Mi"})
    );
}

#[test]
fn no_request_and_varying_replicas_is_not_placed() {
    // an HPA scales the Deployment and the container requests nothing: the
    // stored totals cannot be split into pods
    let manifest = deployment(3, true).replace(
        "          resources:\n            requests:\n              cpu: \"1\"\n              memory: 1Gi\n",
        "",
    );
    let text = rightsize_summed(&[3.0; 10], &manifest);
    assert!(
        text.contains("not placed: shop/web/api: the pod count is unknown: the container at web.yaml:11 requests nothing"),
        "{text}"
    );
    assert!(!text.contains("requests.cpu"), "{text}");
}
