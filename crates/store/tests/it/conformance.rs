//! The storage conformance suite, written once and run on SQLite (a temp
//! file, always) and on Postgres (a fresh schema, when `DATABASE_URL` is set).

use std::collections::BTreeMap;
use std::future::Future;

use bearing_events::{
    Action, ActionStatus, DecisionRecord, DeliveryPlan, Deployment, Event, Finding, FindingKind,
    Kind, MetricPoint, Payload, Severity, Status,
};
use bearing_store::{
    DecisionQuery, EncodedDecision, EventQuery, FindingQuery, NotificationStatus, PostgresStore,
    SqliteStore, Store, StoreError, TokenRecord,
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use sqlx::postgres::PgConnectOptions;

/// A backend under test, with a way to break it mid-batch.
enum Backend {
    Sqlite(SqliteStore, tempfile::TempDir),
    Postgres(PostgresStore, String, Box<PgConnectOptions>),
}

impl Backend {
    fn store(&self) -> &dyn Store {
        match self {
            Backend::Sqlite(s, _) => s,
            Backend::Postgres(s, _, _) => s,
        }
    }

    /// Installs a trigger that makes inserting the event `poison` fail inside
    /// the database, after the rows before it in the batch were written.
    async fn poison(&self) {
        match self {
            Backend::Sqlite(s, _) => {
                sqlx::query(
                    "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.id = 'poison' \
                     BEGIN SELECT RAISE(ABORT, 'poisoned event'); END",
                )
                .execute(s.pool())
                .await
                .unwrap();
            }
            Backend::Postgres(s, _, _) => {
                sqlx::query(
                    "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN \
                     IF NEW.id = 'poison' THEN RAISE EXCEPTION 'poisoned event'; END IF; \
                     RETURN NEW; END $$ LANGUAGE plpgsql",
                )
                .execute(s.pool())
                .await
                .unwrap();
                sqlx::query(
                    "CREATE TRIGGER poison BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION poison()",
                )
                .execute(s.pool())
                .await
                .unwrap();
            }
        }
    }

    async fn cleanup(self) {
        match self {
            Backend::Sqlite(store, dir) => {
                store.pool().close().await;
                dir.close().unwrap();
            }
            Backend::Postgres(store, schema, options) => {
                store.pool().close().await;
                let pool = sqlx::PgPool::connect_with(*options).await.unwrap();
                sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                    .execute(&pool)
                    .await
                    .unwrap();
            }
        }
    }
}

async fn sqlite() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let store = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
    Backend::Sqlite(store, dir)
}

async fn postgres(test: &str) -> Option<Backend> {
    let url = std::env::var("DATABASE_URL").ok()?;
    let options: PgConnectOptions = url.parse().unwrap();
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or(0);
    let schema = format!("bearing_test_{test}_{}_{nanos}", std::process::id());
    let admin = sqlx::PgPool::connect_with(options.clone()).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let store = PostgresStore::open_with(options.clone().options([("search_path", &schema)]))
        .await
        .unwrap();
    Some(Backend::Postgres(store, schema, Box::new(options)))
}

/// Runs `test` on SQLite, then on Postgres when `DATABASE_URL` is set.
async fn each_backend<F, Fut>(name: &str, test: F)
where
    F: Fn(Backend) -> Fut,
    Fut: Future<Output = Backend>,
{
    test(sqlite().await).await.cleanup().await;
    match postgres(name).await {
        Some(pg) => test(pg).await.cleanup().await,
        None => eprintln!("note: DATABASE_URL is unset; `{name}` ran on SQLite only"),
    }
}

fn t(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap() + Duration::minutes(minute)
}

fn deploy(id: &str, minute: i64, service: &str, env: &str) -> Event {
    let mut e = Event::new(
        id,
        "test",
        t(minute),
        Payload::Deployment(Deployment {
            deployment_id: id.into(),
            version: Some("1.0.0".into()),
            commit: Some("abc".into()),
            commits: vec![],
            status: Status::Success,
            started_at: Some(t(minute - 1)),
            finished_at: Some(t(minute)),
            strategy: None,
            labels: vec![],
        }),
    );
    e.service = Some(service.into());
    e.environment = Some(env.into());
    e
}

