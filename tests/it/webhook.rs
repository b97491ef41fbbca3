//! The WaSender webhook over HTTP, on SQLite and PostgreSQL.

use crate::support;

use std::time::Duration;

use chrono::NaiveDate;
use support::app::{Options, TestApp, WEBHOOK_SECRET};
use support::db::Backend;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/wasender/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

async fn post(app: &TestApp, body: String, signature: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(app.url("/webhooks/wasender"))
        .header("content-type", "application/json")
        .body(body);
    if let Some(signature) = signature {
        request = request.header("X-Webhook-Signature", signature);
    }
    request.send().await.unwrap()
}

async fn spawn(backend: Backend) -> Option<TestApp> {
    TestApp::spawn(
        backend,
        Options::on(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()).http(),
    )
    .await
}

async fn inbound_count(app: &TestApp, phone: &str) -> usize {
    app.services
        .store
        .messages_for_phone(phone, 100)
        .await
        .unwrap()
        .iter()
        .filter(|m| m.direction == "in")
        .count()
}

async fn checks_in_order(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let body = fixture("messages_received.json");
    assert_eq!(post(&app, body.clone(), None).await.status(), 401);
    assert_eq!(post(&app, body.clone(), Some("wrong")).await.status(), 401);
    assert_eq!(
        post(&app, "{not json".into(), Some(WEBHOOK_SECRET))
            .await
            .status(),
        400
    );
    let big = format!("{{\"event\":\"x\",\"pad\":\"{}\"}}", "a".repeat(300 * 1024));
    assert_eq!(post(&app, big, Some("wrong")).await.status(), 413);
    assert_eq!(
        post(&app, fixture("unknown_event.json"), Some(WEBHOOK_SECRET))
            .await
            .status(),
        200
    );
    let response = post(&app, body, Some(WEBHOOK_SECRET)).await;
    assert_eq!(response.status(), 200);
    app.cleanup().await;
}
both_backends!(checks, super::checks_in_order);

async fn duplicates_are_stored_once(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let body = fixture("messages_received.json");
    for _ in 0..3 {
        assert_eq!(
            post(&app, body.clone(), Some(WEBHOOK_SECRET))
                .await
                .status(),
            200
        );
    }
    assert_eq!(inbound_count(&app, "+593991234567").await, 1);
    // The unknown sender gets exactly one reply, through the outbox and the fake WaSender.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while app.sent().await.is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let to_customer: Vec<_> = app
        .sent()
        .await
        .into_iter()
        .filter(|b| b["to"] == "+593991234567")
        .collect();
    assert_eq!(to_customer.len(), 1, "{to_customer:?}");
    app.cleanup().await;
}
both_backends!(duplicates, super::duplicates_are_stored_once);

async fn own_and_group_messages_are_ignored(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    for name in ["from_me.json", "group.json", "status_broadcast.json"] {
        assert_eq!(
            post(&app, fixture(name), Some(WEBHOOK_SECRET))
                .await
                .status(),
            200,
            "{name}"
        );
    }
    let stored = app.services.store.queued_messages(100).await.unwrap();
    assert!(stored.is_empty());
    assert_eq!(
        app.services.store.count_clients().await.unwrap(),
        0,
        "no client is ever created from a chat"
    );
    app.cleanup().await;
}
both_backends!(ignored, super::own_and_group_messages_are_ignored);

async fn session_status_holds_sending(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let store = &app.services.store;
    assert_eq!(
        post(
            &app,
            fixture("session_need_scan.json"),
            Some(WEBHOOK_SECRET)
        )
        .await
        .status(),
        200
    );
    assert!(
        store
            .setting(avisa::store::SETTING_SESSION_DOWN)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        post(
            &app,
            fixture("session_connected.json"),
            Some(WEBHOOK_SECRET)
        )
        .await
        .status(),
        200
    );
    assert!(
        store
            .setting(avisa::store::SETTING_SESSION_DOWN)
            .await
            .unwrap()
            .is_none()
    );
    // Staff are told it is back.
    let notices = store.messages_for_phone("+593990000001", 10).await.unwrap();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].kind, "notice");
    app.cleanup().await;
}
both_backends!(session_status, super::session_status_holds_sending);

async fn delivery_updates_reach_our_message(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let store = &app.services.store;
    let phone =
        avisa::domain::Phone::parse("0991234567", avisa::domain::Region::default()).unwrap();
    let out = avisa::store::NewOutbound {
        phone,
        client_id: None,
        kind: avisa::store::MessageKind::Reply,
        body: "x".into(),
    };
    let id = store
        .queue_outbound(&out, chrono::Utc::now())
        .await
        .unwrap();
    store
        .claim_message(id, chrono::Utc::now() + chrono::Duration::days(1))
        .await
        .unwrap();
    let fixture_text = fixture("update_numeric.json");
    let json: serde_json::Value = serde_json::from_str(&fixture_text).unwrap();
    let wa_id = json["data"]["key"]["id"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_default();
    store
        .mark_sent(id, Some(&wa_id), chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(
        post(&app, fixture_text, Some(WEBHOOK_SECRET))
            .await
            .status(),
        200
    );
    let status = store.message(id).await.unwrap().unwrap().status;
    assert_ne!(status, "sent", "the update moved the status forward");
    app.cleanup().await;
}
both_backends!(delivery_update, super::delivery_updates_reach_our_message);
