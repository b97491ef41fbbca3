//! Shared by the reminder tests (`reminders`, `reminders_sending`): the
//! seeded clients, a WaSender that accepts every message, and waiting.

use std::time::Duration;

use avisa::domain::{Money, Phone, Region};
use avisa::store::NewSubscription;
use chrono::NaiveDate;
use serde_json::Value;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

use super::app::{API_KEY, TestApp};

pub fn d(m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, day).unwrap()
}

pub fn sub(name: &str, tel: &str, service: &str, end: NaiveDate) -> NewSubscription {
    NewSubscription {
        name: name.into(),
        phone: Phone::parse(tel, Region::default()).unwrap(),
        email: None,
        service: service.into(),
        end_date: end,
        price: Money::from_cents(750),
    }
}

pub fn ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({"success": true, "data": {"msgId": 100000, "jid": "+593", "status": "in_progress"}}))
}

pub async fn mock_ok(app: &TestApp) {
    Mock::given(method("POST"))
        .and(path("/api/send-message"))
        .and(header(
            "authorization",
            format!("Bearer {API_KEY}").as_str(),
        ))
        .respond_with(ok())
        .mount(&app.wasender)
        .await;
}

pub fn no_progress(_: usize, _: usize) {}

pub async fn seed(app: &TestApp) {
    let store = &app.services.store;
    store
        .upsert_subscriptions(
            &[
                sub("Ana Pérez", "0991111111", "Netflix", d(11, 28)), // 3 days on 25/11
                sub("Ana Pérez", "0991111111", "HBO Max", d(11, 25)), // today: grouped, urgent
                sub("Luis Mora", "0992222222", "Disney+", d(12, 2)),  // 7 days
                sub("Rosa Vera", "0993333333", "Netflix", d(11, 26)), // 1 day, opts out
                sub("Juan Paz", "0994444444", "Spotify", d(12, 20)),  // not due
            ],
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let rosa = store
        .client_by_phone("+593993333333")
        .await
        .unwrap()
        .unwrap();
    store
        .set_opted_out(rosa.id, Some(chrono::Utc::now()))
        .await
        .unwrap();
}

pub fn to_and_text(body: &Value) -> (String, String) {
    (
        body["to"].as_str().unwrap().to_string(),
        body["text"].as_str().unwrap().to_string(),
    )
}

pub async fn one_due_client(app: &TestApp) {
    app.services
        .store
        .upsert_subscriptions(
            &[sub("Ana", "0991111111", "Netflix", d(11, 28))],
            chrono::Utc::now(),
        )
        .await
        .unwrap();
}

/// Waits until `done` holds or `secs` pass; returns whether it held.
pub async fn wait_for<F, Fut>(secs: u64, mut done: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done().await
}

/// Every message row of these phones, for failure messages.
pub async fn rows_of(app: &TestApp, phones: &[&str]) -> String {
    let mut out = String::new();
    for phone in phones {
        for m in app
            .services
            .store
            .messages_for_phone(phone, 20)
            .await
            .unwrap()
        {
            out.push_str(&format!(
                "\n{} {} {} {} {} attempts={} in_flight={} error={:?} next={:?}",
                m.id,
                m.phone,
                m.direction,
                m.kind,
                m.status,
                m.attempts,
                app.services.queue.is_in_flight(m.id),
                m.error,
                m.next_attempt_at
            ));
        }
    }
    out
}
