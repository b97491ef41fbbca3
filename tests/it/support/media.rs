//! The fake WaSender's files: `POST /api/decrypt-media` answering, for a
//! message id, a `publicUrl` on the same fake server, and that URL serving
//! bytes (or refusing, as an expired link does); plus signed image and
//! document webhooks that carry the media fields.

use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, ResponseTemplate};

use super::app::{TestApp, WEBHOOK_SECRET};

/// A JPEG's first bytes and some more.
pub fn jpeg() -> Vec<u8> {
    let mut bytes = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00".to_vec();
    bytes.extend((0..2000u32).map(|i| (i % 251) as u8));
    bytes
}

/// A small PDF.
pub fn pdf() -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    bytes.extend_from_slice(
        b"1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
    );
    bytes
}

/// Every send is accepted.
pub async fn accept_sends(app: &TestApp) {
    let ok = serde_json::json!({"success": true, "data": {"msgId": 1, "jid": "x", "status": "in_progress"}});
    Mock::given(method("POST"))
        .and(path("/api/send-message"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok))
        .mount(&app.wasender)
        .await;
}

/// `decrypt-media` for message `wa_id` answers a link to `/files/{wa_id}`.
pub async fn decrypt_gives_link(app: &TestApp, wa_id: &str) {
    let link = format!("{}/files/{wa_id}", app.wasender.uri());
    Mock::given(method("POST"))
        .and(path("/api/decrypt-media"))
        .and(body_partial_json(
            serde_json::json!({"data": {"messages": {"key": {"id": wa_id}}}}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"success": true, "publicUrl": link})),
        )
        .mount(&app.wasender)
        .await;
}

/// `decrypt-media` for `wa_id` fails with `status` the first `times` calls.
pub async fn decrypt_fails(app: &TestApp, wa_id: &str, status: u16, times: u64) {
    Mock::given(method("POST"))
        .and(path("/api/decrypt-media"))
        .and(body_partial_json(
            serde_json::json!({"data": {"messages": {"key": {"id": wa_id}}}}),
        ))
        .respond_with(ResponseTemplate::new(status))
        .up_to_n_times(times)
        .with_priority(1)
        .mount(&app.wasender)
        .await;
}

/// `/files/{wa_id}` answers `status` with `bytes`.
pub async fn file_at(app: &TestApp, wa_id: &str, status: u16, bytes: Vec<u8>) {
    Mock::given(method("GET"))
        .and(path(format!("/files/{wa_id}")))
        .respond_with(ResponseTemplate::new(status).set_body_bytes(bytes))
        .mount(&app.wasender)
        .await;
}

/// `decrypt-media` and the link for `wa_id`, serving `bytes`.
pub async fn serve_file(app: &TestApp, wa_id: &str, bytes: Vec<u8>) {
    decrypt_gives_link(app, wa_id).await;
    file_at(app, wa_id, 200, bytes).await;
}

/// How many `decrypt-media` calls the fake received.
pub async fn decrypt_calls(app: &TestApp) -> usize {
    app.wasender
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path().ends_with("/decrypt-media"))
        .count()
}

/// A signed webhook: `from` (digits) sent a photo (`document`: false) or
/// a document claiming `mimetype`, with `caption`.
pub async fn send_file(
    app: &TestApp,
    from: &str,
    wa_id: &str,
    document: bool,
    mimetype: &str,
    caption: &str,
) {
    let media = serde_json::json!({
        "url": format!("https://mmg.whatsapp.net/v/t62/{wa_id}.enc"),
        "mimetype": mimetype,
        "mediaKey": "bWVkaWEta2V5LWJhc2U2NA==",
        "fileSha256": "c2hhMjU2",
        "fileLength": "12345",
        "caption": caption,
        "fileName": if document { "recibo noviembre.pdf" } else { "" },
    });
    let kind = if document {
        "documentMessage"
    } else {
        "imageMessage"
    };
    let body = serde_json::json!({
        "event": "messages.received",
        "timestamp": 1_764_082_800,
        "data": {"messages": {
            "key": {"id": wa_id, "fromMe": false,
                    "remoteJid": format!("{from}@s.whatsapp.net"), "cleanedSenderPn": from},
            "messageBody": caption,
            "message": {kind: media},
        }}
    });
    let response = reqwest::Client::new()
        .post(app.url("/webhooks/wasender"))
        .header("X-Webhook-Signature", WEBHOOK_SECRET)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
