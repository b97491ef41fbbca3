use chrono::TimeZone;

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/wasender/",
            $name
        ))
    };
}

fn parse(body: &str) -> Vec<WebhookEvent> {
    parse_webhook(body.as_bytes()).expect("fixture parses")
}

fn single_inbound(body: &str) -> InboundMessage {
    match parse(body).as_slice() {
        [WebhookEvent::Inbound(message)] => message.clone(),
        other => panic!("expected one inbound message, got {other:?}"),
    }
}

fn ignored(event: &str) -> Vec<WebhookEvent> {
    vec![WebhookEvent::Ignored {
        event: event.to_string(),
    }]
}

fn at(secs: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(secs, 0).single()
}

#[test]
fn messages_received_single_object() {
    let message = single_inbound(fixture!("messages_received.json"));
    assert_eq!(
        message,
        InboundMessage {
            wa_id: "3EB0X123456789".into(),
            from_me: false,
            from: SenderAddress::Phone("593991234567".into()),
            push_name: Some("Ana".into()),
            content: InboundContent::Text("Hola".into()),
            timestamp: at(1_633_456_780),
        }
    );
    assert_eq!(
        message.from.phone(Region::default()).map(|p| p.to_string()),
        Some("+593991234567".to_string())
    );
}

#[test]
fn messages_upsert_array_yields_each_message() {
    let events = parse(fixture!("messages_upsert_array.json"));
    let messages: Vec<&InboundMessage> = events
        .iter()
        .map(|e| match e {
            WebhookEvent::Inbound(m) => m,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].wa_id, "3EB0AAA0000000000001");
    assert_eq!(messages[0].content, InboundContent::Text("1".into()));
    assert_eq!(messages[0].timestamp, at(1_633_456_790)); // string seconds
    // No senderPn: the phone comes from remoteJid; no pushName.
    assert_eq!(
        messages[1].from,
        SenderAddress::Phone("593987654321".into())
    );
    assert_eq!(messages[1].push_name, None);
    assert_eq!(messages[1].content, InboundContent::Text("renovar".into()));
}

#[test]
fn extended_text_in_a_single_object_upsert() {
    let message = single_inbound(fixture!("extended_text.json"));
    assert_eq!(
        message.content,
        InboundContent::Text("Quiero renovar https://example.com/plan".into())
    );
    // No messageTimestamp: the envelope's time is used.
    assert_eq!(message.timestamp, at(1_633_456_789));
}

/// The `decrypt-media` body kept with a media message, parsed.
fn source_of(content: &InboundContent) -> serde_json::Value {
    match content {
        InboundContent::Media {
            source: Some(source),
            ..
        } => serde_json::from_str(source).expect("the source is JSON"),
        other => panic!("expected media with a source, got {other:?}"),
    }
}

#[test]
fn image_with_caption_is_media() {
    let message = single_inbound(fixture!("image_caption.json"));
    let source = source_of(&message.content);
    assert_eq!(
        message.content,
        InboundContent::Media {
            kind: MediaKind::Image,
            caption: Some("Comprobante de pago".into()),
            file_name: None,
            mime_type: Some("image/jpeg".into()),
            source: Some(source.to_string()),
        }
    );
    assert_eq!(message.content.text(), Some("Comprobante de pago"));
    // What WaSender's decrypt-media takes: the id and the media object as received.
    assert_eq!(
        source,
        serde_json::json!({"data": {"messages": {
            "key": {"id": "3EB0IMG00000000001"},
            "message": {"imageMessage": {
                "url": "https://mmg.whatsapp.net/v/t62.7118-24/example.enc",
                "mimetype": "image/jpeg",
                "caption": "Comprobante de pago",
                "fileLength": "84213",
                "height": 1280,
                "width": 720
            }}
        }}})
    );
}

#[test]
fn document_from_messages_personal_received() {
    let message = single_inbound(fixture!("document.json"));
    assert_eq!(message.from.digits(), Some("593991234567"));
    let source = source_of(&message.content);
    assert_eq!(
        message.content,
        InboundContent::Media {
            kind: MediaKind::Document,
            caption: None,
            file_name: Some("recibo-noviembre.pdf".into()),
            mime_type: Some("application/pdf".into()),
            source: Some(source.to_string()),
        }
    );
    let document = &source["data"]["messages"]["message"]["documentMessage"];
    assert_eq!(document["fileName"], "recibo-noviembre.pdf");
    assert_eq!(document["pageCount"], 1);
    assert_eq!(
        source["data"]["messages"]["key"]["id"],
        "3EB0DOC00000000001"
    );
}

