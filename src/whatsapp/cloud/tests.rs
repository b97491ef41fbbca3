use std::time::Instant;

use chrono::{Duration as Hours, Utc};
use serde_json::json;
use wiremock::matchers::{body_json, body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::domain::Region;
use crate::whatsapp::{AttachmentKind, TemplateKind};

mod hook;
mod parse;

const TOKEN: &str = "EAAGm0PX4ZCpsBA_test_token";
const NUMBER: &str = "106540352242922";
const BEARER: &str = "Bearer EAAGm0PX4ZCpsBA_test_token";
const MESSAGES: &str = "/v24.0/106540352242922/messages";
const REENGAGEMENT_DETAILS: &str = "Message failed to send because more than 24 hours have passed since the customer last replied to this number.";

fn phone() -> Phone {
    Phone::parse("+593991234567", Region::default()).unwrap()
}

fn settings(base: &str, templates: TemplateMap) -> CloudSettings {
    CloudSettings {
        base_url: Url::parse(base).unwrap(),
        api_version: "v24.0".into(),
        phone_number_id: NUMBER.into(),
        token: SecretString::from(TOKEN.to_string()),
        templates,
        timeout: Duration::from_secs(5),
    }
}

fn reminder_template() -> TemplateMap {
    let spec = TemplateSpec::parse(
        TemplateKind::Reminder,
        "avisa_recordatorio:es_MX:client_name,service,payment_link,long_date",
    )
    .unwrap();
    [(TemplateKind::Reminder, spec)].into()
}

fn provider(server: &MockServer, templates: TemplateMap) -> CloudProvider {
    CloudProvider::new(settings(&server.uri(), templates)).unwrap()
}

fn reminder_args() -> TemplateArgs {
    TemplateArgs {
        kind: TemplateKind::Reminder,
        vars: [
            ("client_name", "José O'Brien <script>alert(1)</script>"),
            ("service", "Netflix 🎬, Disney+"),
            ("payment_link", ""),
            ("text", "Hola José · tu Netflix vence mañana"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    }
}

/// The template body Meta gets for [`reminder_args`]: parameters in the
/// spec's order, "-" for the empty and the missing ones.
fn reminder_template_body() -> Value {
    json!({
        "messaging_product": "whatsapp", "recipient_type": "individual",
        "to": "593991234567", "type": "template",
        "template": {
            "name": "avisa_recordatorio", "language": {"code": "es_MX"},
            "components": [{"type": "body", "parameters": [
                {"type": "text", "text": "José O'Brien <script>alert(1)</script>"},
                {"type": "text", "text": "Netflix 🎬, Disney+"},
                {"type": "text", "text": "-"},
                {"type": "text", "text": "-"},
            ]}],
        },
    })
}

fn text_body(text: &str) -> Value {
    json!({
        "messaging_product": "whatsapp", "recipient_type": "individual",
        "to": "593991234567", "type": "text",
        "text": {"preview_url": false, "body": text},
    })
}

fn accepted(id: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": "593991234567", "wa_id": "593991234567"}],
        "messages": [{"id": id}],
    }))
}

fn meta_error(status: u16, code: i64, message: &str, details: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"error": {
        "message": message, "type": "OAuthException", "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details},
        "fbtrace_id": "AbCdEf123",
    }}))
}

fn re_engagement() -> ResponseTemplate {
    meta_error(
        400,
        131047,
        "(#131047) Re-engagement message",
        REENGAGEMENT_DETAILS,
    )
}

fn outgoing<'a>(
    to: &'a Phone,
    text: &'a str,
    template: Option<&'a TemplateArgs>,
    hours_ago: Option<i64>,
) -> Outgoing<'a> {
    let now = Utc::now();
    Outgoing {
        to,
        text,
        attachment: None,
        template,
        last_inbound: hours_ago.map(|h| now - Hours::hours(h)),
        now,
    }
}

/// The JSON bodies the fake received, in order.
async fn received(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
        .collect()
}

#[tokio::test]
async fn text_goes_with_the_exact_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(header("authorization", BEARER))
        .and(header("content-type", "application/json"))
        .and(body_json(text_body("Hola José 👋 ¿renovamos?")))
        .respond_with(accepted("wamid.HBgLNTkzOTkxMjM0NTY3FQIAERgS"))
        .expect(1)
        .mount(&server)
        .await;
    let provider = provider(&server, TemplateMap::new());
    let to = phone();
    let sent = provider
        .send(&outgoing(&to, "Hola José 👋 ¿renovamos?", None, Some(1)))
        .await
        .unwrap();
    assert_eq!(
        sent,
        Sent {
            provider_id: Some("wamid.HBgLNTkzOTkxMjM0NTY3FQIAERgS".into()),
            template: None
        }
    );
    server.verify().await;
}

