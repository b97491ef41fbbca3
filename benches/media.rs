//! Release measurements of receipts (`cargo bench --bench media`), on the
//! real application (`Application::build` + `run_until_stopped`, what
//! `avisa serve` runs) with SQLite in a temporary directory and a fake
//! WaSender in this process (`decrypt-media`, the files it links to, and
//! `send-message`, noting when each request arrives):
//!
//! 1. **Receipt latency**: a customer's image webhook → the staff notice,
//!    with the file's signed link, handed to the fake (no pacing): p50 and
//!    p99 over `BENCH_RECEIPTS` (200) receipts of 100 KB, 10 a second.
//! 2. **Memory**: 20 files of 16 MB arriving at once (20 webhooks sent
//!    together): this process' RSS high-water mark from just before them
//!    until every file is stored and its notice sent (target < 200 MB; the
//!    fake's one 16 MB buffer is shared by its answers and counted too).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use avisa::app::{Application, Overrides};
use avisa::config::Config;
use avisa::domain::{Money, Phone, Region, SystemClock};
use avisa::store::NewSubscription;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use hdrhistogram::Histogram;

const SECRET: &str = "bench-webhook-secret-0123456789";
const STAFF: &str = "+593990000001";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// VmHWM or VmRSS of this process, in MB.
fn status_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Starts the high-water mark again from the current RSS (Linux).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[derive(Clone, Default)]
struct Fake {
    base: Arc<Mutex<String>>,
    /// The bytes every file link serves (one shared buffer).
    file: Arc<Mutex<Bytes>>,
    /// (arrived, to, text) of every send-message request.
    sends: Arc<Mutex<Vec<(Instant, String, String)>>>,
}

async fn decrypt(
    State(fake): State<Fake>,
    Json(body): Json<serde_json::Value>,
) -> Json<serde_json::Value> {
    let id = body["data"]["messages"]["key"]["id"]
        .as_str()
        .unwrap_or("x");
    let base = fake.base.lock().unwrap().clone();
    Json(serde_json::json!({"success": true, "publicUrl": format!("{base}/files/{id}")}))
}

async fn file(State(fake): State<Fake>, Path(_id): Path<String>) -> Bytes {
    fake.file.lock().unwrap().clone()
}

async fn send(
    State(fake): State<Fake>,
    Json(body): Json<serde_json::Value>,
) -> Json<serde_json::Value> {
    let to = body["to"].as_str().unwrap_or_default().to_string();
    let text = body["text"].as_str().unwrap_or_default().to_string();
    let has_file = body.get("imageUrl").is_some() || body.get("documentUrl").is_some();
    if to == STAFF && !has_file {
        eprintln!("a staff notice without its file: {text}");
    }
    fake.sends.lock().unwrap().push((Instant::now(), to, text));
    Json(
        serde_json::json!({"success": true, "data": {"msgId": 1, "jid": "x", "status": "in_progress"}}),
    )
}

async fn fake_wasender() -> (String, Fake) {
    let fake = Fake::default();
    let app = axum::Router::new()
        .route("/api/decrypt-media", post(decrypt))
        .route("/api/send-message", post(send))
        .route("/files/{id}", get(file))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    *fake.base.lock().unwrap() = url.clone();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, fake)
}

