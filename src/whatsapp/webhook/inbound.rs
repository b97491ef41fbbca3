//! Incoming messages (`messages.received`, `messages.upsert`,
//! `messages-personal.received`), in Baileys `WAMessage` shape.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{InboundContent, InboundMessage, MediaKind, SenderAddress, non_empty_str, timestamp};

/// Wrappers whose `message` holds the real content.
const WRAPPERS: [&str; 5] = [
    "ephemeralMessage",
    "viewOnceMessage",
    "viewOnceMessageV2",
    "viewOnceMessageV2Extension",
    "documentWithCaptionMessage",
];

const MEDIA: [(&str, MediaKind); 6] = [
    ("imageMessage", MediaKind::Image),
    ("videoMessage", MediaKind::Video),
    ("ptvMessage", MediaKind::Video),
    ("audioMessage", MediaKind::Audio),
    ("documentMessage", MediaKind::Document),
    ("documentWithCaptionMessage", MediaKind::Document),
];

/// Keys that carry no content of their own and may sit beside the real one.
const NOT_CONTENT: [&str; 3] = [
    "messageContextInfo",
    "senderKeyDistributionMessage",
    "protocolMessage",
];

/// All one-to-one messages from other people in `data`: `data.messages` as
/// an object or array, `data` as an array, or `data` as the message itself.
pub(super) fn parse_messages(data: &Value, sent_at: Option<DateTime<Utc>>) -> Vec<InboundMessage> {
    let messages = match data.get("messages") {
        Some(messages) => messages,
        None if data.is_array() || data.get("key").is_some() => data,
        None => return Vec::new(),
    };
    super::one_or_many(messages)
        .filter_map(|message| parse_one(message, sent_at))
        .collect()
}

fn parse_one(message: &Value, sent_at: Option<DateTime<Utc>>) -> Option<InboundMessage> {
    let key = message.get("key")?.as_object()?;
    let from_me = key.get("fromMe").is_some_and(is_true);
    let remote_jid = key.get("remoteJid").and_then(Value::as_str).unwrap_or("");
    if is_not_one_to_one(remote_jid) {
        return None;
    }
    let wa_id = non_empty_str(key.get("id"))?;
    // Our own message: the chat is the customer's (the sender fields name
    // the business phone itself).
    let from = if from_me {
        chat_partner(key, remote_jid)?
    } else {
        sender(key, remote_jid)?
    };
    let content = content(message, &wa_id)?;
    let push_name = message
        .get("pushName")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let timestamp = message
        .get("messageTimestamp")
        .and_then(timestamp)
        .or(sent_at);
    Some(InboundMessage {
        wa_id,
        from_me,
        from,
        push_name,
        content,
        timestamp,
    })
}

