//! A running avisa with a payment provider: fake Mercado Pago or Stripe on
//! 127.0.0.1:0 (checkout creation, payment fetch), notifications signed
//! here with the configured secrets, and counts read from the database.

use avisa::domain::{Money, Phone, Region};
use avisa::payments::signature::{mercadopago_manifest, sign_hex};
use avisa::store::{NewSubscription, Pool, SubscriptionView};
use chrono::NaiveDate;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::app::{Options, TestApp};
use super::db::{Backend, TestDb};

pub const ANA: &str = "+593991234567";
pub const STAFF: &str = "+593990000001";
pub const MP_SECRET: &str = "mp-webhook-secret-0123";
pub const STRIPE_SECRET: &str = "whsec_test_0123456789";
pub const CHECKOUT_URL: &str = "https://pay.example.com/checkout/abc";
pub const PUBLIC_URL: &str = "https://avisa.example.com";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fake {
    MercadoPago,
    Stripe,
}

pub struct PayApp {
    pub app: TestApp,
    pub provider: MockServer,
    pub http: reqwest::Client,
}

pub fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// Wednesday 25 November 2026, 10:00: Ana's Netflix ($7.50) ends Sunday
/// 29 November, so the start-up catch-up sends her the 7-day reminder.
pub async fn start(backend: Backend, fake: Fake) -> Option<PayApp> {
    let db = TestDb::new(backend).await?;
    db.store
        .upsert_subscriptions(
            &[NewSubscription {
                name: "Ana Pérez".into(),
                phone: Phone::parse("0991234567", Region::default()).unwrap(),
                email: None,
                service: "Netflix".into(),
                end_date: d(2026, 11, 29),
                price: Money::from_cents(750),
            }],
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let wasender = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/send-message"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!(
            {"success": true, "data": {"msgId": 100000, "jid": "+593", "status": "in_progress"}}
        )))
        .mount(&wasender)
        .await;
    let provider = MockServer::start().await;
    let options = Options::on(d(2026, 11, 25))
        .at(10, 0)
        .http()
        .var("AVISA_PUBLIC_URL", PUBLIC_URL);
    let options = match fake {
        Fake::MercadoPago => options
            .var("AVISA_PAYMENTS", "mercadopago")
            .var("MERCADOPAGO_ACCESS_TOKEN", "APP_USR-test-token")
            .var("MERCADOPAGO_WEBHOOK_SECRET", MP_SECRET)
            .var("MERCADOPAGO_BASE_URL", &provider.uri()),
        Fake::Stripe => options
            .var("AVISA_PAYMENTS", "stripe")
            .var("STRIPE_SECRET_KEY", "sk_test_0123")
            .var("STRIPE_WEBHOOK_SECRET", STRIPE_SECRET)
            .var("STRIPE_BASE_URL", &provider.uri()),
    };
    let app = TestApp::spawn_with(db, wasender, options).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Some(PayApp {
        app,
        provider,
        http,
    })
}

impl PayApp {
    pub async fn ana(&self) -> SubscriptionView {
        let store = &self.app.services.store;
        let client = store.client_by_phone(ANA).await.unwrap().unwrap();
        store
            .subscriptions_of_client(client.id)
            .await
            .unwrap()
            .remove(0)
    }

    /// The fake provider creates checkouts.
    pub async fn checkout_ok(&self) {
        let (route, body) = match self.app.services.config.payments.provider {
            Some(avisa::config::PaymentProvider::Stripe) => (
                "/v1/checkout/sessions",
                serde_json::json!({"id": "cs_test_1", "url": CHECKOUT_URL}),
            ),
            _ => (
                "/checkout/preferences",
                serde_json::json!({"id": "pref_1", "init_point": CHECKOUT_URL}),
            ),
        };
        Mock::given(method("POST"))
            .and(path(route))
            .respond_with(ResponseTemplate::new(201).set_body_json(body))
            .mount(&self.provider)
            .await;
    }

