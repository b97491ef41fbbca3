//! The WaSender HTTP client (`POST {base}/send-message`).
//!
//! One call is one request with the constructor's timeout. The reply is
//! classified into [`Sent`] or a [`SendError`]; see `classify` for the rules.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::http::{
    Reply, api_client, download_client, endpoint, exchange, log_send, query, redacted, truncate,
    unix_now,
};
use super::{Attachment, MediaError, Provider, ProviderKind, SendError, Sent, SessionReport};
use crate::domain::Phone;

mod hook;
mod media;
#[cfg(test)]
mod tests;

pub use hook::WasenderWebhook;

/// WaSender's public API root.
pub const DEFAULT_BASE_URL: &str = "https://www.wasenderapi.com/api";

/// Wait used for a 429 that says nothing about when to come back.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Bounds applied to whatever wait the provider asks for.
const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);
/// Values of `X-RateLimit-Reset` at least this large are Unix timestamps.
const TIMESTAMP_THRESHOLD: u64 = 1_000_000_000;

/// Why a [`WasenderProvider`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum WasenderInitError {
    #[error("WASENDER_BASE_URL `{0}` must be an http:// or https:// URL")]
    BadBaseUrl(String),
    #[error("WASENDER_API_KEY is empty")]
    EmptyKey,
    #[error("WASENDER_API_KEY contains characters that cannot be sent in an HTTP header")]
    KeyNotHeaderSafe,
    #[error("the WaSender request timeout must be greater than zero")]
    ZeroTimeout,
    #[error("could not build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// Sends text messages through WaSender with a session API key.
pub struct WasenderProvider {
    client: reqwest::Client,
    send_url: Url,
    /// `{base}/decrypt-media`: an inbound file's one-hour download link.
    decrypt_url: Url,
    /// `{base}/status`: the session's state.
    status_url: Url,
    /// Downloads files: follows redirects, allows a longer transfer.
    download: reqwest::Client,
    api_key: SecretString,
    timeout: Duration,
}

impl WasenderProvider {
    /// `base_url` is the API root (`https://www.wasenderapi.com/api`, with or
    /// without a trailing slash); `timeout` bounds every request.
    pub fn new(
        base_url: Url,
        api_key: SecretString,
        timeout: Duration,
    ) -> Result<Self, WasenderInitError> {
        if !matches!(base_url.scheme(), "http" | "https") || base_url.host().is_none() {
            return Err(WasenderInitError::BadBaseUrl(redacted(&base_url)));
        }
        let key = api_key.expose_secret();
        if key.trim().is_empty() {
            return Err(WasenderInitError::EmptyKey);
        }
        if HeaderValue::from_str(&format!("Bearer {key}")).is_err() {
            return Err(WasenderInitError::KeyNotHeaderSafe);
        }
        if timeout.is_zero() {
            return Err(WasenderInitError::ZeroTimeout);
        }
        let send_url = endpoint(&base_url, "send-message");
        let decrypt_url = endpoint(&base_url, "decrypt-media");
        let status_url = endpoint(&base_url, "status");
        let client = api_client(timeout).map_err(WasenderInitError::Client)?;
        let download = download_client(timeout).map_err(WasenderInitError::Client)?;
        Ok(WasenderProvider {
            client,
            send_url,
            decrypt_url,
            status_url,
            download,
            api_key,
            timeout,
        })
    }