fn metric(id: &str, minute: i64, value: f64) -> Event {
    let mut e = Event::new(
        id,
        "test",
        t(minute),
        Payload::MetricPoint(MetricPoint {
            name: "business.orders".into(),
            value,
            dimensions: BTreeMap::new(),
        }),
    );
    e.service = Some("shop".into());
    e
}

fn finding(id: &str, minute: i64, scanner: &str, scan: &str, rule: &str) -> Event {
    let mut e = Event::new(
        id,
        scanner,
        t(minute),
        Payload::Finding(Finding {
            scanner: scanner.into(),
            scan_id: scan.into(),
            kind: FindingKind::Vulnerability,
            rule_id: rule.into(),
            severity: Severity::High,
            target: "registry/shop:1".into(),
            package: Some("openssl".into()),
            installed_version: Some("3.0.1".into()),
            fixed_version: Some("3.0.2".into()),
            fixable: true,
            title: None,
            location: None,
        }),
    );
    e.service = Some("shop".into());
    e
}

#[tokio::test]
async fn ingest_is_idempotent() {
    each_backend("idem", |b| async move {
        let s = b.store();
        let batch = vec![
            deploy("d1", 0, "shop", "prod"),
            deploy("d2", 1, "shop", "prod"),
        ];
        let first = s.ingest(&batch).await.unwrap();
        assert_eq!((first.accepted, first.duplicates), (2, 0));
        let again = s.ingest(&batch).await.unwrap();
        assert_eq!((again.accepted, again.duplicates), (0, 2));
        // A replay with a changed body is still the same event: the first stays.
        let mut changed = deploy("d1", 5, "shop", "staging");
        changed.source = "replayed".into();
        let mixed = s
            .ingest(&[changed, deploy("d3", 2, "shop", "prod")])
            .await
            .unwrap();
        assert_eq!((mixed.accepted, mixed.duplicates), (1, 1));
        assert_eq!(s.event("d1").await.unwrap().unwrap(), batch[0]);
        // The same id twice in one batch is stored once.
        let twice = s
            .ingest(&[
                deploy("d4", 3, "shop", "prod"),
                deploy("d4", 3, "shop", "prod"),
            ])
            .await
            .unwrap();
        assert_eq!((twice.accepted, twice.duplicates), (1, 1));
        assert_eq!(s.count_events().await.unwrap(), 4);
        assert_eq!(s.ingest(&[]).await.unwrap().accepted, 0);
        b
    })
    .await;
}

/// Small batches ingested at once (on SQLite, one caller stores the waiting
/// batches in one transaction): each is stored whole or not at all, with
/// its own outcome, and a batch the database refuses fails only itself.
#[tokio::test]
async fn concurrent_small_batches_are_each_stored_whole() {
    each_backend("concurrent_ingest", |b| async move {
        b.poison().await;
        let s = b.store();
        let batches: Vec<Vec<Event>> = (0..20)
            .map(|i| {
                let mut batch: Vec<Event> = (0..5)
                    .map(|j| deploy(&format!("c{i}-{j}"), j, "shop", "prod"))
                    .collect();
                match i {
                    7 => batch.push(deploy("poison", 0, "shop", "prod")),
                    12 => batch.push(deploy("c3-0", 0, "shop", "prod")),
                    _ => {}
                }
                batch
            })
            .collect();
        let results = futures::future::join_all(batches.iter().map(|b| s.ingest(b))).await;
        let mut accepted = 0;
        let mut duplicates = 0;
        for (i, r) in results.into_iter().enumerate() {
            if i == 7 {
                assert!(r.is_err(), "the poisoned batch fails");
                continue;
            }
            let o = r.unwrap();
            accepted += o.accepted;
            duplicates += o.duplicates;
        }
        // Batch 12 repeats an event of batch 3: whichever came second
        // counts it as a duplicate.
        assert_eq!((accepted, duplicates), (95, 1));
        assert_eq!(s.count_events().await.unwrap(), 95);
        assert!(s.event("c7-0").await.unwrap().is_none());
        b
    })
    .await;
}

