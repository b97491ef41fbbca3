//! Release measurement of issue 16's target (`cargo bench --bench
//! payments`): a signed Mercado Pago notification → the customer's
//! confirmation handed to WaSender, no pacing, on the real application with
//! SQLite in a temporary directory, a fake Mercado Pago (`GET
//! /v1/payments/{id}`) and a fake WaSender. Target: p99 < 200 ms.
//!
//! 1. **Closed loop**: `BENCH_PAYMENTS` (500) payments by `BENCH_IN_FLIGHT`
//!    (20) customers at once, each paying again once their confirmation
//!    arrived: 20 payments in flight end to end.
//! 2. **Burst**: another 500 notifications as fast as 20 concurrent
//!    requests go; the webhook answers once the payment is settled, so
//!    the confirmations queue behind the one send slot of the number.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use avisa::app::{Application, Overrides};
use avisa::config::Config;
use avisa::domain::{Money, Phone, Region, SystemClock};
use avisa::payments::signature::{mercadopago_manifest, sign_hex};
use avisa::store::NewSubscription;
use axum::Json;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use hdrhistogram::Histogram;

const WASENDER_SECRET: &str = "bench-webhook-secret-0123456789";
const MP_SECRET: &str = "bench-mercadopago-secret";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// When each phone's first send-message request arrived.
type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;
/// Payment id → link token, for the fake Mercado Pago.
type Tokens = Arc<Mutex<HashMap<String, String>>>;

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn fake_wasender() -> (String, Arrivals) {
    let arrivals: Arrivals = Arc::default();
    let app = axum::Router::new()
        .route(
            "/api/send-message",
            post(
                |State(arrivals): State<Arrivals>, Json(body): Json<serde_json::Value>| async move {
                    let to = body["to"].as_str().unwrap_or_default().to_string();
                    arrivals
                        .lock()
                        .unwrap()
                        .entry(to)
                        .or_insert_with(Instant::now);
                    Json(serde_json::json!({"success": true,
                        "data": {"msgId": 1, "jid": "x", "status": "in_progress"}}))
                },
            ),
        )
        .with_state(arrivals.clone());
    (serve(app).await, arrivals)
}

async fn fake_mercadopago(tokens: Tokens) -> String {
    let app = axum::Router::new()
        .route(
            "/v1/payments/{id}",
            get(
                |State(tokens): State<Tokens>, Path(id): Path<String>| async move {
                    let token = tokens.lock().unwrap().get(&id).cloned().unwrap_or_default();
                    Json(serde_json::json!({"id": id.parse::<i64>().unwrap_or(0),
                        "status": "approved", "transaction_amount": 7.5,
                        "currency_id": "USD", "external_reference": token}))
                },
            ),
        )
        .with_state(tokens);
    serve(app).await
}

