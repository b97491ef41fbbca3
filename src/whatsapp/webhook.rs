//! Pure parsing of WaSender webhook bodies into typed events. No I/O, no
//! signature checks (the HTTP layer does those), no phone normalisation
//! (the caller knows the region: see [`SenderAddress::phone`]).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::domain::{Phone, Region};

mod inbound;
#[cfg(test)]
mod tests;

/// One thing a webhook delivery tells us. A delivery may carry several
/// (`messages.upsert` arrays, `messages.update` arrays).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookEvent {
    /// A message a person sent us in a one-to-one chat.
    Inbound(InboundMessage),
    /// Delivery progress of a message we sent, keyed by its WhatsApp id.
    StatusUpdate {
        wa_id: String,
        status: DeliveryStatus,
        /// Why it failed, when the provider says (`131026: Message
        /// undeliverable`).
        error: Option<String>,
    },
    /// The WhatsApp session changed state; `raw` is WaSender's word for it.
    SessionStatus { connected: bool, raw: String },
    /// Valid, but nothing for us: an event we do not handle, or messages
    /// from groups, status or newsletters.
    Ignored { event: String },
}

/// An incoming one-to-one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    /// WhatsApp's message id (`key.id`), for deduplication.
    pub wa_id: String,
    /// Sent from the business phone (`fromMe`): one of avisa's own sends
    /// echoed back, or a person writing from the phone. `from` is then the
    /// customer the message went to.
    pub from_me: bool,
    pub from: SenderAddress,
    /// The sender's WhatsApp profile name, when given.
    pub push_name: Option<String>,
    pub content: InboundContent,
    /// When the message was sent (`messageTimestamp`, else the envelope's
    /// `timestamp`); seconds and milliseconds are both understood.
    pub timestamp: Option<DateTime<Utc>>,
}

/// Who sent a message, as WhatsApp identified them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SenderAddress {
    /// International digits without `+`, as WhatsApp gave them (`593991234567`).
    Phone(String),
    /// Only a privacy id (`123456789012345@lid`) is known: no phone number.
    LidOnly(String),
}

impl SenderAddress {
    /// The sender as an E.164 [`Phone`], when a number is known and valid.
    /// WhatsApp digits are always international; `region` only matters to
    /// the parser's validation.
    pub fn phone(&self, region: Region) -> Option<Phone> {
        match self {
            SenderAddress::Phone(digits) => Phone::parse(&format!("+{digits}"), region).ok(),
            SenderAddress::LidOnly(_) => None,
        }
    }

    /// The digits, for a phone sender.
    pub fn digits(&self) -> Option<&str> {
        match self {
            SenderAddress::Phone(digits) => Some(digits),
            SenderAddress::LidOnly(_) => None,
        }
    }
}

/// What an inbound message holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundContent {
    /// Plain text, link previews and replies, exactly as typed.
    Text(String),
    /// A photo, video, voice note/audio or document (receipts, usually).
    Media {
        kind: MediaKind,
        caption: Option<String>,
        file_name: Option<String>,
        mime_type: Option<String>,
        /// The body of WaSender's `decrypt-media` request for this file
        /// (JSON), kept with the message until the file is fetched.
        source: Option<String>,
    },
    /// Stickers, reactions, locations, contacts, polls…
    Unsupported,
}

impl InboundContent {
    /// The text, or a media caption.
    pub fn text(&self) -> Option<&str> {
        match self {
            InboundContent::Text(text) => Some(text),
            InboundContent::Media { caption, .. } => caption.as_deref(),
            InboundContent::Unsupported => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::Document => "document",
        }
    }
}

/// Delivery progress of an outgoing message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    Pending,
    Sent,
    Delivered,
    /// Read, or played for voice notes.
    Read,
    Failed,
    /// A code or word we do not know, kept as given.
    Other(String),
}

