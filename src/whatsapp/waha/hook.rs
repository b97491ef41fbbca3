//! `POST /webhooks/waha`: WAHA signs the raw body with HMAC-SHA512 and
//! the configured key, hex in `X-Webhook-Hmac`. Deliveries are
//! `{"event":…,"session":…,"payload":{…}}`; see [`parse`].

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use secrecy::SecretString;
use serde_json::{Map, Value};

use super::{full_message_id, message_id, short_id};
use crate::whatsapp::hook::{
    WebhookAuthError, WebhookSource, configured, header, hmac_sha512_matches,
};
use crate::whatsapp::webhook::{event_envelope, non_empty_str, timestamp};
use crate::whatsapp::{
    DeliveryStatus, InboundContent, InboundMessage, MediaKind, ProviderKind, SenderAddress,
    WebhookEvent, WebhookParseError,
};

/// WAHA's webhook, checked with `WAHA_WEBHOOK_HMAC_KEY`.
#[derive(Debug)]
pub struct WahaWebhook {
    hmac_key: Option<SecretString>,
    /// `WAHA_SESSION`: events of other sessions on the same WAHA server
    /// (one global webhook for all) are not ours.
    session: Option<String>,
}

impl WahaWebhook {
    pub fn new(hmac_key: Option<SecretString>) -> Self {
        WahaWebhook {
            hmac_key,
            session: None,
        }
    }

    /// Only events of `session` are taken; others are ignored.
    pub fn for_session(mut self, session: impl Into<String>) -> Self {
        self.session = Some(session.into());
        self
    }
}

impl WebhookSource for WahaWebhook {
    fn provider(&self) -> ProviderKind {
        ProviderKind::Waha
    }

    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), WebhookAuthError> {
        let key = configured(self.hmac_key.as_ref())?;
        let presented = header(headers, "x-webhook-hmac")?;
        if hmac_sha512_matches(key, body, presented) {
            Ok(())
        } else {
            Err(WebhookAuthError::Invalid)
        }
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<WebhookEvent>, WebhookParseError> {
        parse(body, self.session.as_deref())
    }
}

/// Parses one WAHA delivery: `message`/`message.any` (a message in a
/// one-to-one chat), `message.ack` (progress of our own message) and
/// `session.status`. Not JSON, not an object or no `event` is an error, as
/// is a known event whose `payload` is not an object; anything else yields
/// exactly one [`WebhookEvent::Ignored`]. Every string is read without
/// U+0000, as [`crate::whatsapp::parse_webhook`] does (PostgreSQL text
/// cannot hold it). With `ours`, an event naming another session is
/// ignored.
pub(super) fn parse(
    body: &[u8],
    ours: Option<&str>,
) -> Result<Vec<WebhookEvent>, WebhookParseError> {
    let (envelope, event) = event_envelope(body)?;
    let event = event.as_str();
    let from_session = envelope
        .get("session")
        .and_then(Value::as_str)
        .map(str::trim);
    if let (Some(ours), Some(from_session)) = (ours, from_session)
        && from_session != ours.trim()
    {
        return Ok(vec![WebhookEvent::Ignored {
            event: event.to_string(),
        }]);
    }
    let known = matches!(
        event,
        "message" | "message.any" | "message.ack" | "session.status"
    );
    let payload = match envelope.get("payload") {
        Some(Value::Object(payload)) => Some(payload),
        _ if known => {
            return Err(WebhookParseError::Shape {
                provider: "WAHA",
                reason: "`payload` is not an object",
            });
        }
        _ => None,
    };
    let sent_at = envelope.get("timestamp").and_then(timestamp);
    let parsed = payload.and_then(|payload| match event {
        "message" | "message.any" => inbound(payload, sent_at).map(WebhookEvent::Inbound),
        "message.ack" => ack(payload),
        "session.status" => session(payload),
        _ => None,
    });
    Ok(vec![parsed.unwrap_or_else(|| WebhookEvent::Ignored {
        event: event.to_string(),
    })])
}

/// A message in a one-to-one chat. Messages we sent (`fromMe`: an echo of
/// one of our sends, or someone writing from the phone) name the customer
/// in `to`; others in `from`. Groups, status and newsletters are skipped.
fn inbound(payload: &Map<String, Value>, sent_at: Option<DateTime<Utc>>) -> Option<InboundMessage> {
    let full_id = full_message_id(payload)?;
    let from_me = match payload.get("fromMe") {
        Some(Value::Bool(b)) => *b,
        _ => full_id.starts_with("true_"),
    };
    let wa_id = short_id(&full_id).to_string();
    let jid = |field: &str| payload.get(field).and_then(Value::as_str).unwrap_or("");
    if [jid("from"), jid("to")].into_iter().any(is_not_one_to_one) {
        return None;
    }
    let from = address(if from_me { jid("to") } else { jid("from") })?;
    // On our own messages the profile name is the business's, not the
    // customer's.
    let push_name = (!from_me)
        .then(|| {
            let data = payload.get("_data");
            [
                data.and_then(|d| d.get("notifyName")),
                payload.get("notifyName"),
                data.and_then(|d| d.get("pushName")),
            ]
            .into_iter()
            .find_map(non_empty_str)
        })
        .flatten();
    let timestamp = payload.get("timestamp").and_then(timestamp).or(sent_at);
    Some(InboundMessage {
        wa_id,
        from_me,
        from,
        push_name,
        content: content(payload),
        timestamp,
    })
}

