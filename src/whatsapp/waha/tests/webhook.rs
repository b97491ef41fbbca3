//! `WahaWebhook`: signature checks and every event, with hostile data.

use chrono::DateTime;
use reqwest::header::HeaderMap;
use serde_json::json;

use crate::whatsapp::hook::{WebhookAuthError, WebhookSource, sign_sha512_hex};
use crate::whatsapp::{
    DeliveryStatus, InboundContent, InboundMessage, MediaKind, ProviderKind, SenderAddress,
    WahaWebhook, WebhookEvent, WebhookParseError,
};

const HMAC_KEY: &str = "waha-hmac-sécret";

fn source() -> WahaWebhook {
    WahaWebhook::new(Some(HMAC_KEY.to_string().into()))
}

fn signed(signature: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-webhook-hmac", signature.parse().unwrap());
    headers.insert("x-webhook-hmac-algorithm", "sha512".parse().unwrap());
    headers
}

fn parse(body: serde_json::Value) -> Vec<WebhookEvent> {
    source().parse(body.to_string().as_bytes()).unwrap()
}

fn envelope(event: &str, payload: serde_json::Value) -> serde_json::Value {
    json!({"id": "evt_01HZX", "timestamp": 1_700_000_000_123_i64, "event": event,
        "session": "default", "engine": "WEBJS", "payload": payload})
}

fn one_inbound(body: serde_json::Value) -> InboundMessage {
    match parse(body).as_slice() {
        [WebhookEvent::Inbound(message)] => message.clone(),
        other => panic!("expected one inbound message, got {other:?}"),
    }
}

fn ignored(event: &str) -> Vec<WebhookEvent> {
    vec![WebhookEvent::Ignored {
        event: event.into(),
    }]
}

#[test]
fn verify_follows_the_documented_order() {
    let body = br#"{"event":"message","payload":{"body":"hola"}}"#;
    let good = sign_sha512_hex(HMAC_KEY.as_bytes(), body);
    assert_eq!(source().provider(), ProviderKind::Waha);
    assert_eq!(
        WahaWebhook::new(None).verify(&signed(&good), body),
        Err(WebhookAuthError::NotConfigured)
    );
    assert_eq!(
        WahaWebhook::new(Some(String::new().into())).verify(&signed(&good), body),
        Err(WebhookAuthError::NotConfigured)
    );
    assert_eq!(
        source().verify(&HeaderMap::new(), body),
        Err(WebhookAuthError::Missing)
    );
    assert_eq!(source().verify(&signed(&good), body), Ok(()));
    assert_eq!(source().verify(&signed(&good.to_uppercase()), body), Ok(()));
    let tampered = br#"{"event":"message","payload":{"body":"hola!"}}"#;
    assert_eq!(
        source().verify(&signed(&good), tampered),
        Err(WebhookAuthError::Invalid)
    );
    let other_key = sign_sha512_hex(b"another key", body);
    assert_eq!(
        source().verify(&signed(&other_key), body),
        Err(WebhookAuthError::Invalid)
    );
    assert_eq!(
        source().verify(&signed("not-hex"), body),
        Err(WebhookAuthError::Invalid)
    );
}

#[test]
fn a_text_message_with_hostile_text() {
    let text = "Hola, soy Ana O'Brien 👋 <script>alert('x')</script> ¿cuánto\u{0000} debo?";
    let message = one_inbound(envelope(
        "message",
        json!({
            "id": "false_593991234567@c.us_3EB0C431",
            "timestamp": 1_700_000_000,
            "from": "593991234567@c.us", "fromMe": false, "to": "593990000000@c.us",
            "body": text, "hasMedia": false, "media": null,
            "_data": {"notifyName": "Ána \u{0000}🌸"},
        }),
    ));
    assert_eq!(
        message,
        InboundMessage {
            wa_id: "3EB0C431".into(),
            from_me: false,
            from: SenderAddress::Phone("593991234567".into()),
            push_name: Some("Ána 🌸".into()),
            content: InboundContent::Text(
                "Hola, soy Ana O'Brien 👋 <script>alert('x')</script> ¿cuánto debo?".into()
            ),
            timestamp: DateTime::from_timestamp(1_700_000_000, 0),
        }
    );
}

