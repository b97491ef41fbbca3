use std::time::Instant;

use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::domain::Region;

const KEY: &str = "wsk_test_9f8e7d6c5b4a";

fn phone() -> Phone {
    Phone::parse("+593991234567", Region::default()).unwrap()
}

fn provider_at(base: &str, timeout: Duration) -> WasenderProvider {
    WasenderProvider::new(
        Url::parse(base).unwrap(),
        SecretString::from(KEY.to_string()),
        timeout,
    )
    .unwrap()
}

async fn server_answering(response: ResponseTemplate) -> (MockServer, WasenderProvider) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/send-message"))
        .respond_with(response)
        .mount(&server)
        .await;
    let provider = provider_at(&format!("{}/api", server.uri()), Duration::from_secs(5));
    (server, provider)
}

async fn send_with(response: ResponseTemplate) -> Result<Sent, SendError> {
    let (_server, provider) = server_answering(response).await;
    provider.send_text(&phone(), "Hola").await
}

#[tokio::test]
async fn numeric_msg_id_and_the_exact_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/send-message"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_json(
            json!({"to": "+593991234567", "text": "Hola Ana ¿renovamos?"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": true,
            "data": {"msgId": 100000, "jid": "+593991234567", "status": "in_progress"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    // A trailing slash on the base URL changes nothing.
    let provider = provider_at(&format!("{}/api/", server.uri()), Duration::from_secs(5));
    let sent = provider
        .send_text(&phone(), "Hola Ana ¿renovamos?")
        .await
        .unwrap();
    assert_eq!(sent.provider_id.as_deref(), Some("100000"));
    server.verify().await;
}

#[tokio::test]
async fn string_msg_id() {
    let sent = send_with(ResponseTemplate::new(200).set_body_json(json!({
        "success": true, "data": {"msgId": "abc-42", "status": "in_progress"}
    })))
    .await
    .unwrap();
    assert_eq!(sent.provider_id.as_deref(), Some("abc-42"));
}

#[tokio::test]
async fn unreadable_success_body_is_still_sent() {
    let sent = send_with(ResponseTemplate::new(200).set_body_string("<html>ok</html>"))
        .await
        .unwrap();
    assert_eq!(sent, Sent::default());
}

#[tokio::test]
async fn success_false_is_rejected() {
    let error = send_with(
        ResponseTemplate::new(200)
            .set_body_json(json!({"success": false, "message": "Session is not connected"})),
    )
    .await
    .unwrap_err();
    assert_eq!(
        error,
        SendError::Rejected {
            status: 200,
            message: "Session is not connected".into()
        }
    );
}

#[tokio::test]
async fn validation_error_is_rejected_with_the_provider_message() {
    let error = send_with(ResponseTemplate::new(422).set_body_json(json!({
        "success": false,
        "message": "Validation failed",
        "errors": {"to": ["The to field must be a valid phone number."]}
    })))
    .await
    .unwrap_err();
    assert!(!error.is_retryable());
    assert_eq!(
        error,
        SendError::Rejected {
            status: 422,
            message: "Validation failed — to: The to field must be a valid phone number.".into()
        }
    );
}

#[tokio::test]
async fn long_messages_are_truncated() {
    let error = send_with(ResponseTemplate::new(400).set_body_string("x".repeat(5000)))
        .await
        .unwrap_err();
    let SendError::Rejected {
        status: 400,
        message,
    } = error
    else {
        panic!("unexpected {error:?}")
    };
    assert_eq!(message.chars().count(), 500);
    assert!(message.ends_with('…'));
}

#[tokio::test]
async fn bad_key_is_unauthorized() {
    let error = send_with(
        ResponseTemplate::new(401)
            .set_body_json(json!({"success": false, "message": "API key is required"})),
    )
    .await
    .unwrap_err();
    assert_eq!(
        error,
        SendError::Unauthorized {
            message: "API key is required".into()
        }
    );
    let forbidden = send_with(ResponseTemplate::new(403)).await.unwrap_err();
    assert!(
        matches!(forbidden, SendError::Unauthorized { .. }),
        "{forbidden:?}"
    );
}

#[tokio::test]
async fn rate_limit_with_retry_after_in_the_body() {
    let message = "You are on a free trial. You can only send 1 message every 1 minute.";
    let error = send_with(
        ResponseTemplate::new(429)
            .insert_header("X-RateLimit-Reset", "5")
            .set_body_json(json!({"message": message, "retry_after": 42})),
    )
    .await
    .unwrap_err();
    assert!(error.is_retryable());
    assert_eq!(
        error,
        SendError::RateLimited {
            retry_after: Duration::from_secs(42),
            message: message.into()
        }
    );
}

#[tokio::test]
async fn rate_limit_with_only_the_reset_header() {
    let error = send_with(
        ResponseTemplate::new(429)
            .insert_header("X-RateLimit-Limit", "1")
            .insert_header("X-RateLimit-Remaining", "0")
            .insert_header("X-RateLimit-Reset", "30"),
    )
    .await
    .unwrap_err();
    assert_eq!(error.retry_after(), Some(Duration::from_secs(30)));
    assert!(!error.message().is_empty());
}

#[tokio::test]
async fn rate_limit_without_any_hint_waits_a_minute() {
    let error = send_with(ResponseTemplate::new(429)).await.unwrap_err();
    assert_eq!(error.retry_after(), Some(Duration::from_secs(60)));
}

#[test]
fn retry_after_sources_and_bounds() {
    let now = 1_750_000_000;
    let wait = |body: serde_json::Value, headers: &[(&'static str, &str)]| {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        retry_after(Some(&body), &map, now).as_secs()
    };
    assert_eq!(wait(json!({"retry_after": "12"}), &[]), 12);
    assert_eq!(wait(json!({"retry_after": 0.2}), &[]), 1);
    assert_eq!(wait(json!({"retry_after": 0}), &[]), 1);
    assert_eq!(wait(json!({"retry_after": 999_999}), &[]), 3600);
    assert_eq!(wait(json!({}), &[("retry-after", "17")]), 17);
    assert_eq!(
        wait(json!({}), &[("x-ratelimit-reset", "1750000120")]),
        120,
        "a Unix timestamp"
    );
    assert_eq!(wait(json!({}), &[("x-ratelimit-reset", "1749999990")]), 1);
    assert_eq!(wait(json!({}), &[("x-ratelimit-reset", "soon")]), 60);
}

#[tokio::test]
async fn server_errors_are_transient() {
    let error = send_with(ResponseTemplate::new(500).set_body_string("Internal Server Error"))
        .await
        .unwrap_err();
    assert!(error.is_retryable());
    assert_eq!(
        error,
        SendError::Transient {
            message: "Internal Server Error".into()
        }
    );
    let bad_gateway = send_with(ResponseTemplate::new(502)).await.unwrap_err();
    assert_eq!(bad_gateway.message(), "HTTP 502 Bad Gateway");
}

#[tokio::test]
async fn a_hanging_server_times_out_as_unknown() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let provider = provider_at(&server.uri(), Duration::from_millis(300));
    let started = Instant::now();
    let error = provider.send_text(&phone(), "Hola").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // The request was written: WhatsApp may have the message.
    assert!(matches!(error, SendError::Unknown { .. }), "{error:?}");
    assert!(error.message().contains("no answer"), "{error}");
}

#[tokio::test]
async fn connection_refused_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let provider = provider_at(
        &format!("http://127.0.0.1:{port}/api"),
        Duration::from_secs(2),
    );
    let error = provider.send_text(&phone(), "Hola").await.unwrap_err();
    assert!(matches!(error, SendError::Transient { .. }), "{error:?}");
    assert!(!error.message().contains(KEY));
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let error = send_with(
        ResponseTemplate::new(301)
            .insert_header("Location", "https://example.com/api/send-message"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, SendError::Rejected { status: 301, .. }),
        "{error:?}"
    );
}

#[test]
fn debug_never_shows_the_key() {
    let provider = provider_at(
        "https://user:pw@www.wasenderapi.com/api",
        Duration::from_secs(20),
    );
    let shown = format!("{provider:?}");
    assert!(!shown.contains(KEY), "{shown}");
    assert!(!shown.contains("pw"), "{shown}");
    assert!(
        shown.contains("www.wasenderapi.com/api/send-message"),
        "{shown}"
    );
    assert!(shown.contains("[redacted]"), "{shown}");
    assert!(!provider.is_console());
}

#[test]
fn constructor_rejects_bad_settings() {
    let url = Url::parse(DEFAULT_BASE_URL).unwrap();
    let build = |url: Url, key: &str, timeout| {
        WasenderProvider::new(url, SecretString::from(key.to_string()), timeout)
    };
    assert!(matches!(
        build(url.clone(), "  ", Duration::from_secs(1)),
        Err(WasenderInitError::EmptyKey)
    ));
    assert!(matches!(
        build(url.clone(), "bad\nkey", Duration::from_secs(1)),
        Err(WasenderInitError::KeyNotHeaderSafe)
    ));
    assert!(matches!(
        build(url, KEY, Duration::ZERO),
        Err(WasenderInitError::ZeroTimeout)
    ));
    let ftp = Url::parse("ftp://example.com/api").unwrap();
    assert!(matches!(
        build(ftp, KEY, Duration::from_secs(1)),
        Err(WasenderInitError::BadBaseUrl(_))
    ));
}