#[tokio::test]
async fn a_batch_that_fails_midway_stores_nothing() {
    each_backend("atomic", |b| async move {
        b.poison().await;
        let s = b.store();
        // 1,200 events: several multi-row statements succeed before the poison.
        let mut batch: Vec<Event> = (0..1200)
            .map(|i| metric(&format!("m{i}"), i, i as f64))
            .collect();
        batch.push(finding("f1", 0, "trivy", "s1", "CVE-1"));
        batch.push(deploy("poison", 2000, "shop", "prod"));
        let err = s.ingest(&batch).await.unwrap_err();
        assert!(err.to_string().contains("poisoned"), "{err}");
        assert_eq!(s.count_events().await.unwrap(), 0);
        assert!(
            s.findings(&FindingQuery::default())
                .await
                .unwrap()
                .is_empty()
        );
        // Without the poison the same batch goes in whole.
        batch.pop();
        assert_eq!(s.ingest(&batch).await.unwrap().accepted, 1201);
        b
    })
    .await;
}

#[tokio::test]
async fn invalid_events_are_refused_with_their_position() {
    each_backend("invalid", |b| async move {
        let s = b.store();
        let batch = vec![
            metric("ok", 0, 1.0),
            metric("nan", 1, f64::NAN),
            deploy("", 2, "shop", "prod"),
        ];
        match s.ingest(&batch).await.unwrap_err() {
            err @ StoreError::InvalidEvent { .. } => {
                // Counted from 1 in the message, like every record Bearing names.
                assert_eq!(
                    err.to_string(),
                    "event 2 (`nan`): field `data.value`: expected a finite number"
                );
                let StoreError::InvalidEvent {
                    index, id, field, ..
                } = err
                else {
                    unreachable!()
                };
                assert_eq!((index, id.as_str(), field), (1, "nan", "data.value"));
            }
            other => panic!("unexpected error {other}"),
        }
        let empty_id = s.ingest(&batch[2..]).await.unwrap_err();
        assert!(empty_id.to_string().contains("`id`"), "{empty_id}");
        let nul = s.ingest(&[deploy("a\0b", 0, "shop", "prod")]).await;
        assert!(nul.is_err());
        assert_eq!(s.count_events().await.unwrap(), 0);
        b
    })
    .await;
}

#[tokio::test]
async fn queries_filter_and_order() {
    each_backend("query", |b| async move {
        let s = b.store();
        s.ingest(&[
            deploy("d1", 10, "shop", "prod"),
            deploy("d2", 20, "shop", "staging"),
            deploy("d3", 30, "cart", "prod"),
            metric("m1", 15, 3.5),
            deploy("d0", 5, "shop", "prod"),
        ])
        .await
        .unwrap();
        let ids = |evs: Vec<Event>| evs.into_iter().map(|e| e.id).collect::<Vec<_>>();
        let all = s.events(&EventQuery::default()).await.unwrap();
        assert_eq!(ids(all), ["d0", "d1", "m1", "d2", "d3"]);
        let q = EventQuery {
            kinds: vec![Kind::Deployment],
            service: Some("shop".into()),
            ..Default::default()
        };
        assert_eq!(ids(s.events(&q).await.unwrap()), ["d0", "d1", "d2"]);
        let q = EventQuery {
            environment: Some("prod".into()),
            ..Default::default()
        };
        assert_eq!(ids(s.events(&q).await.unwrap()), ["d0", "d1", "d3"]);
        let q = EventQuery {
            since: Some(t(10)),
            until: Some(t(30)),
            ..Default::default()
        };
        assert_eq!(ids(s.events(&q).await.unwrap()), ["d1", "m1", "d2"]);
        let q = EventQuery {
            kinds: vec![Kind::Deployment, Kind::MetricPoint],
            limit: Some(2),
            ..Default::default()
        };
        assert_eq!(ids(s.events(&q).await.unwrap()), ["d3", "d2"]);
        let q = EventQuery {
            kinds: vec![Kind::Incident],
            ..Default::default()
        };
        assert!(s.events(&q).await.unwrap().is_empty());
        // Events read back equal what went in, payload and all.
        let m1 = s.event("m1").await.unwrap().unwrap();
        assert_eq!(m1, metric("m1", 15, 3.5));
        assert!(s.event("nope").await.unwrap().is_none());
        b
    })
    .await;
}