#[test]
fn millisecond_times_serialized_ids_and_the_envelope_time() {
    let message = one_inbound(envelope(
        "message.any",
        json!({
            "id": {"fromMe": false, "remote": "593991234567@s.whatsapp.net", "id": "ABC",
                "_serialized": "false_593991234567@c.us_ABC"},
            "timestamp": 1_700_000_000_456_i64,
            "from": "593991234567:3@s.whatsapp.net", "to": "593990000000@c.us",
            "body": "ok", "notifyName": "Luis",
        }),
    ));
    assert_eq!(message.wa_id, "ABC");
    assert_eq!(message.from, SenderAddress::Phone("593991234567".into()));
    assert_eq!(message.push_name.as_deref(), Some("Luis"));
    assert_eq!(
        message.timestamp,
        DateTime::from_timestamp_millis(1_700_000_000_456)
    );
    // No time in the payload: the envelope's (milliseconds).
    let message = one_inbound(envelope(
        "message",
        json!({"id": "false_1@c.us_X", "from": "593991234567@c.us", "body": "hola"}),
    ));
    assert_eq!(
        message.timestamp,
        DateTime::from_timestamp_millis(1_700_000_000_123)
    );
}

#[test]
fn a_message_typed_on_the_phone_names_the_customer() {
    let message = one_inbound(envelope(
        "message.any",
        json!({
            "id": "true_593991234567@c.us_3EB0FF", "timestamp": 1_700_000_100,
            "from": "593990000000@c.us", "fromMe": true, "to": "593991234567@c.us",
            "body": "Ya le atiendo yo", "_data": {"notifyName": "Gimnasio Élite"},
        }),
    ));
    assert!(message.from_me);
    assert_eq!(message.from, SenderAddress::Phone("593991234567".into()));
    assert_eq!(message.wa_id, "3EB0FF");
    // The profile name is the business's own, not the customer's.
    assert_eq!(message.push_name, None);
}

#[test]
fn lid_senders_have_no_phone() {
    let message = one_inbound(envelope(
        "message",
        json!({"id": "false_123456789012345@lid_3EB0", "from": "123456789012345@lid",
            "fromMe": false, "to": "593990000000@c.us", "body": "hola"}),
    ));
    assert_eq!(
        message.from,
        SenderAddress::LidOnly("123456789012345@lid".into())
    );
}

#[test]
fn groups_status_and_newsletters_are_ignored() {
    for (from, to) in [
        ("120363025246125486@g.us", "593990000000@c.us"),
        ("status@broadcast", "593990000000@c.us"),
        ("120363144038483540@newsletter", "593990000000@c.us"),
        ("593990000000@c.us", "120363025246125486@g.us"),
    ] {
        let body = envelope(
            "message",
            json!({"id": "false_x_1", "from": from, "to": to, "fromMe": false,
                "participant": "593991234567@c.us", "body": "hola grupo"}),
        );
        assert_eq!(parse(body), ignored("message"), "{from} → {to}");
    }
}

#[test]
fn media_with_and_without_a_link() {
    let cases = [
        ("image/jpeg", MediaKind::Image),
        ("video/mp4", MediaKind::Video),
        ("audio/ogg; codecs=opus", MediaKind::Audio),
        ("application/pdf", MediaKind::Document),
    ];
    for (mime, kind) in cases {
        let message = one_inbound(envelope(
            "message",
            json!({
                "id": "false_593991234567@c.us_M1", "from": "593991234567@c.us",
                "fromMe": false, "body": "Mi comprobante 🧾", "hasMedia": true,
                "media": {"url": "http://waha:3000/api/files/default/M1.jpeg",
                    "mimetype": mime, "filename": "pago de marzo.pdf", "error": null},
            }),
        ));
        assert_eq!(
            message.content,
            InboundContent::Media {
                kind,
                caption: Some("Mi comprobante 🧾".into()),
                file_name: Some("pago de marzo.pdf".into()),
                mime_type: Some(mime.into()),
                source: Some("http://waha:3000/api/files/default/M1.jpeg".into()),
            },
            "{mime}"
        );
    }
    // WAHA could not download it: still a file, nothing to fetch.
    let message = one_inbound(envelope(
        "message",
        json!({"id": "false_593991234567@c.us_M2", "from": "593991234567@c.us",
            "body": "", "hasMedia": true,
            "media": {"url": null, "mimetype": "image/jpeg", "error": {"message": "timeout"}}}),
    ));
    assert_eq!(
        message.content,
        InboundContent::Media {
            kind: MediaKind::Image,
            caption: None,
            file_name: None,
            mime_type: Some("image/jpeg".into()),
            source: None,
        }
    );
}

#[test]
fn empty_messages_are_unsupported() {
    let message = one_inbound(envelope(
        "message",
        json!({"id": "false_593991234567@c.us_S1", "from": "593991234567@c.us",
            "body": "", "hasMedia": false, "media": null, "_data": {"type": "sticker"}}),
    ));
    assert_eq!(message.content, InboundContent::Unsupported);
}