impl DeliveryStatus {
    /// WaSender/Baileys numeric codes: 0 ERROR, 1 PENDING, 2 SENT
    /// (server ack), 3 DELIVERED, 4 READ, 5 PLAYED.
    pub fn from_code(code: i64) -> Self {
        match code {
            0 => DeliveryStatus::Failed,
            1 => DeliveryStatus::Pending,
            2 => DeliveryStatus::Sent,
            3 => DeliveryStatus::Delivered,
            4 | 5 => DeliveryStatus::Read,
            other => DeliveryStatus::Other(other.to_string()),
        }
    }

    /// Words as the TS SDK and Baileys spell them (`read`, `DELIVERY_ACK`,
    /// `server_ack`, `error`…), case-insensitive; digits as [`Self::from_code`].
    pub fn parse(word: &str) -> Self {
        let word = word.trim();
        if let Ok(code) = word.parse::<i64>() {
            return Self::from_code(code);
        }
        match word.to_ascii_lowercase().as_str() {
            "error" | "failed" | "fail" => DeliveryStatus::Failed,
            "pending" | "queued" | "in_progress" => DeliveryStatus::Pending,
            "sent" | "server_ack" => DeliveryStatus::Sent,
            "delivered" | "delivery_ack" => DeliveryStatus::Delivered,
            "read" | "read_ack" | "played" | "seen" => DeliveryStatus::Read,
            _ => DeliveryStatus::Other(word.to_string()),
        }
    }

    /// The word stored in `messages.status` (`other` for unknown values).
    pub fn as_str(&self) -> &str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Other(_) => "other",
        }
    }

    /// Progress order, so out-of-order updates never move a message back
    /// (read after delivered, never the reverse). `Failed` and `Other` are 0.
    pub fn rank(&self) -> u8 {
        match self {
            DeliveryStatus::Failed | DeliveryStatus::Other(_) => 0,
            DeliveryStatus::Pending => 1,
            DeliveryStatus::Sent => 2,
            DeliveryStatus::Delivered => 3,
            DeliveryStatus::Read => 4,
        }
    }
}

/// A body that is not a WaSender webhook at all (the HTTP layer answers 400).
#[derive(Debug, thiserror::Error)]
pub enum WebhookParseError {
    #[error("webhook body is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("webhook body is not a JSON object")]
    NotAnObject,
    #[error("webhook body has no `event` name")]
    MissingEvent,
    /// Valid JSON, but not the shape this provider sends.
    #[error("webhook body is not a {provider} delivery: {reason}")]
    Shape {
        provider: &'static str,
        reason: &'static str,
    },
}

/// Parses one webhook delivery. Malformed JSON, a non-object or a missing
/// `event` is an error; anything else parses, and a delivery with nothing
/// for us yields exactly one [`WebhookEvent::Ignored`].
///
/// Every string value is read without U+0000 (`\u0000` in the JSON):
/// PostgreSQL text cannot hold it (`invalid byte sequence for encoding
/// "UTF8": 0x00`), so a text carrying one would be refused on every
/// redelivery; both backends store the same text without it.
pub fn parse_webhook(body: &[u8]) -> Result<Vec<WebhookEvent>, WebhookParseError> {
    let (envelope, event) = event_envelope(body)?;
    let event = event.as_str();
    let data = envelope.get("data").unwrap_or(&Value::Null);
    let sent_at = envelope.get("timestamp").and_then(timestamp);

    let events: Vec<WebhookEvent> = match event {
        "messages.received" | "messages.upsert" | "messages-personal.received" => {
            inbound::parse_messages(data, sent_at)
                .into_iter()
                .map(WebhookEvent::Inbound)
                .collect()
        }
        "messages.update" => parse_updates(data),
        "session.status" => parse_session(data).into_iter().collect(),
        _ => Vec::new(),
    };
    if events.is_empty() {
        return Ok(vec![WebhookEvent::Ignored {
            event: event.to_string(),
        }]);
    }
    Ok(events)
}

