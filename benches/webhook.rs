//! Release load test of webhook ingest (`cargo bench --bench webhook`).
//!
//! Starts the real application (`Application::build` + `run_until_stopped`:
//! HTTP server, job workers and schedule, exactly what `avisa serve` runs) on
//! 127.0.0.1:0 with SQLite in a temporary directory and a fake WaSender, then
//! fires signed `messages.received` webhooks with distinct WhatsApp ids from a
//! bundled load generator (reqwest, keep-alive, C concurrent connections).
//! Two measurements, then a check that every webhook left one inbound row,
//! carried by a handling job, in the database:
//!
//! 1. **At a fixed rate** (open loop, as wrk2 does): request `i` is due at
//!    `start + i / rate` and is sent then, whether or not earlier ones have
//!    been answered; its latency counts from when it was due, so a stall is
//!    charged to every request it delayed (no coordinated omission). This is
//!    the target: p99 at 5,000 webhooks/s.
//! 2. **At saturation** (closed loop): C connections each send the next
//!    request as soon as the previous one is answered; requests/s is the
//!    most the server takes, and latency is mostly time queued behind the
//!    other connections (Little's law: C / rate).
//!
//! Settings (environment):
//! - `BENCH_RATE` (5000): webhooks per second in the fixed-rate run (0: skip it)
//! - `BENCH_RATE_SECS` (10): length of the fixed-rate run
//! - `BENCH_WEBHOOKS` (20000): requests in the saturation run (0: skip it)
//! - `BENCH_CONCURRENCY` (64): connections in the saturation run
//! - `BENCH_WARMUP` (1000): requests before measuring (also stored and counted)
//! - `BENCH_TIMELINE` (unset): print the fixed-rate run's worst latency per 100 ms
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
use hdrhistogram::Histogram;
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
    /// Request latencies in microseconds (1 µs to 60 s, 3 significant
    /// digits; longer ones count as 60 s).
    latencies_us: Histogram<u64>,
    statuses: BTreeMap<String, usize>,
    elapsed: Duration,
}

fn http_client(idle_connections: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(idle_connections)
        .http1_only()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// Posts one signed webhook; returns the status code (or timeout/error).
async fn post(client: &reqwest::Client, url: &str, body: Bytes) -> String {
    let result = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-webhook-signature", SECRET)
        .body(body)
        .send()
        .await;
    match result {
        Ok(response) => {
            let status = response.status().as_u16().to_string();
            // Read the body so the connection is reused.
            let _ = response.bytes().await;
            status
        }
        Err(e) if e.is_timeout() => "timeout".to_string(),
        Err(_) => "error".to_string(),
    }
}

impl Run {
    fn new() -> Run {
        Run {
            latencies_us: Histogram::new_with_bounds(1, 60_000_000, 3)
                .expect("1 µs to 60 s at 3 significant digits is valid"),
            statuses: BTreeMap::new(),
            elapsed: Duration::ZERO,
        }
    }

    fn record(&mut self, latency: Duration, status: String) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latencies_us.saturating_record(us);
        *self.statuses.entry(status).or_default() += 1;
    }

    fn finish(&mut self, started: Instant) {
        self.elapsed = started.elapsed();
    }
}

/// Closed loop: sends `bodies` over `concurrency` keep-alive connections,
/// each task taking the next body as soon as its previous one is answered.
async fn fire(url: &str, bodies: Arc<Vec<Bytes>>, concurrency: usize) -> Run {
    let client = http_client(concurrency);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let bodies = bodies.clone();
        let next = next.clone();
        let url = url.to_string();
        tasks.spawn(async move {
            let mut run = Run::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let sent = Instant::now();
                let status = post(&client, &url, body.clone()).await;
                run.record(sent.elapsed(), status);
            }
            run
        });
    }
    let mut run = Run::new();
    while let Some(done) = tasks.join_next().await {
        let part = done.expect("load task");
        run.latencies_us
            .add(&part.latencies_us)
            .expect("histograms of the same precision");
        for (status, n) in part.statuses {
            *run.statuses.entry(status).or_default() += n;
        }
    }
    run.finish(started);
    run
}

/// Open loop: request `i` is due at `start + i / rate` and goes out then on
/// its own task, whatever earlier requests are doing (connections open as
/// needed). Latency counts from the due time, so time a request spent
/// waiting to be sent because the server stalled is counted too.
async fn fire_at_rate(url: &str, bodies: Arc<Vec<Bytes>>, rate: f64) -> Run {
    let client = http_client(1_024);
    let started = Instant::now();
    let start = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, body) in bodies.iter().enumerate() {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due).await;
        let client = client.clone();
        let url = url.to_string();
        let body = body.clone();
        tasks.spawn(async move {
            let status = post(&client, &url, body).await;
            (due, due.elapsed(), status)
        });
    }
    let mut run = Run::new();
    let mut by_due = Vec::with_capacity(bodies.len());
    while let Some(done) = tasks.join_next().await {
        let (due, latency, status) = done.expect("load task");
        by_due.push((due - start, latency));
        run.record(latency, status);
    }
    if std::env::var_os("BENCH_TIMELINE").is_some() {
        print_timeline(by_due);
    }
    run.finish(started);
    run
}

