//! The WAHA client (devlikeapro/waha, a self-hosted WhatsApp HTTP API):
//! `POST {base}/api/sendText`, `sendImage`, `sendFile`, and
//! `GET {base}/api/sessions/{session}`.
//!
//! One call is one request with the constructor's timeout. Replies are
//! classified by the same rules as WaSender's (see [`classify`]), so the job
//! layer treats every provider alike.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use super::http::{
    Reply, api_client, download_client, download_limited, endpoint, exchange, is_http_url,
    log_send, query, redacted, retry_after_seconds, truncate,
};
use super::{
    Attachment, AttachmentKind, MediaError, Provider, ProviderKind, SendError, Sent, SessionReport,
};
use crate::domain::Phone;

mod hook;
#[cfg(test)]
mod tests;

pub use hook::WahaWebhook;

/// The header WAHA reads its API key from.
const API_KEY_HEADER: &str = "x-api-key";
/// Wait used for a 429 without a `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Bounds applied to whatever wait WAHA asks for.
const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

/// Why a [`WahaProvider`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum WahaInitError {
    #[error("WAHA_BASE_URL `{0}` must be an http:// or https:// URL")]
    BadBaseUrl(String),
    #[error("WAHA_API_KEY contains characters that cannot be sent in an HTTP header")]
    KeyNotHeaderSafe,
    #[error("WAHA_SESSION is empty")]
    EmptySession,
    #[error("the WAHA request timeout must be greater than zero")]
    ZeroTimeout,
    #[error("could not build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// Sends through one session of a WAHA server.
pub struct WahaProvider {
    client: reqwest::Client,
    /// The API root, for telling WAHA's own file links from foreign ones.
    base_url: Url,
    text_url: Url,
    image_url: Url,
    file_url: Url,
    /// `{base}/api/sessions/{session}`, the session's name escaped.
    session_url: Url,
    /// Downloads inbound files: follows redirects, allows a longer transfer.
    download: reqwest::Client,
    /// `X-Api-Key`, marked sensitive; `None` when WAHA runs without a key.
    api_key: Option<HeaderValue>,
    session: String,
    timeout: Duration,
}

impl WahaProvider {
    /// `base_url` is the server root (`http://waha:3000`); `api_key` is
    /// sent as `X-Api-Key` when set (an empty key counts as unset);
    /// `timeout` bounds every API request.
    pub fn new(
        base_url: Url,
        api_key: Option<SecretString>,
        session: String,
        timeout: Duration,
    ) -> Result<Self, WahaInitError> {
        if !is_http_url(&base_url) {
            return Err(WahaInitError::BadBaseUrl(redacted(&base_url)));
        }
        let api_key = match api_key {
            Some(key) if !key.expose_secret().trim().is_empty() => {
                let mut value = HeaderValue::from_str(key.expose_secret())
                    .map_err(|_| WahaInitError::KeyNotHeaderSafe)?;
                value.set_sensitive(true);
                Some(value)
            }
            _ => None,
        };
        let session = session.trim().to_string();
        if session.is_empty() {
            return Err(WahaInitError::EmptySession);
        }
        if timeout.is_zero() {
            return Err(WahaInitError::ZeroTimeout);
        }
        let mut session_url = endpoint(&base_url, "api/sessions");
        session_url
            .path_segments_mut()
            .map_err(|()| WahaInitError::BadBaseUrl(redacted(&base_url)))?
            .push(&session);
        Ok(WahaProvider {
            client: api_client(timeout).map_err(WahaInitError::Client)?,
            text_url: endpoint(&base_url, "api/sendText"),
            image_url: endpoint(&base_url, "api/sendImage"),
            file_url: endpoint(&base_url, "api/sendFile"),
            session_url,
            download: download_client(timeout).map_err(WahaInitError::Client)?,
            base_url,
            api_key,
            session,
            timeout,
        })
    }

