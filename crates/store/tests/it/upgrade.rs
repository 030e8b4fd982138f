//! A store written by an earlier schema opens with its data whole: each
//! backend is migrated to an earlier version, filled the way that version's
//! code wrote it, then opened by the current code.

use std::path::Path;

use bearing_store::{EncodedDecision, PostgresStore, SqliteStore, Store};
use chrono::{TimeZone, Utc};
use sqlx::migrate::Migrator;
use sqlx::postgres::PgConnectOptions;

/// The migrations up to and including `version`, as a migrator.
async fn migrator_up_to(backend: &str, version: u32, dir: &Path) -> Migrator {
    let all = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    for entry in std::fs::read_dir(&all).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let number: u32 = name.split('_').next().unwrap().parse().unwrap();
        if number <= version {
            std::fs::copy(&path, dir.join(&name)).unwrap();
        }
    }
    Migrator::new(dir).await.unwrap()
}

/// Decisions as the schema before `decision_counts` held them: two with
/// no summary (stored before that column existed, one waived, both for
/// `shop` in the same second), one with a summary, one with no service.
const LEGACY: &str = r#"
INSERT INTO decisions (id, time, service, environment, result, record, summary) VALUES
('dec_a', 1772366400100, 'shop', 'prod', 'allow',
 '{"decision":{"violations":[{"guardrail":"iam","waiver":{"owner":"al"}},{"guardrail":"k8s","waiver":null}]}}', NULL),
('dec_b', 1772366400900, 'shop', 'prod', 'allow',
 '{"decision":{"violations":[{"guardrail":"iam","waiver":{"owner":"al"}},{"guardrail":"k8s"}]}}', NULL),
('dec_c', 1772366400500, 'shop', 'prod', 'allow', '{}', '{"waived":true,"guardrails":["iam","k8s"]}'),
('dec_d', 1772366401000, NULL, NULL, 'deny', '{"decision":{"violations":[]}}', NULL);
"#;

async fn check(store: &dyn Store) {
    let t0 = Utc.timestamp_opt(1_772_366_400, 0).unwrap();
    let got = store
        .decision_summaries(None, t0 + chrono::Duration::seconds(10))
        .await
        .unwrap();
    let summary = |(d, n): &(bearing_events::DecisionSummary, u64)| {
        (
            d.id.clone(),
            d.time,
            d.service.clone(),
            d.waived,
            d.guardrails.clone(),
            *n,
        )
    };
    let got: Vec<_> = got.iter().map(summary).collect();
    let shop = |id: &str, n| {
        (
            id.to_string(),
            t0,
            Some("shop".to_string()),
            true,
            vec!["iam".to_string(), "k8s".to_string()],
            n,
        )
    };
    let none = (
        "dec_d".to_string(),
        t0 + chrono::Duration::seconds(1),
        None,
        false,
        vec![],
        1,
    );
    // The legacy rows' summary is computed in SQL; on Postgres its text
    // differs from the current code's, so it may be a group of its own,
    // which readers add up.
    assert!(
        got == vec![shop("dec_a", 3), none.clone()]
            || got == vec![shop("dec_a", 2), shop("dec_c", 1), none.clone()],
        "{got:?}"
    );
    // New decisions are counted with them.
    let record = bearing_events::DecisionRecord {
        id: "dec_e".into(),
        time: t0,
        service: Some("shop".into()),
        environment: Some("prod".into()),
        result: "allow".into(),
        input_digest: "sha256:aa".into(),
        policy_revision: "rev1".into(),
        input: serde_json::json!({"service": "shop"}),
        decision: serde_json::json!({"violations": [
            {"guardrail": "iam", "waiver": {"owner": "al"}}, {"guardrail": "k8s"}]}),
    };
    store
        .put_decisions(&[EncodedDecision::new(&record).unwrap()])
        .await
        .unwrap();
    let after = store
        .decision_summaries(None, t0 + chrono::Duration::seconds(10))
        .await
        .unwrap();
    let total: u64 = after.iter().map(|(_, n)| n).sum();
    assert_eq!(total, 5);
}

#[tokio::test]
async fn sqlite_decisions_from_before_decision_counts_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    migrator_up_to("sqlite", 3, migrations.path())
        .await
        .run(&pool)
        .await
        .unwrap();
    sqlx::raw_sql(LEGACY).execute(&pool).await.unwrap();
    pool.close().await;
    let store = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
    check(&store).await;
}

#[tokio::test]
async fn postgres_decisions_from_before_decision_counts_are_counted() {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("note: DATABASE_URL is unset; the Postgres upgrade test did not run");
        return;
    };
    let options: PgConnectOptions = url.parse().unwrap();
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or(0);
    let schema = format!("bearing_test_upgrade_{}_{nanos}", std::process::id());
    let admin = sqlx::PgPool::connect_with(options.clone()).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .unwrap();
    let scoped = options.clone().options([("search_path", &schema)]);
    let pool = sqlx::PgPool::connect_with(scoped.clone()).await.unwrap();
    let migrations = tempfile::tempdir().unwrap();
    migrator_up_to("postgres", 3, migrations.path())
        .await
        .run(&pool)
        .await
        .unwrap();
    sqlx::raw_sql(LEGACY).execute(&pool).await.unwrap();
    pool.close().await;
    let store = PostgresStore::open_with(scoped).await.unwrap();
    check(&store).await;
    store.pool().close().await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
}
