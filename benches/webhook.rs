//! Release load test of webhook ingest (`cargo bench --bench webhook`).
//!
//! Starts the real application (`Application::build` + `run_until_stopped`:
//! HTTP server, job workers and schedule, exactly what `avisa serve` runs) on
//! 127.0.0.1:0 with SQLite in a temporary directory and a fake WaSender, then
//! fires signed `messages.received` webhooks with distinct WhatsApp ids from a
//! bundled load generator (reqwest, keep-alive, C concurrent connections).
//! Prints requests/s, latency percentiles and status codes, then checks that
//! every webhook left one inbound row and one handling job in the database.
//!
//! Settings (environment):
//! - `BENCH_WEBHOOKS` (20000): measured requests
//! - `BENCH_CONCURRENCY` (64): concurrent connections
//! - `BENCH_WARMUP` (1000): requests before measuring (also stored and counted)
//! - `BENCH_DRAIN_SECS` (0): afterwards, wait up to this long for the inbound
//!   worker to handle the backlog and print its rate
//!
//! The server runs on its own 2-thread runtime, the load generator on
//! another; both share the machine's cores, as a reverse proxy would.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use avisa::app::{Application, Overrides};
use avisa::config::Config;
use avisa::domain::{Money, Phone, Region, SystemClock};
use avisa::store::{NewSubscription, Pool};
use axum::body::Bytes;
use chrono::NaiveDate;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "bench-webhook-secret-0123456789";
const KNOWN_CLIENTS: usize = 2_000;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Sender of webhook `i`: nine in ten are known clients, one in ten unknown.
fn sender(i: usize) -> String {
    if i.is_multiple_of(10) {
        format!("59398{:07}", 1_000_000 + (i / 10) % 5_000)
    } else {
        format!("59399{:07}", 1_000_000 + i % KNOWN_CLIENTS)
    }
}

fn payload(prefix: &str, i: usize) -> Bytes {
    let from = sender(i);
    let text = ["hola", "1", "gracias", "¿cuándo vence?"][i % 4];
    Bytes::from(
        serde_json::json!({
            "event": "messages.received",
            "timestamp": 1_764_000_000 + i,
            "data": {"messages": {
                "key": {
                    "id": format!("{prefix}{i:010}"),
                    "fromMe": false,
                    "remoteJid": format!("{from}@s.whatsapp.net"),
                    "addressingMode": "pn",
                    "senderPn": format!("{from}@s.whatsapp.net"),
                    "cleanedSenderPn": from,
                },
                "messageBody": text,
                "message": {"conversation": text},
            }}
        })
        .to_string(),
    )
}

fn config(db: &std::path::Path, wasender: &str) -> Config {
    let vars: HashMap<String, String> = [
        ("DATABASE_URL", format!("sqlite://{}", db.display())),
        ("AVISA_LISTEN", "127.0.0.1:0".to_string()),
        ("WASENDER_API_KEY", "bench-key-0123456789".to_string()),
        ("WASENDER_BASE_URL", format!("{wasender}/api")),
        ("WASENDER_WEBHOOK_SECRET", SECRET.to_string()),
        ("AVISA_STAFF_PHONES", "0990000001".to_string()),
        // Production pacing (one send per 5 s): replies queue up, as they would.
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Config::from_vars(&vars).expect("bench config")
}

struct Run {
    latencies_us: Vec<u32>,
    statuses: BTreeMap<String, usize>,
    elapsed: Duration,
}

/// Sends `bodies` over `concurrency` keep-alive connections, each task taking
/// the next body until none are left.
async fn fire(url: &str, bodies: Arc<Vec<Bytes>>, concurrency: usize) -> Run {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .http1_only()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let bodies = bodies.clone();
        let next = next.clone();
        let url = url.to_string();
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(bodies.len() / concurrency + 1);
            let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let sent = Instant::now();
                let result = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-webhook-signature", SECRET)
                    .body(body.clone())
                    .send()
                    .await;
                let status = match result {
                    Ok(response) => {
                        let status = response.status().as_u16().to_string();
                        // Read the body so the connection is reused.
                        let _ = response.bytes().await;
                        status
                    }
                    Err(e) if e.is_timeout() => "timeout".to_string(),
                    Err(_) => "error".to_string(),
                };
                latencies.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                *statuses.entry(status).or_default() += 1;
            }
            (latencies, statuses)
        });
    }
    let mut run = Run {
        latencies_us: Vec::with_capacity(bodies.len()),
        statuses: BTreeMap::new(),
        elapsed: Duration::ZERO,
    };
    while let Some(done) = tasks.join_next().await {
        let (latencies, statuses) = done.expect("load task");
        run.latencies_us.extend(latencies);
        for (status, n) in statuses {
            *run.statuses.entry(status).or_default() += n;
        }
    }
    run.elapsed = started.elapsed();
    run.latencies_us.sort_unstable();
    run
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