#[tokio::test]
async fn events_after_pages_in_arrival_order() {
    each_backend("cursor", |b| async move {
        let s = b.store();
        s.ingest(&[
            deploy("late", 50, "shop", "prod"),
            deploy("early", 1, "shop", "prod"),
        ])
        .await
        .unwrap();
        let (page, cursor) = s.events_after(0, 1).await.unwrap();
        assert_eq!(page[0].id, "late");
        let (page, cursor) = s.events_after(cursor, 10).await.unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].id, "early");
        let (page, same) = s.events_after(cursor, 10).await.unwrap();
        assert!(page.is_empty());
        assert_eq!(same, cursor);
        s.ingest(&[
            deploy("new", 0, "shop", "prod"),
            deploy("late", 50, "shop", "prod"),
        ])
        .await
        .unwrap();
        let (page, next) = s.events_after(cursor, 10).await.unwrap();
        assert_eq!(
            page.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            ["new"]
        );
        assert!(next > cursor);
        b
    })
    .await;
}

#[tokio::test]
async fn findings_have_a_lifecycle() {
    each_backend("findings", |b| async move {
        let s = b.store();
        // Scan 1 (trivy) reports CVE-1 and CVE-2; grype reports CVE-1 too.
        s.ingest(&[
            finding("t1a", 0, "trivy", "s1", "CVE-1"),
            finding("t1b", 0, "trivy", "s1", "CVE-2"),
            finding("g1a", 5, "grype", "g1", "CVE-1"),
        ])
        .await
        .unwrap();
        let all = s.findings(&FindingQuery::default()).await.unwrap();
        assert_eq!(all.len(), 2);
        let cve1 = all.iter().find(|f| f.finding.rule_id == "CVE-1").unwrap();
        assert_eq!(cve1.scanners, ["trivy", "grype"]);
        assert_eq!(cve1.first_seen, t(0));
        assert_eq!(cve1.last_seen, t(5));
        assert_eq!(cve1.event_ids, ["t1a", "g1a"]);
        assert_eq!(cve1.service.as_deref(), Some("shop"));
        assert_eq!(cve1.key, cve1.finding.dedup_key());
        // Scan 2 (trivy, later) no longer reports CVE-2: it is fixed then.
        s.ingest(&[finding("t2a", 60, "trivy", "s2", "CVE-1")])
            .await
            .unwrap();
        let open = s
            .findings(&FindingQuery {
                open_only: true,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].finding.rule_id, "CVE-1");
        let all = s.findings(&FindingQuery::default()).await.unwrap();
        let cve2 = all.iter().find(|f| f.finding.rule_id == "CVE-2").unwrap();
        assert_eq!(cve2.fixed_at, Some(t(60)));
        // Replaying scan 1 changes nothing; a later report re-opens CVE-2.
        s.ingest(&[finding("t1b", 0, "trivy", "s1", "CVE-2")])
            .await
            .unwrap();
        let again = s.findings(&FindingQuery::default()).await.unwrap();
        assert_eq!(again, all);
        s.ingest(&[finding("t3b", 120, "trivy", "s3", "CVE-2")])
            .await
            .unwrap();
        let all = s.findings(&FindingQuery::default()).await.unwrap();
        let cve2 = all.iter().find(|f| f.finding.rule_id == "CVE-2").unwrap();
        assert_eq!(cve2.fixed_at, None);
        assert_eq!(cve2.first_seen, t(0));
        assert_eq!(cve2.last_seen, t(120));
        // Scan 3 omitted CVE-1, which trivy reported: fixed at scan 3's time.
        let cve1 = all.iter().find(|f| f.finding.rule_id == "CVE-1").unwrap();
        assert_eq!(cve1.fixed_at, Some(t(120)));
        let other = s
            .findings(&FindingQuery {
                service: Some("other".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(other.is_empty());
        b
    })
    .await;
}

fn decision(id: &str, minute: i64, service: &str) -> DecisionRecord {
    DecisionRecord {
        id: id.into(),
        time: t(minute),
        service: Some(service.into()),
        environment: Some("prod".into()),
        result: "deny".into(),
        input_digest: "sha256:aa".into(),
        policy_revision: "rev1".into(),
        input: serde_json::json!({"service": service}),
        decision: serde_json::json!({"violations": [{"id": "g1"}]}),
    }
}

#[tokio::test]
async fn records_round_trip() {
    each_backend("records", |b| async move {
        let s = b.store();
        let d1 = decision("dec1", 0, "shop");
        let d2 = decision("dec2", 10, "cart");
        let d3 = decision("dec3", 20, "shop");
        for d in [&d1, &d2, &d3] {
            s.put_decision(d).await.unwrap();
        }
        let mut changed = d1.clone();
        changed.result = "allow".into();
        s.put_decision(&changed).await.unwrap();
        assert_eq!(s.decision("dec1").await.unwrap().unwrap(), d1);
        assert!(s.decision("none").await.unwrap().is_none());
        let all = s.decisions(&DecisionQuery::default()).await.unwrap();
        assert_eq!(all, [d3.clone(), d2.clone(), d1.clone()]);
        let shop = s
            .decisions(&DecisionQuery {
                service: Some("shop".into()),
                since: Some(t(5)),
                limit: Some(5),
            })
            .await
            .unwrap();
        assert_eq!(shop, [d3]);

        let mut plan = DeliveryPlan {
            service: "shop".into(),
            strategy: "canary".into(),
            freeze: false,
            extra_gates: vec!["security".into()],
            reasons: vec!["rule:x".into()],
            updated_at: t(0),
        };
        s.put_plan(&plan).await.unwrap();
        plan.freeze = true;
        s.put_plan(&plan).await.unwrap();
        assert_eq!(s.plans().await.unwrap(), [plan]);

        let mut action = Action {
            id: "a1".into(),
            created_at: t(0),
            service: Some("shop".into()),
            origin: "rule:x".into(),
            summary: "freeze".into(),
            status: ActionStatus::Proposed,
            metric: "dora.change_failure_rate".into(),
            baseline: Some(0.25),
            evaluate_at: Some(t(60)),
            outcome: None,
            evidence: serde_json::json!({"events": ["d1"]}),
            change: None,
        };
        s.put_action(&action).await.unwrap();
        action.status = ActionStatus::Applied;
        s.put_action(&action).await.unwrap();
        assert_eq!(s.actions().await.unwrap(), [action]);

        let token = TokenRecord {
            id: "tok1".into(),
            name: "ci".into(),
            hash: "ab".repeat(32),
            scopes: vec!["ingest".into(), "read".into()],
            created_at: t(0),
            expires_at: None,
            last_used_at: None,
            revoked_at: None,
        };
        s.put_token(&token).await.unwrap();
        assert_eq!(s.token_by_hash(&token.hash).await.unwrap().unwrap(), token);
        assert!(s.token_by_hash("00").await.unwrap().is_none());

        // The lifecycle: listed, used, expiring, revoked; every change moves
        // the generation servers compare to drop their cached tokens.
        let g0 = s.token_generation().await.unwrap();
        let other = TokenRecord {
            id: "tok2".into(),
            name: "gate".into(),
            hash: "cd".repeat(32),
            scopes: vec!["decide".into()],
            created_at: t(1),
            expires_at: Some(t(90)),
            last_used_at: None,
            revoked_at: None,
        };
        s.put_token(&other).await.unwrap();
        let g1 = s.token_generation().await.unwrap();
        assert_ne!(g0, g1);
        assert_eq!(s.tokens().await.unwrap(), [token.clone(), other.clone()]);
        s.touch_token("tok2", t(2)).await.unwrap();
        assert_eq!(
            s.token_generation().await.unwrap(),
            g1,
            "use is not a change"
        );
        let used = s.token_by_hash(&other.hash).await.unwrap().unwrap();
        assert_eq!(used.last_used_at, Some(t(2)));
        assert!(used.is_active(t(89)) && !used.is_active(t(90)));
        assert!(s.revoke_token("tok1", t(3)).await.unwrap());
        assert!(s.revoke_token("tok1", t(4)).await.unwrap());
        assert!(!s.revoke_token("nope", t(4)).await.unwrap());
        let revoked = s.token_by_hash(&token.hash).await.unwrap().unwrap();
        assert_eq!(revoked.revoked_at, Some(t(3)), "the first revocation stays");
        assert!(!revoked.is_active(t(3)));
        let g2 = s.token_generation().await.unwrap();
        assert_ne!(g1, g2);
        b
    })
    .await;
}

fn encode(records: &[DecisionRecord]) -> Vec<EncodedDecision> {
    records
        .iter()
        .map(|r| EncodedDecision::new(r).unwrap())
        .collect()
}

#[tokio::test]
async fn decision_batches_keep_the_first_write() {
    each_backend("decision_batch", |b| async move {
        let s = b.store();
        s.put_decisions(&[]).await.unwrap();
        let d0 = decision("dec0", 0, "shop");
        s.put_decision(&d0).await.unwrap();
        // More rows than one statement holds, an id already stored and an id
        // repeated inside the batch: the first write of each id wins.
        let mut batch: Vec<DecisionRecord> = (1..=1200)
            .map(|i| {
                decision(
                    &format!("dec{i}"),
                    i,
                    if i % 2 == 0 { "shop" } else { "cart" },
                )
            })
            .collect();
        let mut again = d0.clone();
        again.result = "allow".into();
        batch.push(again);
        let mut repeated = batch[0].clone();
        repeated.result = "allow".into();
        batch.push(repeated);
        s.put_decisions(&encode(&batch)).await.unwrap();
        assert_eq!(s.decision("dec0").await.unwrap().unwrap(), d0);
        assert_eq!(s.decision("dec1").await.unwrap().unwrap(), batch[0]);
        assert_eq!(s.decision("dec1200").await.unwrap().unwrap(), batch[1199]);
        let all = s.decisions(&DecisionQuery::default()).await.unwrap();
        assert_eq!(all.len(), 1201);
        assert!(all.iter().all(|d| d.result == "deny"));
        b
    })
    .await;
}

#[tokio::test]
async fn shared_contexts_are_kept_once_and_put_back() {
    each_backend("decision_context", |b| async move {
        let s = b.store();
        let context = serde_json::json!({"plans": {}, "outcomes": {"services": {"shop": {"x": 1.5}}}, "risk": null});
        let shared = bearing_store::SharedContext {
            digest: "sha256:c1".into(),
            body: context.to_string().into(),
        };
        // Two batches referring to the same context, and a decision keeping its own.
        let with = |id: &str, minute| {
            let d = decision(id, minute, "shop");
            EncodedDecision {
                context: Some(shared.clone()),
                ..EncodedDecision::new(&d).unwrap()
            }
        };
        s.put_decisions(&[with("dec1", 1), with("dec2", 2)])
            .await
            .unwrap();
        s.put_decisions(&[with("dec3", 3)]).await.unwrap();
        let mut own = decision("dec4", 4, "cart");
        own.decision["context"] = serde_json::json!({"risk": 0.2});
        s.put_decision(&own).await.unwrap();

        let mut expected = decision("dec2", 2, "shop");
        expected.decision["context"] = context.clone();
        assert_eq!(s.decision("dec2").await.unwrap().unwrap(), expected);
        assert_eq!(s.decision("dec4").await.unwrap().unwrap(), own);
        let all = s.decisions(&DecisionQuery::default()).await.unwrap();
        assert_eq!(all.len(), 4);
        assert_eq!(all[0], own);
        assert!(all[1..].iter().all(|d| d.decision["context"] == context));
        b
    })
    .await;
}

#[tokio::test]
async fn decision_summaries_match_the_records() {
    each_backend("decision_summary", |b| async move {
        let s = b.store();
        let mut waived = decision("dec1", 1, "shop");
        waived.result = "allow".into();
        waived.decision = serde_json::json!({"violations": [
            {"guardrail": "iam", "waiver": {"owner": "alice"}},
            {"guardrail": "k8s", "waiver": null}]});
        let plain = decision("dec2", 2, "cart");
        // The same decision again within the same second is counted with it;
        // another result is not.
        let mut again = decision("dec3", 2, "cart");
        again.time += Duration::milliseconds(300);
        let mut allowed = decision("dec4", 2, "cart");
        allowed.result = "allow".into();
        s.put_decision(&waived).await.unwrap();
        s.put_decisions(&encode(&[plain.clone(), again, allowed.clone()]))
            .await
            .unwrap();
        // Putting a stored id again changes nothing, counts included.
        let mut changed = plain.clone();
        changed.result = "allow".into();
        s.put_decisions(&encode(&[changed, plain.clone()]))
            .await
            .unwrap();
        s.put_decision(&allowed).await.unwrap();
        let all = s.decision_summaries(None, t(10)).await.unwrap();
        assert_eq!(
            all,
            vec![
                (waived.summary(), 1),
                (plain.summary(), 2),
                (allowed.summary(), 1)
            ]
        );
        assert!(all[0].0.waived);
        assert_eq!(all[0].0.guardrails, vec!["iam", "k8s"]);
        assert_eq!(all[0].0.time, t(1));
        let later = s.decision_summaries(Some(t(2)), t(10)).await.unwrap();
        assert_eq!(later, all[1..]);
        let before = s.decision_summaries(None, t(2)).await.unwrap();
        assert_eq!(before, all[..1]);
        b
    })
    .await;
}

#[tokio::test]
async fn snapshots_replace_by_name_and_know_their_cursor() {
    each_backend("snapshots", |b| async move {
        let s = b.store();
        assert_eq!(s.event_cursor().await.unwrap(), 0);
        assert!(s.snapshot("outcomes").await.unwrap().is_none());
        s.ingest(&[deploy("d1", 0, "shop", "prod")]).await.unwrap();
        let cursor = s.event_cursor().await.unwrap();
        assert!(cursor > 0);
        let mut snap = bearing_store::Snapshot {
            name: "outcomes".into(),
            computed_at: t(1),
            cursor,
            body: serde_json::json!({"services": {"shop": {"error_budget_remaining": 0.5}}}),
        };
        s.put_snapshot(&snap).await.unwrap();
        assert_eq!(s.snapshot("outcomes").await.unwrap().unwrap(), snap);
        snap.computed_at = t(2);
        snap.body = serde_json::json!({"services": {}});
        s.put_snapshot(&snap).await.unwrap();
        assert_eq!(s.snapshot("outcomes").await.unwrap().unwrap(), snap);
        s.ingest(&[deploy("d2", 3, "shop", "prod")]).await.unwrap();
        assert!(s.event_cursor().await.unwrap() > cursor);
        b
    })
    .await;
}

#[tokio::test]
async fn sync_cursors_are_kept_per_source_scope_and_resource() {
    each_backend("sync_cursors", |b| async move {
        let s = b.store();
        assert!(
            s.sync_cursor("github", "acme/web", "deployments")
                .await
                .unwrap()
                .is_none()
        );
        let mut c = bearing_store::SyncCursor {
            source: "github".into(),
            scope: "acme/web".into(),
            resource: "deployments".into(),
            etag: Some("W/\"abc\"".into()),
            since: Some(t(5)),
            updated_at: t(6),
        };
        s.put_sync_cursor(&c).await.unwrap();
        let other = bearing_store::SyncCursor {
            resource: "pulls".into(),
            etag: None,
            since: None,
            ..c.clone()
        };
        s.put_sync_cursor(&other).await.unwrap();
        let read = |r: &'static str| s.sync_cursor("github", "acme/web", r);
        assert_eq!(read("deployments").await.unwrap().as_ref(), Some(&c));
        assert_eq!(read("pulls").await.unwrap().as_ref(), Some(&other));
        // A later sync replaces the cursor of its resource only.
        c.etag = Some("\"def\"".into());
        c.since = Some(t(9));
        c.updated_at = t(10);
        s.put_sync_cursor(&c).await.unwrap();
        assert_eq!(read("deployments").await.unwrap().as_ref(), Some(&c));
        assert_eq!(read("pulls").await.unwrap().as_ref(), Some(&other));
        assert!(
            s.sync_cursor("github", "acme/api", "deployments")
                .await
                .unwrap()
                .is_none()
        );
        b
    })
    .await;
}

#[tokio::test]
async fn a_notification_is_claimed_once_and_its_outcome_kept() {
    each_backend("notifications", |b| async move {
        let s = b.store();
        let n = bearing_store::NotificationRecord {
            key: "kr_status:growth/signups:off_track:1:slack".into(),
            kind: "kr_status".into(),
            subject: "growth/signups".into(),
            destination: "slack".into(),
            summary: "signups went off track".into(),
            status: NotificationStatus::Pending,
            attempts: 0,
            last_error: None,
            created_at: t(1),
            updated_at: t(1),
        };
        assert!(s.claim_notification(&n).await.unwrap());
        // A second process seeing the same change does not get it.
        assert!(!s.claim_notification(&n).await.unwrap());
        let other = bearing_store::NotificationRecord {
            key: "waiver_expiring:w:2026-03-05:slack".into(),
            created_at: t(2),
            updated_at: t(2),
            ..n.clone()
        };
        assert!(s.claim_notification(&other).await.unwrap());
        s.put_notification_status(
            &n.key,
            NotificationStatus::Failed,
            3,
            Some("HTTP 500"),
            t(3),
        )
        .await
        .unwrap();
        let log = s.notifications(10).await.unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log[0], other, "newest first");
        assert_eq!(log[1].status, NotificationStatus::Failed);
        assert_eq!(log[1].attempts, 3);
        assert_eq!(log[1].last_error.as_deref(), Some("HTTP 500"));
        assert_eq!(log[1].updated_at, t(3));
        assert_eq!(s.notifications(1).await.unwrap().len(), 1);
        b
    })
    .await;
}

#[tokio::test]
async fn sqlite_reopens_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("re.db").display());
    let store = bearing_store::open(&url).await.unwrap();
    store
        .ingest(&[deploy("d1", 0, "shop", "prod")])
        .await
        .unwrap();
    drop(store);
    let store = bearing_store::open(&url).await.unwrap();
    assert_eq!(store.count_events().await.unwrap(), 1);
}

