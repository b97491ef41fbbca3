//! One contract, one suite: the same conformance scenario against a fake of
//! each provider (WaSender, Cloud API, WAHA), on SQLite and PostgreSQL —
//! webhook auth in the documented order (size → configured → signature →
//! parse) with nothing stored on a refusal, inbound text answered through
//! the provider and deduplicated by message id, status updates that never
//! move backwards, an inbound file fetched and passed to staff, the session
//! going down and up, and every error class of a send.

use crate::support;

use std::time::{Duration, Instant};

use avisa::domain::{Phone, Region};
use avisa::store::{MessageKind, MessageRow, NewOutbound};
use avisa::web::whatsapp_state::WhatsAppState;
use chrono::NaiveDate;
use support::app::{Options, TestApp};
use support::db::Backend;
use support::fixtures::one_netflix_subscription;
use support::media::jpeg;
use support::providers::{ErrorClass, Fake, Signed};

/// Client "A" (Netflix), who writes.
const CUSTOMER: &str = "593991234567";
const STAFF: &str = "593990000001";

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
}

fn e164(digits: &str) -> String {
    format!("+{digits}")
}

async fn rows(app: &TestApp, digits: &str) -> Vec<MessageRow> {
    app.services
        .store
        .messages_for_phone(&e164(digits), 100)
        .await
        .unwrap()
}

