//! Pure parsing of Cloud API webhook deliveries into [`WebhookEvent`]s.
//!
//! A delivery is `{"object":"whatsapp_business_account","entry":[{"changes":
//! [{"field":"messages","value":{…}}]}]}`; Meta may batch several entries
//! and changes into one, so every one is read. The `value` of a `messages`
//! change holds `contacts` (profile names), `messages` (inbound) and
//! `statuses` (delivery progress of what we sent).

use serde_json::{Map, Value};

use crate::whatsapp::webhook::{strip_nuls, timestamp};
use crate::whatsapp::{
    DeliveryStatus, InboundContent, InboundMessage, MediaKind, SenderAddress, WebhookEvent,
    WebhookParseError,
};

const PROVIDER: &str = "WhatsApp Cloud API";
const OBJECT: &str = "whatsapp_business_account";

/// Parses one delivery. Not JSON, not an object, or not a WhatsApp
/// Business Account delivery is an error; a delivery with nothing for us
/// (account updates, template reviews…) yields exactly one
/// [`WebhookEvent::Ignored`] named after its first change's field.
///
/// U+0000 is removed from every string first (see
/// [`crate::whatsapp::parse_webhook`] for why). With `ours`, changes about
/// another phone number (`value.metadata.phone_number_id`) are skipped.
pub(super) fn parse(
    body: &[u8],
    ours: Option<&str>,
) -> Result<Vec<WebhookEvent>, WebhookParseError> {
    let mut root: Value = serde_json::from_slice(body)?;
    strip_nuls(&mut root);
    let envelope = root.as_object().ok_or(WebhookParseError::NotAnObject)?;
    match envelope.get("object").and_then(Value::as_str) {
        Some(OBJECT) => {}
        Some(_) => {
            return Err(WebhookParseError::Shape {
                provider: PROVIDER,
                reason: "`object` is not whatsapp_business_account",
            });
        }
        None => {
            return Err(WebhookParseError::Shape {
                provider: PROVIDER,
                reason: "no `object`",
            });
        }
    }
    let changes = list(envelope.get("entry"))
        .iter()
        .flat_map(|entry| list(entry.get("changes")));
    let mut events = Vec::new();
    let mut first_field = None;
    for change in changes {
        let field = change.get("field").and_then(Value::as_str).map(str::trim);
        if first_field.is_none() {
            first_field = field.filter(|f| !f.is_empty()).map(str::to_string);
        }
        if field != Some("messages") {
            continue;
        }
        let Some(value) = change.get("value").and_then(Value::as_object) else {
            continue;
        };
        let number = text(value.get("metadata"), "phone_number_id");
        if let (Some(ours), Some(number)) = (ours, number.as_deref())
            && number != ours
        {
            continue;
        }
        events.extend(
            list(value.get("messages"))
                .iter()
                .filter_map(|m| inbound(m, value))
                .map(WebhookEvent::Inbound),
        );
        events.extend(list(value.get("statuses")).iter().filter_map(status));
    }
    if events.is_empty() {
        return Ok(vec![WebhookEvent::Ignored {
            event: first_field.unwrap_or_else(|| OBJECT.to_string()),
        }]);
    }
    Ok(events)
}

/// The items of a JSON array; nothing for anything else.
fn list(value: Option<&Value>) -> &[Value] {
    value.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// A trimmed, non-empty string field.
fn text(object: Option<&Value>, field: &str) -> Option<String> {
    object?
        .get(field)?
        .as_str()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// One inbound message; `None` without an id or a phone sender.
fn inbound(message: &Value, value: &Map<String, Value>) -> Option<InboundMessage> {
    let wa_id = text(Some(message), "id")?;
    let from = text(Some(message), "from")?;
    let digits = from.strip_prefix('+').unwrap_or(&from);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let push_name = list(value.get("contacts"))
        .iter()
        .find(|c| c.get("wa_id").and_then(Value::as_str).map(str::trim) == Some(digits))
        .and_then(|c| text(c.get("profile"), "name"));
    Some(InboundMessage {
        wa_id,
        from_me: false,
        from: SenderAddress::Phone(digits.to_string()),
        push_name,
        content: content(message),
        timestamp: message.get("timestamp").and_then(timestamp),
    })
}

/// What the message says, by its `type`. Types we do not read (stickers,
/// locations, contacts, reactions, orders, system notices, `unsupported`)
/// are still inbound messages, so the chat shows something arrived.
fn content(message: &Value) -> InboundContent {
    let kind = message.get("type").and_then(Value::as_str).unwrap_or("");
    let typed = |s: Option<&str>| {
        s.filter(|t| !t.trim().is_empty())
            .map_or(InboundContent::Unsupported, |t| {
                InboundContent::Text(t.to_string())
            })
    };
    let body = message.get(kind);
    match kind {
        // Exactly as typed, like the other providers.
        "text" => typed(body.and_then(|t| t.get("body")).and_then(Value::as_str)),
        // A tap on a reply button or a list row: its title is what the
        // customer chose.
        "interactive" => typed(
            ["button_reply", "list_reply"]
                .iter()
                .find_map(|reply| body?.get(*reply)?.get("title")?.as_str()),
        ),
        // A template's quick-reply button.
        "button" => typed(
            body.and_then(|b| b.get("text").or_else(|| b.get("payload")))
                .and_then(Value::as_str),
        ),
        "image" => media(MediaKind::Image, body),
        "video" => media(MediaKind::Video, body),
        "audio" => media(MediaKind::Audio, body),
        "document" => media(MediaKind::Document, body),
        _ => InboundContent::Unsupported,
    }
}

/// A file: `source` is its media id, which [`super::CloudProvider`] turns
/// into a download.
fn media(kind: MediaKind, body: Option<&Value>) -> InboundContent {
    InboundContent::Media {
        kind,
        caption: match kind {
            MediaKind::Audio => None,
            _ => text(body, "caption"),
        },
        file_name: match kind {
            MediaKind::Document => text(body, "filename"),
            _ => None,
        },
        mime_type: text(body, "mime_type"),
        source: text(body, "id"),
    }
}

/// One delivery status; a failed one carries Meta's first error as
/// `131026: Message undeliverable`.
fn status(item: &Value) -> Option<WebhookEvent> {
    let wa_id = text(Some(item), "id")?;
    let status = DeliveryStatus::parse(&text(Some(item), "status")?);
    let error = (status == DeliveryStatus::Failed)
        .then(|| list(item.get("errors")).first())
        .flatten()
        .and_then(|e| {
            let code = e.get("code").and_then(|c| match c {
                Value::Number(n) => Some(n.to_string()),
                Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
                _ => None,
            });
            let title = text(Some(e), "title").or_else(|| text(Some(e), "message"));
            match (code, title) {
                (Some(code), Some(title)) => Some(format!("{code}: {title}")),
                (code, title) => code.or(title),
            }
        })
        .map(|e| crate::whatsapp::http::truncate(&e));
    Some(WebhookEvent::StatusUpdate {
        wa_id,
        status,
        error,
    })
}