fn config(database_url: &str, wasender: &str) -> Config {
    let vars: HashMap<String, String> = [
        ("DATABASE_URL", database_url.to_string()),
        ("AVISA_LISTEN", "127.0.0.1:0".to_string()),
        ("WASENDER_API_KEY", "bench-key-0123456789".to_string()),
        ("WASENDER_BASE_URL", format!("{wasender}/api")),
        ("WASENDER_WEBHOOK_SECRET", SECRET.to_string()),
        ("AVISA_SEND_INTERVAL_MS", "0".to_string()),
        ("AVISA_SEND_JITTER_MS", "0".to_string()),
        ("AVISA_QUIET_HOURS", "off".to_string()),
        ("AVISA_REMINDER_TIME", "23:59".to_string()),
        ("AVISA_STAFF_PHONES", STAFF.to_string()),
        ("AVISA_PUBLIC_URL", "https://avisa.example.com".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Config::from_vars(&vars).expect("bench config")
}

fn customer(i: usize) -> String {
    format!("59398{:07}", 1_000_000 + i)
}

/// A signed image webhook from customer `i`.
async fn send_image(client: &reqwest::Client, url: &str, i: usize, tag: &str) {
    let from = customer(i);
    let body = serde_json::json!({
        "event": "messages.received",
        "timestamp": 1_764_000_000 + i,
        "data": {"messages": {
            "key": {"id": format!("3EB{tag}{i:08}"), "fromMe": false,
                    "remoteJid": format!("{from}@s.whatsapp.net"), "cleanedSenderPn": from},
            "message": {"imageMessage": {"url": "https://mmg.whatsapp.net/x.enc",
                "mimetype": "image/jpeg", "mediaKey": "a2V5"}},
        }}
    });
    let response = client
        .post(format!("{url}/webhooks/wasender"))
        .header("x-webhook-signature", SECRET)
        .json(&body)
        .send()
        .await;
    if !response.is_ok_and(|r| r.status().is_success()) {
        eprintln!("webhook {tag} {i} not accepted");
    }
}

/// The customer a staff notice is about: the number in its "(+…)".
fn about(text: &str) -> Option<String> {
    let start = text.find("(+")? + 1;
    let end = start + text[start..].find(')')?;
    Some(text[start..end].to_string())
}

/// A JPEG header followed by `size` bytes in all.
fn jpeg(size: usize) -> Bytes {
    let mut bytes = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00".to_vec();
    bytes.resize(size, 0x5A);
    Bytes::from(bytes)
}

async fn wait_for_notices(fake: &Fake, n: usize, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    loop {
        let staff = fake
            .sends
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, to, _)| to == STAFF)
            .count();
        if staff >= n || Instant::now() > deadline {
            return staff;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn receipts(url: &str, fake: &Fake, count: usize) {
    *fake.file.lock().unwrap() = jpeg(100 * 1024);
    fake.sends.lock().unwrap().clear();
    let client = reqwest::Client::new();
    let mut sent_at = HashMap::new();
    let started = Instant::now();
    for i in 0..count {
        let due = started + Duration::from_millis(100 * i as u64);
        tokio::time::sleep_until(due.into()).await;
        sent_at.insert(format!("+{}", customer(i)), Instant::now());
        let (client, url) = (client.clone(), url.to_string());
        tokio::spawn(async move { send_image(&client, &url, i, "LAT").await });
    }
    let arrived = wait_for_notices(fake, count, Duration::from_secs(60)).await;
    let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    for (at, to, text) in fake.sends.lock().unwrap().iter() {
        if to != STAFF {
            continue;
        }
        if let Some(sent) = about(text).and_then(|c| sent_at.get(&c)) {
            latencies.saturating_record((*at - *sent).as_micros() as u64);
        }
    }
    let ms = |us: u64| us as f64 / 1000.0;
    println!(
        "receipt → staff notice with its file ({arrived} of {count}, 10/s, 100 KB each): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(latencies.value_at_quantile(0.50)),
        ms(latencies.value_at_quantile(0.99)),
        ms(latencies.max()),
    );
}

async fn memory(url: &str, fake: &Fake, first: usize) {
    const FILES: usize = 20;
    *fake.file.lock().unwrap() = jpeg(avisa::media::MAX_BYTES);
    fake.sends.lock().unwrap().clear();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = status_mb("VmRSS:");
    let reset = reset_peak();
    // Which memory it is: the largest anonymous (heap) and file-backed
    // parts seen, sampled every 5 ms.
    let sampled = Arc::new(Mutex::new((0.0f64, 0.0f64)));
    let sampler = {
        let sampled = sampled.clone();
        tokio::spawn(async move {
            loop {
                let (anon, file) = (status_mb("RssAnon:"), status_mb("RssFile:"));
                {
                    let mut max = sampled.lock().unwrap();
                    max.0 = max.0.max(anon);
                    max.1 = max.1.max(file);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut sends = Vec::new();
    for i in first..first + FILES {
        let (client, url) = (client.clone(), url.to_string());
        sends.push(tokio::spawn(async move {
            send_image(&client, &url, i, "MEM").await
        }));
    }
    for send in sends {
        let _ = send.await;
    }
    let arrived = wait_for_notices(fake, FILES, Duration::from_secs(300)).await;
    let peak = status_mb("VmHWM:");
    sampler.abort();
    let (anon, file) = *sampled.lock().unwrap();
    println!("  largest sampled: heap (RssAnon) {anon:.0} MB, file-backed (RssFile) {file:.0} MB");
    println!(
        "{FILES} files of 16 MB at once: {arrived} stored and sent to staff in {:.1} s; RSS before {before:.0} MB, high-water mark {peak:.0} MB{}",
        started.elapsed().as_secs_f64(),
        if reset {
            ""
        } else {
            " (since start: /proc/self/clear_refs not writable)"
        },
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let count = env_usize("BENCH_RECEIPTS", 200);
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (wasender, fake) = fake_wasender().await;
        let database = format!("sqlite://{}", dir.path().join("avisa.db").display());
        let app = Application::build(
            config(&database, &wasender),
            Overrides {
                clock: Arc::new(SystemClock),
            },
        )
        .await
        .expect("build app");
        let url = format!("http://127.0.0.1:{}", app.port());
        let services = app.services();
        let today = avisa::domain::clock::local_today(&SystemClock, services.config.timezone);
        let rows: Vec<NewSubscription> = (0..count + 20)
            .map(|i| NewSubscription {
                name: format!("Cliente {i}"),
                phone: Phone::parse(&format!("+{}", customer(i)), Region::default()).unwrap(),
                email: None,
                service: "Netflix".into(),
                end_date: today + chrono::Duration::days(30),
                price: Money::from_cents(750),
            })
            .collect();
        services
            .store
            .upsert_subscriptions(&rows, chrono::Utc::now())
            .await
            .unwrap();
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        tokio::time::sleep(Duration::from_millis(500)).await;
        receipts(&url, &fake, count).await;
        memory(&url, &fake, count).await;
    });
}