    fn auth_header(&self) -> Result<HeaderValue, SendError> {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", self.api_key.expose_secret()))
            .map_err(|_| SendError::Unauthorized {
                message: "the API key cannot be sent in an HTTP header".into(),
            })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

impl fmt::Debug for WasenderProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WasenderProvider")
            .field("send_url", &redacted(&self.send_url))
            .field("api_key", &"[redacted]")
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[async_trait]
impl Provider for WasenderProvider {
    async fn send_text(&self, to: &Phone, text: &str) -> Result<Sent, SendError> {
        let body = serde_json::json!({ "to": to.as_str(), "text": text });
        self.send(to, &body).await
    }

    async fn send_media(
        &self,
        to: &Phone,
        text: &str,
        attachment: &Attachment,
    ) -> Result<Sent, SendError> {
        self.send(to, &media::send_body(to, text, attachment)).await
    }

    async fn fetch_media(&self, source: &str, limit: usize) -> Result<Vec<u8>, MediaError> {
        let url = self.decrypt(source).await?;
        self.download(&url, limit).await
    }

    fn kind(&self) -> ProviderKind {
        ProviderKind::Wasender
    }

    /// `GET /status` → `{"status":"connected"}` (or `need_scan`,
    /// `disconnected`, `logged_out`…).
    async fn session_state(&self) -> Result<SessionReport, SendError> {
        let request = self
            .client
            .get(self.status_url.clone())
            .header(AUTHORIZATION, self.auth_header()?);
        let Reply {
            status,
            headers,
            body,
        } = query("WaSender", self.timeout, request).await?;
        if !status.is_success() {
            // The same classes as a send: 401 is the key, 429 waits…
            return Err(classify(status, &headers, &body, unix_now())
                .err()
                .unwrap_or(SendError::Rejected {
                    status: status.as_u16(),
                    message: provider_message(status, None, &body),
                }));
        }
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        // An answer without a status says nothing: never "down" by default.
        let raw = json
            .get("status")
            .or_else(|| json.get("data").and_then(|d| d.get("status")))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| SendError::Rejected {
                status: status.as_u16(),
                message: "GET /status answered without a status".into(),
            })?
            .to_string();
        Ok(SessionReport {
            connected: raw.eq_ignore_ascii_case("connected"),
            raw,
        })
    }
}

impl WasenderProvider {
    /// One `POST /send-message` with `body`, classified.
    async fn send(&self, to: &Phone, body: &Value) -> Result<Sent, SendError> {
        let request = self
            .client
            .post(self.send_url.clone())
            .header(AUTHORIZATION, self.auth_header()?)
            .json(body);
        let Reply {
            status,
            headers,
            body,
        } = exchange("WaSender", self.timeout, to, request).await?;
        let outcome = classify(status, &headers, &body, unix_now());
        log_send("WaSender", to, status, outcome.as_ref());
        outcome
    }
}

/// Turns a WaSender reply into the outcome of the send.
///
/// - 2xx: sent, with `data.msgId` (number or string) when present. A 2xx whose
///   body says `"success": false` is `Rejected`; a 2xx whose body cannot be
///   read is still `Sent` (without an id), because retrying would risk
///   sending the message twice.
/// - 429: `RateLimited`, waiting the body's `retry_after`, else `Retry-After`,
///   else `X-RateLimit-Reset` (delay or Unix timestamp), else 60 s; clamped
///   to 1 s ..= 1 h.
/// - 401/403: `Unauthorized`. 408 and 5xx: `Transient`. Anything else
///   (other 4xx, redirects): `Rejected` with the provider's message.
fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now_unix: u64,
) -> Result<Sent, SendError> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    if status.is_success() {
        let Some(json) = json else {
            tracing::warn!(
                status = status.as_u16(),
                "WaSender accepted the message with an unreadable reply"
            );
            return Ok(Sent::default());
        };
        if json.get("success").and_then(Value::as_bool) == Some(false) {
            return Err(SendError::Rejected {
                status: status.as_u16(),
                message: provider_message(status, Some(&json), body),
            });
        }
        let provider_id = json
            .get("data")
            .and_then(|data| data.get("msgId").or_else(|| data.get("id")))
            .and_then(id_string);
        return Ok(Sent {
            provider_id,
            template: None,
        });
    }
    let message = provider_message(status, json.as_ref(), body);
    match status.as_u16() {
        429 => Err(SendError::RateLimited {
            retry_after: retry_after(json.as_ref(), headers, now_unix),
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

/// A message id given as a number or a non-empty string.
fn id_string(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    }
}

/// The provider's explanation: `message` plus any per-field `errors`, or the
/// raw body, or the HTTP reason; at most [`MAX_MESSAGE_CHARS`] characters.
fn provider_message(status: StatusCode, json: Option<&Value>, body: &[u8]) -> String {
    let mut text = String::new();
    if let Some(json) = json {
        if let Some(message) = json
            .get("message")
            .or_else(|| json.get("error"))
            .and_then(Value::as_str)
        {
            text.push_str(message.trim());
        }
        if let Some(errors) = json.get("errors").and_then(Value::as_object) {
            let details: Vec<String> = errors
                .iter()
                .map(|(field, problems)| {
                    let problems = match problems {
                        Value::Array(items) => items
                            .iter()
                            .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_string))
                            .collect::<Vec<_>>()
                            .join(", "),
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    format!("{field}: {problems}")
                })
                .collect();
            if !details.is_empty() {
                if !text.is_empty() {
                    text.push_str(" — ");
                }
                text.push_str(&details.join("; "));
            }
        }
    } else {
        text = String::from_utf8_lossy(body).trim().to_string();
    }
    if text.is_empty() {
        text = match status.canonical_reason() {
            Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
            None => format!("HTTP {}", status.as_u16()),
        };
    }
    truncate(&text)
}

/// How long a 429 asks us to wait (see [`classify`]).
fn retry_after(json: Option<&Value>, headers: &HeaderMap, now_unix: u64) -> Duration {
    let from_body = json
        .and_then(|j| j.get("retry_after"))
        .and_then(seconds_value);
    let header = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map(|v| v.ceil() as u64)
    };
    let from_retry_header = header(RETRY_AFTER.as_str());
    let from_reset = header("x-ratelimit-reset").map(|reset| {
        if reset >= TIMESTAMP_THRESHOLD {
            reset.saturating_sub(now_unix)
        } else {
            reset
        }
    });
    from_body
        .or(from_retry_header)
        .or(from_reset)
        .map(Duration::from_secs)
        .map_or(DEFAULT_RETRY_AFTER, |d| {
            d.clamp(MIN_RETRY_AFTER, MAX_RETRY_AFTER)
        })
}

/// Whole seconds (rounded up) from a JSON number or numeric string.
fn seconds_value(value: &Value) -> Option<u64> {
    let seconds = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (seconds.is_finite() && seconds >= 0.0).then(|| seconds.ceil().min(u64::MAX as f64) as u64)
}
