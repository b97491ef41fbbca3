//! Webhook ingest (group commit) on SQLite and PostgreSQL: inbound rows and
//! their handling jobs written together, duplicates acknowledged once, under
//! concurrent requests too.

use crate::support;

use std::time::{Duration, Instant};

use avisa::domain::{Money, Phone, Region};
use avisa::jobs::queue::INBOUND_JOBS;
use avisa::store::{MessageKind, NewInbound, NewSubscription, Pool};
use chrono::NaiveDate;
use support::app::{Options, TestApp, WEBHOOK_SECRET};
use support::db::{Backend, TestDb};

const KNOWN: &str = "+593991234567";

fn inbound(phone: &str, wa: Option<&str>, body: &str) -> NewInbound {
    NewInbound {
        phone: avisa::domain::Phone::from_e164(phone.into()).unwrap(),
        client_id: None,
        kind: MessageKind::Reply,
        body: body.into(),
        media_kind: None,
        wa_message_id: wa.map(str::to_string),
        media_source: None,
    }
}

async fn scalar(pool: &Pool, sqlite: &'static str, postgres: &'static str) -> i64 {
    match pool {
        Pool::Sqlite(pool) => sqlx::query_scalar(sqlite).fetch_one(pool).await.unwrap(),
        Pool::Postgres(pool) => sqlx::query_scalar(postgres).fetch_one(pool).await.unwrap(),
    }
}

/// Inbound handling jobs in apalis' tables, and how many message ids they
/// carry in all.
async fn inbound_jobs(pool: &Pool) -> (i64, i64) {
    (
        scalar(
            pool,
            "SELECT COUNT(*) FROM Jobs WHERE job_type = 'avisa::handle_inbound'",
            "SELECT COUNT(*) FROM apalis.jobs WHERE job_type = 'avisa::handle_inbound'",
        )
        .await,
        scalar(
            pool,
            "SELECT COALESCE(SUM(json_array_length(CAST(job AS TEXT), '$.message_ids')), 0) \
             FROM Jobs WHERE job_type = 'avisa::handle_inbound'",
            "SELECT COALESCE(SUM(jsonb_array_length(convert_from(job, 'UTF8')::jsonb -> 'message_ids')), 0)::bigint \
             FROM apalis.jobs WHERE job_type = 'avisa::handle_inbound'",
        )
        .await,
    )
}

async fn batch_stores_rows_with_their_jobs(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store.clone();
    // The queue's tables, as the app creates them.
    avisa::jobs::JobQueue::setup(&store.pool()).await.unwrap();
    let now = chrono::Utc::now();
    store
        .upsert_subscriptions(
            &[NewSubscription {
                name: "Ana".into(),
                phone: Phone::parse("0991234567", Region::default()).unwrap(),
                email: None,
                service: "Netflix".into(),
                end_date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
                price: Money::from_cents(750),
            }],
            now,
        )
        .await
        .unwrap();
    let ana = store.client_by_phone(KNOWN).await.unwrap().unwrap();
    let earlier = store
        .insert_inbound(&inbound("+593987777777", Some("A"), "antes"), now)
        .await
        .unwrap()
        .unwrap();

    let batch = [
        inbound(KNOWN, Some("B"), "hola"),
        inbound("+593987777777", Some("A"), "antes otra vez"),
        inbound("+593987777777", Some("C"), "1"),
        inbound(KNOWN, Some("B"), "hola (repetido)"),
    ];
    let ids = store
        .insert_inbound_batch(&batch, &INBOUND_JOBS, now)
        .await
        .unwrap();
    assert!(ids[0].is_some() && ids[2].is_some(), "{ids:?}");
    assert_eq!(
        (ids[1], ids[3]),
        (None, None),
        "seen before / earlier in the batch"
    );
    assert_ne!(ids[0], ids[2]);
    let b = store.message(ids[0].unwrap()).await.unwrap().unwrap();
    assert_eq!(
        (
            b.direction.as_str(),
            b.status.as_str(),
            b.kind.as_str(),
            b.body.as_str()
        ),
        ("in", "received", "reply", "hola")
    );
    assert_eq!(b.client_id, Some(ana.id), "linked to the client by phone");
    let c = store.message(ids[2].unwrap()).await.unwrap().unwrap();
    assert_eq!(c.client_id, None, "unknown numbers stay unknown");
    assert_eq!(
        store.message(earlier).await.unwrap().unwrap().body,
        "antes",
        "the earlier row is untouched"
    );
    // One job for the batch, carrying the new rows and not the duplicates
    // (the earlier row was stored without one, by `insert_inbound`).
    assert_eq!(inbound_jobs(&store.pool()).await, (1, 2));

    // Without WhatsApp ids (as `avisa chat` stores them): row by row.
    let ids = store
        .insert_inbound_batch(
            &[
                inbound(KNOWN, None, "x"),
                inbound(KNOWN, None, "x"),
                inbound(KNOWN, Some("D"), "y"),
            ],
            &INBOUND_JOBS,
            now,
        )
        .await
        .unwrap();
    assert!(ids.iter().all(Option::is_some), "{ids:?}");
    assert_eq!(inbound_jobs(&store.pool()).await, (2, 5));
    assert!(
        store
            .insert_inbound_batch(&[], &INBOUND_JOBS, now)
            .await
            .unwrap()
            .is_empty()
    );
    db.cleanup().await;
}
both_backends!(batch, super::batch_stores_rows_with_their_jobs);