#[tokio::test]
async fn files_go_as_image_or_document_with_the_caption() {
    let server = MockServer::start().await;
    let url = "https://avisa.example/media/1?exp=1&sig=a";
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(header("authorization", BEARER))
        .and(body_json(json!({
            "messaging_product": "whatsapp", "recipient_type": "individual",
            "to": "593991234567", "type": "image",
            "image": {"link": url, "caption": "Tu comprobante"},
        })))
        .respond_with(accepted("wamid.IMG"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(body_json(json!({
            "messaging_product": "whatsapp", "recipient_type": "individual",
            "to": "593991234567", "type": "document",
            "document": {"link": url, "caption": "Tu recibo", "filename": "recibo_José.pdf"},
        })))
        .respond_with(accepted("wamid.DOC"))
        .expect(1)
        .mount(&server)
        .await;
    let provider = provider(&server, TemplateMap::new());
    let to = phone();
    let photo = Attachment {
        url: url.into(),
        kind: AttachmentKind::Image,
        file_name: "foto.jpg".into(),
    };
    let mut message = outgoing(&to, "Tu comprobante", None, Some(2));
    message.attachment = Some(&photo);
    let sent = provider.send(&message).await.unwrap();
    assert_eq!(sent.provider_id.as_deref(), Some("wamid.IMG"));
    let document = Attachment {
        kind: AttachmentKind::Document,
        file_name: "recibo_José.pdf".into(),
        ..photo
    };
    let sent = provider
        .send_media(&to, "Tu recibo", &document)
        .await
        .unwrap();
    assert_eq!(sent.provider_id.as_deref(), Some("wamid.DOC"));
    server.verify().await;
}

#[tokio::test]
async fn outside_the_window_only_the_template_goes() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(header("authorization", BEARER))
        .respond_with(accepted("wamid.TPL"))
        .mount(&server)
        .await;
    let provider = provider(&server, reminder_template());
    let (to, args) = (phone(), reminder_args());
    let sent = provider
        .send(&outgoing(&to, "Hola José", Some(&args), Some(25)))
        .await
        .unwrap();
    assert_eq!(
        sent,
        Sent {
            provider_id: Some("wamid.TPL".into()),
            template: Some("avisa_recordatorio".into())
        }
    );
    assert_eq!(received(&server).await, [reminder_template_body()]);
}

#[tokio::test]
async fn a_template_without_variables_has_no_components() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(accepted("wamid.N"))
        .mount(&server)
        .await;
    let spec = TemplateSpec::parse(TemplateKind::Notice, "avisa_aviso:es").unwrap();
    let provider = provider(&server, [(TemplateKind::Notice, spec)].into());
    let to = phone();
    let args = TemplateArgs {
        kind: TemplateKind::Notice,
        vars: Default::default(),
    };
    // Never wrote at all: outside the window.
    let sent = provider
        .send(&outgoing(&to, "Aviso", Some(&args), None))
        .await
        .unwrap();
    assert_eq!(sent.template.as_deref(), Some("avisa_aviso"));
    assert_eq!(
        received(&server).await,
        [json!({
            "messaging_product": "whatsapp", "recipient_type": "individual",
            "to": "593991234567", "type": "template",
            "template": {"name": "avisa_aviso", "language": {"code": "es"}},
        })]
    );
}

#[tokio::test]
async fn inside_the_window_free_text_goes_even_with_a_template() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(accepted("wamid.T"))
        .mount(&server)
        .await;
    let provider = provider(&server, reminder_template());
    let (to, args) = (phone(), reminder_args());
    let sent = provider
        .send(&outgoing(&to, "Hola José", Some(&args), Some(1)))
        .await
        .unwrap();
    assert_eq!(sent.template, None);
    assert_eq!(received(&server).await, [text_body("Hola José")]);
}

