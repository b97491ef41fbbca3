use serde_json::json;
use wiremock::matchers::{body_json, header, header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::domain::Region;

mod files;
mod webhook;

const KEY: &str = "waha_key_7c1e";

fn phone() -> Phone {
    Phone::parse("+593991234567", Region::default()).unwrap()
}

fn provider_at(base: &str, key: Option<&str>) -> WahaProvider {
    WahaProvider::new(
        Url::parse(base).unwrap(),
        key.map(|k| SecretString::from(k.to_string())),
        "default".into(),
        Duration::from_secs(5),
    )
    .unwrap()
}

async fn send_with(response: ResponseTemplate) -> Result<Sent, SendError> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/sendText"))
        .respond_with(response)
        .mount(&server)
        .await;
    provider_at(&server.uri(), Some(KEY))
        .send_text(&phone(), "Hola")
        .await
}

#[tokio::test]
async fn send_text_sends_the_exact_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/sendText"))
        .and(header("x-api-key", KEY))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "session": "default",
            "chatId": "593991234567@c.us",
            "text": "Hola Ana ¿renovamos? 🎉",
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": "true_593991234567@c.us_3EB0AAA", "body": "Hola Ana ¿renovamos? 🎉"
        })))
        .expect(1)
        .mount(&server)
        .await;
    // A trailing slash on the base changes nothing.
    let provider = provider_at(&format!("{}/", server.uri()), Some(KEY));
    let sent = provider
        .send_text(&phone(), "Hola Ana ¿renovamos? 🎉")
        .await
        .unwrap();
    assert_eq!(
        sent,
        Sent {
            provider_id: Some("3EB0AAA".into()),
            template: None
        }
    );
    server.verify().await;
}

#[tokio::test]
async fn no_key_configured_sends_no_key_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/sendText"))
        .and(header_exists("x-api-key"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/sendText"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "x"})))
        .mount(&server)
        .await;
    for key in [None, Some("  ")] {
        let sent = provider_at(&server.uri(), key)
            .send_text(&phone(), "Hola")
            .await
            .unwrap();
        assert_eq!(sent.provider_id.as_deref(), Some("x"), "{key:?}");
    }
}

#[tokio::test]
async fn every_id_shape_is_read() {
    let cases = [
        (
            json!({"id": {"fromMe": true, "remote": "593991234567@c.us", "id": "3EB0B",
                "_serialized": "true_593991234567@c.us_3EB0B"}}),
            Some("3EB0B"),
        ),
        (
            json!({"key": {"remoteJid": "593991234567@s.whatsapp.net", "fromMe": true,
                "id": "BAE5C"}, "status": 1}),
            Some("BAE5C"),
        ),
        (json!({"id": ""}), None),
        (json!([1, 2]), None),
    ];
    for (reply, expected) in cases {
        let sent = send_with(ResponseTemplate::new(200).set_body_json(&reply))
            .await
            .unwrap();
        assert_eq!(sent.provider_id.as_deref(), expected, "{reply}");
    }
    let sent = send_with(ResponseTemplate::new(201).set_body_string("<html>ok</html>"))
        .await
        .unwrap();
    assert_eq!(sent, Sent::default());
}

#[tokio::test]
async fn rate_limits_wait_as_asked_or_a_minute() {
    let error = send_with(
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "17")
            .set_body_json(json!({"message": "Too Many Requests"})),
    )
    .await
    .unwrap_err();
    assert_eq!(
        error,
        SendError::RateLimited {
            retry_after: Duration::from_secs(17),
            message: "Too Many Requests".into()
        }
    );
    let error = send_with(ResponseTemplate::new(429)).await.unwrap_err();
    assert_eq!(error.retry_after(), Some(Duration::from_secs(60)));
    let error = send_with(ResponseTemplate::new(429).insert_header("Retry-After", "0"))
        .await
        .unwrap_err();
    assert_eq!(error.retry_after(), Some(Duration::from_secs(1)));
    let error = send_with(ResponseTemplate::new(429).insert_header("Retry-After", "86400"))
        .await
        .unwrap_err();
    assert_eq!(error.retry_after(), Some(Duration::from_secs(3600)));
}

