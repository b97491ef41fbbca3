//! Fault tests: the database goes away while the service runs (SQLite held
//! locked, PostgreSQL cut off behind a proxy) for 20 s. Every background
//! task must come back by itself: `/healthz` answers 503 meanwhile and 200
//! after, and a customer who writes afterwards gets a reply.

use crate::support;

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use sqlx::Connection;
use support::app::{Options, TestApp, WEBHOOK_SECRET, db_url_text};
use support::db::{Backend, TestDb};
use support::proxy::{Proxy, target, through};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const OUTAGE: Duration = Duration::from_secs(20);

async fn say(app: &TestApp, id: &str, phone: &str, text: &str) -> reqwest::StatusCode {
    let digits = phone.trim_start_matches('+');
    let body = serde_json::json!({
        "event": "messages.received",
        "timestamp": 1_764_082_800,
        "data": {"messages": {
            "key": {
                "id": id,
                "fromMe": false,
                "remoteJid": format!("{digits}@s.whatsapp.net"),
                "addressingMode": "pn",
                "senderPn": format!("{digits}@s.whatsapp.net"),
                "cleanedSenderPn": digits,
            },
            "messageBody": text,
            "message": {"conversation": text},
        }}
    });
    reqwest::Client::new()
        .post(app.url("/webhooks/wasender"))
        .header("X-Webhook-Signature", WEBHOOK_SECRET)
        .timeout(Duration::from_secs(30))
        .json(&body)
        .send()
        .await
        .map(|r| r.status())
        .unwrap_or(reqwest::StatusCode::SERVICE_UNAVAILABLE)
}

async fn health(app: &TestApp) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .get(app.url("/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    match response {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.json().await.unwrap_or_default())
        }
        Err(_) => (0, serde_json::Value::Null),
    }
}

/// Waits up to `within` for a reply to `phone`; true when one came.
async fn replied(app: &TestApp, phone: &str, within: Duration) -> bool {
    let digits = phone.trim_start_matches('+');
    let until = Instant::now() + within;
    while Instant::now() < until {
        if app
            .sent()
            .await
            .iter()
            .any(|b| b["to"].as_str().map(|t| t.trim_start_matches('+')) == Some(digits))
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn workers_come_back_after_a_database_outage(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let wasender = MockServer::start().await;
    let ok = serde_json::json!({"success": true, "data": {"msgId": 1, "jid": "x", "status": "in_progress"}});
    Mock::given(method("POST"))
        .and(path("/api/send-message"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok))
        .mount(&wasender)
        .await;
    let url = db_url_text(&db.url);
    let proxy = match backend {
        Backend::Postgres => Some(Proxy::start(target(&url)).await),
        Backend::Sqlite => None,
    };
    let mut options = Options::on(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap())
        .var("AVISA_REMINDER_TIME", "23:59")
        .http();
    if let Some(proxy) = &proxy {
        options = options.var("DATABASE_URL", &through(&url, proxy.port));
    }
    let app = TestApp::spawn_with(db, wasender, options).await;

    // Healthy, and a customer is answered.
    assert_eq!(
        say(&app, "3EBOUTAGE0001", "+593991111111", "hola").await,
        200
    );
    assert!(replied(&app, "+593991111111", Duration::from_secs(10)).await);
    let mut healthy = false;
    for _ in 0..100 {
        if health(&app).await.0 == 200 {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        healthy,
        "healthy before the outage: {:?}",
        health(&app).await
    );

    // The outage: PostgreSQL cut off, or SQLite's write lock held.
    let lock = match &proxy {
        Some(proxy) => {
            proxy.cut();
            None
        }
        None => {
            let support::app::TestApp { db, .. } = &app;
            let avisa::config::DatabaseUrl::Sqlite { path } = &db.url else {
                unreachable!()
            };
            let mut holder =
                sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                    .await
                    .unwrap();
            sqlx::query("BEGIN EXCLUSIVE")
                .execute(&mut holder)
                .await
                .unwrap();
            Some(holder)
        }
    };
    let started = Instant::now();
    let mut saw_503 = None;
    while started.elapsed() < OUTAGE {
        let (status, body) = health(&app).await;
        if status == 503 && saw_503.is_none() {
            saw_503 = Some(body);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    match (&proxy, lock) {
        (Some(proxy), _) => proxy.restore(),
        (None, Some(mut holder)) => {
            sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
            holder.close().await.unwrap();
        }
        (None, None) => unreachable!(),
    }
    let body = saw_503.expect("/healthz answered 503 during the outage");
    let tasks = body["tasks"].as_array().cloned().unwrap_or_default();
    assert!(
        body["database"]["status"] == "unreachable" || tasks.iter().any(|t| t["healthy"] == false),
        "503 says why: {body}"
    );

    // Back by itself: a new customer is answered and /healthz is 200.
    let back = Instant::now();
    let mut accepted = false;
    while back.elapsed() < Duration::from_secs(20) {
        if say(&app, "3EBOUTAGE0002", "+593992222222", "hola").await == 200 {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(accepted, "webhooks accepted again");
    assert!(
        replied(&app, "+593992222222", Duration::from_secs(20)).await,
        "no reply after the outage: the workers did not come back"
    );
    let answered = back.elapsed();
    let mut status = 0;
    let mut last = serde_json::Value::Null;
    while back.elapsed() < Duration::from_secs(30) {
        (status, last) = health(&app).await;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(status, 200, "healthy again: {last}");
    let restarts: u64 = last["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["restarts"].as_u64().unwrap_or(0))
        .sum();
    assert!(
        restarts > 0,
        "the outage was survived by restarting: {last}"
    );
    eprintln!(
        "{backend:?}: a customer answered {:.1} s and /healthz 200 {:.1} s after the database came back",
        answered.as_secs_f64(),
        back.elapsed().as_secs_f64()
    );
    app.cleanup().await;
}
both_backends!(
    database_outage,
    super::workers_come_back_after_a_database_outage
);