#[test]
fn messages_from_the_business_phone_name_the_customer_chat() {
    let message = single_inbound(fixture!("from_me.json"));
    assert!(message.from_me);
    assert_eq!(message.wa_id, "3EB0OUT00000000001");
    // The chat partner, not the business number in the sender fields.
    assert_eq!(message.from, SenderAddress::Phone("593991234567".into()));
    assert_eq!(
        message.content,
        InboundContent::Text("Hola Ana, tu servicio vence en 3 días".into())
    );
    let with_sender = r#"{"event":"messages.upsert","data":{"messages":{
        "key":{"id":"3EB0ME","fromMe":true,"remoteJid":"593991234567@s.whatsapp.net",
               "cleanedSenderPn":"593900000001"},
        "messageBody":"ya te ayudo"}}}"#;
    let message = single_inbound(with_sender);
    assert!(message.from_me);
    assert_eq!(message.from, SenderAddress::Phone("593991234567".into()));
}

#[test]
fn groups_are_ignored() {
    assert_eq!(parse(fixture!("group.json")), ignored("messages.received"));
}

#[test]
fn status_broadcasts_are_ignored() {
    assert_eq!(
        parse(fixture!("status_broadcast.json")),
        ignored("messages.upsert")
    );
}

#[test]
fn mixed_upsert_keeps_the_one_to_one_messages() {
    let events = parse(fixture!("upsert_mixed.json"));
    let [WebhookEvent::Inbound(ours), WebhookEvent::Inbound(message)] = events.as_slice() else {
        panic!("expected our message and the customer's, got {events:?}");
    };
    // Ours (fromMe) is kept for the takeover check; groups and newsletters are not.
    assert!(ours.from_me);
    assert_eq!(ours.wa_id, "3EB0MIX00000000001");
    assert!(!message.from_me);
    assert_eq!(message.wa_id, "3EB0MIX00000000004");
    // Unwrapped from ephemeralMessage; messageTimestamp in milliseconds.
    assert_eq!(message.content, InboundContent::Text("baja".into()));
    assert_eq!(
        message.timestamp,
        DateTime::from_timestamp_millis(1_747_775_431_467)
    );
}

#[test]
fn lid_only_sender() {
    let message = single_inbound(fixture!("lid_only.json"));
    assert_eq!(
        message.from,
        SenderAddress::LidOnly("123456789012345@lid".into())
    );
    assert_eq!(message.from.phone(Region::default()), None);
    assert_eq!(message.push_name.as_deref(), Some("Luis"));
}

#[test]
fn lid_chat_with_sender_pn_gives_the_phone() {
    let message = single_inbound(fixture!("lid_with_sender_pn.json"));
    assert_eq!(message.from, SenderAddress::Phone("593991234567".into()));
}

#[test]
fn stickers_are_unsupported() {
    let message = single_inbound(fixture!("sticker.json"));
    assert_eq!(message.content, InboundContent::Unsupported);
    assert_eq!(message.content.text(), None);
}

#[test]
fn envelope_timestamp_in_milliseconds() {
    let message = single_inbound(fixture!("ms_timestamp.json"));
    let expected = DateTime::from_timestamp_millis(1_747_775_431_467);
    assert_eq!(message.timestamp, expected);
    assert_eq!(
        message.timestamp.map(|t| t.format("%Y").to_string()),
        Some("2025".into())
    );
}

#[test]
fn messages_update_numeric() {
    assert_eq!(
        parse(fixture!("update_numeric.json")),
        vec![WebhookEvent::StatusUpdate {
            wa_id: "3EB0OUT00000000001".into(),
            status: DeliveryStatus::Delivered,
            error: None,
        }]
    );
}