/// Groups, status updates, broadcast lists and newsletters.
fn is_not_one_to_one(jid: &str) -> bool {
    let jid = jid.trim();
    jid.ends_with("@g.us") || jid.ends_with("@broadcast") || jid.ends_with("@newsletter")
}

/// `593991234567@c.us` or `…@s.whatsapp.net` (a `:device` suffix allowed)
/// is a phone; `…@lid` a privacy id only; anything else is not a person.
fn address(jid: &str) -> Option<SenderAddress> {
    let jid = jid.trim();
    let (user, server) = jid.split_once('@')?;
    match server {
        "c.us" | "s.whatsapp.net" => {
            let digits = user.split(':').next().unwrap_or(user);
            (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| SenderAddress::Phone(digits.to_string()))
        }
        "lid" if !user.is_empty() => Some(SenderAddress::LidOnly(jid.to_string())),
        _ => None,
    }
}

/// A file when `hasMedia` (its `media.url` is absent when WAHA could not
/// download it), else the text; nothing at all is `Unsupported`
/// (stickers, locations, polls… arrive with an empty body).
fn content(payload: &Map<String, Value>) -> InboundContent {
    let body = payload
        .get("body")
        .and_then(Value::as_str)
        .filter(|b| !b.trim().is_empty());
    let media = payload.get("media").and_then(Value::as_object);
    let source = media.and_then(|m| non_empty_str(m.get("url")));
    let has_media = payload.get("hasMedia").and_then(Value::as_bool) == Some(true);
    if !has_media && source.is_none() {
        return body.map_or(InboundContent::Unsupported, |b| {
            InboundContent::Text(b.to_string())
        });
    }
    let field = |name: &str| media.and_then(|m| non_empty_str(m.get(name)));
    let mime_type = field("mimetype");
    let kind = match mime_type.as_deref().and_then(|m| m.split_once('/')) {
        Some(("image", _)) => MediaKind::Image,
        Some(("video", _)) => MediaKind::Video,
        Some(("audio", _)) => MediaKind::Audio,
        _ => MediaKind::Document,
    };
    InboundContent::Media {
        kind,
        caption: body.map(str::to_string),
        file_name: field("filename"),
        mime_type,
        source,
    }
}

/// `message.ack` for one of our messages: `ack` -1 ERROR, 0 PENDING,
/// 1 SERVER, 2 DEVICE, 3 READ, 4 PLAYED, or the `ackName` word.
fn ack(payload: &Map<String, Value>) -> Option<WebhookEvent> {
    if payload.get("fromMe").and_then(Value::as_bool) == Some(false) {
        return None;
    }
    let wa_id = message_id(payload)?;
    let status = match payload.get("ack").and_then(Value::as_i64) {
        Some(code) => ack_code(code),
        None => ack_name(payload.get("ackName").and_then(Value::as_str)?)?,
    };
    Some(WebhookEvent::StatusUpdate {
        wa_id,
        status,
        error: None,
    })
}

/// WAHA's numbering (not Baileys': see [`DeliveryStatus::from_code`]).
fn ack_code(code: i64) -> DeliveryStatus {
    match code {
        -1 => DeliveryStatus::Failed,
        0 => DeliveryStatus::Pending,
        1 => DeliveryStatus::Sent,
        2 => DeliveryStatus::Delivered,
        3 | 4 => DeliveryStatus::Read,
        other => DeliveryStatus::Other(other.to_string()),
    }
}

fn ack_name(name: &str) -> Option<DeliveryStatus> {
    let name = name.trim();
    Some(match name.to_ascii_uppercase().as_str() {
        "" => return None,
        "ERROR" => DeliveryStatus::Failed,
        "PENDING" => DeliveryStatus::Pending,
        "SERVER" => DeliveryStatus::Sent,
        "DEVICE" => DeliveryStatus::Delivered,
        "READ" | "PLAYED" => DeliveryStatus::Read,
        _ => DeliveryStatus::Other(name.to_string()),
    })
}

/// `session.status`: connected only when `WORKING`.
fn session(payload: &Map<String, Value>) -> Option<WebhookEvent> {
    let raw = non_empty_str(payload.get("status"))?;
    Some(WebhookEvent::SessionStatus {
        connected: raw.eq_ignore_ascii_case("WORKING"),
        raw,
    })
}
