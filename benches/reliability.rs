//! Release measurements of the reliability targets (`cargo bench --bench
//! reliability`), on the real application (`Application::build` +
//! `run_until_stopped`, what `avisa serve` runs) with SQLite in a temporary
//! directory and a fake WaSender that notes when each request arrives:
//!
//! 1. **Reply latency**: a customer's "hola" webhook → the reply's request
//!    at WaSender, with no pacing, at 2/s and at 20/s (target p99 < 100 ms).
//! 2. **Two processes, one number**: two services on one database send 40
//!    reminders at a 200 ms interval; their combined rate and the smallest
//!    gap between one request's answer and the next request.
//!
//! Settings: `BENCH_LATENCY_SECS` (10), `BENCH_PACED` (40).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use avisa::app::{Application, Overrides};
use avisa::config::Config;
use avisa::domain::{Money, Phone, Region, SystemClock};
use avisa::store::NewSubscription;
use axum::Json;
use axum::extract::State;
use axum::routing::post;
use hdrhistogram::Histogram;

const SECRET: &str = "bench-webhook-secret-0123456789";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// (arrived, answered, to) of every send-message request.
type Arrivals = Arc<Mutex<Vec<(Instant, Instant, String)>>>;

async fn send_message(
    State(arrivals): State<Arrivals>,
    Json(body): Json<serde_json::Value>,
) -> Json<serde_json::Value> {
    let arrived = Instant::now();
    let to = body["to"].as_str().unwrap_or_default().to_string();
    arrivals.lock().unwrap().push((arrived, Instant::now(), to));
    Json(
        serde_json::json!({"success": true, "data": {"msgId": 1, "jid": "x", "status": "in_progress"}}),
    )
}

async fn fake_wasender() -> (String, Arrivals) {
    let arrivals: Arrivals = Arc::default();
    let app = axum::Router::new()
        .route("/api/send-message", post(send_message))
        .with_state(arrivals.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, arrivals)
}

fn config(database_url: &str, wasender: &str, interval_ms: u64) -> Config {
    let vars: HashMap<String, String> = [
        ("DATABASE_URL", database_url.to_string()),
        ("AVISA_LISTEN", "127.0.0.1:0".to_string()),
        ("WASENDER_API_KEY", "bench-key-0123456789".to_string()),
        ("WASENDER_BASE_URL", format!("{wasender}/api")),
        ("WASENDER_WEBHOOK_SECRET", SECRET.to_string()),
        ("AVISA_SEND_INTERVAL_MS", interval_ms.to_string()),
        ("AVISA_SEND_JITTER_MS", "0".to_string()),
        ("AVISA_QUIET_HOURS", "off".to_string()),
        ("AVISA_REMINDER_TIME", "23:59".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Config::from_vars(&vars).expect("bench config")
}

/// Latencies in microseconds (1 µs to 60 s, 3 significant digits; longer
/// ones count as 60 s).
fn histogram(latencies: impl IntoIterator<Item = Duration>) -> Histogram<u64> {
    let mut histogram = Histogram::new_with_bounds(1, 60_000_000, 3)
        .expect("1 µs to 60 s at 3 significant digits is valid");
    for latency in latencies {
        histogram.saturating_record(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    }
    histogram
}

/// Microseconds as milliseconds.
fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn start(database_url: &str, wasender: &str, interval_ms: u64) -> (String, Application) {
    let app = Application::build(
        config(database_url, wasender, interval_ms),
        Overrides {
            clock: Arc::new(SystemClock),
        },
    )
    .await
    .expect("build app");
    (format!("http://127.0.0.1:{}", app.port()), app)
}

async fn reply_latency(rate: u32, secs: u32) {
    let dir = tempfile::tempdir().unwrap();
    let (wasender, arrivals) = fake_wasender().await;
    let database = format!("sqlite://{}", dir.path().join("avisa.db").display());
    let (url, app) = start(&database, &wasender, 0).await;
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let client = reqwest::Client::new();
    let count = (rate * secs) as usize;
    let mut sent_at = HashMap::new();
    let started = Instant::now();
    for i in 0..count {
        let due = started + Duration::from_secs_f64(i as f64 / f64::from(rate));
        tokio::time::sleep_until(due.into()).await;
        let from = format!("59399{:07}", 1_000_000 + i);
        let body = serde_json::json!({
            "event": "messages.received",
            "timestamp": 1_764_000_000 + i,
            "data": {"messages": {
                "key": {"id": format!("3EBLAT{rate}{i:08}"), "fromMe": false,
                        "remoteJid": format!("{from}@s.whatsapp.net"), "cleanedSenderPn": from},
                "messageBody": "hola", "message": {"conversation": "hola"},
            }}
        });
        sent_at.insert(format!("+{from}"), Instant::now());
        let client = client.clone();
        let url = format!("{url}/webhooks/wasender");
        tokio::spawn(async move {
            let _ = client
                .post(url)
                .header("x-webhook-signature", SECRET)
                .json(&body)
                .send()
                .await;
        });
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while arrivals.lock().unwrap().len() < count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let latencies = histogram(
        arrivals
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(arrived, _, to)| sent_at.get(to).map(|sent| *arrived - *sent)),
    );
    println!(
        "reply latency at {rate:>2}/s ({} replies of {count}): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        us_to_ms(latencies.value_at_quantile(0.50)),
        us_to_ms(latencies.value_at_quantile(0.99)),
        us_to_ms(latencies.max()),
    );
}

/// A fresh PostgreSQL database on the server of `AVISA_TEST_POSTGRES_URL`.
async fn postgres_database() -> Option<String> {
    use sqlx::Connection;
    let admin = std::env::var("AVISA_TEST_POSTGRES_URL").ok()?;
    let mut connection = sqlx::PgConnection::connect(&admin).await.ok()?;
    let name = format!("avisa_bench_{}", std::process::id());
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}"
    )))
    .execute(&mut connection)
    .await
    .ok()?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await
        .ok()?;
    let root = &admin[..admin.rfind('/')?];
    Some(format!("{root}/{name}"))
}