/// Free text refused with 131047, templates accepted.
async fn closing_window_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"type": "text"})))
        .respond_with(re_engagement())
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"type": "template"})))
        .respond_with(accepted("wamid.FALLBACK"))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn outside_the_window_without_a_template_says_why() {
    let server = closing_window_server().await;
    // A template for another kind does not help a reminder.
    let spec = TemplateSpec::parse(TemplateKind::Notice, "avisa_aviso:es").unwrap();
    let provider = provider(&server, [(TemplateKind::Notice, spec)].into());
    let (to, args) = (phone(), reminder_args());
    let error = provider
        .send(&outgoing(&to, "Hola José", Some(&args), Some(25)))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        SendError::Rejected {
            status: 400,
            message: format!(
                "outside WhatsApp's 24-hour window and no approved template is configured for reminder: (#131047) Re-engagement message: {REENGAGEMENT_DETAILS}"
            ),
        }
    );
    assert_eq!(received(&server).await, [text_body("Hola José")]);

    // A reply or manual message has no template at all.
    let error = provider
        .send(&outgoing(&to, "¿Sigues ahí?", None, None))
        .await
        .unwrap_err();
    assert_eq!(
        error.message(),
        format!(
            "outside WhatsApp's 24-hour window: (#131047) Re-engagement message: {REENGAGEMENT_DETAILS}"
        )
    );
}

#[tokio::test]
async fn outside_the_window_free_text_may_still_go() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(accepted("wamid.OK"))
        .mount(&server)
        .await;
    let provider = provider(&server, TemplateMap::new());
    let to = phone();
    let sent = provider
        .send(&outgoing(&to, "Hola", None, Some(30)))
        .await
        .unwrap();
    assert_eq!(sent.provider_id.as_deref(), Some("wamid.OK"));
    assert_eq!(received(&server).await, [text_body("Hola")]);
}

#[tokio::test]
async fn a_window_that_closed_meanwhile_falls_back_to_the_template_once() {
    let server = closing_window_server().await;
    let provider = provider(&server, reminder_template());
    let (to, args) = (phone(), reminder_args());
    let sent = provider
        .send(&outgoing(&to, "Hola José", Some(&args), Some(23)))
        .await
        .unwrap();
    assert_eq!(
        sent,
        Sent {
            provider_id: Some("wamid.FALLBACK".into()),
            template: Some("avisa_recordatorio".into())
        }
    );
    assert_eq!(
        received(&server).await,
        [text_body("Hola José"), reminder_template_body()]
    );
}

#[tokio::test]
async fn a_closed_window_without_a_template_keeps_metas_refusal() {
    let server = closing_window_server().await;
    let provider = provider(&server, TemplateMap::new());
    let (to, args) = (phone(), reminder_args());
    let error = provider
        .send(&outgoing(&to, "Hola José", Some(&args), Some(1)))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        SendError::Rejected {
            status: 400,
            message: format!("(#131047) Re-engagement message: {REENGAGEMENT_DETAILS}"),
        }
    );
    assert_eq!(received(&server).await.len(), 1);
}

#[tokio::test]
async fn a_failing_fallback_template_is_that_error_and_nothing_more() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"type": "text"})))
        .respond_with(re_engagement())
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"type": "template"})))
        .respond_with(meta_error(
            404,
            132001,
            "(#132001) Template name does not exist in the translation",
            "template name (avisa_recordatorio) does not exist in es_MX",
        ))
        .mount(&server)
        .await;
    let provider = provider(&server, reminder_template());
    let (to, args) = (phone(), reminder_args());
    let error = provider
        .send(&outgoing(&to, "Hola José", Some(&args), Some(1)))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        SendError::Rejected {
            status: 404,
            message: "(#132001) Template name does not exist in the translation: template name (avisa_recordatorio) does not exist in es_MX".into(),
        }
    );
    assert_eq!(received(&server).await.len(), 2);
}

async fn send_with(response: ResponseTemplate) -> SendError {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(response)
        .mount(&server)
        .await;
    let provider = provider(&server, TemplateMap::new());
    provider.send_text(&phone(), "Hola").await.unwrap_err()
}

