//! The SQLite store through a real file: group commit, savepoint isolation,
//! uniqueness, cursors, durability across reopening, and the order in which
//! an invoice's callbacks are claimed.

mod scenarios;

use std::sync::Arc;

use kassa_store::{SqliteStore, Store};

fn open(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    let store = SqliteStore::open(dir.path().join("k.sqlite")).unwrap();
    store.migrate().unwrap();
    store.migrate().unwrap(); // idempotent
    Arc::new(store)
}

#[tokio::test]
async fn concurrent_writes_commit_and_a_failing_job_rolls_back_alone() {
    let dir = tempfile::tempdir().unwrap();
    scenarios::concurrent_writes_commit_and_a_failing_job_rolls_back_alone(open(&dir)).await;
}

#[tokio::test]
async fn reference_ids_are_unique_per_merchant_and_mode() {
    let dir = tempfile::tempdir().unwrap();
    scenarios::reference_ids_are_unique_per_merchant_and_mode(open(&dir)).await;
}

#[tokio::test]
async fn cursors_walk_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    scenarios::cursors_walk_both_ways(open(&dir)).await;
}

#[tokio::test]
async fn what_was_acknowledged_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    scenarios::what_was_acknowledged_survives_reopening(|| open(&dir)).await;
}

#[tokio::test]
async fn an_invoices_callbacks_are_claimed_in_order() {
    let dir = tempfile::tempdir().unwrap();
    scenarios::an_invoices_callbacks_are_claimed_in_order(open(&dir)).await;
}