/// Waits (10 s at most) until the fake has `n` sends to `digits`.
async fn sends_to(app: &TestApp, fake: Fake, digits: &str, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let sends: Vec<_> = fake
            .sends(&app.wasender)
            .await
            .into_iter()
            .filter(|s| fake.recipient(s) == digits)
            .collect();
        if sends.len() >= n || Instant::now() > deadline {
            assert!(sends.len() >= n, "{digits} got {sends:?}, not {n}");
            return sends;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (15 s at most) until message `id` satisfies `done`.
async fn message_until(app: &TestApp, id: i64, done: impl Fn(&MessageRow) -> bool) -> MessageRow {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let row = app.services.store.message(id).await.unwrap().unwrap();
        if done(&row) {
            return row;
        }
        assert!(Instant::now() < deadline, "message {id} stuck: {row:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn queue(app: &TestApp, digits: &str, kind: MessageKind, body: &str) -> i64 {
    let message = NewOutbound {
        phone: Phone::parse(&e164(digits), Region::default()).unwrap(),
        client_id: None,
        kind,
        body: body.to_string(),
        template_args: None,
    };
    let now = app.services.clock.now();
    let id = app
        .services
        .store
        .queue_outbound(&message, now)
        .await
        .unwrap();
    app.services.queue.push_send(id, true, None).await.unwrap();
    id
}

async fn conformance(fake: Fake, backend: Backend) {
    // No start-up reminders: every send here is an answer or a test's own.
    let options = Options::on(today()).var("AVISA_REMINDER_TIME", "23:59");
    let Some(app) = fake.spawn(backend, options).await else {
        return;
    };
    let server = &app.wasender;
    fake.accept_sends(server).await;
    one_netflix_subscription(app.services.store.as_ref(), "0991234567").await;

    // Auth, in order: size before anything, then the signature, then the body.
    let text = fake.inbound_text("IN-CONF-1", CUSTOMER, "menu");
    let big = format!("{{\"pad\":\"{}\"}}", "a".repeat(300 * 1024));
    assert_eq!(fake.post(&app, &big, Signed::No).await.status(), 413);
    assert_eq!(fake.post(&app, &text, Signed::No).await.status(), 401);
    assert_eq!(fake.post(&app, &text, Signed::Forged).await.status(), 401);
    // WaSender's header is the secret itself, not a signature of the body.
    if fake != Fake::Wasender {
        let tampered = text.replace("menu", "MENU");
        let (name, value) = fake.signature(text.as_bytes(), false);
        let response = reqwest::Client::new()
            .post(app.url(fake.route()))
            .header(name, value)
            .body(tampered)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            401,
            "{fake:?}: a body changed after signing"
        );
    }
    assert_eq!(
        fake.post(&app, "{not json", Signed::Yes).await.status(),
        400
    );
    let stored = rows(&app, CUSTOMER).await;
    assert!(stored.is_empty(), "{fake:?}: nothing stored: {stored:?}");

    // Inbound text: stored once however often it comes, answered through
    // this provider.
    for _ in 0..3 {
        assert_eq!(fake.post(&app, &text, Signed::Yes).await.status(), 200);
    }
    let replies = sends_to(&app, fake, CUSTOMER, 1).await;
    assert!(!fake.text(&replies[0]).is_empty(), "{replies:?}");
    app.settle().await;
    let inbound: Vec<_> = rows(&app, CUSTOMER)
        .await
        .into_iter()
        .filter(|m| m.direction == "in")
        .collect();
    assert_eq!(inbound.len(), 1, "{fake:?}: deduplicated by message id");
    assert_eq!(sends_to(&app, fake, CUSTOMER, 1).await.len(), 1);

    // Status updates find our message by the provider's id, never backwards.
    let reply = rows(&app, CUSTOMER)
        .await
        .into_iter()
        .find(|m| m.direction == "out")
        .unwrap();
    let id = reply.provider_message_id.clone().expect("provider id kept");
    // "pending" (WAHA's ack 0, WaSender's 1) and a status nobody knows
    // change nothing and are still taken (200), or the provider would
    // redeliver them forever.
    for status in ["read", "delivered", "sent", "pending", "paused_by_meta"] {
        let body = fake.status(&id, CUSTOMER, status);
        assert_eq!(
            fake.post(&app, &body, Signed::Yes).await.status(),
            200,
            "{fake:?}: {status}"
        );
    }
    let row = app.services.store.message(reply.id).await.unwrap().unwrap();
    assert_eq!(row.status, "read", "{fake:?}: a late update moved it back");

    // A photo from the client: fetched from the provider, kept, and staff told.
    fake.serve_image(server, "IMG-CONF-1", jpeg()).await;
    let photo = fake.inbound_image("IMG-CONF-1", CUSTOMER, "mi pago 💸", &server.uri());
    assert_eq!(fake.post(&app, &photo, Signed::Yes).await.status(), 200);
    let notices = sends_to(&app, fake, STAFF, 1).await;
    assert!(
        fake.text(&notices[0]).contains("comprobante"),
        "{fake:?}: {notices:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let row = rows(&app, CUSTOMER)
            .await
            .into_iter()
            .find(|m| m.wa_message_id.as_deref() == Some("IMG-CONF-1"))
            .expect("the photo's row");
        if let Some(media_id) = row.media_id {
            let meta = app.services.store.media_meta(media_id).await.unwrap();
            assert_eq!(meta.unwrap().content_type, "image/jpeg");
            break;
        }
        assert!(Instant::now() < deadline, "{fake:?}: the file was not kept");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The session down holds every send; back up, staff are told and the
    // held message goes.
    if let (Some(down), Some(up)) = (fake.session(false), fake.session(true)) {
        assert_eq!(fake.post(&app, &down, Signed::Yes).await.status(), 200);
        let state = WhatsAppState::read(&app.services).await.unwrap();
        assert_eq!(state.code(), "disconnected", "{fake:?}");
        let held = queue(&app, "593994444444", MessageKind::Reply, "¿sigues ahí?").await;
        app.settle().await;
        let row = app.services.store.message(held).await.unwrap().unwrap();
        assert_eq!(row.status, "queued", "{fake:?}: sent while down");
        assert_eq!(fake.post(&app, &up, Signed::Yes).await.status(), 200);
        message_until(&app, held, |m| m.status == "sent").await;
        let staff = sends_to(&app, fake, STAFF, 2).await;
        assert!(
            staff.iter().any(|s| fake.text(s).contains("conect")),
            "{fake:?}: {staff:?}"
        );
    }

    // Every error class of a send, the same way whichever provider said it.
    let cases = [
        ("593992000002", ErrorClass::Transient),
        ("593992000003", ErrorClass::Rejected),
        ("593992000004", ErrorClass::Unauthorized),
        // Last: a rate limit holds the number's every send for a while.
        ("593992000001", ErrorClass::RateLimited),
    ];
    for (digits, class) in cases {
        fake.refuse_sends(server, digits, class).await;
        let id = queue(&app, digits, MessageKind::Reply, "hola").await;
        let row = match class {
            ErrorClass::Transient => {
                let row = message_until(&app, id, |m| m.status == "failed").await;
                assert!(!row.permanent_failure, "{fake:?}: {row:?}");
                assert!(row.attempts > 1, "{fake:?}: retried: {row:?}");
                row
            }
            ErrorClass::Rejected => {
                let row = message_until(&app, id, |m| m.status == "failed").await;
                assert!(row.permanent_failure, "{fake:?}: {row:?}");
                assert!(
                    row.error
                        .as_deref()
                        .unwrap()
                        .contains("número sin WhatsApp"),
                    "{fake:?}: the provider's own words: {row:?}"
                );
                row
            }
            ErrorClass::Unauthorized => {
                let row = message_until(&app, id, |m| m.status == "failed").await;
                assert!(
                    row.error
                        .as_deref()
                        .unwrap()
                        .starts_with("API key rejected"),
                    "{fake:?}: {row:?}"
                );
                row
            }
            ErrorClass::RateLimited => {
                let row = message_until(&app, id, |m| m.rate_limits == 1).await;
                assert_eq!(row.status, "queued", "{fake:?}: waits, not failed");
                assert!(row.next_attempt_at.unwrap() > app.services.clock.now());
                row
            }
        };
        assert_eq!(row.phone.as_str(), e164(digits));
    }
    app.cleanup().await;
}

async fn wasender(backend: Backend) {
    conformance(Fake::Wasender, backend).await;
}
async fn cloud(backend: Backend) {
    conformance(Fake::Cloud, backend).await;
}
async fn waha(backend: Backend) {
    conformance(Fake::Waha, backend).await;
}
both_backends!(conformance_wasender, super::wasender);
both_backends!(conformance_cloud, super::cloud);
both_backends!(conformance_waha, super::waha);

/// The "configured" step: with no secrets at all (console), every route
/// refuses at once with 503 — after the size check, before anything else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unconfigured_webhooks_answer_503_after_the_size_check() {
    let Some(app) = TestApp::spawn(
        Backend::Sqlite,
        Options::on(today())
            .http()
            .var("AVISA_PROVIDER", "console")
            .var("WASENDER_WEBHOOK_SECRET", ""),
    )
    .await
    else {
        return;
    };
    let big = format!("{{\"pad\":\"{}\"}}", "a".repeat(300 * 1024));
    for fake in Fake::ALL {
        let body = fake.inbound_text("IN-UNCONF", CUSTOMER, "hola");
        assert_eq!(fake.post(&app, &big, Signed::Yes).await.status(), 413);
        let response = fake.post(&app, &body, Signed::Yes).await;
        assert_eq!(response.status(), 503, "{fake:?}");
        let said: serde_json::Value = response.json().await.unwrap();
        assert_eq!(said["error"], "webhook secret not configured");
    }
    let verify = reqwest::get(
        app.url("/webhooks/cloud?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1"),
    )
    .await
    .unwrap();
    assert_eq!(verify.status(), 503);
    assert!(rows(&app, CUSTOMER).await.is_empty());
    app.cleanup().await;
}