#[tokio::test]
async fn every_error_class() {
    let limited = |secs| {
        move |e: &SendError| {
            matches!(e, SendError::RateLimited { .. })
                && e.retry_after() == Some(Duration::from_secs(secs))
        }
    };
    let transient = |e: &SendError| matches!(e, SendError::Transient { .. });
    let unauthorized = |e: &SendError| matches!(e, SendError::Unauthorized { .. });
    type Check = Box<dyn Fn(&SendError) -> bool>;
    let cases: Vec<(ResponseTemplate, Check)> = vec![
        (ResponseTemplate::new(429), Box::new(limited(60))),
        (
            ResponseTemplate::new(429).insert_header("Retry-After", "7"),
            Box::new(limited(7)),
        ),
        (
            meta_error(
                400,
                130429,
                "(#130429) Rate limit hit",
                "Cloud API message throughput has been reached.",
            ),
            Box::new(limited(60)),
        ),
        (
            meta_error(
                400,
                131056,
                "(#131056) (Business Account, Consumer Account) pair rate limit hit",
                "",
            ),
            Box::new(limited(10)),
        ),
        (
            meta_error(400, 131056, "pair rate limit hit", "").insert_header("Retry-After", "3"),
            Box::new(limited(3)),
        ),
        (
            meta_error(400, 80007, "Rate limit issues", ""),
            Box::new(limited(60)),
        ),
        (
            meta_error(403, 4, "(#4) Application request limit reached", ""),
            Box::new(limited(60)),
        ),
        (
            ResponseTemplate::new(500).set_body_string("oops"),
            Box::new(transient),
        ),
        (ResponseTemplate::new(503), Box::new(transient)),
        (
            meta_error(400, 131000, "Something went wrong", ""),
            Box::new(transient),
        ),
        (
            meta_error(400, 131016, "Service unavailable", ""),
            Box::new(transient),
        ),
        (ResponseTemplate::new(401), Box::new(unauthorized)),
        (
            meta_error(
                401,
                190,
                "Error validating access token: Session has expired",
                "",
            ),
            Box::new(unauthorized),
        ),
        (
            meta_error(400, 190, "Invalid OAuth access token", ""),
            Box::new(unauthorized),
        ),
        (
            meta_error(403, 200, "(#200) Permissions error", ""),
            Box::new(unauthorized),
        ),
    ];
    for (i, (response, expected)) in cases.into_iter().enumerate() {
        let error = send_with(response).await;
        assert!(expected(&error), "case {i}: {error:?}");
    }
    let error = send_with(meta_error(
        400,
        100,
        "(#100) Invalid parameter",
        "Parameter value is not valid: to <script>",
    ))
    .await;
    assert_eq!(
        error,
        SendError::Rejected {
            status: 400,
            message: "(#100) Invalid parameter: Parameter value is not valid: to <script>".into(),
        }
    );
}

#[tokio::test]
async fn an_unreadable_success_is_still_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>ok</html>"))
        .mount(&server)
        .await;
    let provider = provider(&server, TemplateMap::new());
    let sent = provider.send_text(&phone(), "Hola").await.unwrap();
    assert_eq!(sent, Sent::default());
}

#[tokio::test]
async fn connection_refused_is_transient_and_a_hang_is_unknown() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let provider = CloudProvider::new(settings(
        &format!("http://127.0.0.1:{port}"),
        TemplateMap::new(),
    ))
    .unwrap();
    let error = provider.send_text(&phone(), "Hola").await.unwrap_err();
    assert!(matches!(error, SendError::Transient { .. }), "{error:?}");
    assert!(!error.message().contains(TOKEN));

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(accepted("wamid.LATE").set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let mut hanging = settings(&server.uri(), TemplateMap::new());
    hanging.timeout = Duration::from_millis(300);
    let provider = CloudProvider::new(hanging).unwrap();
    let started = Instant::now();
    let error = provider.send_text(&phone(), "Hola").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(matches!(error, SendError::Unknown { .. }), "{error:?}");
}

const MEDIA_ID: &str = "1037543291543636";

async fn media_server(file_size: usize) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v24.0/{MEDIA_ID}")))
        .and(header("authorization", BEARER))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "url": format!("{}/lookaside/whatsapp_business/attachments/?mid={MEDIA_ID}&ext=1&hash=x", server.uri()),
            "mime_type": "image/jpeg",
            "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "file_size": file_size,
            "id": MEDIA_ID,
            "messaging_product": "whatsapp",
        })))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn media_is_looked_up_then_downloaded_with_the_token() {
    let server = media_server(7).await;
    Mock::given(method("GET"))
        .and(path("/lookaside/whatsapp_business/attachments/"))
        .and(query_param("mid", MEDIA_ID))
        .and(header("authorization", BEARER))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"\xFF\xD8\xFFhola".to_vec()))
        .expect(1)
        .mount(&server)
        .await;
    let provider = provider(&server, TemplateMap::new());
    let bytes = provider.fetch_media(MEDIA_ID, 1024).await.unwrap();
    assert_eq!(bytes, b"\xFF\xD8\xFFhola");
    server.verify().await;
}

#[tokio::test]
async fn media_over_the_limit_is_not_downloaded() {
    let server = media_server(5_000_000).await;
    Mock::given(method("GET"))
        .and(path("/lookaside/whatsapp_business/attachments/"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![0u8; 16]))
        .expect(0)
        .mount(&server)
        .await;
    let provider = provider(&server, TemplateMap::new());
    assert_eq!(
        provider.fetch_media(MEDIA_ID, 1024).await,
        Err(MediaError::TooLarge { limit: 1024 })
    );
    server.verify().await;
}