    /// `request` with the API key, when one is configured.
    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.api_key {
            Some(key) => request.header(API_KEY_HEADER, key.clone()),
            None => request,
        }
    }

    /// One POST of a send, classified.
    async fn post(&self, url: &Url, to: &Phone, body: &Value) -> Result<Sent, SendError> {
        let request = self.authorized(self.client.post(url.clone()).json(body));
        let Reply {
            status,
            headers,
            body,
        } = exchange("WAHA", self.timeout, to, request).await?;
        let outcome = classify(status, &headers, &body);
        log_send("WAHA", to, status, outcome.as_ref());
        outcome
    }

    /// Whether `url` is on the WAHA server itself (same scheme, host and
    /// port as the base URL): only there does the API key go.
    fn is_own(&self, url: &Url) -> bool {
        url.origin() == self.base_url.origin()
    }

    /// WAHA names its files under its own idea of its address, which is
    /// `http://localhost:3000` unless WAHA's `WAHA_BASE_URL` is set: from
    /// avisa's container that is avisa itself. Such a link to WAHA's file
    /// API is read from `WAHA_BASE_URL` (ours) instead.
    fn reachable(&self, url: Url) -> Url {
        let local = matches!(
            url.host_str(),
            Some("localhost" | "127.0.0.1" | "0.0.0.0" | "[::1]")
        );
        if !local || self.is_own(&url) || !url.path().starts_with("/api/files/") {
            return url;
        }
        let mut moved = self.base_url.clone();
        moved.set_path(url.path());
        moved.set_query(url.query());
        moved
    }
}

impl fmt::Debug for WahaProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WahaProvider")
            .field("base_url", &redacted(&self.base_url))
            .field("session", &self.session)
            .field(
                "api_key",
                &if self.api_key.is_some() {
                    "[redacted]"
                } else {
                    "none"
                },
            )
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[async_trait]
impl Provider for WahaProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Waha
    }

    async fn send_text(&self, to: &Phone, text: &str) -> Result<Sent, SendError> {
        let body = serde_json::json!({
            "session": self.session, "chatId": chat_id(to), "text": text,
        });
        self.post(&self.text_url, to, &body).await
    }

    async fn send_media(
        &self,
        to: &Phone,
        text: &str,
        attachment: &Attachment,
    ) -> Result<Sent, SendError> {
        let url = match attachment.kind {
            AttachmentKind::Image => &self.image_url,
            AttachmentKind::Document => &self.file_url,
        };
        let body = media_body(&self.session, to, text, attachment);
        self.post(url, to, &body).await
    }

    /// `source` is the `media.url` of the webhook, normally a link to
    /// WAHA's own `/api/files/…`. The key goes only to the WAHA server: a
    /// link elsewhere (S3 storage) is fetched without it.
    async fn fetch_media(&self, source: &str, limit: usize) -> Result<Vec<u8>, MediaError> {
        let url = Url::parse(source.trim())
            .ok()
            .filter(is_http_url)
            .ok_or_else(|| MediaError::Gone {
                message: truncate(&format!("not an http(s) file link: {source}")),
            })?;
        let url = self.reachable(url);
        let request = self.download.get(url.clone());
        let request = if self.is_own(&url) {
            self.authorized(request)
        } else {
            request
        };
        download_limited(request, limit).await
    }

    /// `GET /api/sessions/{session}` → `{"status":"WORKING"}` (or
    /// `STARTING`, `SCAN_QR_CODE`, `FAILED`, `STOPPED`).
    async fn session_state(&self) -> Result<SessionReport, SendError> {
        let request = self.authorized(self.client.get(self.session_url.clone()));
        let Reply {
            status,
            headers,
            body,
        } = query("WAHA", self.timeout, request).await?;
        // Refusals are classified as for a send (401 is the key…).
        classify(status, &headers, &body)?;
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let raw = json
            .get("status")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            // An answer without a status says nothing: never "down" by default.
            .ok_or_else(|| SendError::Rejected {
                status: status.as_u16(),
                message: "GET /api/sessions answered without a status".into(),
            })?
            .to_string();
        Ok(SessionReport {
            connected: raw.eq_ignore_ascii_case("WORKING"),
            raw,
        })
    }
}

/// WAHA's chat id for a person: the digits and `@c.us`.
fn chat_id(to: &Phone) -> String {
    format!("{}@c.us", to.digits())
}

/// The body of `sendImage` / `sendFile`: WAHA fetches the file from its URL;
/// the text is the caption.
fn media_body(session: &str, to: &Phone, text: &str, attachment: &Attachment) -> Value {
    serde_json::json!({
        "session": session,
        "chatId": chat_id(to),
        "file": {
            "mimetype": mime_type(attachment),
            "filename": attachment.file_name,
            "url": attachment.url,
        },
        "caption": text,
    })
}