/// The worst latency of the requests due in each 100 ms, one line per second:
/// shows whether slow requests come in bursts and how often.
fn print_timeline(mut by_due: Vec<(Duration, Duration)>) {
    by_due.sort_unstable();
    let mut worst = BTreeMap::<u128, u128>::new();
    for (due, latency) in by_due {
        let slot = worst.entry(due.as_millis() / 100).or_default();
        *slot = (*slot).max(latency.as_millis());
    }
    for second in worst
        .keys()
        .map(|slot| slot / 10)
        .collect::<std::collections::BTreeSet<_>>()
    {
        let row: Vec<String> = (second * 10..second * 10 + 10)
            .map(|slot| {
                worst
                    .get(&slot)
                    .map(|ms| format!("{ms:>4}"))
                    .unwrap_or_default()
            })
            .collect();
        println!("  {second:>3} s: worst ms per 100 ms {}", row.join(""));
    }
}

/// CPU seconds used so far by this process's threads, split into the load
/// generator's (threads named `load`) and everything else (the server: HTTP,
/// handlers, SQLite, workers). Linux only; zeros elsewhere.
fn cpu_seconds() -> (f64, f64) {
    let ticks = 100.0; // USER_HZ on Linux
    let (mut load, mut server) = (0.0, 0.0);
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return (0.0, 0.0);
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ... utime stime: fields 14 and 15, after the comm.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let comm = head.split_once('(').map(|(_, c)| c).unwrap_or("");
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let used = fields
            .get(11..13)
            .map(|f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum::<f64>())
            .unwrap_or(0.0)
            / ticks;
        if comm.starts_with("load") {
            load += used;
        } else {
            server += used;
        }
    }
    (load, server)
}

/// The latency at percentile `p` (0–100), in milliseconds.
fn percentile(latencies_us: &Histogram<u64>, p: f64) -> f64 {
    if latencies_us.is_empty() {
        return f64::NAN;
    }
    latencies_us.value_at_percentile(p) as f64 / 1000.0
}

async fn count(pool: &sqlx::SqlitePool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .expect("count query")
}

/// Prints one run's rate, latency percentiles, status codes and CPU use.
fn report(
    run: &Run,
    (load_before, server_before): (f64, f64),
    (load_after, server_after): (f64, f64),
) {
    let requests = run.latencies_us.len() as usize;
    let secs = run.elapsed.as_secs_f64();
    let lat = &run.latencies_us;
    println!(
        "  {requests} requests in {secs:.2} s = {:.0} requests/s",
        requests as f64 / secs
    );
    println!(
        "  latency ms: p50 {:.2}  p95 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        percentile(lat, 50.0),
        percentile(lat, 95.0),
        percentile(lat, 99.0),
        percentile(lat, 99.9),
        if lat.is_empty() {
            f64::NAN
        } else {
            lat.max() as f64 / 1000.0
        }
    );
    println!("  status codes: {:?}", run.statuses);
    let (server_cpu, load_cpu) = (server_after - server_before, load_after - load_before);
    println!(
        "  CPU: server {server_cpu:.2} s ({:.0} µs/webhook), load generator {load_cpu:.2} s; {:.2} of 2 cores busy with this process",
        server_cpu * 1e6 / requests as f64,
        (server_cpu + load_cpu) / secs
    );
}

fn main() {
    let n = env_usize("BENCH_WEBHOOKS", 20_000);
    let concurrency = env_usize("BENCH_CONCURRENCY", 64);
    let warmup = env_usize("BENCH_WARMUP", 1_000);
    let drain_secs = env_usize("BENCH_DRAIN_SECS", 0);
    let rate = env_usize("BENCH_RATE", 5_000);
    let rate_secs = env_usize("BENCH_RATE_SECS", 10);

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
    println!(
        "webhook ingest: signed messages.received, SQLite (WAL, synchronous=NORMAL), workers running; {warmup} warm-up requests first"
    );
    client_rt.block_on(fire(&address, warm, concurrency));
    let handled_before = server_rt.block_on(count(
        &pool,
        "SELECT COUNT(*) FROM messages WHERE direction = 'in' AND status <> 'received'",
    ));
    let mut sent = warmup;

    if rate > 0 {
        let total = rate * rate_secs;
        let bodies: Arc<Vec<Bytes>> = Arc::new((0..total).map(|i| payload("RATE", i)).collect());
        println!(
            "fixed rate: {total} webhooks at {rate}/s for {rate_secs} s (open loop, latency from each request's due time)"
        );
        let before = cpu_seconds();
        let run = client_rt.block_on(fire_at_rate(&address, bodies, rate as f64));
        report(&run, before, cpu_seconds());
        sent += total;
    }
    if n > 0 {
        let bodies: Arc<Vec<Bytes>> = Arc::new((0..n).map(|i| payload("BENCH", i)).collect());
        println!("saturation: {n} webhooks over {concurrency} connections (closed loop)");
        let before = cpu_seconds();
        let run = client_rt.block_on(fire(&address, bodies, concurrency));
        report(&run, before, cpu_seconds());
        sent += n;
    }

    let expected = sent as i64;
    let (stored, jobs, carried, handled) = server_rt.block_on(async {
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
                "SELECT COALESCE(SUM(json_array_length(CAST(job AS TEXT), '$.message_ids')), 0) \
                 FROM Jobs WHERE job_type = 'avisa::handle_inbound'",
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
        "  stored inbound rows {stored} / {expected} expected, carried by {jobs} handling jobs: {carried}; nothing lost = {}",
        stored == expected && carried == expected
    );
    println!(
        "  handled by the inbound worker during the runs: {} (it runs beside ingest, not measured)",
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