async fn drop_postgres_database() {
    use sqlx::Connection;
    let Ok(admin) = std::env::var("AVISA_TEST_POSTGRES_URL") else {
        return;
    };
    if let Ok(mut connection) = sqlx::PgConnection::connect(&admin).await {
        let name = format!("avisa_bench_{}", std::process::id());
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut connection)
        .await;
    }
}

async fn two_processes(backend: &str, database: &str, reminders: usize) {
    const INTERVAL_MS: u64 = 200;
    let (wasender, arrivals) = fake_wasender().await;
    let (_, first) = start(database, &wasender, INTERVAL_MS).await;
    let (_, second) = start(database, &wasender, INTERVAL_MS).await;
    let services = first.services();
    let today = avisa::domain::clock::local_today(&SystemClock, services.config.timezone);
    let rows: Vec<NewSubscription> = (0..reminders)
        .map(|i| NewSubscription {
            name: format!("Cliente {i}"),
            phone: Phone::parse(&format!("09{:08}", 90_000_000 + i), Region::default()).unwrap(),
            email: None,
            service: "Netflix".into(),
            end_date: today + chrono::Duration::days(3),
            price: Money::from_cents(750),
        })
        .collect();
    services
        .store
        .upsert_subscriptions(&rows, chrono::Utc::now())
        .await
        .unwrap();
    tokio::spawn(first.run_until_stopped(std::future::pending()));
    tokio::spawn(second.run_until_stopped(std::future::pending()));
    avisa::jobs::plan::plan_and_queue(&services, today, true)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(reminders as u64 + 30);
    while arrivals.lock().unwrap().len() < reminders && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut seen = arrivals.lock().unwrap().clone();
    if seen.len() < 2 {
        println!(
            "two processes ({backend}): only {} sends arrived",
            seen.len()
        );
        return;
    }
    seen.sort_by_key(|(arrived, _, _)| *arrived);
    let gaps: Vec<Duration> = seen.windows(2).map(|w| w[1].0 - w[0].1).collect();
    let span = seen.last().unwrap().0 - seen.first().unwrap().0;
    println!(
        "two processes ({backend}), {INTERVAL_MS} ms interval: {} sends in {:.2} s = {:.2}/s combined (at most {:.2}/s allowed); smallest gap {:.1} ms, largest {:.1} ms",
        seen.len(),
        span.as_secs_f64(),
        (seen.len() - 1) as f64 / span.as_secs_f64(),
        1000.0 / INTERVAL_MS as f64,
        ms(gaps.iter().min().copied().unwrap_or_default()),
        ms(gaps.iter().max().copied().unwrap_or_default()),
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let secs = env_usize("BENCH_LATENCY_SECS", 10) as u32;
    runtime.block_on(async {
        reply_latency(2, secs).await;
        reply_latency(20, secs).await;
        let reminders = env_usize("BENCH_PACED", 40);
        if reminders > 1 {
            let dir = tempfile::tempdir().unwrap();
            let sqlite = format!("sqlite://{}", dir.path().join("avisa.db").display());
            two_processes("SQLite", &sqlite, reminders).await;
            match postgres_database().await {
                Some(url) => {
                    two_processes("PostgreSQL", &url, reminders).await;
                    drop_postgres_database().await;
                }
                None => {
                    println!("two processes (PostgreSQL): skipped, set AVISA_TEST_POSTGRES_URL")
                }
            }
        }
    });
}