fn webhook(wa_id: &str, from: &str) -> String {
    serde_json::json!({
        "event": "messages.received",
        "timestamp": 1_764_000_000,
        "data": {"messages": {
            "key": {"id": wa_id, "fromMe": false, "remoteJid": format!("{from}@s.whatsapp.net"),
                    "cleanedSenderPn": from},
            "messageBody": "hola",
            "message": {"conversation": "hola"},
        }}
    })
    .to_string()
}

async fn concurrent_webhooks_each_stored_once(backend: Backend) {
    let Some(app) = TestApp::spawn(
        backend,
        Options::on(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()).http(),
    )
    .await
    else {
        return;
    };
    let client = reqwest::Client::new();
    let url = app.url("/webhooks/wasender");
    // 150 distinct messages from 3 senders, each delivered twice, all at once.
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..300 {
        let request = client
            .post(&url)
            .header("X-Webhook-Signature", WEBHOOK_SECRET)
            .header("content-type", "application/json")
            .body(webhook(
                &format!("3EB0CONC{:04}", i % 150),
                &format!("59398777777{}", i % 3),
            ));
        requests.spawn(async move { request.send().await.unwrap().status().as_u16() });
    }
    let mut statuses = Vec::new();
    while let Some(status) = requests.join_next().await {
        statuses.push(status.unwrap());
    }
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let pool = app.services.store.pool();
    let stored = || {
        scalar(
            &pool,
            "SELECT COUNT(*) FROM messages WHERE direction = 'in'",
            "SELECT COUNT(*) FROM messages WHERE direction = 'in'",
        )
    };
    assert_eq!(stored().await, 150);
    // Every row is carried by exactly one job (requests that met in the
    // writer share one).
    let (jobs, carried) = inbound_jobs(&pool).await;
    assert_eq!(carried, 150);
    assert!((1..=150).contains(&jobs), "{jobs} jobs");
    // The worker decodes and runs every one of those jobs, every message.
    let handled = || {
        scalar(
            &pool,
            "SELECT COUNT(*) FROM messages WHERE direction = 'in' AND status = 'processed'",
            "SELECT COUNT(*) FROM messages WHERE direction = 'in' AND status = 'processed'",
        )
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while handled().await < 150 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(handled().await, 150);
    app.cleanup().await;
}
both_backends!(concurrent, super::concurrent_webhooks_each_stored_once);