/// A delivery whose envelope names its event (WaSender's and WAHA's
/// shape): the envelope, without U+0000 in any string, and the event.
/// Not JSON, not an object or no `event` is an error.
pub(crate) fn event_envelope(
    body: &[u8],
) -> Result<(serde_json::Map<String, Value>, String), WebhookParseError> {
    let mut root: Value = serde_json::from_slice(body)?;
    strip_nuls(&mut root);
    let Value::Object(envelope) = root else {
        return Err(WebhookParseError::NotAnObject);
    };
    let event = envelope
        .get("event")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .ok_or(WebhookParseError::MissingEvent)?
        .to_string();
    Ok((envelope, event))
}

/// Removes U+0000 from every string value, at any depth (serde_json's
/// recursion limit bounds the depth). Object keys are left as they are: a
/// key with a NUL matches none we read.
pub(crate) fn strip_nuls(value: &mut Value) {
    match value {
        Value::String(s) => {
            if s.contains('\0') {
                s.retain(|c| c != '\0');
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nuls),
        Value::Object(map) => map.values_mut().for_each(strip_nuls),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// `messages.update`: `data` is one `{key, update}` object or an array of
/// them. Updates about messages we did not send (`fromMe: false`) and updates
/// without a status (edits, reactions) are skipped.
fn parse_updates(data: &Value) -> Vec<WebhookEvent> {
    one_or_many(data)
        .filter_map(|item| {
            let key = item.get("key")?;
            if key.get("fromMe").and_then(Value::as_bool) == Some(false) {
                return None;
            }
            let wa_id = non_empty_str(key.get("id"))?;
            let status = item
                .get("update")
                .and_then(|u| u.get("status"))
                .or_else(|| item.get("status"))?;
            let status = match status {
                Value::Number(n) => DeliveryStatus::from_code(n.as_i64()?),
                Value::String(s) if !s.trim().is_empty() => DeliveryStatus::parse(s),
                _ => return None,
            };
            Some(WebhookEvent::StatusUpdate {
                wa_id,
                status,
                error: None,
            })
        })
        .collect()
}

/// `session.status`: `data.status` (or `data` itself as a string).
fn parse_session(data: &Value) -> Option<WebhookEvent> {
    let raw = match data {
        Value::String(s) => s.trim(),
        other => other.get("status").and_then(Value::as_str)?.trim(),
    };
    if raw.is_empty() {
        return None;
    }
    Some(WebhookEvent::SessionStatus {
        connected: raw.eq_ignore_ascii_case("connected"),
        raw: raw.to_string(),
    })
}

/// The items of an array, or the value itself when it is an object.
fn one_or_many(value: &Value) -> Box<dyn Iterator<Item = &Value> + '_> {
    match value {
        Value::Array(items) => Box::new(items.iter()),
        Value::Object(_) => Box::new(std::iter::once(value)),
        _ => Box::new(std::iter::empty()),
    }
}

/// A trimmed, non-empty string (numbers are accepted and written out).
pub(crate) fn non_empty_str(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Numbers of at least this size are milliseconds (year 5138 in seconds).
const MILLIS_THRESHOLD: i64 = 100_000_000_000;

/// A Unix time in seconds or milliseconds, given as a number, a numeric
/// string, or a protobuf `Long` object (`{"low":…,"high":…}`).
pub(crate) fn timestamp(value: &Value) -> Option<DateTime<Utc>> {
    let n: i64 = match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))?,
        Value::String(s) => s.trim().parse().ok()?,
        Value::Object(long) => {
            let low = long.get("low")?.as_i64()? & 0xFFFF_FFFF;
            let high = long.get("high").and_then(Value::as_i64).unwrap_or(0);
            (high << 32) | low
        }
        _ => return None,
    };
    if n <= 0 {
        return None;
    }
    if n >= MILLIS_THRESHOLD {
        DateTime::from_timestamp_millis(n)
    } else {
        DateTime::from_timestamp(n, 0)
    }
}