#[test]
fn acks_of_our_messages() {
    let ack = |payload: serde_json::Value| parse(envelope("message.ack", payload));
    let status = |wa_id: &str, status| {
        vec![WebhookEvent::StatusUpdate {
            wa_id: wa_id.into(),
            status,
            error: None,
        }]
    };
    let id = "true_593991234567@c.us_3EB0AAA";
    for (code, expected) in [
        (-1, DeliveryStatus::Failed),
        (0, DeliveryStatus::Pending),
        (1, DeliveryStatus::Sent),
        (2, DeliveryStatus::Delivered),
        (3, DeliveryStatus::Read),
        (4, DeliveryStatus::Read),
        (9, DeliveryStatus::Other("9".into())),
    ] {
        assert_eq!(
            ack(
                json!({"id": id, "from": "593990000000@c.us", "to": "593991234567@c.us",
                "fromMe": true, "ack": code, "ackName": "IGNORED-WHEN-ACK-IS-GIVEN"})
            ),
            status("3EB0AAA", expected),
            "{code}"
        );
    }
    for (name, expected) in [
        ("ERROR", DeliveryStatus::Failed),
        ("PENDING", DeliveryStatus::Pending),
        ("SERVER", DeliveryStatus::Sent),
        ("DEVICE", DeliveryStatus::Delivered),
        ("READ", DeliveryStatus::Read),
        ("PLAYED", DeliveryStatus::Read),
    ] {
        assert_eq!(
            ack(
                json!({"id": {"_serialized": id, "id": "3EB0AAA"}, "fromMe": true,
                "ackName": name})
            ),
            status("3EB0AAA", expected),
            "{name}"
        );
    }
    // Acks of messages people sent us, or with no status: nothing.
    assert_eq!(
        ack(json!({"id": "false_593991234567@c.us_1", "fromMe": false, "ack": 3})),
        ignored("message.ack")
    );
    assert_eq!(
        ack(json!({"id": id, "fromMe": true})),
        ignored("message.ack")
    );
}

#[test]
fn session_status() {
    for (raw, connected) in [
        ("WORKING", true),
        ("STARTING", false),
        ("SCAN_QR_CODE", false),
        ("FAILED", false),
        ("STOPPED", false),
    ] {
        assert_eq!(
            parse(envelope(
                "session.status",
                json!({"name": "default", "status": raw})
            )),
            vec![WebhookEvent::SessionStatus {
                connected,
                raw: raw.into()
            }],
            "{raw}"
        );
    }
    assert_eq!(
        parse(envelope("session.status", json!({"name": "default"}))),
        ignored("session.status")
    );
}

#[test]
fn unknown_events_and_malformed_bodies() {
    assert_eq!(
        parse(envelope("presence.update", json!({"id": "x"}))),
        ignored("presence.update")
    );
    assert_eq!(
        parse(json!({"event": "engine.event", "payload": 5})),
        ignored("engine.event")
    );
    let source = source();
    assert!(matches!(
        source.parse(b"<xml>no</xml>"),
        Err(WebhookParseError::Json(_))
    ));
    assert!(matches!(
        source.parse(b"[1,2]"),
        Err(WebhookParseError::NotAnObject)
    ));
    assert!(matches!(
        source.parse(br#"{"payload":{}}"#),
        Err(WebhookParseError::MissingEvent)
    ));
    assert!(matches!(
        source.parse(br#"{"event":"message","payload":"hola"}"#),
        Err(WebhookParseError::Shape {
            provider: "WAHA",
            ..
        })
    ));
}

#[test]
fn events_of_other_sessions_on_the_same_server_are_not_ours() {
    let ours = source().for_session("tienda");
    let stopped = |session: &str| {
        json!({"id": "evt_9", "timestamp": 1_700_000_000_123_i64, "event": "session.status",
            "session": session, "payload": {"status": "STOPPED"}})
        .to_string()
    };
    // Another session stopping must not hold our sending.
    assert_eq!(
        ours.parse(stopped("otra-tienda").as_bytes()).unwrap(),
        ignored("session.status")
    );
    assert!(matches!(
        ours.parse(stopped("tienda").as_bytes()).unwrap().as_slice(),
        [WebhookEvent::SessionStatus {
            connected: false,
            ..
        }]
    ));
    // Nor are another session's customers ours.
    let mut message = envelope(
        "message",
        json!({"id": "false_593991234567@c.us_3EB0X", "from": "593991234567@c.us",
            "fromMe": false, "body": "hola"}),
    );
    message["session"] = json!("otra-tienda");
    assert_eq!(
        ours.parse(message.to_string().as_bytes()).unwrap(),
        ignored("message")
    );
    message["session"] = json!("tienda");
    assert!(matches!(
        ours.parse(message.to_string().as_bytes())
            .unwrap()
            .as_slice(),
        [WebhookEvent::Inbound(_)]
    ));
}