#[tokio::test]
async fn error_statuses_are_classified() {
    let unauthorized = send_with(
        ResponseTemplate::new(401)
            .set_body_json(json!({"message": "Unauthorized", "statusCode": 401})),
    )
    .await
    .unwrap_err();
    assert_eq!(
        unauthorized,
        SendError::Unauthorized {
            message: "Unauthorized".into()
        }
    );
    let forbidden = send_with(ResponseTemplate::new(403)).await.unwrap_err();
    assert_eq!(
        forbidden,
        SendError::Unauthorized {
            message: "HTTP 403 Forbidden".into()
        }
    );
    for status in [500, 503, 408] {
        let error = send_with(ResponseTemplate::new(status).set_body_string("engine crashed"))
            .await
            .unwrap_err();
        assert_eq!(
            error,
            SendError::Transient {
                message: "engine crashed".into()
            },
            "{status}"
        );
    }
    let not_found = send_with(ResponseTemplate::new(404).set_body_json(json!({
        "error": "Session \"default\" does not exist", "statusCode": 404
    })))
    .await
    .unwrap_err();
    assert_eq!(
        not_found,
        SendError::Rejected {
            status: 404,
            message: "Session \"default\" does not exist".into()
        }
    );
    let unprocessable = send_with(ResponseTemplate::new(422).set_body_json(json!({
        "statusCode": 422, "error": "Unprocessable Entity",
        "message": "Session status is not as expected. Try again later or restart the session",
    })))
    .await
    .unwrap_err();
    assert_eq!(
        unprocessable,
        SendError::Rejected {
            status: 422,
            message: "Session status is not as expected. Try again later or restart the session"
                .into()
        }
    );
    let validation = send_with(ResponseTemplate::new(400).set_body_json(json!({
        "message": ["chatId must be a string", "text should not be empty"],
        "error": "Bad Request",
    })))
    .await
    .unwrap_err();
    assert_eq!(
        validation.message(),
        "chatId must be a string; text should not be empty"
    );
    let long = send_with(ResponseTemplate::new(400).set_body_string("x".repeat(5000)))
        .await
        .unwrap_err();
    assert_eq!(long.message().chars().count(), 500);
}

#[tokio::test]
async fn connection_refused_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let provider = provider_at(&format!("http://127.0.0.1:{port}"), Some(KEY));
    let error = provider.send_text(&phone(), "Hola").await.unwrap_err();
    assert!(matches!(error, SendError::Transient { .. }), "{error:?}");
    assert!(!error.message().contains(KEY));
}

#[tokio::test]
async fn images_and_documents_go_to_their_endpoints() {
    let server = MockServer::start().await;
    let file = |mimetype: &str, filename: &str| {
        json!({
            "session": "default", "chatId": "593991234567@c.us",
            "file": {"mimetype": mimetype, "filename": filename,
                "url": "https://avisa.example/media/1?exp=1&sig=a"},
            "caption": "Comprobante de Ana",
        })
    };
    for (endpoint, mimetype, filename, id) in [
        ("/api/sendImage", "image/jpeg", "foto.JPG", "img1"),
        ("/api/sendImage", "image/png", "captura.png", "img2"),
        ("/api/sendFile", "application/pdf", "recibo.PDF", "doc1"),
        (
            "/api/sendFile",
            "application/octet-stream",
            "hoja.xlsx",
            "doc2",
        ),
    ] {
        Mock::given(method("POST"))
            .and(path(endpoint))
            .and(header("x-api-key", KEY))
            .and(body_json(file(mimetype, filename)))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": id})))
            .expect(1)
            .mount(&server)
            .await;
    }
    let provider = provider_at(&server.uri(), Some(KEY));
    for (kind, file_name, id) in [
        (AttachmentKind::Image, "foto.JPG", "img1"),
        (AttachmentKind::Image, "captura.png", "img2"),
        (AttachmentKind::Document, "recibo.PDF", "doc1"),
        (AttachmentKind::Document, "hoja.xlsx", "doc2"),
    ] {
        let attachment = Attachment {
            url: "https://avisa.example/media/1?exp=1&sig=a".into(),
            kind,
            file_name: file_name.into(),
        };
        let sent = provider
            .send_media(&phone(), "Comprobante de Ana", &attachment)
            .await
            .unwrap();
        assert_eq!(sent.provider_id.as_deref(), Some(id), "{file_name}");
    }
    server.verify().await;
}

async fn session_answering(response: ResponseTemplate) -> Result<SessionReport, SendError> {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/sessions/default"))
        .and(header("x-api-key", KEY))
        .respond_with(response)
        .mount(&server)
        .await;
    provider_at(&server.uri(), Some(KEY)).session_state().await
}

