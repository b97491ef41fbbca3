//! Store-level reliability on SQLite and PostgreSQL: one send pace shared
//! by every process, a 429 that holds them all, and pooled connections
//! whose transaction could not be rolled back.

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use avisa::jobs::Pacer;
use avisa::store::{self, Store};
use sqlx::Connection;
use support::db::{Backend, TestDb};

const INTERVAL: Duration = Duration::from_millis(200);
const SEND_TAKES: Duration = Duration::from_millis(40);

/// A second "process": its own pool on the same database.
async fn second_store(db: &TestDb) -> Arc<dyn Store> {
    store::connect(&db.url).await.unwrap()
}

fn pacer(store: Arc<dyn Store>) -> Arc<Pacer> {
    Arc::new(Pacer::new(
        INTERVAL,
        Duration::ZERO,
        store,
        "wasender:test".into(),
        Duration::from_secs(5),
    ))
}

async fn two_processes_share_one_send_rate(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let other = second_store(&db).await;
    let pacers = [pacer(db.store.clone()), pacer(other.clone())];
    // (start, end) of every send, from both processes and 2 workers each.
    let sends: Arc<Mutex<Vec<(Instant, Instant)>>> = Arc::default();
    let mut tasks = Vec::new();
    for pacer in pacers.iter().chain(pacers.iter()) {
        let (pacer, sends) = (pacer.clone(), sends.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..3 {
                let slot = pacer.acquire(false).await.unwrap();
                let start = Instant::now();
                tokio::time::sleep(SEND_TAKES).await;
                let end = Instant::now();
                slot.done().await.unwrap();
                sends.lock().unwrap().push((start, end));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let mut sends = sends.lock().unwrap().clone();
    sends.sort();
    assert_eq!(sends.len(), 12);
    let gaps: Vec<Duration> = sends.windows(2).map(|w| w[1].0 - w[0].1).collect();
    let smallest = gaps.iter().min().unwrap();
    assert!(
        *smallest >= INTERVAL,
        "a send started {smallest:?} after the previous one ended: {gaps:?}"
    );
    let other_pool = other.pool();
    drop(other);
    close(other_pool).await;
    db.cleanup().await;
}
both_backends!(shared_rate, super::two_processes_share_one_send_rate);

async fn a_429_holds_every_process(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let other = second_store(&db).await;
    let (first, second) = (pacer(db.store.clone()), pacer(other.clone()));
    first.acquire(true).await.unwrap().done().await.unwrap();
    first.defer(Duration::from_secs(1)).await;
    let started = Instant::now();
    second.acquire(true).await.unwrap().done().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    let other_pool = other.pool();
    drop(other);
    close(other_pool).await;
    db.cleanup().await;
}
both_backends!(shared_429, super::a_429_holds_every_process);

/// A holder that dies mid-send frees the slot when its lease ends.
async fn a_dead_holders_slot_frees_itself(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let dying = Pacer::new(
        INTERVAL,
        Duration::ZERO,
        db.store.clone(),
        "wasender:test".into(),
        Duration::ZERO,
    );
    let slot = dying.acquire(false).await.unwrap();
    std::mem::forget(slot); // killed: never gives the slot back
    let started = Instant::now();
    let survivor = pacer(db.store.clone());
    survivor.acquire(false).await.unwrap().done().await.unwrap();
    // The lease is the send timeout (0 here) plus a 10 s margin.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(13),
        "{waited:?}"
    );
    db.cleanup().await;
}
both_backends!(dead_holder, super::a_dead_holders_slot_frees_itself);

async fn close(pool: store::Pool) {
    match pool {
        store::Pool::Sqlite(pool) => pool.close().await,
        store::Pool::Postgres(pool) => pool.close().await,
    }
}

/// A connection handed back to the pool inside a transaction that cannot
/// be rolled back (here: its transaction was already ended behind sqlx's
/// back, as SQLite does by itself on a full disk) must not be reused: every
/// later transaction on it would fail with "non-zero transaction depth".
async fn a_connection_left_in_a_transaction_is_not_reused(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    macro_rules! break_one {
        ($pool:expr) => {{
            let mut connection = $pool.acquire().await.unwrap();
            let mut tx = connection.begin().await.unwrap();
            sqlx::query("COMMIT").execute(&mut *tx).await.unwrap();
            drop(tx);
        }};
    }
    match db.store.pool() {
        store::Pool::Sqlite(pool) => break_one!(pool),
        store::Pool::Postgres(pool) => break_one!(pool),
    }
    // Every write after it works: the broken connection was closed.
    for i in 0..20 {
        db.store
            .set_setting(&format!("probe-{i}"), Some("x"), chrono::Utc::now())
            .await
            .unwrap();
        db.store
            .upsert_subscriptions(
                &[support::fixtures::row(
                    "Ana",
                    &format!("09911111{i:02}"),
                    "Netflix",
                    support::fixtures::date(2026, 12, 1),
                    750,
                )],
                chrono::Utc::now(),
            )
            .await
            .unwrap_or_else(|e| panic!("write {i} failed: {e}"));
    }
    db.cleanup().await;
}
both_backends!(
    broken_connection,
    super::a_connection_left_in_a_transaction_is_not_reused
);