#[test]
fn messages_update_array_with_strings() {
    let statuses: Vec<(String, DeliveryStatus)> = parse(fixture!("update_string_array.json"))
        .into_iter()
        .map(|e| match e {
            WebhookEvent::StatusUpdate { wa_id, status, .. } => (wa_id, status),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("3EB0OUT00000000001".into(), DeliveryStatus::Read),
            ("3EB0OUT00000000002".into(), DeliveryStatus::Delivered),
            ("3EB0OUT00000000003".into(), DeliveryStatus::Failed),
        ]
    );
}

#[test]
fn delivery_codes_and_words() {
    let codes: Vec<DeliveryStatus> = (0..=6).map(DeliveryStatus::from_code).collect();
    assert_eq!(
        codes,
        vec![
            DeliveryStatus::Failed,
            DeliveryStatus::Pending,
            DeliveryStatus::Sent,
            DeliveryStatus::Delivered,
            DeliveryStatus::Read,
            DeliveryStatus::Read,
            DeliveryStatus::Other("6".into()),
        ]
    );
    assert_eq!(
        DeliveryStatus::parse("DELIVERY_ACK"),
        DeliveryStatus::Delivered
    );
    assert_eq!(DeliveryStatus::parse("server_ack"), DeliveryStatus::Sent);
    assert_eq!(DeliveryStatus::parse("PLAYED"), DeliveryStatus::Read);
    assert_eq!(DeliveryStatus::parse("3"), DeliveryStatus::Delivered);
    assert_eq!(
        DeliveryStatus::parse("mystery"),
        DeliveryStatus::Other("mystery".into())
    );
    assert!(DeliveryStatus::Read.rank() > DeliveryStatus::Delivered.rank());
    assert_eq!(DeliveryStatus::Delivered.as_str(), "delivered");
}

#[test]
fn updates_about_messages_we_received_are_ignored() {
    let body = r#"{"event":"messages.update","data":{"update":{"status":4},
        "key":{"id":"3EB0IN","remoteJid":"593991234567@s.whatsapp.net","fromMe":false}}}"#;
    assert_eq!(parse(body), ignored("messages.update"));
}

#[test]
fn session_connected() {
    assert_eq!(
        parse(fixture!("session_connected.json")),
        vec![WebhookEvent::SessionStatus {
            connected: true,
            raw: "connected".into(),
        }]
    );
}

#[test]
fn session_need_scan() {
    assert_eq!(
        parse(fixture!("session_need_scan.json")),
        vec![WebhookEvent::SessionStatus {
            connected: false,
            raw: "need_scan".into(),
        }]
    );
}

#[test]
fn unknown_event_is_ignored() {
    assert_eq!(
        parse(fixture!("unknown_event.json")),
        ignored("contacts.upsert")
    );
}

#[test]
fn malformed_json_is_an_error() {
    let error = parse_webhook(fixture!("malformed.json").as_bytes()).unwrap_err();
    assert!(matches!(error, WebhookParseError::Json(_)), "{error:?}");
    assert!(matches!(
        parse_webhook(b"[1,2]"),
        Err(WebhookParseError::NotAnObject)
    ));
    assert!(matches!(
        parse_webhook(br#"{"data":{}}"#),
        Err(WebhookParseError::MissingEvent)
    ));
}

#[test]
fn known_event_with_odd_data_is_ignored_not_an_error() {
    for body in [
        r#"{"event":"messages.received","data":null}"#,
        r#"{"event":"messages.upsert","data":{"messages":[{"no":"key"}]}}"#,
        r#"{"event":"session.status","data":{}}"#,
        r#"{"event":"messages.update","data":[{"key":{"id":"x"},"update":{}}]}"#,
    ] {
        let events = parse(body);
        assert!(
            matches!(events.as_slice(), [WebhookEvent::Ignored { .. }]),
            "{body}: {events:?}"
        );
    }
}

#[test]
fn protocol_messages_are_skipped_and_wrapped_documents_found() {
    let revoke = r#"{"event":"messages.upsert","data":{"messages":[{"key":{"id":"A1",
        "fromMe":false,"remoteJid":"593991234567@s.whatsapp.net"},
        "message":{"protocolMessage":{"type":0,"key":{"id":"A0"}}}}]}}"#;
    assert_eq!(parse(revoke), ignored("messages.upsert"));

    let wrapped = r#"{"event":"messages.received","data":{"messages":{"key":{"id":"A2",
        "fromMe":false,"remoteJid":"593991234567:7@s.whatsapp.net"},
        "message":{"documentWithCaptionMessage":{"message":{"documentMessage":
        {"fileName":"pago.pdf","caption":"mi pago","mimetype":"application/pdf"}}}}}}}"#;
    let message = single_inbound(wrapped);
    assert_eq!(message.from, SenderAddress::Phone("593991234567".into()));
    assert_eq!(message.content.text(), Some("mi pago"));
    assert!(matches!(
        message.content,
        InboundContent::Media {
            kind: MediaKind::Document,
            ..
        }
    ));
    // The source holds the media object itself, outside its wrapper.
    let source = source_of(&message.content);
    assert_eq!(
        source["data"]["messages"],
        serde_json::json!({"key": {"id": "A2"}, "message": {"documentMessage":
            {"fileName": "pago.pdf", "caption": "mi pago", "mimetype": "application/pdf"}}})
    );
}

