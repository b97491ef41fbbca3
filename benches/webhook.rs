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

mod load;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use load::{Delivery, cpu_seconds, env_usize, fire, fire_at_rate, report, server};

const SECRET: &str = "bench-webhook-secret-0123456789";
const KNOWN_CLIENTS: usize = 2_000;

/// Sender of webhook `i`: nine in ten are known clients, one in ten unknown.
fn sender(i: usize) -> String {
    if i.is_multiple_of(10) {
        format!("59398{:07}", 1_000_000 + (i / 10) % 5_000)
    } else {
        format!("59399{:07}", 1_000_000 + i % KNOWN_CLIENTS)
    }
}

fn payload(prefix: &str, i: usize) -> Delivery {
    let from = sender(i);
    let text = ["hola", "1", "gracias", "¿cuándo vence?"][i % 4];
    let body = Bytes::from(
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
    );
    Delivery {
        body,
        signature: ("x-webhook-signature", SECRET.to_string()),
    }
}

fn main() {
    let n = env_usize("BENCH_WEBHOOKS", 20_000);
    let concurrency = env_usize("BENCH_CONCURRENCY", 64);
    let warmup = env_usize("BENCH_WARMUP", 1_000);
    let drain_secs = env_usize("BENCH_DRAIN_SECS", 0);
    let rate = env_usize("BENCH_RATE", 5_000);
    let rate_secs = env_usize("BENCH_RATE_SECS", 10);

    let clients: Vec<String> = (0..KNOWN_CLIENTS)
        .map(|i| format!("59399{:07}", 1_000_000 + i))
        .collect();
    let settings = [
        ("WASENDER_API_KEY", "bench-key-0123456789"),
        ("WASENDER_BASE_URL", "{fake}/api"),
        ("WASENDER_WEBHOOK_SECRET", SECRET),
        ("AVISA_STAFF_PHONES", "0990000001"),
    ];
    let reply = serde_json::json!({"success": true, "data": {"msgId": 1}});
    let server = server::start(&settings, reply, &clients);
    let address = format!("{}/webhooks/wasender", server.address);
    let client_rt = server::client_runtime();
    let warm: Arc<Vec<Delivery>> = Arc::new((0..warmup).map(|i| payload("WARM", i)).collect());
    println!(
        "webhook ingest: signed messages.received, SQLite (WAL, synchronous=NORMAL), workers running; {warmup} warm-up requests first"
    );
    client_rt.block_on(fire(&address, warm, concurrency));
    let handled_before = server
        .count("SELECT COUNT(*) FROM messages WHERE direction = 'in' AND status <> 'received'");
    let mut sent = warmup;

    if rate > 0 {
        let total = rate * rate_secs;
        let bodies: Arc<Vec<Delivery>> = Arc::new((0..total).map(|i| payload("RATE", i)).collect());
        println!(
            "fixed rate: {total} webhooks at {rate}/s for {rate_secs} s (open loop, latency from each request's due time)"
        );
        let before = cpu_seconds();
        let run = client_rt.block_on(fire_at_rate(&address, bodies, rate as f64));
        report(&run, before, cpu_seconds());
        sent += total;
    }
    if n > 0 {
        let bodies: Arc<Vec<Delivery>> = Arc::new((0..n).map(|i| payload("BENCH", i)).collect());
        println!("saturation: {n} webhooks over {concurrency} connections (closed loop)");
        let before = cpu_seconds();
        let run = client_rt.block_on(fire(&address, bodies, concurrency));
        report(&run, before, cpu_seconds());
        sent += n;
    }

    let expected = sent as i64;
    let stored = server.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'");
    let jobs = server.count("SELECT COUNT(*) FROM Jobs WHERE job_type = 'avisa::handle_inbound'");
    let carried = server.count(
        "SELECT COALESCE(SUM(json_array_length(CAST(job AS TEXT), '$.message_ids')), 0) \
         FROM Jobs WHERE job_type = 'avisa::handle_inbound'",
    );
    let handled = server
        .count("SELECT COUNT(*) FROM messages WHERE direction = 'in' AND status <> 'received'");
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
        while handled < expected && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(500));
            handled = server.count(
                "SELECT COUNT(*) FROM messages WHERE direction = 'in' AND status <> 'received'",
            );
        }
        println!(
            "  drain: {handled} / {expected} handled after {:.1} s more",
            started.elapsed().as_secs_f64()
        );
    }
    drop(client_rt);
    drop(server);
}