#[tokio::test]
async fn gone_and_failing_media() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v24.0/404404"))
        .respond_with(meta_error(404, 100, "Unsupported get request.", ""))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v24.0/500500"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let provider = provider(&server, TemplateMap::new());
    assert!(matches!(
        provider.fetch_media("404404", 1024).await,
        Err(MediaError::Gone { .. })
    ));
    assert!(matches!(
        provider.fetch_media("500500", 1024).await,
        Err(MediaError::Transient { .. })
    ));
    // Not a media id: no request at all.
    assert!(matches!(
        provider
            .fetch_media("../106540352242922/messages", 1024)
            .await,
        Err(MediaError::Gone { .. })
    ));
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn session_state_reads_the_quality_rating() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v24.0/{NUMBER}")))
        .and(query_param("fields", "display_phone_number,quality_rating"))
        .and(header("authorization", BEARER))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "display_phone_number": "+593 99 123 4567", "quality_rating": "GREEN", "id": NUMBER,
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": NUMBER})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(meta_error(401, 190, "Error validating access token", ""))
        .mount(&server)
        .await;
    let provider = provider(&server, TemplateMap::new());
    let report = |raw: &str| SessionReport {
        connected: true,
        raw: raw.into(),
    };
    assert_eq!(
        provider.session_state().await,
        Ok(report("quality_rating GREEN"))
    );
    assert_eq!(provider.session_state().await, Ok(report("ok")));
    let error = provider.session_state().await.unwrap_err();
    assert_eq!(
        error,
        SendError::Unauthorized {
            message: "(#190) Error validating access token".into()
        }
    );
}

#[test]
fn constructor_names_the_bad_setting() {
    let build = |change: &dyn Fn(&mut CloudSettings)| {
        let mut settings = settings("https://graph.facebook.com", TemplateMap::new());
        change(&mut settings);
        CloudProvider::new(settings)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    assert!(build(&|s| s.base_url = Url::parse("ftp://x/").unwrap()).contains("WHATSAPP_BASE_URL"));
    for version in ["24.0", "v24", "v24.x", "v.0", ""] {
        let error = build(&|s| s.api_version = version.into());
        assert!(error.contains("WHATSAPP_API_VERSION"), "{version}: {error}");
    }
    for id in ["", "10654a", "123/456", "+593"] {
        let error = build(&|s| s.phone_number_id = id.into());
        assert!(error.contains("WHATSAPP_PHONE_NUMBER_ID"), "{id}: {error}");
    }
    let error = build(&|s| s.token = SecretString::from(" ".to_string()));
    assert_eq!(error, "WHATSAPP_TOKEN is empty");
    let error = build(&|s| s.token = SecretString::from("bad\ntoken".to_string()));
    assert!(
        error.contains("WHATSAPP_TOKEN") && error.contains("header"),
        "{error}"
    );
    assert!(build(&|s| s.timeout = Duration::ZERO).contains("timeout"));
}

#[test]
fn debug_hides_the_token_and_the_contract_holds() {
    let provider =
        CloudProvider::new(settings("https://graph.facebook.com/", reminder_template())).unwrap();
    let shown = format!("{provider:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
    assert!(
        shown.contains("https://graph.facebook.com/v24.0/106540352242922/messages"),
        "{shown}"
    );
    assert_eq!(provider.kind(), ProviderKind::Cloud);
    assert!(provider.uses_window());
    assert!(!provider.is_console());
    assert_eq!(provider.templates().len(), 1);
}

#[test]
fn metas_words_are_kept_without_repeating_the_code() {
    use classify::MetaError;
    let describe = |v: Value| MetaError::from_json(&v).unwrap().describe();
    assert_eq!(
        describe(
            json!({"error": {"code": 131047, "message": "Re-engagement message",
            "error_data": {"details": "24 hours"}}})
        ),
        "(#131047) Re-engagement message: 24 hours"
    );
    assert_eq!(
        describe(
            json!({"error": {"code": "100", "message": "(#100) Invalid parameter",
            "error_data": {"details": "(#100) Invalid parameter"}}})
        ),
        "(#100) Invalid parameter"
    );
    assert_eq!(describe(json!({"error": {"code": 2}})), "(#2)");
    assert!(MetaError::from_json(&json!({"error": "nope"})).is_none());
}