#[test]
fn timestamps_in_every_spelling() {
    let secs = at(1_633_456_789);
    assert_eq!(timestamp(&serde_json::json!(1_633_456_789)), secs);
    assert_eq!(timestamp(&serde_json::json!("1633456789")), secs);
    assert_eq!(timestamp(&serde_json::json!(1_633_456_789_000_i64)), secs);
    assert_eq!(
        timestamp(&serde_json::json!({"low": 1_633_456_789, "high": 0, "unsigned": true})),
        secs
    );
    assert_eq!(timestamp(&serde_json::json!(0)), None);
    assert_eq!(timestamp(&serde_json::json!("soon")), None);
}

#[test]
fn nul_characters_are_dropped_from_every_text() {
    let body = r#"{"event":"messages.received","data":{"messages":{"key":{"id":"N\u00001",
        "fromMe":false,"remoteJid":"593991234567@s.whatsapp.net"},
        "pushName":"A\u0000na","messageBody":"Ho\u0000la\u0000",
        "message":{"conversation":"Ho\u0000la\u0000"}}}}"#;
    let message = single_inbound(body);
    assert_eq!(message.wa_id, "N1");
    assert_eq!(message.push_name.as_deref(), Some("Ana"));
    assert_eq!(message.content, InboundContent::Text("Hola".into()));

    let caption = r#"{"event":"messages.received","data":{"messages":{"key":{"id":"N2",
        "fromMe":false,"remoteJid":"593991234567@s.whatsapp.net"},
        "message":{"imageMessage":{"caption":"pa\u0000go","fileName":"a\u0000.jpg",
        "mimetype":"image/jpeg\u0000"}}}}}"#;
    let content = single_inbound(caption).content;
    let source = source_of(&content);
    assert_eq!(
        content,
        InboundContent::Media {
            kind: MediaKind::Image,
            caption: Some("pago".into()),
            file_name: Some("a.jpg".into()),
            mime_type: Some("image/jpeg".into()),
            source: Some(source.to_string()),
        }
    );
    assert!(!source.to_string().contains("\\u0000"), "{source}");

    // A text that is nothing but NULs is no text at all.
    let only_nul = r#"{"event":"messages.received","data":{"messages":{"key":{"id":"N3",
        "fromMe":false,"remoteJid":"593991234567@s.whatsapp.net"},
        "message":{"conversation":"\u0000\u0000"}}}}"#;
    assert_eq!(
        single_inbound(only_nul).content,
        InboundContent::Unsupported
    );

    let session = r#"{"event":"session.status","data":{"status":"connec\u0000ted"}}"#;
    assert_eq!(
        parse(session),
        vec![WebhookEvent::SessionStatus {
            connected: true,
            raw: "connected".into()
        }]
    );
    let update = r#"{"event":"messages.update","data":{"key":{"id":"X\u00009","fromMe":true},
        "update":{"status":"re\u0000ad"}}}"#;
    assert_eq!(
        parse(update),
        vec![WebhookEvent::StatusUpdate {
            wa_id: "X9".into(),
            status: DeliveryStatus::Read,
            error: None,
        }]
    );
}
