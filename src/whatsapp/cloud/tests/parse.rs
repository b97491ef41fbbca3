//! Webhook deliveries as Meta sends them, with hostile data.

use chrono::{DateTime, TimeZone};

use super::*;
use crate::whatsapp::{
    DeliveryStatus, InboundContent, InboundMessage, MediaKind, SenderAddress, WebhookEvent,
    WebhookParseError, WebhookSource,
};

fn parse(body: &Value) -> Vec<WebhookEvent> {
    CloudWebhook::new(None, None)
        .parse(body.to_string().as_bytes())
        .expect("delivery parses")
}

fn at(secs: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(secs, 0).single()
}

fn change(field: &str, value: Value) -> Value {
    json!({"field": field, "value": value})
}

fn delivery(entries: Vec<Vec<Value>>) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": entries.into_iter().enumerate().map(|(i, changes)| json!({
            "id": format!("10203040506070{i}"), "changes": changes,
        })).collect::<Vec<_>>(),
    })
}

fn value(contacts: Value, messages: Value, statuses: Value) -> Value {
    let mut value = json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": NUMBER},
        "contacts": contacts,
    });
    if !messages.is_null() {
        value["messages"] = messages;
    }
    if !statuses.is_null() {
        value["statuses"] = statuses;
    }
    value
}

fn message(id: &str, kind: &str, payload: Value) -> Value {
    let mut m = json!({"from": "593991234567", "id": id, "timestamp": "1700000000", "type": kind});
    m[kind] = payload;
    m
}

fn inbound(wa_id: &str, push_name: Option<&str>, content: InboundContent) -> WebhookEvent {
    WebhookEvent::Inbound(InboundMessage {
        wa_id: wa_id.into(),
        from_me: false,
        from: SenderAddress::Phone("593991234567".into()),
        push_name: push_name.map(str::to_string),
        content,
        timestamp: at(1_700_000_000),
    })
}

fn status(wa_id: &str, status: DeliveryStatus, error: Option<&str>) -> WebhookEvent {
    WebhookEvent::StatusUpdate {
        wa_id: wa_id.into(),
        status,
        error: error.map(str::to_string),
    }
}

fn media(
    kind: MediaKind,
    caption: Option<&str>,
    file: Option<&str>,
    mime: &str,
    id: &str,
) -> InboundContent {
    InboundContent::Media {
        kind,
        caption: caption.map(str::to_string),
        file_name: file.map(str::to_string),
        mime_type: Some(mime.into()),
        source: Some(id.into()),
    }
}

