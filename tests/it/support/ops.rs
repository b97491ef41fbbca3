//! Shared set-up for the panel's operations tests (admin_ops, admin_transfer).

use std::time::Duration;

use avisa::domain::{Money, Phone, Region};
use avisa::store::NewSubscription;
use chrono::NaiveDate;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use super::admin::{AdminClient, PASSWORD, create_user};
use super::app::{Options, TestApp};
use super::db::Backend;

pub const EMAIL: &str = "ops@example.com";
pub const SECRET_KEY: &str = "panel-secret-key-0123456789-abcdefghijklmnop";

pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
}

pub fn d(m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, day).unwrap()
}

pub fn phone(s: &str) -> Phone {
    Phone::parse(s, Region::default()).unwrap()
}

pub fn sub(name: &str, tel: &str, service: &str, end: NaiveDate) -> NewSubscription {
    NewSubscription {
        name: name.into(),
        phone: phone(tel),
        email: None,
        service: service.into(),
        end_date: end,
        price: Money::from_cents(750),
    }
}

pub async fn spawn(backend: Backend) -> Option<(TestApp, AdminClient)> {
    // No start-up catch-up at 10:00: tests plan when they mean to.
    let options = Options::on(today())
        .var("AVISA_REMINDER_TIME", "23:59")
        .var("AVISA_SECRET_KEY", SECRET_KEY)
        .http();
    let app = TestApp::spawn(backend, options).await?;
    create_user(app.services.store.as_ref(), EMAIL, PASSWORD).await;
    let client = AdminClient::login(&app, EMAIL, PASSWORD).await;
    Some((app, client))
}

pub async fn mock_ok(app: &TestApp) {
    Mock::given(method("POST"))
        .and(path("/api/send-message"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"success": true, "data": {"msgId": 100000, "jid": "+593", "status": "in_progress"}}),
        ))
        .mount(&app.wasender)
        .await;
}

/// Waits until the fake WaSender got `n` messages (or gives up after 60 s:
/// the SQLite job queue sometimes stalls for ~30 s on a loaded machine).
pub async fn wait_sent(app: &TestApp, n: usize) -> Vec<serde_json::Value> {
    for _ in 0..600 {
        let sent = app.sent().await;
        if sent.len() >= n {
            return sent;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.sent().await
}
