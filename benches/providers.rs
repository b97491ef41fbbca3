//! Release load test of each provider's webhook route
//! (`cargo bench --bench providers`).
//!
//! For WaSender, the Cloud API and WAHA in turn: the real application
//! (`Application::build` + `run_until_stopped`, what `avisa serve` runs) with
//! that provider chosen, SQLite in a temporary directory, 2,000 known
//! clients and a fake provider; then signed inbound messages in the
//! provider's own shape at a fixed rate (open loop: request `i` is due at
//! `start + i / rate`, its latency counts from then), and a check that every
//! one left exactly one inbound row.
//!
//! Settings (environment):
//! - `BENCH_RATE` (2000): webhooks per second
//! - `BENCH_RATE_SECS` (10): length of each run
//! - `BENCH_WARMUP` (500): requests before measuring (also stored and counted)
//! - `BENCH_PROVIDERS` (`wasender,cloud,waha`): which to run

mod load;

use std::collections::HashMap;
use std::sync::Arc;

use avisa::app::{Application, Overrides};
use avisa::config::Config;
use avisa::domain::{Money, Phone, Region, SystemClock};
use avisa::store::{NewSubscription, Pool};
use avisa::whatsapp::hook::{sign_sha256_hex, sign_sha512_hex};
use axum::body::Bytes;
use chrono::NaiveDate;
use load::{Delivery, cpu_seconds, env_usize, fire, fire_at_rate, report};
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const KNOWN_CLIENTS: usize = 2_000;
const WASENDER_SECRET: &str = "bench-webhook-secret-0123456789";
const CLOUD_APP_SECRET: &str = "bench-cloud-app-secret";
const WAHA_HMAC_KEY: &str = "bench-waha-hmac-key";

fn sender(i: usize) -> String {
    format!("59399{:07}", 1_000_000 + i % KNOWN_CLIENTS)
}

/// Message `i` from a known client, in `provider`'s shape, signed.
fn delivery(provider: &str, prefix: &str, i: usize) -> Delivery {
    let from = sender(i);
    let id = format!("{prefix}{i:010}");
    let text = ["hola", "1", "gracias", "¿cuándo vence?"][i % 4];
    let body = match provider {
        "wasender" => json!({"event": "messages.received", "timestamp": 1_764_000_000 + i,
            "data": {"messages": {"key": {"id": id, "fromMe": false,
                "remoteJid": format!("{from}@s.whatsapp.net"), "cleanedSenderPn": from},
                "message": {"conversation": text}}}}),
        "cloud" => json!({"object": "whatsapp_business_account", "entry": [{"id": "WABA",
            "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "593990000000", "phone_number_id": "1065403"},
                "contacts": [{"profile": {"name": "Cliente"}, "wa_id": from}],
                "messages": [{"from": from, "id": id, "timestamp": "1764000000",
                    "type": "text", "text": {"body": text}}]}}]}]}),
        _ => json!({"id": format!("evt_{id}"), "timestamp": 1_764_000_000_000u64 + i as u64,
            "event": "message", "session": "default",
            "payload": {"id": id, "timestamp": 1_764_000_000, "from": format!("{from}@c.us"),
                "fromMe": false, "body": text, "hasMedia": false}}),
    }
    .to_string();
    let signature = match provider {
        "wasender" => ("x-webhook-signature", WASENDER_SECRET.to_string()),
        "cloud" => (
            "x-hub-signature-256",
            format!(
                "sha256={}",
                sign_sha256_hex(CLOUD_APP_SECRET.as_bytes(), body.as_bytes())
            ),
        ),
        _ => (
            "x-webhook-hmac",
            sign_sha512_hex(WAHA_HMAC_KEY.as_bytes(), body.as_bytes()),
        ),
    };
    Delivery {
        body: Bytes::from(body),
        signature,
    }
}

fn config(provider: &str, db: &std::path::Path, fake: &str) -> Config {
    let mut vars: HashMap<String, String> = [
        ("DATABASE_URL", format!("sqlite://{}", db.display())),
        ("AVISA_LISTEN", "127.0.0.1:0".to_string()),
        ("AVISA_PROVIDER", provider.to_string()),
        ("AVISA_STAFF_PHONES", "0990000001".to_string()),
        ("WASENDER_API_KEY", "bench-key-0123456789".to_string()),
        ("WASENDER_BASE_URL", format!("{fake}/api")),
        ("WASENDER_WEBHOOK_SECRET", WASENDER_SECRET.to_string()),
        ("WHATSAPP_TOKEN", "bench-token".to_string()),
        ("WHATSAPP_PHONE_NUMBER_ID", "1065403".to_string()),
        ("WHATSAPP_APP_SECRET", CLOUD_APP_SECRET.to_string()),
        ("WHATSAPP_VERIFY_TOKEN", "bench-verify".to_string()),
        ("WHATSAPP_BASE_URL", fake.to_string()),
        ("WAHA_BASE_URL", fake.to_string()),
        ("WAHA_API_KEY", "bench-waha-key".to_string()),
        ("WAHA_WEBHOOK_HMAC_KEY", WAHA_HMAC_KEY.to_string()),
        // Production pacing (one send per 5 s): replies queue up, as they would.
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    vars.retain(|_, v| !v.is_empty());
    Config::from_vars(&vars).expect("bench config")
}

async fn count(pool: &sqlx::SqlitePool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .expect("count query")
}

fn run(provider: &str, rate: usize, secs: usize, warmup: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("avisa-server")
        .enable_all()
        .build()
        .expect("server runtime");
    let (address, services, _fake) = server_rt.block_on(async {
        let fake = MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        // Every send accepted, in a shape each provider's client reads.
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "success": true, "data": {"msgId": 1}, "id": "true_x@c.us_1",
                "messages": [{"id": "wamid.1"}]})))
            .mount(&fake)
            .await;
        let config = config(provider, &dir.path().join("bench.db"), &fake.uri());
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
                phone: Phone::parse(&format!("+{}", sender(i)), Region::default()).expect("phone"),
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
        let address = format!("http://127.0.0.1:{}/webhooks/{provider}", app.port());
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        (address, services, fake)
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
    let warm = Arc::new(
        (0..warmup)
            .map(|i| delivery(provider, "WARM", i))
            .collect::<Vec<_>>(),
    );
    client_rt.block_on(fire(&address, warm, 32));
    let total = rate * secs;
    let bodies = Arc::new(
        (0..total)
            .map(|i| delivery(provider, "RATE", i))
            .collect::<Vec<_>>(),
    );
    println!(
        "{provider}: POST /webhooks/{provider}, {total} signed inbound messages at {rate}/s for {secs} s (open loop, latency from each request's due time)"
    );
    let before = cpu_seconds();
    let measured = client_rt.block_on(fire_at_rate(&address, bodies, rate as f64));
    report(&measured, before, cpu_seconds());
    let expected = (warmup + total) as i64;
    let stored = server_rt.block_on(count(
        &pool,
        "SELECT COUNT(*) FROM messages WHERE direction = 'in'",
    ));
    println!(
        "  stored inbound rows {stored} / {expected}; nothing lost = {}",
        stored == expected
    );
    drop(client_rt);
    drop(server_rt);
}

fn main() {
    let rate = env_usize("BENCH_RATE", 2_000);
    let secs = env_usize("BENCH_RATE_SECS", 10);
    let warmup = env_usize("BENCH_WARMUP", 500);
    let providers =
        std::env::var("BENCH_PROVIDERS").unwrap_or_else(|_| "wasender,cloud,waha".into());
    for provider in providers.split(',').map(str::trim) {
        run(provider, rate, secs, warmup);
    }
}