fn config(database_url: &str, wasender: &str, mercadopago: &str) -> Config {
    let vars: HashMap<String, String> = [
        ("DATABASE_URL", database_url.to_string()),
        ("AVISA_LISTEN", "127.0.0.1:0".to_string()),
        ("WASENDER_API_KEY", "bench-key-0123456789".to_string()),
        ("WASENDER_BASE_URL", format!("{wasender}/api")),
        ("WASENDER_WEBHOOK_SECRET", WASENDER_SECRET.to_string()),
        ("AVISA_SEND_INTERVAL_MS", "0".to_string()),
        ("AVISA_SEND_JITTER_MS", "0".to_string()),
        ("AVISA_QUIET_HOURS", "off".to_string()),
        ("AVISA_REMINDER_TIME", "23:59".to_string()),
        ("AVISA_PUBLIC_URL", "https://avisa.example.com".to_string()),
        ("AVISA_PAYMENTS", "mercadopago".to_string()),
        ("MERCADOPAGO_ACCESS_TOKEN", "APP_USR-bench".to_string()),
        ("MERCADOPAGO_WEBHOOK_SECRET", MP_SECRET.to_string()),
        ("MERCADOPAGO_BASE_URL", mercadopago.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Config::from_vars(&vars).expect("bench config")
}

fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

async fn notification_to_confirmation(count: usize, in_flight: usize) {
    let dir = tempfile::tempdir().unwrap();
    let (wasender, arrivals) = fake_wasender().await;
    let tokens: Tokens = Arc::default();
    let mercadopago = fake_mercadopago(tokens.clone()).await;
    let database = format!("sqlite://{}", dir.path().join("avisa.db").display());
    let app = Application::build(
        config(&database, &wasender, &mercadopago),
        Overrides {
            clock: Arc::new(SystemClock),
        },
    )
    .await
    .expect("build app");
    let url = format!("http://127.0.0.1:{}", app.port());
    let services = app.services();
    let end = chrono::Utc::now().date_naive() + chrono::Duration::days(20);
    let rows: Vec<NewSubscription> = (0..2 * count)
        .map(|i| NewSubscription {
            name: format!("Cliente {i}"),
            phone: Phone::parse(&format!("+59399{:07}", 1_000_000 + i), Region::default()).unwrap(),
            email: None,
            service: "Netflix".into(),
            end_date: end,
            price: Money::from_cents(750),
        })
        .collect();
    let store = services.store.clone();
    store
        .upsert_subscriptions(&rows, chrono::Utc::now())
        .await
        .unwrap();
    let subs = store.active_subscriptions_ending(end, end).await.unwrap();
    let pairs: Vec<(i64, chrono::NaiveDate)> = subs.iter().map(|s| (s.id, s.end_date)).collect();
    let links = avisa::payments::links::links_for(
        store.as_ref(),
        &services.config,
        &pairs,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let mut phone_of = HashMap::new();
    for (i, (sub, link)) in subs.iter().zip(&links).enumerate() {
        let id = format!("{}", 900_000_000 + i);
        let token = link.rsplit('/').next().unwrap().to_string();
        tokens.lock().unwrap().insert(id.clone(), token);
        phone_of.insert(id, sub.phone.as_str().to_string());
    }
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    tokio::time::sleep(Duration::from_millis(500)).await;

    let client = reqwest::Client::new();
    let payments: Vec<(String, String)> = phone_of.into_iter().collect();
    let (closed, burst) = payments.split_at(count);
    // Closed loop: each of `in_flight` customers pays, and pays again once
    // their confirmation has arrived.
    let queue = Arc::new(Mutex::new(closed.to_vec()));
    let mut workers = Vec::new();
    for _ in 0..in_flight {
        let (queue, client, arrivals, url) =
            (queue.clone(), client.clone(), arrivals.clone(), url.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let next = queue.lock().unwrap().pop();
                let Some((id, phone)) = next else {
                    return latencies;
                };
                let sent = Instant::now();
                notify(&client, &url, &id).await;
                let deadline = sent + Duration::from_secs(30);
                loop {
                    let arrived = arrivals.lock().unwrap().get(&phone).copied();
                    if let Some(arrived) = arrived {
                        latencies.push(arrived - sent);
                        break;
                    }
                    if Instant::now() > deadline {
                        break;
                    }
                    tokio::time::sleep(Duration::from_micros(500)).await;
                }
            }
        }));
    }
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    let started = Instant::now();
    for worker in workers {
        for latency in worker.await.unwrap() {
            histogram.saturating_record(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
        }
    }
    report(
        "closed loop",
        count,
        in_flight,
        &histogram,
        started.elapsed(),
    );

    // Burst: every notification as fast as `in_flight` requests allow.
    let slots = Arc::new(tokio::sync::Semaphore::new(in_flight));
    let mut sent_at = HashMap::new();
    let mut tasks = Vec::new();
    let started = Instant::now();
    for (id, phone) in burst {
        let permit = slots.clone().acquire_owned().await.unwrap();
        sent_at.insert(phone.clone(), Instant::now());
        let (client, url, id) = (client.clone(), url.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            notify(&client, &url, &id).await;
            drop(permit);
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while arrivals.lock().unwrap().len() < 2 * count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    for (phone, sent) in &sent_at {
        if let Some(arrived) = arrivals.lock().unwrap().get(phone) {
            let us = u64::try_from((*arrived - *sent).as_micros()).unwrap_or(u64::MAX);
            histogram.saturating_record(us);
        }
    }
    report("burst", count, in_flight, &histogram, started.elapsed());
    let renewals: i64 = match store.pool() {
        avisa::store::Pool::Sqlite(pool) => sqlx::query_scalar("SELECT COUNT(*) FROM renewals")
            .fetch_one(&pool)
            .await
            .unwrap(),
        avisa::store::Pool::Postgres(pool) => sqlx::query_scalar("SELECT COUNT(*) FROM renewals")
            .fetch_one(&pool)
            .await
            .unwrap(),
    };
    println!("renewals: {renewals} for {} payments", 2 * count);
}

/// One signed notification for payment `id`.
async fn notify(client: &reqwest::Client, url: &str, id: &str) {
    let ts = "1764082800000";
    let request_id = format!("req-{id}");
    let manifest = mercadopago_manifest(Some(id), Some(&request_id), ts);
    let v1 = sign_hex(MP_SECRET.as_bytes(), manifest.as_bytes());
    let response = client
        .post(format!(
            "{url}/webhooks/mercadopago?data.id={id}&type=payment"
        ))
        .header("x-signature", format!("ts={ts},v1={v1}"))
        .header("x-request-id", request_id)
        .json(&serde_json::json!({"type": "payment", "data": {"id": id}}))
        .send()
        .await;
    assert_eq!(response.map(|r| r.status().as_u16()).ok(), Some(200));
}

fn report(what: &str, count: usize, in_flight: usize, histogram: &Histogram<u64>, took: Duration) {
    println!(
        "payment → confirmation, {what} ({} of {count} payments, {in_flight} in flight, {:.0}/s): \
         p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        histogram.len(),
        count as f64 / took.as_secs_f64(),
        us_to_ms(histogram.value_at_quantile(0.50)),
        us_to_ms(histogram.value_at_quantile(0.99)),
        us_to_ms(histogram.max()),
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let count = env_usize("BENCH_PAYMENTS", 500);
    let in_flight = env_usize("BENCH_IN_FLIGHT", 20);
    runtime.block_on(notification_to_confirmation(count, in_flight));
}
