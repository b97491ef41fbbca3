use std::time::Instant;

use chrono::{Duration as Hours, Utc};
use serde_json::json;
use wiremock::matchers::{body_json, body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::domain::Region;
use crate::whatsapp::{AttachmentKind, TemplateKind};

mod errors;
mod hook;
mod media;
mod parse;
mod window;

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
