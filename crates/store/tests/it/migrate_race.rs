//! Issue 15 item 5: several processes opening a database file that does not
//! exist yet all migrate it once, instead of racing (`table events already
//! exists`, `duplicate column name`). Each opener here has its own pool, so its
//! own SQLite connections, as separate processes would.

use bearing_store::{EventQuery, SqliteStore, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn openers_of_a_fresh_sqlite_file_migrate_it_once() {
    for round in 0..12 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fresh.db");
        let path = path.to_str().unwrap().to_owned();
        let openers: Vec<_> = (0..6)
            .map(|_| {
                let path = path.clone();
                tokio::spawn(async move { SqliteStore::open(&path).await })
            })
            .collect();
        let mut stores = Vec::new();
        for o in openers {
            let store = o
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            stores.push(store);
        }
        // Every opener sees the whole schema.
        for s in &stores {
            assert!(s.events(&EventQuery::default()).await.unwrap().is_empty());
        }
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(stores[0].pool())
            .await
            .unwrap();
        let migrations =
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
                .unwrap()
                .count();
        assert_eq!(applied as usize, migrations, "round {round}");
    }
}
