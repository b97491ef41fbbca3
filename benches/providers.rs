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

use std::sync::Arc;

use avisa::whatsapp::hook::{sign_sha256_hex, sign_sha512_hex};
use axum::body::Bytes;
use load::{Delivery, cpu_seconds, env_usize, fire, fire_at_rate, report, server};
use serde_json::json;

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

/// Every provider's settings (one test secret each); `AVISA_PROVIDER` picks.
fn settings(provider: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AVISA_PROVIDER", provider.to_string()),
        ("AVISA_STAFF_PHONES", "0990000001".into()),
        ("WASENDER_API_KEY", "bench-key-0123456789".into()),
        ("WASENDER_BASE_URL", "{fake}/api".into()),
        ("WASENDER_WEBHOOK_SECRET", WASENDER_SECRET.into()),
        ("WHATSAPP_TOKEN", "bench-token".into()),
        ("WHATSAPP_PHONE_NUMBER_ID", "1065403".into()),
        ("WHATSAPP_APP_SECRET", CLOUD_APP_SECRET.into()),
        ("WHATSAPP_VERIFY_TOKEN", "bench-verify".into()),
        ("WHATSAPP_BASE_URL", "{fake}".into()),
        ("WAHA_BASE_URL", "{fake}".into()),
        ("WAHA_API_KEY", "bench-waha-key".into()),
        ("WAHA_WEBHOOK_HMAC_KEY", WAHA_HMAC_KEY.into()),
        // Production pacing (one send per 5 s): replies queue up, as they would.
    ]
}

fn run(provider: &str, rate: usize, secs: usize, warmup: usize) {
    let settings = settings(provider);
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let clients: Vec<String> = (0..KNOWN_CLIENTS).map(sender).collect();
    // Every send accepted, in a shape each provider's client reads.
    let reply = json!({"success": true, "data": {"msgId": 1}, "id": "true_x@c.us_1",
        "messages": [{"id": "wamid.1"}]});
    let server = server::start(&settings, reply, &clients);
    let address = format!("{}/webhooks/{provider}", server.address);
    let client_rt = server::client_runtime();
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
    let stored = server.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'");
    println!(
        "  stored inbound rows {stored} / {expected}; nothing lost = {}",
        stored == expected
    );
    drop(client_rt);
    drop(server);
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
