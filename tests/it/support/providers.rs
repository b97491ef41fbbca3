//! Fakes of the three WhatsApp providers behind one interface, so the same
//! conformance tests run against each: how the app is configured for it,
//! how its sends are answered (each with a new id) and read back, how its
//! webhooks are written and signed, and how it serves inbound files.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use avisa::whatsapp::hook::{sign_sha256_hex, sign_sha512_hex};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::app::{Options, TestApp, WEBHOOK_SECRET};
use super::db::{Backend, TestDb};

pub const CLOUD_TOKEN: &str = "EAAG-test-token-0123456789";
pub const CLOUD_PHONE_ID: &str = "106540352242922";
pub const CLOUD_APP_SECRET: &str = "cloud-app-secret-abcdef";
pub const CLOUD_VERIFY_TOKEN: &str = "cloud-verify-token-123";
pub const CLOUD_VERSION: &str = "v24.0";
pub const WAHA_KEY: &str = "waha-api-key-0123456789";
pub const WAHA_HMAC_KEY: &str = "waha-hmac-key-abcdef";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fake {
    Wasender,
    Cloud,
    Waha,
}

/// A send refused in one of the classes every provider maps onto.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    RateLimited,
    Transient,
    Unauthorized,
    Rejected,
}

/// Answers each send with a new id (`OUT1`, `OUT2`…) in the provider's shape.
struct NewIds {
    fake: Fake,
    next: Arc<AtomicU64>,
}

impl Respond for NewIds {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let body = match self.fake {
            Fake::Wasender => {
                json!({"success": true, "data": {"msgId": 700 + n, "jid": "x", "status": "in_progress"}})
            }
            Fake::Cloud => json!({"messaging_product": "whatsapp",
                "contacts": [{"input": "x", "wa_id": "x"}],
                "messages": [{"id": format!("wamid.OUT{n}")}]}),
            Fake::Waha => json!({"id": format!("true_593991234567@c.us_3EB0OUT{n}"),
                "body": "x", "fromMe": true}),
        };
        ResponseTemplate::new(if self.fake == Fake::Waha { 201 } else { 200 }).set_body_json(body)
    }
}

impl Fake {
    pub const ALL: [Fake; 3] = [Fake::Wasender, Fake::Cloud, Fake::Waha];