/// The MIME type WAHA announces the file with, from its name.
fn mime_type(attachment: &Attachment) -> &'static str {
    let name = attachment.file_name.trim().to_ascii_lowercase();
    match attachment.kind {
        AttachmentKind::Image if name.ends_with(".png") => "image/png",
        AttachmentKind::Image => "image/jpeg",
        AttachmentKind::Document if name.ends_with(".pdf") => "application/pdf",
        AttachmentKind::Document => "application/octet-stream",
    }
}

/// Turns a WAHA reply into the outcome of the send.
///
/// - 2xx: sent, with the message's id when the reply names it (see
///   [`message_id`]); an unreadable 2xx is still `Sent`, without an id,
///   because retrying could deliver the message twice.
/// - 429: `RateLimited` for `Retry-After` seconds, else 60 s; clamped to
///   1 s ..= 1 h.
/// - 401/403: `Unauthorized`. 408 and 5xx: `Transient`. Anything else
///   (400, 404 session not found, 422, redirects): `Rejected` with WAHA's
///   message.
fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Result<Sent, SendError> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    if status.is_success() {
        return Ok(Sent {
            provider_id: json
                .as_ref()
                .and_then(Value::as_object)
                .and_then(message_id),
            template: None,
        });
    }
    let message = provider_message(status, json.as_ref(), body);
    match status.as_u16() {
        429 => Err(SendError::RateLimited {
            retry_after: retry_after_seconds(headers)
                .map(Duration::from_secs)
                .map_or(DEFAULT_RETRY_AFTER, |d| {
                    d.clamp(MIN_RETRY_AFTER, MAX_RETRY_AFTER)
                }),
            message,
        }),
        401 | 403 => Err(SendError::Unauthorized { message }),
        408 | 500..=599 => Err(SendError::Transient { message }),
        code => Err(SendError::Rejected {
            status: code,
            message,
        }),
    }
}

/// The id of a message object, in whichever shape WAHA's engine gives it:
/// `"id":"true_…"`, `"id":{"_serialized":"true_…"}` (WEBJS), or
/// `"key":{"id":"…"}` (NOWEB), as WhatsApp's own id (see [`short_id`]).
fn message_id(message: &Map<String, Value>) -> Option<String> {
    full_message_id(message).map(|id| short_id(&id).to_string())
}

/// WhatsApp's own message id in WAHA's `{fromMe}_{chat}_{id}` form (e.g.
/// `true_593991234567@c.us_3EB0AAA` → `3EB0AAA`); any other id as it is.
/// A send's reply and the acks about it may use either form (NOWEB answers
/// a send with the short `key.id` and names it in full in `message.ack`),
/// so both are kept short and always match.
fn short_id(id: &str) -> &str {
    let mut parts = id.splitn(4, '_');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("true" | "false"), Some(chat), Some(short))
            if chat.contains('@') && !short.is_empty() =>
        {
            short
        }
        _ => id,
    }
}

/// The id of a message object as WAHA gives it.
fn full_message_id(message: &Map<String, Value>) -> Option<String> {
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    match message.get("id") {
        Some(Value::Object(id)) => text(id.get("_serialized")),
        other => text(other),
    }
    .or_else(|| text(message.get("key").and_then(|k| k.get("id"))))
}

/// WAHA's explanation: `message` (a string, or NestJS's list of
/// validation messages), else `error`, else the body, else the HTTP reason;
/// truncated.
fn provider_message(status: StatusCode, json: Option<&Value>, body: &[u8]) -> String {
    let said = |value: &Value| match value {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::trim)
                .collect::<Vec<_>>()
                .join("; "),
        ),
        _ => None,
    };
    let text = match json {
        Some(json) => ["message", "error"]
            .iter()
            .filter_map(|field| json.get(*field).and_then(said))
            .find(|s| !s.is_empty())
            .unwrap_or_default(),
        None => String::from_utf8_lossy(body).trim().to_string(),
    };
    if !text.is_empty() {
        return truncate(&text);
    }
    match status.canonical_reason() {
        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}