    /// The fake Mercado Pago answers `GET /v1/payments/{id}` with this.
    pub async fn mp_payment(&self, id: &str, status: &str, amount: f64, token: &str) {
        Mock::given(method("GET"))
            .and(path(format!("/v1/payments/{id}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "id": id.parse::<i64>().unwrap(), "status": status,
                "transaction_amount": amount, "currency_id": "USD",
                "external_reference": token,
            })))
            .mount(&self.provider)
            .await;
    }

    /// A Mercado Pago notification for payment `id`, signed with `secret`.
    pub async fn mp_notify_signed(&self, id: &str, secret: &str) -> reqwest::StatusCode {
        let ts = "1764082800123";
        let request_id = format!("req-{id}");
        let manifest = mercadopago_manifest(Some(id), Some(&request_id), ts);
        let v1 = sign_hex(secret.as_bytes(), manifest.as_bytes());
        self.http
            .post(
                self.app
                    .url(&format!("/webhooks/mercadopago?data.id={id}&type=payment")),
            )
            .header("x-signature", format!("ts={ts},v1={v1}"))
            .header("x-request-id", request_id)
            .json(&serde_json::json!({
                "type": "payment", "action": "payment.updated", "data": {"id": id}
            }))
            .send()
            .await
            .unwrap()
            .status()
    }

    pub async fn mp_notify(&self, id: &str) -> reqwest::StatusCode {
        self.mp_notify_signed(id, MP_SECRET).await
    }

    /// A Stripe event signed at `t` (Unix seconds) with `secret`.
    pub async fn stripe_send(
        &self,
        event: &serde_json::Value,
        t: i64,
        secret: &str,
    ) -> reqwest::StatusCode {
        let body = event.to_string();
        let v1 = sign_hex(secret.as_bytes(), format!("{t}.{body}").as_bytes());
        self.http
            .post(self.app.url("/webhooks/stripe"))
            .header("Stripe-Signature", format!("t={t},v1={v1}"))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
    }

    /// The app's "now" in Unix seconds.
    pub fn now_unix(&self) -> i64 {
        self.app.services.clock.now().timestamp()
    }

    pub async fn count(&self, sql: &'static str) -> i64 {
        match self.app.services.store.pool() {
            Pool::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap(),
            Pool::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap(),
        }
    }

    pub async fn renewals(&self) -> i64 {
        self.count("SELECT COUNT(*) FROM renewals").await
    }

    pub async fn payments(&self) -> i64 {
        self.count("SELECT COUNT(*) FROM payments").await
    }

    /// (to, text) of every message the fake WaSender received.
    pub async fn sent(&self) -> Vec<(String, String)> {
        self.app
            .sent()
            .await
            .iter()
            .map(|b| {
                (
                    b["to"].as_str().unwrap().to_string(),
                    b["text"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// Waits for `total` sends, then for nothing left to run.
    pub async fn until_sent(&self, total: usize) -> Vec<(String, String)> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while self.sent().await.len() < total && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        self.app.settle().await;
        let sent = self.sent().await;
        assert_eq!(sent.len(), total, "{sent:#?}");
        sent
    }

    /// Requests the fake provider received at `route`.
    pub async fn provider_calls(&self, route: &str) -> Vec<wiremock::Request> {
        self.provider
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path() == route)
            .collect()
    }

    /// A signed WhatsApp message from staff (`/pagos`).
    pub async fn staff_says(&self, text: &str) {
        let digits = STAFF.trim_start_matches('+');
        let body = serde_json::json!({
            "event": "messages.received",
            "timestamp": 1_764_082_900,
            "data": {"messages": {
                "key": {
                    "id": "3EB0PAGOS000001", "fromMe": false,
                    "remoteJid": format!("{digits}@s.whatsapp.net"),
                    "addressingMode": "pn",
                    "senderPn": format!("{digits}@s.whatsapp.net"),
                    "cleanedSenderPn": digits,
                },
                "messageBody": text,
                "message": {"conversation": text},
            }}
        });
        let response = self
            .http
            .post(self.app.url("/webhooks/wasender"))
            .header("X-Webhook-Signature", super::app::WEBHOOK_SECRET)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    /// The link token in a message (`…/pagar/{token}`).
    pub fn token_in(text: &str) -> String {
        let at = text.find("/pagar/").expect("a payment link") + "/pagar/".len();
        text[at..at + 22].to_string()
    }

    /// Ana's link token, created as a message would create it.
    pub async fn ana_token(&self) -> String {
        let sub = self.ana().await;
        let services = &self.app.services;
        let link = avisa::chat::payment::link_for(services, sub.id, sub.end_date)
            .await
            .unwrap();
        PayApp::token_in(&link)
    }
}