async fn count(pool: &sqlx::SqlitePool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .expect("count query")
}

fn main() {
    let n = env_usize("BENCH_WEBHOOKS", 20_000);
    let concurrency = env_usize("BENCH_CONCURRENCY", 64);
    let warmup = env_usize("BENCH_WARMUP", 1_000);
    let drain_secs = env_usize("BENCH_DRAIN_SECS", 0);

    let dir = tempfile::tempdir().expect("tempdir");
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("avisa-server")
        .enable_all()
        .build()
        .expect("server runtime");
    let (address, services, _wasender) = server_rt.block_on(async {
        let wasender = MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        Mock::given(method("POST"))
            .and(path("/api/send-message"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({"success": true, "data": {"msgId": 1}})),
            )
            .mount(&wasender)
            .await;
        let config = config(&dir.path().join("bench.db"), &wasender.uri());
        let app = Application::build(
            config,
            Overrides {
                clock: Arc::new(SystemClock),
            },
        )
        .await
        .expect("build app");
        let services = app.services();
        let clients: Vec<NewSubscription> = (0..KNOWN_CLIENTS)
            .map(|i| NewSubscription {
                name: format!("Cliente {i}"),
                phone: Phone::parse(&format!("+59399{:07}", 1_000_000 + i), Region::default())
                    .expect("phone"),
                email: None,
                service: "Netflix".to_string(),
                end_date: NaiveDate::from_ymd_opt(2031, 1, 1).expect("date"),
                price: Money::from_cents(750),
            })
            .collect();
        services
            .store
            .upsert_subscriptions(&clients, chrono::Utc::now())
            .await
            .expect("seed clients");
        let address = format!("http://127.0.0.1:{}/webhooks/wasender", app.port());
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        (address, services, wasender)
    });
    let Pool::Sqlite(pool) = services.store.pool() else {
        panic!("the bench runs on SQLite");
    };

    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("load")
        .enable_all()
        .build()
        .expect("client runtime");
    let warm: Arc<Vec<Bytes>> = Arc::new((0..warmup).map(|i| payload("WARM", i)).collect());
    let bodies: Arc<Vec<Bytes>> = Arc::new((0..n).map(|i| payload("BENCH", i)).collect());
    println!(
        "webhook ingest: {n} signed messages.received ({warmup} warm-up first), {concurrency} connections, SQLite (WAL, synchronous=NORMAL), workers running"
    );
    client_rt.block_on(fire(&address, warm, concurrency));
    let handled_before = server_rt.block_on(count(
        &pool,
        "SELECT COUNT(*) FROM messages WHERE direction = 'in' AND status <> 'received'",
    ));
    let run = client_rt.block_on(fire(&address, bodies, concurrency));
    let secs = run.elapsed.as_secs_f64();
    let lat = &run.latencies_us;
    println!(
        "  {n} requests in {secs:.2} s = {:.0} requests/s",
        n as f64 / secs
    );
    println!(
        "  latency ms: p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2}",
        percentile(lat, 50.0),
        percentile(lat, 95.0),
        percentile(lat, 99.0),
        lat.last().map(|v| *v as f64 / 1000.0).unwrap_or(f64::NAN)
    );
    println!("  status codes: {:?}", run.statuses);

    let expected = (n + warmup) as i64;
    let (stored, jobs, handled) = server_rt.block_on(async {
        (
            count(
                &pool,
                "SELECT COUNT(*) FROM messages WHERE direction = 'in'",
            )
            .await,
            count(
                &pool,
                "SELECT COUNT(*) FROM Jobs WHERE job_type = 'avisa::handle_inbound'",
            )
            .await,
            count(
                &pool,
                "SELECT COUNT(*) FROM messages WHERE direction = 'in' AND status <> 'received'",
            )
            .await,
        )
    });
    println!(
        "  stored inbound rows {stored} / {expected} expected, handling jobs {jobs}: nothing lost = {}",
        stored == expected && jobs == expected
    );
    println!(
        "  handled by the inbound worker during the run: {} (it runs beside ingest, not measured)",
        handled - handled_before
    );
    if drain_secs > 0 {
        let started = Instant::now();
        let deadline = started + Duration::from_secs(drain_secs as u64);
        let mut handled = handled;
        server_rt.block_on(async {
            while handled < expected && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(500)).await;
                handled = count(
                    &pool,
                    "SELECT COUNT(*) FROM messages WHERE direction = 'in' AND status <> 'received'",
                )
                .await;
            }
        });
        println!(
            "  drain: {handled} / {expected} handled after {:.1} s more",
            started.elapsed().as_secs_f64()
        );
    }
    drop(client_rt);
    drop(server_rt);
}