#[tokio::test]
async fn session_state_is_connected_only_when_working() {
    let working = session_answering(ResponseTemplate::new(200).set_body_json(json!({
        "name": "default", "status": "WORKING", "me": {"id": "593990000000@c.us"}
    })))
    .await
    .unwrap();
    assert_eq!(
        working,
        SessionReport {
            connected: true,
            raw: "WORKING".into()
        }
    );
    let scan = session_answering(
        ResponseTemplate::new(200)
            .set_body_json(json!({"name": "default", "status": "SCAN_QR_CODE"})),
    )
    .await
    .unwrap();
    assert_eq!(
        scan,
        SessionReport {
            connected: false,
            raw: "SCAN_QR_CODE".into()
        }
    );
    let missing = session_answering(
        ResponseTemplate::new(404).set_body_json(json!({"error": "Session not found"})),
    )
    .await
    .unwrap_err();
    assert_eq!(
        missing,
        SendError::Rejected {
            status: 404,
            message: "Session not found".into()
        }
    );
    let bad_key = session_answering(ResponseTemplate::new(401))
        .await
        .unwrap_err();
    assert!(matches!(bad_key, SendError::Unauthorized { .. }));
}

#[test]
fn session_names_are_escaped_in_the_path() {
    let provider = WahaProvider::new(
        Url::parse("http://waha:3000/").unwrap(),
        None,
        " ventas/2 ".into(),
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(
        provider.session_url.as_str(),
        "http://waha:3000/api/sessions/ventas%2F2"
    );
    assert_eq!(provider.kind(), ProviderKind::Waha);
    assert!(!provider.is_console() && !provider.uses_window());
}

#[test]
fn debug_never_shows_the_key() {
    let provider = provider_at("http://user:pw@waha:3000", Some(KEY));
    let shown = format!("{provider:?}");
    assert!(!shown.contains(KEY), "{shown}");
    assert!(!shown.contains("pw"), "{shown}");
    assert!(shown.contains("waha:3000"), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
}

#[test]
fn constructor_rejects_bad_settings() {
    let url = Url::parse("http://waha:3000").unwrap();
    let build = |url: Url, key: Option<&str>, session: &str, timeout| {
        WahaProvider::new(
            url,
            key.map(|k| SecretString::from(k.to_string())),
            session.to_string(),
            timeout,
        )
    };
    let error = build(
        url.clone(),
        Some("bad\nkey"),
        "default",
        Duration::from_secs(1),
    )
    .unwrap_err();
    assert!(matches!(error, WahaInitError::KeyNotHeaderSafe));
    assert!(error.to_string().contains("WAHA_API_KEY"));
    let error = build(url.clone(), None, "  ", Duration::from_secs(1)).unwrap_err();
    assert!(matches!(error, WahaInitError::EmptySession));
    assert!(error.to_string().contains("WAHA_SESSION"));
    assert!(matches!(
        build(url, None, "default", Duration::ZERO),
        Err(WahaInitError::ZeroTimeout)
    ));
    let error = build(
        Url::parse("ftp://waha/api").unwrap(),
        None,
        "default",
        Duration::from_secs(1),
    )
    .unwrap_err();
    assert!(matches!(error, WahaInitError::BadBaseUrl(_)));
    assert!(error.to_string().contains("WAHA_BASE_URL"));
}

#[test]
fn a_send_and_its_acks_name_the_message_alike_on_every_engine() {
    let object = |value: serde_json::Value| value.as_object().cloned().unwrap();
    // NOWEB answers a send with the short id and names it in full in acks;
    // WEBJS uses the full form in both.
    let noweb_reply = object(json!({"key": {"remoteJid": "593991234567@s.whatsapp.net",
        "fromMe": true, "id": "BAE5C0D1"}, "status": 1}));
    let noweb_ack = object(json!({"id": "true_593991234567@c.us_BAE5C0D1", "ack": 2}));
    let webjs_reply = object(json!({"id": {"fromMe": true, "remote": "593991234567@c.us",
        "id": "3EB0B", "_serialized": "true_593991234567@c.us_3EB0B"}}));
    let webjs_ack = object(json!({"id": "true_593991234567@c.us_3EB0B", "ack": 3}));
    assert_eq!(message_id(&noweb_reply).as_deref(), Some("BAE5C0D1"));
    assert_eq!(message_id(&noweb_reply), message_id(&noweb_ack));
    assert_eq!(message_id(&webjs_reply).as_deref(), Some("3EB0B"));
    assert_eq!(message_id(&webjs_reply), message_id(&webjs_ack));
    // Group messages carry the participant after the id; other ids stay.
    assert_eq!(
        short_id("false_120363@g.us_3EB0C_593991234567@c.us"),
        "3EB0C"
    );
    for id in [
        "3EB0AAA",
        "true_",
        "true_nochat_3EB0",
        "maybe_593@c.us_1",
        "true_593@c.us_",
    ] {
        assert_eq!(short_id(id), id);
    }
}