fn is_true(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Groups, status updates, broadcast lists and newsletters.
fn is_not_one_to_one(jid: &str) -> bool {
    let jid = jid.trim();
    jid.ends_with("@g.us") || jid.ends_with("@broadcast") || jid.ends_with("@newsletter")
}

/// `cleanedSenderPn`, else `senderPn`, else a phone `remoteJid` (or
/// `remoteJidAlt`); failing those, a LID from `remoteJid` or `senderLid`.
fn sender(key: &Map<String, Value>, remote_jid: &str) -> Option<SenderAddress> {
    let field = |name: &str| non_empty_str(key.get(name));
    let phone = ["cleanedSenderPn", "senderPn"]
        .into_iter()
        .filter_map(field)
        .chain(Some(remote_jid.to_string()))
        .chain(field("remoteJidAlt"))
        .find_map(|candidate| phone_digits(&candidate));
    if let Some(digits) = phone {
        return Some(SenderAddress::Phone(digits));
    }
    if remote_jid.trim().ends_with("@lid") {
        return Some(SenderAddress::LidOnly(remote_jid.trim().to_string()));
    }
    field("senderLid")
        .filter(|lid| lid.ends_with("@lid"))
        .map(SenderAddress::LidOnly)
}

/// The other side of a chat we wrote in: a phone `remoteJid` (or
/// `remoteJidAlt`); a LID when no number is given.
fn chat_partner(key: &Map<String, Value>, remote_jid: &str) -> Option<SenderAddress> {
    let alt = non_empty_str(key.get("remoteJidAlt"));
    if let Some(digits) = std::iter::once(remote_jid.to_string())
        .chain(alt)
        .find_map(|candidate| phone_digits(&candidate))
    {
        return Some(SenderAddress::Phone(digits));
    }
    let jid = remote_jid.trim();
    jid.ends_with("@lid")
        .then(|| SenderAddress::LidOnly(jid.to_string()))
}

/// Digits of `593991234567`, `+593991234567`, `593991234567@s.whatsapp.net`
/// or `593991234567:12@s.whatsapp.net` (device suffix); `None` for LIDs and
/// anything else.
fn phone_digits(value: &str) -> Option<String> {
    let value = value.trim();
    let user = match value.split_once('@') {
        Some((user, "s.whatsapp.net" | "c.us")) => user,
        Some(_) => return None,
        None => value,
    };
    let user = user.split(':').next().unwrap_or(user);
    let digits = user.strip_prefix('+').unwrap_or(user);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.to_string())
}

/// The content of a message; `None` for protocol messages (deletes, settings,
/// history sync), which are not something a person said.
fn content(message: &Value, wa_id: &str) -> Option<InboundContent> {
    let body = message
        .get("messageBody")
        .and_then(Value::as_str)
        .filter(|b| !b.trim().is_empty());
    let Some(inner) = message
        .get("message")
        .and_then(unwrap)
        .filter(|m| !m.is_empty())
    else {
        return Some(body.map_or(InboundContent::Unsupported, |b| {
            InboundContent::Text(b.to_string())
        }));
    };
    for (name, kind) in MEDIA {
        if let Some(media) = inner.get(name).and_then(Value::as_object) {
            let text = |field: &str| {
                media
                    .get(field)
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            };
            return Some(InboundContent::Media {
                kind,
                caption: text("caption"),
                file_name: text("fileName"),
                mime_type: text("mimetype"),
                source: Some(media_source(wa_id, name, media)),
            });
        }
    }
    let text = body
        .or_else(|| inner.get("conversation").and_then(Value::as_str))
        .or_else(|| {
            inner
                .get("extendedTextMessage")
                .and_then(|e| e.get("text"))
                .and_then(Value::as_str)
        })
        .filter(|t| !t.trim().is_empty());
    if let Some(text) = text {
        return Some(InboundContent::Text(text.to_string()));
    }
    let has_content = inner.keys().any(|k| !NOT_CONTENT.contains(&k.as_str()));
    if !has_content && inner.contains_key("protocolMessage") {
        return None;
    }
    Some(InboundContent::Unsupported)
}

/// What WaSender's `decrypt-media` takes to fetch this file: the message's
/// id and its media object exactly as received (`url`, `mediaKey`,
/// `mimetype`, `fileSha256`, `fileLength`, `fileName`…), outside any
/// ephemeral/view-once wrapper.
fn media_source(wa_id: &str, name: &str, media: &Map<String, Value>) -> String {
    let mut message = Map::new();
    message.insert(name.to_string(), Value::Object(media.clone()));
    serde_json::json!({"data": {"messages": {"key": {"id": wa_id}, "message": message}}})
        .to_string()
}

/// The innermost message object, through ephemeral/view-once/caption wrappers.
fn unwrap(message: &Value) -> Option<&Map<String, Value>> {
    let mut current = message.as_object()?;
    for _ in 0..4 {
        let inner = WRAPPERS
            .iter()
            .find_map(|w| current.get(*w)?.get("message")?.as_object());
        match inner {
            Some(inner) => current = inner,
            None => break,
        }
    }
    Some(current)
}