/// The threat feeds round-trip through both backends: a newer KEV catalog
/// replaces the kept one (its new CVEs listed, the old ones keeping the
/// version they entered in), an older one changes nothing, and the stamp
/// moves only when the feeds changed.
#[tokio::test]
async fn threat_feeds_are_kept_and_replaced_by_newer_ones() {
    use bearing_events::formats::threat::parse_feed;
    let kev = |version: &str, cves: &[&str]| {
        let list: Vec<serde_json::Value> = cves
            .iter()
            .map(|c| serde_json::json!({"cveID": c, "dateAdded": "2025-06-01", "dueDate": "2025-06-22", "knownRansomwareCampaignUse": "Unknown"}))
            .collect();
        let doc = serde_json::json!({"catalogVersion": version, "vulnerabilities": list});
        parse_feed(doc.to_string().as_bytes()).unwrap()
    };
    each_backend("threat_feeds", |b| async move {
        let s = b.store();
        assert!(bearing_store::threat::load(s).await.unwrap().is_empty());
        assert_eq!(bearing_store::threat::stamp(s).await.unwrap(), None);
        let u = bearing_store::threat::apply(s, kev("2025.06.10", &["CVE-1"]), t(1))
            .await
            .unwrap();
        assert!(u.applied);
        let u = bearing_store::threat::apply(s, kev("2025.08.25", &["CVE-1", "CVE-2"]), t(2))
            .await
            .unwrap();
        assert_eq!(u.added, ["CVE-2"]);
        assert_eq!(bearing_store::threat::stamp(s).await.unwrap(), Some(t(2)));
        let u = bearing_store::threat::apply(s, kev("2025.06.10", &["CVE-1"]), t(3))
            .await
            .unwrap();
        assert!(!u.applied);
        assert_eq!(bearing_store::threat::stamp(s).await.unwrap(), Some(t(2)));
        let kept = bearing_store::threat::load(s).await.unwrap();
        assert_eq!(kept.kev.as_ref().unwrap().version, "2025.08.25");
        assert_eq!(kept.kev("CVE-1").unwrap().since, "2025.06.10");
        assert_eq!(kept.kev("CVE-2").unwrap().since, "2025.08.25");
        b
    })
    .await;
}
