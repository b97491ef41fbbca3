//! Release benchmarks for the reminder engine (`cargo bench --bench engine`):
//! planning one day over 100,000 subscriptions on SQLite, and sending 500
//! messages to a local fake WaSender with no pacing. Prints figures.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use avisa::app::{self, Overrides};
use avisa::config::Config;
use avisa::domain::{FixedClock, Money, Phone, Region, clock::local_to_utc};
use avisa::jobs::send::{Mode, deliver};
use avisa::store::{MessageKind, NewOutbound, NewSubscription};
use chrono::{NaiveDate, NaiveTime};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SUBSCRIPTIONS: usize = 100_000;
const MESSAGES: usize = 500;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// CPU time used by the whole process so far (user + system, every
/// thread), from /proc/self/stat in clock ticks of 10 ms.
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    // utime and stime are fields 14 and 15; `rest` starts at field 3.
    (ticks(11) + ticks(12)) / 100.0
}

fn config(db: &std::path::Path, wasender: &str) -> Config {
    let mut vars = HashMap::new();
    vars.insert(
        "DATABASE_URL".to_string(),
        format!("sqlite://{}", db.display()),
    );
    vars.insert(
        "WASENDER_API_KEY".to_string(),
        "bench-key-0123456789".to_string(),
    );
    vars.insert("WASENDER_BASE_URL".to_string(), format!("{wasender}/api"));
    vars.insert("AVISA_SEND_INTERVAL_MS".to_string(), "0".to_string());
    vars.insert("AVISA_SEND_JITTER_MS".to_string(), "0".to_string());
    Config::from_vars(&vars).expect("bench config")
}

#[tokio::main]
async fn main() {
    // Other work on the machine inflates wall times: say how busy it was.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average at start: {} ({} CPUs)",
        load.split_whitespace().next().unwrap_or("?"),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let wasender = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/send-message"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"success": true, "data": {"msgId": 1}})),
        )
        .mount(&wasender)
        .await;
    let today = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
    let config = config(&dir.path().join("bench.db"), &wasender.uri());
    let clock = FixedClock::new(local_to_utc(
        config.timezone,
        today,
        NaiveTime::from_hms_opt(10, 0, 0).expect("time"),
    ));
    let services = app::services(
        config,
        Overrides {
            clock: Arc::new(clock),
        },
    )
    .await
    .expect("services");

    // End dates spread evenly over 32 days: a quarter fall in the 0..=7 day window.
    let rows: Vec<NewSubscription> = (0..SUBSCRIPTIONS)
        .map(|i| NewSubscription {
            name: format!("Cliente {i}"),
            phone: Phone::parse(&format!("+59399{:07}", 1_000_000 + i), Region::default())
                .expect("phone"),
            email: None,
            service: ["Netflix", "HBO Max", "Disney+", "Spotify"][i % 4].to_string(),
            end_date: today + chrono::Duration::days((i % 32) as i64),
            price: Money::from_cents(750),
        })
        .collect();
    let started = Instant::now();
    services
        .store
        .upsert_subscriptions(&rows, chrono::Utc::now())
        .await
        .expect("import");
    let import_s = started.elapsed().as_secs_f64();
    println!(
        "import: {SUBSCRIPTIONS} subscriptions in {import_s:.2} s ({:.0} rows/s)",
        SUBSCRIPTIONS as f64 / import_s
    );

    let started = Instant::now();
    let cpu = cpu_s();
    let (report, _) = avisa::jobs::plan::plan_day(&services, today, true, false)
        .await
        .expect("plan");
    let plan_s = started.elapsed().as_secs_f64();
    let plan_cpu = cpu_s() - cpu;
    let planned: u64 = report.planned.values().sum();
    println!(
        "plan:   {SUBSCRIPTIONS} subscriptions, {planned} reminders due, {} messages in {plan_s:.2} s ({:.0} subscriptions/s), CPU {plan_cpu:.2} s",
        report.message_ids.len(),
        SUBSCRIPTIONS as f64 / plan_s
    );
    let t = &report.timings;
    println!(
        "        phases: load {:.2} s, draft {:.2} s, render {:.2} s, record {:.2} s",
        t.load.as_secs_f64(),
        t.draft.as_secs_f64(),
        t.render.as_secs_f64(),
        t.record.as_secs_f64()
    );
    let started = Instant::now();
    let cpu = cpu_s();
    services
        .queue
        .push_sends(&report.message_ids)
        .await
        .expect("queue");
    let queue_s = started.elapsed().as_secs_f64();
    println!(
        "queue:  {} send jobs in {queue_s:.2} s ({:.0} jobs/s), CPU {:.2} s",
        report.message_ids.len(),
        report.message_ids.len() as f64 / queue_s,
        cpu_s() - cpu
    );
    let started = Instant::now();
    let (again, _) = avisa::jobs::plan::plan_day(&services, today, true, false)
        .await
        .expect("replan");
    println!(
        "replan: same day again in {:.2} s, {} already sent, 0 new = {}",
        started.elapsed().as_secs_f64(),
        again.already_sent,
        again.message_ids.is_empty()
    );
    println!("peak RSS after planning: {:.1} MB", peak_rss_mb());

    let phone = Phone::parse("0991234567", Region::default()).expect("phone");
    let mut ids = Vec::with_capacity(MESSAGES);
    for i in 0..MESSAGES {
        let message = NewOutbound {
            phone: phone.clone(),
            client_id: None,
            kind: MessageKind::Reply,
            body: format!("mensaje {i}"),
            template_args: None,
        };
        ids.push(
            services
                .store
                .queue_outbound(&message, chrono::Utc::now())
                .await
                .expect("queue"),
        );
    }
    let started = Instant::now();
    for id in ids {
        deliver(&services, id, Mode::Operator)
            .await
            .expect("deliver");
    }
    let send_s = started.elapsed().as_secs_f64();
    let received = wasender
        .received_requests()
        .await
        .map(|r| r.len())
        .unwrap_or(0);
    println!(
        "send:   {MESSAGES} messages in {send_s:.2} s ({:.0} messages/s), fake server received {received}",
        MESSAGES as f64 / send_s
    );
    println!("peak RSS at end: {:.1} MB", peak_rss_mb());
}
