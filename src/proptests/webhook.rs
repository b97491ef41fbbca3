//! `whatsapp::parse_webhook` on any bytes and on any JSON shaped like (or
//! nearly like) a WaSender delivery.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::{config, typed_text};
use crate::whatsapp::{
    InboundContent, SenderAddress, WebhookEvent, WebhookParseError, parse_webhook,
};

const EVENTS: [&str; 7] = [
    "messages.received",
    "messages.upsert",
    "messages-personal.received",
    "messages.update",
    "session.status",
    "chats.update",
    "",
];

/// Keys the parser looks for, so generated objects often hit its paths.
const KEYS: [&str; 27] = [
    "event",
    "data",
    "timestamp",
    "messages",
    "key",
    "id",
    "fromMe",
    "remoteJid",
    "remoteJidAlt",
    "senderPn",
    "cleanedSenderPn",
    "senderLid",
    "pushName",
    "messageTimestamp",
    "messageBody",
    "message",
    "conversation",
    "extendedTextMessage",
    "text",
    "imageMessage",
    "documentMessage",
    "caption",
    "fileName",
    "ephemeralMessage",
    "protocolMessage",
    "update",
    "status",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        typed_text().prop_map(Value::from),
        prop::sample::select(vec![
            "593991234567@s.whatsapp.net",
            "593991234567:7@s.whatsapp.net",
            "+593991234567",
            "123456789012345@lid",
            "120363@g.us",
            "status@broadcast",
            "connected",
            "need_scan",
            "read",
            "DELIVERY_ACK",
            "true",
            "1633456789",
        ])
        .prop_map(Value::from),
    ]
}

/// Any JSON, objects keyed mostly by the parser's own keys.
fn shaped_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(6, 96, 8, |inner| {
        let key = prop_oneof![
            4 => prop::sample::select(KEYS.to_vec()).prop_map(str::to_string),
            1 => any::<String>(),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key, inner), 0..8)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn delivery() -> impl Strategy<Value = Value> {
    (prop::sample::select(EVENTS.to_vec()), shaped_json(), leaf()).prop_map(
        |(event, data, timestamp)| json!({ "event": event, "data": data, "timestamp": timestamp }),
    )
}

/// Every string an event carries.
fn strings(event: &WebhookEvent) -> Vec<&str> {
    match event {
        WebhookEvent::Inbound(m) => {
            let mut all = vec![m.wa_id.as_str()];
            all.extend(m.push_name.as_deref());
            match &m.from {
                SenderAddress::Phone(s) | SenderAddress::LidOnly(s) => all.push(s),
            }
            match &m.content {
                InboundContent::Text(text) => all.push(text),
                InboundContent::Media {
                    caption,
                    file_name,
                    mime_type,
                    source,
                    ..
                } => {
                    all.extend(caption.as_deref());
                    all.extend(file_name.as_deref());
                    all.extend(mime_type.as_deref());
                    all.extend(source.as_deref());
                }
                InboundContent::Unsupported => {}
            }
            all
        }
        WebhookEvent::StatusUpdate { wa_id, status, .. } => vec![wa_id, status.as_str()],
        WebhookEvent::SessionStatus { raw, .. } => vec![raw],
        WebhookEvent::Ignored { event } => vec![event],
    }
}

/// What every successful parse promises.
fn check_events(events: &[WebhookEvent]) -> Result<(), TestCaseError> {
    prop_assert!(!events.is_empty(), "a delivery yields at least one event");
    let ignored = events
        .iter()
        .filter(|e| matches!(e, WebhookEvent::Ignored { .. }))
        .count();
    prop_assert!(ignored == 0 || events.len() == 1, "{events:?}");
    for event in events {
        for text in strings(event) {
            prop_assert!(!text.contains('\0'), "a NUL survived: {event:?}");
        }
        match event {
            WebhookEvent::Inbound(m) => {
                prop_assert!(!m.wa_id.is_empty() && m.wa_id.trim() == m.wa_id);
                match &m.from {
                    SenderAddress::Phone(digits) => prop_assert!(
                        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()),
                        "{digits:?}"
                    ),
                    SenderAddress::LidOnly(lid) => prop_assert!(lid.ends_with("@lid")),
                }
                if let Some(name) = &m.push_name {
                    prop_assert!(!name.is_empty() && name.trim() == name);
                }
                if let InboundContent::Text(text) = &m.content {
                    prop_assert!(!text.trim().is_empty());
                }
            }
            WebhookEvent::StatusUpdate { wa_id, .. } => prop_assert!(!wa_id.is_empty()),
            WebhookEvent::SessionStatus { connected, raw } => {
                prop_assert!(!raw.is_empty());
                prop_assert_eq!(*connected, raw.eq_ignore_ascii_case("connected"));
            }
            WebhookEvent::Ignored { event } => prop_assert!(!event.trim().is_empty()),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_bytes_parse_or_fail_without_panicking(body in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(events) = parse_webhook(&body) {
            check_events(&events)?;
        }
    }

    #[test]
    fn any_json_delivery_keeps_the_invariants(delivery in delivery()) {
        let body = serde_json::to_vec(&delivery).expect("JSON");
        match parse_webhook(&body) {
            Ok(events) => check_events(&events)?,
            // Only a blank event name makes an object an error.
            Err(error) => prop_assert!(
                matches!(error, WebhookParseError::MissingEvent) && delivery["event"] == "",
                "{error:?}"
            ),
        }
    }

    #[test]
    fn any_json_at_all_keeps_the_invariants(value in shaped_json()) {
        let body = serde_json::to_vec(&value).expect("JSON");
        if let Ok(events) = parse_webhook(&body) {
            check_events(&events)?;
        }
    }

    /// A text message reads back as sent, without NULs; an empty one is
    /// not a text.
    #[test]
    fn a_text_message_reads_back_as_sent(
        id in "[A-Z0-9]{4,24}",
        national in "9[89][0-9]{7}",
        name in typed_text(),
        text in typed_text(),
        as_body in any::<bool>(),
    ) {
        let digits = format!("593{national}");
        let message = if as_body {
            json!({ "messageBody": text, "message": { "conversation": text } })
        } else {
            json!({ "message": { "extendedTextMessage": { "text": text } } })
        };
        let mut message = message.as_object().cloned().expect("object");
        message.insert("key".into(), json!({
            "id": id, "fromMe": false, "remoteJid": format!("{digits}@s.whatsapp.net"),
        }));
        message.insert("pushName".into(), json!(name));
        let body = json!({ "event": "messages.received", "data": { "messages": message } });
        let events = parse_webhook(&serde_json::to_vec(&body).expect("JSON")).expect("parses");
        let [WebhookEvent::Inbound(parsed)] = events.as_slice() else {
            return Err(TestCaseError::fail(format!("one inbound message expected: {events:?}")));
        };
        prop_assert_eq!(&parsed.wa_id, &id);
        prop_assert_eq!(&parsed.from, &SenderAddress::Phone(digits));
        let text = text.replace('\0', "");
        let expected = if text.trim().is_empty() {
            InboundContent::Unsupported
        } else {
            InboundContent::Text(text)
        };
        prop_assert_eq!(&parsed.content, &expected);
        let name = name.replace('\0', "");
        let name = Some(name.trim()).filter(|n| !n.is_empty()).map(str::to_string);
        prop_assert_eq!(&parsed.push_name, &name);
    }
}