#[test]
fn every_entry_and_change_is_read() {
    let contacts = json!([
        {"profile": {"name": "Otro"}, "wa_id": "593987654321"},
        {"profile": {"name": "José \u{0}O'Brien 🎉"}, "wa_id": "593991234567"},
    ]);
    let hostile = "Hola, ¿cuánto cuesta? 😅 <script>alert('x')</script> don't\u{0}";
    let body = delivery(vec![
        vec![
            change(
                "messages",
                value(
                    contacts.clone(),
                    json!([
                        message("wamid.T1", "text", json!({"body": hostile})),
                        message(
                            "wamid.I1",
                            "interactive",
                            json!({"type": "button_reply",
                    "button_reply": {"id": "renew", "title": "Renovar ✅"}})
                        ),
                        message(
                            "wamid.I2",
                            "interactive",
                            json!({"type": "list_reply",
                    "list_reply": {"id": "netflix", "title": "Netflix", "description": "1 mes"}})
                        ),
                        message(
                            "wamid.B1",
                            "button",
                            json!({"payload": "PAY", "text": "Ya pagué"})
                        ),
                    ]),
                    Value::Null,
                ),
            ),
            change(
                "messages",
                value(
                    json!([]),
                    Value::Null,
                    json!([
                        {"id": "wamid.S1", "status": "read", "timestamp": "1700000300", "recipient_id": "593991234567"},
                        {"id": "wamid.S1", "status": "delivered", "timestamp": "1700000200", "recipient_id": "593991234567"},
                        {"id": "wamid.S2", "status": "failed", "timestamp": "1700000100", "recipient_id": "593991234567",
                         "errors": [{"code": 131026, "title": "Message undeliverable",
                             "message": "Message undeliverable", "error_data": {"details": "not on WhatsApp"}}]},
                    ]),
                ),
            ),
        ],
        vec![
            change(
                "account_update",
                json!({"phone_number": "15550000000", "event": "VERIFIED_ACCOUNT"}),
            ),
            change(
                "messages",
                value(
                    contacts,
                    json!([
                        message("wamid.M1", "image", json!({"caption": "Comprobante 💸", "mime_type": "image/jpeg",
                            "sha256": "abc", "id": "1001"})),
                        message("wamid.M2", "document", json!({"caption": "Recibo", "filename": "recibo_Ñ.pdf",
                            "mime_type": "application/pdf", "id": "1002"})),
                        message("wamid.M3", "video", json!({"mime_type": "video/mp4", "id": "1003"})),
                        message("wamid.M4", "audio", json!({"mime_type": "audio/ogg; codecs=opus", "id": "1004", "voice": true})),
                        message("wamid.U1", "sticker", json!({"mime_type": "image/webp", "id": "1005", "animated": false})),
                        message("wamid.U2", "location", json!({"latitude": -0.18, "longitude": -78.47})),
                        message("wamid.U3", "reaction", json!({"message_id": "wamid.T1", "emoji": "👍"})),
                        message("wamid.U4", "unsupported", json!({})),
                        message("wamid.U5", "contacts", json!([])),
                        {"from": "593991234567", "type": "text", "text": {"body": "no id"}},
                        {"from": "not-a-phone", "id": "wamid.X", "type": "text", "text": {"body": "x"}},
                    ]),
                    Value::Null,
                ),
            ),
        ],
    ]);
    let name = Some("José O'Brien 🎉");
    let text = |t: &str| InboundContent::Text(t.into());
    assert_eq!(
        parse(&body),
        [
            inbound(
                "wamid.T1",
                name,
                text("Hola, ¿cuánto cuesta? 😅 <script>alert('x')</script> don't")
            ),
            inbound("wamid.I1", name, text("Renovar ✅")),
            inbound("wamid.I2", name, text("Netflix")),
            inbound("wamid.B1", name, text("Ya pagué")),
            status("wamid.S1", DeliveryStatus::Read, None),
            status("wamid.S1", DeliveryStatus::Delivered, None),
            status(
                "wamid.S2",
                DeliveryStatus::Failed,
                Some("131026: Message undeliverable")
            ),
            inbound(
                "wamid.M1",
                name,
                media(
                    MediaKind::Image,
                    Some("Comprobante 💸"),
                    None,
                    "image/jpeg",
                    "1001"
                )
            ),
            inbound(
                "wamid.M2",
                name,
                media(
                    MediaKind::Document,
                    Some("Recibo"),
                    Some("recibo_Ñ.pdf"),
                    "application/pdf",
                    "1002"
                )
            ),
            inbound(
                "wamid.M3",
                name,
                media(MediaKind::Video, None, None, "video/mp4", "1003")
            ),
            inbound(
                "wamid.M4",
                name,
                media(
                    MediaKind::Audio,
                    None,
                    None,
                    "audio/ogg; codecs=opus",
                    "1004"
                )
            ),
            inbound("wamid.U1", name, InboundContent::Unsupported),
            inbound("wamid.U2", name, InboundContent::Unsupported),
            inbound("wamid.U3", name, InboundContent::Unsupported),
            inbound("wamid.U4", name, InboundContent::Unsupported),
            inbound("wamid.U5", name, InboundContent::Unsupported),
        ]
    );
}

