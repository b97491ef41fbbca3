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

/// Writes a raw HTTP/1.1 request head and `body_parts` (already framed),
/// then reads the status line, giving up after 10 s. The server must answer
/// without the rest of the body: the connection is never finished.
async fn raw_status(app: &TestApp, head_extra: &str, body_parts: &[Vec<u8>]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = reqwest::Url::parse(&app.url("/")).unwrap();
    let address = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /webhooks/wasender HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         X-Webhook-Signature: {WEBHOOK_SECRET}\r\n{head_extra}\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for part in body_parts {
        // The server may close once it has refused the body.
        if stream.write_all(part).await.is_err() {
            break;
        }
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
            if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("answered before the body was complete");
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// Over-limit bodies are refused before they are read: a `Content-Length`
/// over 256 KiB at once (no body sent at all), a chunked body as soon as it
/// passes the limit (the final chunk never comes), both 413 in JSON.
async fn oversized_bodies_are_refused_unread(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let (status, text) = raw_status(&app, "Content-Length: 10485760\r\n", &[]).await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("{\"error\":\"body over 256 KiB\"}"), "{text}");

    let chunk = vec![b'a'; 64 * 1024];
    let framed = |data: &[u8]| {
        let mut part = format!("{:x}\r\n", data.len()).into_bytes();
        part.extend_from_slice(data);
        part.extend_from_slice(b"\r\n");
        part
    };
    // 320 KiB in five chunks, then nothing: no terminating chunk.
    let parts: Vec<Vec<u8>> = (0..5).map(|_| framed(&chunk)).collect();
    let (status, text) = raw_status(&app, "Transfer-Encoding: chunked\r\n", &parts).await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("body over 256 KiB"), "{text}");

    // Under the limit, chunked, is read whole and checked as usual.
    let body = fixture("unknown_event.json").into_bytes();
    let mut parts = vec![framed(&body)];
    parts.push(b"0\r\n\r\n".to_vec());
    let (status, text) = raw_status(&app, "Transfer-Encoding: chunked\r\n", &parts).await;
    assert_eq!(status, 200, "{text}");
    app.cleanup().await;
}
both_backends!(oversized, super::oversized_bodies_are_refused_unread);

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
    // The unknown sender gets exactly one reply, through the outbox and the
    // fake WaSender. Waits until it is all settled — the one inbound row
    // handled (its replies are written with the processed mark, in one
    // transaction) and nothing left queued or sending — so a second reply
    // would be there by now.
    let settled = || async {
        let rows = app
            .services
            .store
            .messages_for_phone("+593991234567", 50)
            .await
            .unwrap();
        let handled = rows
            .iter()
            .any(|m| m.direction == "in" && m.status == "processed");
        let pending = rows
            .iter()
            .any(|m| matches!(m.status.as_str(), "queued" | "sending"));
        handled && !pending
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !settled().await {
        assert!(
            std::time::Instant::now() < deadline,
            "the inbound message was not handled and answered within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
        template_args: None,
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