    pub fn code(self) -> &'static str {
        match self {
            Fake::Wasender => "wasender",
            Fake::Cloud => "cloud",
            Fake::Waha => "waha",
        }
    }

    /// An app sending through this fake, on `backend`, over HTTP.
    pub async fn spawn(self, backend: Backend, options: Options) -> Option<TestApp> {
        let db = TestDb::new(backend).await?;
        let server = MockServer::start().await;
        let options = self.configure(options.http(), &server.uri());
        Some(TestApp::spawn_with(db, server, options).await)
    }

    /// The settings that choose this provider (and leave the others' webhook
    /// secrets unset).
    pub fn configure(self, options: Options, uri: &str) -> Options {
        let options = options.var("AVISA_PROVIDER", self.code());
        match self {
            Fake::Wasender => options,
            Fake::Cloud => options
                .var("WASENDER_WEBHOOK_SECRET", "")
                .var("WHATSAPP_TOKEN", CLOUD_TOKEN)
                .var("WHATSAPP_PHONE_NUMBER_ID", CLOUD_PHONE_ID)
                .var("WHATSAPP_APP_SECRET", CLOUD_APP_SECRET)
                .var("WHATSAPP_VERIFY_TOKEN", CLOUD_VERIFY_TOKEN)
                .var("WHATSAPP_API_VERSION", CLOUD_VERSION)
                .var("WHATSAPP_BASE_URL", uri),
            Fake::Waha => options
                .var("WASENDER_WEBHOOK_SECRET", "")
                .var("WAHA_BASE_URL", uri)
                .var("WAHA_API_KEY", WAHA_KEY)
                .var("WAHA_WEBHOOK_HMAC_KEY", WAHA_HMAC_KEY),
        }
    }

    pub fn route(self) -> &'static str {
        match self {
            Fake::Wasender => "/webhooks/wasender",
            Fake::Cloud => "/webhooks/cloud",
            Fake::Waha => "/webhooks/waha",
        }
    }

    /// Whether `path` is one of this provider's send endpoints.
    pub fn is_send(self, path: &str) -> bool {
        match self {
            Fake::Wasender => path == "/api/send-message",
            Fake::Cloud => path == format!("/{CLOUD_VERSION}/{CLOUD_PHONE_ID}/messages"),
            Fake::Waha => matches!(path, "/api/sendText" | "/api/sendImage" | "/api/sendFile"),
        }
    }

    fn send_path_regex(self) -> String {
        match self {
            Fake::Wasender => "^/api/send-message$".into(),
            Fake::Cloud => format!("^/{CLOUD_VERSION}/{CLOUD_PHONE_ID}/messages$"),
            Fake::Waha => "^/api/send(Text|Image|File)$".into(),
        }
    }

    /// Every send is accepted, each with a new id.
    pub async fn accept_sends(self, server: &MockServer) {
        Mock::given(method("POST"))
            .and(path_regex(self.send_path_regex()))
            .respond_with(NewIds {
                fake: self,
                next: Arc::new(AtomicU64::new(0)),
            })
            .mount(server)
            .await;
    }

    /// Sends whose body holds `needle` (a phone's digits) are refused in
    /// `class`, ahead of the accepting mock.
    pub async fn refuse_sends(self, server: &MockServer, needle: &str, class: ErrorClass) {
        Mock::given(method("POST"))
            .and(path_regex(self.send_path_regex()))
            .and(wiremock::matchers::body_string_contains(needle))
            .respond_with(self.error_reply(class))
            .with_priority(1)
            .mount(server)
            .await;
    }

    /// The provider's own way of saying `class`.
    pub fn error_reply(self, class: ErrorClass) -> ResponseTemplate {
        let meta = |status: u16, code: i64, message: &str| {
            ResponseTemplate::new(status).set_body_json(json!({"error": {
                "message": message, "type": "OAuthException", "code": code,
                "error_data": {"details": message}, "fbtrace_id": "Ax1"}}))
        };
        match (self, class) {
            (Fake::Cloud, ErrorClass::RateLimited) => meta(400, 130429, "(#130429) Rate limit hit"),
            (Fake::Cloud, ErrorClass::Transient) => {
                meta(500, 131000, "(#131000) Something went wrong")
            }
            (Fake::Cloud, ErrorClass::Unauthorized) => meta(
                401,
                190,
                "Error validating access token: Session has expired",
            ),
            (Fake::Cloud, ErrorClass::Rejected) => meta(
                400,
                131026,
                "(#131026) Message undeliverable: número sin WhatsApp",
            ),
            (_, ErrorClass::RateLimited) => ResponseTemplate::new(429)
                .insert_header("Retry-After", "120")
                .set_body_json(
                    json!({"success": false, "message": "Too many requests", "retry_after": 120}),
                ),
            (_, ErrorClass::Transient) => {
                ResponseTemplate::new(503).set_body_json(json!({"message": "upstream down"}))
            }
            (_, ErrorClass::Unauthorized) => ResponseTemplate::new(401)
                .set_body_json(json!({"success": false, "message": "Invalid API key"})),
            (_, ErrorClass::Rejected) => ResponseTemplate::new(422)
                .set_body_json(json!({"success": false, "message": "número sin WhatsApp"})),
        }
    }

    /// Bodies of the sends the fake received, in order.
    pub async fn sends(self, server: &MockServer) -> Vec<Value> {
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| self.is_send(r.url.path()))
            .map(|r| serde_json::from_slice(&r.body).expect("a JSON send"))
            .collect()
    }

    /// A send's recipient, as digits.
    pub fn recipient(self, send: &Value) -> String {
        let raw = match self {
            Fake::Wasender | Fake::Cloud => send["to"].as_str().unwrap_or_default(),
            Fake::Waha => send["chatId"].as_str().unwrap_or_default(),
        };
        raw.chars().filter(char::is_ascii_digit).collect()
    }

    /// A send's text (a caption for a file; a template's name for a template).
    pub fn text(self, send: &Value) -> String {
        let text = match self {
            Fake::Wasender => send["text"].as_str(),
            Fake::Cloud => send["text"]["body"]
                .as_str()
                .or(send["image"]["caption"].as_str())
                .or(send["document"]["caption"].as_str())
                .or(send["template"]["name"].as_str()),
            Fake::Waha => send["text"].as_str().or(send["caption"].as_str()),
        };
        text.unwrap_or_default().to_string()
    }

    /// The headers that sign `body` (with the wrong key when `forged`).
    pub fn signature(self, body: &[u8], forged: bool) -> (&'static str, String) {
        let key = |real: &str| {
            if forged {
                "not-the-key".to_string()
            } else {
                real.to_string()
            }
        };
        match self {
            Fake::Wasender => ("X-Webhook-Signature", key(WEBHOOK_SECRET)),
            Fake::Cloud => (
                "X-Hub-Signature-256",
                format!(
                    "sha256={}",
                    sign_sha256_hex(key(CLOUD_APP_SECRET).as_bytes(), body)
                ),
            ),
            Fake::Waha => (
                "X-Webhook-Hmac",
                sign_sha512_hex(key(WAHA_HMAC_KEY).as_bytes(), body),
            ),
        }
    }

    /// POSTs `body` to this provider's webhook, signed (or not, or forged).
    pub async fn post(self, app: &TestApp, body: &str, signed: Signed) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .post(app.url(self.route()))
            .header("content-type", "application/json")
            .body(body.to_string());
        match signed {
            Signed::No => {}
            Signed::Yes | Signed::Forged => {
                let (name, value) = self.signature(body.as_bytes(), signed == Signed::Forged);
                request = request.header(name, value);
            }
        }
        request.send().await.expect("webhook request")
    }

    /// `from` (digits) wrote `text`, as message `wa_id`.
    pub fn inbound_text(self, wa_id: &str, from: &str, text: &str) -> String {
        let body = match self {
            Fake::Wasender => json!({"event": "messages.received", "timestamp": 1764669600,
                "data": {"messages": {"key": {"id": wa_id, "fromMe": false,
                    "remoteJid": format!("{from}@s.whatsapp.net"),
                    "cleanedSenderPn": from},
                    "pushName": "José O'Brien", "messageTimestamp": 1764669600,
                    "message": {"conversation": text}}}}),
            Fake::Cloud => cloud_envelope(json!({
                "contacts": [{"profile": {"name": "José O'Brien"}, "wa_id": from}],
                "messages": [{"from": from, "id": wa_id, "timestamp": "1764669600",
                    "type": "text", "text": {"body": text}}]})),
            Fake::Waha => json!({"id": "evt_1", "timestamp": 1764669600000u64,
                "event": "message", "session": "default", "engine": "WEBJS",
                "payload": {"id": wa_id, "timestamp": 1764669600,
                    "from": format!("{from}@c.us"), "fromMe": false,
                    "to": "593990000000@c.us", "body": text, "hasMedia": false,
                    "_data": {"notifyName": "José O'Brien"}}}),
        };
        body.to_string()
    }

    /// `from` sent a JPEG with `caption`, as message `wa_id`; the fake
    /// serves its bytes (see [`Fake::serve_image`]).
    pub fn inbound_image(self, wa_id: &str, from: &str, caption: &str, uri: &str) -> String {
        let body = match self {
            Fake::Wasender => json!({"event": "messages.received", "timestamp": 1764669600,
                "data": {"messages": {"key": {"id": wa_id, "fromMe": false,
                    "remoteJid": format!("{from}@s.whatsapp.net"), "cleanedSenderPn": from},
                    "messageTimestamp": 1764669600,
                    "message": {"imageMessage": {
                        "url": format!("https://mmg.whatsapp.net/v/t62/{wa_id}.enc"),
                        "mimetype": "image/jpeg", "caption": caption,
                        "mediaKey": "bWVkaWEta2V5", "fileSha256": "c2hh",
                        "fileLength": "2011"}}}}}),
            Fake::Cloud => cloud_envelope(json!({
                "contacts": [{"profile": {"name": "José"}, "wa_id": from}],
                "messages": [{"from": from, "id": wa_id, "timestamp": "1764669600",
                    "type": "image", "image": {"id": format!("MEDIA{wa_id}"),
                        "mime_type": "image/jpeg", "sha256": "x", "caption": caption}}]})),
            Fake::Waha => json!({"id": "evt_2", "timestamp": 1764669600000u64,
                "event": "message", "session": "default",
                "payload": {"id": wa_id, "timestamp": 1764669600,
                    "from": format!("{from}@c.us"), "fromMe": false, "body": caption,
                    "hasMedia": true, "media": {"url": format!("{uri}/api/files/default/{wa_id}.jpeg"),
                        "mimetype": "image/jpeg", "filename": null}}}),
        };
        body.to_string()
    }

    /// Serves message `wa_id`'s file as the provider does.
    pub async fn serve_image(self, server: &MockServer, wa_id: &str, bytes: Vec<u8>) {
        match self {
            Fake::Wasender => {
                let link = format!("{}/files/{wa_id}", server.uri());
                Mock::given(method("POST"))
                    .and(path("/api/decrypt-media"))
                    .respond_with(
                        ResponseTemplate::new(200)
                            .set_body_json(json!({"success": true, "publicUrl": link})),
                    )
                    .mount(server)
                    .await;
                Mock::given(method("GET"))
                    .and(path(format!("/files/{wa_id}")))
                    .respond_with(ResponseTemplate::new(200).set_body_bytes(bytes))
                    .mount(server)
                    .await;
            }
            Fake::Cloud => {
                let url = format!("{}/lookaside/{wa_id}", server.uri());
                Mock::given(method("GET"))
                    .and(path(format!("/{CLOUD_VERSION}/MEDIA{wa_id}")))
                    .and(wiremock::matchers::header(
                        "authorization",
                        format!("Bearer {CLOUD_TOKEN}").as_str(),
                    ))
                    .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                        "url": url, "mime_type": "image/jpeg", "sha256": "x",
                        "file_size": bytes.len(), "id": format!("MEDIA{wa_id}"),
                        "messaging_product": "whatsapp"})))
                    .mount(server)
                    .await;
                Mock::given(method("GET"))
                    .and(path(format!("/lookaside/{wa_id}")))
                    .and(wiremock::matchers::header(
                        "authorization",
                        format!("Bearer {CLOUD_TOKEN}").as_str(),
                    ))
                    .respond_with(ResponseTemplate::new(200).set_body_bytes(bytes))
                    .mount(server)
                    .await;
            }
            Fake::Waha => {
                Mock::given(method("GET"))
                    .and(path(format!("/api/files/default/{wa_id}.jpeg")))
                    .and(wiremock::matchers::header("x-api-key", WAHA_KEY))
                    .respond_with(ResponseTemplate::new(200).set_body_bytes(bytes))
                    .mount(server)
                    .await;
            }
        }
    }

    /// Delivery progress `status` (`sent`, `delivered`, `read`, `failed`)
    /// of our message `id` to `to` (digits).
    pub fn status(self, id: &str, to: &str, status: &str) -> String {
        let body = match self {
            Fake::Wasender => {
                let code = match status {
                    "failed" => 0,
                    "pending" => 1,
                    "sent" => 2,
                    "delivered" => 3,
                    "read" => 4,
                    _ => 9,
                };
                json!({"event": "messages.update", "timestamp": 1764669700,
                    "data": {"update": {"status": code},
                        "key": {"id": id, "remoteJid": format!("{to}@s.whatsapp.net"), "fromMe": true}}})
            }
            Fake::Cloud => {
                let mut item = json!({"id": id, "status": status, "timestamp": "1764669700",
                    "recipient_id": to});
                if status == "failed" {
                    item["errors"] = json!([{"code": 131026, "title": "Message undeliverable"}]);
                }
                cloud_envelope(json!({"statuses": [item]}))
            }
            Fake::Waha => {
                let ack = match status {
                    "failed" => -1,
                    "pending" => 0,
                    "sent" => 1,
                    "delivered" => 2,
                    "read" => 3,
                    _ => 9,
                };
                json!({"id": "evt_3", "timestamp": 1764669700000u64, "event": "message.ack",
                    "session": "default", "payload": {"id": id, "from": format!("{to}@c.us"),
                        "fromMe": true, "ack": ack}})
            }
        };
        body.to_string()
    }

    /// The session went down or came back; `None` for the Cloud API, which
    /// has no session.
    pub fn session(self, up: bool) -> Option<String> {
        match self {
            Fake::Wasender => Some(
                json!({"event": "session.status", "timestamp": 1764669800,
                    "data": {"status": if up { "connected" } else { "need_scan" }}})
                .to_string(),
            ),
            Fake::Waha => Some(
                json!({"id": "evt_4", "timestamp": 1764669800000u64, "event": "session.status",
                    "session": "default", "payload": {"name": "default",
                        "status": if up { "WORKING" } else { "SCAN_QR_CODE" }}})
                .to_string(),
            ),
            Fake::Cloud => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signed {
    No,
    Yes,
    Forged,
}

/// The Cloud API's webhook envelope around one change's `value`.
pub fn cloud_envelope(mut value: Value) -> Value {
    value["messaging_product"] = json!("whatsapp");
    value["metadata"] = json!({"display_phone_number": "593990000000",
        "phone_number_id": CLOUD_PHONE_ID});
    json!({"object": "whatsapp_business_account",
        "entry": [{"id": "WABA1", "changes": [{"field": "messages", "value": value}]}]})
}