#[test]
fn a_sender_without_a_contact_has_no_name() {
    let body = delivery(vec![vec![change(
        "messages",
        value(
            json!([{"profile": {"name": "Otro"}, "wa_id": "593987654321"}]),
            json!([message("wamid.A", "text", json!({"body": "  hola  "}))]),
            Value::Null,
        ),
    )]]);
    assert_eq!(
        parse(&body),
        [inbound(
            "wamid.A",
            None,
            InboundContent::Text("  hola  ".into())
        )]
    );
}

#[test]
fn deliveries_with_nothing_for_us_are_ignored_once() {
    let ignored = |event: &str| {
        vec![WebhookEvent::Ignored {
            event: event.into(),
        }]
    };
    let account = delivery(vec![
        vec![change(
            "account_update",
            json!({"event": "VERIFIED_ACCOUNT"}),
        )],
        vec![change(
            "message_template_status_update",
            json!({"event": "APPROVED"}),
        )],
    ]);
    assert_eq!(parse(&account), ignored("account_update"));
    assert_eq!(
        parse(&delivery(vec![])),
        ignored("whatsapp_business_account")
    );
    assert_eq!(
        parse(&json!({"object": "whatsapp_business_account"})),
        ignored("whatsapp_business_account")
    );
    // A change for `messages` that holds only Meta's own errors.
    let errors_only = delivery(vec![vec![change(
        "messages",
        json!({
            "messaging_product": "whatsapp",
            "errors": [{"code": 131051, "title": "Unsupported message type"}],
        }),
    )]]);
    assert_eq!(parse(&errors_only), ignored("messages"));
}

#[test]
fn what_is_not_a_cloud_delivery_is_an_error() {
    let source = CloudWebhook::new(None, None);
    let parse = |body: &[u8]| source.parse(body).unwrap_err();
    assert!(matches!(parse(b"{not json"), WebhookParseError::Json(_)));
    assert!(matches!(parse(b"[1,2]"), WebhookParseError::NotAnObject));
    for body in [
        json!({"object": "page", "entry": []}),
        json!({"object": 7, "entry": []}),
        json!({"event": "messages.upsert", "data": {}}),
    ] {
        let error = parse(body.to_string().as_bytes());
        assert!(
            matches!(
                error,
                WebhookParseError::Shape {
                    provider: "WhatsApp Cloud API",
                    ..
                }
            ),
            "{body}: {error:?}"
        );
    }
}

#[test]
fn changes_about_the_accounts_other_numbers_are_not_ours() {
    let ours = CloudWebhook::new(None, None).for_number(Some(format!(" {NUMBER} ")));
    let text = message("wamid.OURS", "text", json!({"body": "hola"}));
    let mut other = value(
        json!([]),
        json!([message("wamid.OTHER", "text", json!({"body": "hola"}))]),
        Value::Null,
    );
    other["metadata"]["phone_number_id"] = json!("999000999000");
    let body = delivery(vec![vec![
        change("messages", other),
        change("messages", value(json!([]), json!([text]), Value::Null)),
    ]]);
    let events = ours.parse(body.to_string().as_bytes()).unwrap();
    assert!(
        matches!(events.as_slice(), [WebhookEvent::Inbound(m)] if m.wa_id == "wamid.OURS"),
        "{events:?}"
    );
    // Only another number's: nothing for us.
    let mut only_other = value(
        json!([]),
        json!([message("wamid.X", "text", json!({"body": "x"}))]),
        Value::Null,
    );
    only_other["metadata"]["phone_number_id"] = json!("999000999000");
    let body = delivery(vec![vec![change("messages", only_other)]]);
    assert_eq!(
        ours.parse(body.to_string().as_bytes()).unwrap(),
        [WebhookEvent::Ignored {
            event: "messages".into()
        }]
    );
    // Without a configured number, every change is read.
    assert_eq!(parse(&body).len(), 1);
    assert!(matches!(
        parse(&body).as_slice(),
        [WebhookEvent::Inbound(_)]
    ));
}
