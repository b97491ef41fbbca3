//! Turning a Graph API reply into [`Sent`] or a [`SendError`].
//!
//! Meta answers errors as `{"error":{"message","type","code",
//! "error_subcode","error_data":{"details"},"fbtrace_id"}}`, and its
//! numeric `code` says more than the HTTP status: a rate limit may come as
//! a 400, an expired token as a 400 or a 401. The code decides first, then
//! the status.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::whatsapp::http::{retry_after_seconds, truncate};
use crate::whatsapp::{SendError, Sent};

/// "Re-engagement message": more than 24 hours since the customer wrote.
pub(super) use crate::whatsapp::template::RE_ENGAGEMENT;
/// Too many messages to the same customer in a short time.
const PAIR_RATE_LIMIT: i64 = 131056;

/// The wait for a rate limit that says nothing about when to come back.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Per-recipient limits clear quickly; others may go on sending.
const PAIR_RETRY_AFTER: Duration = Duration::from_secs(10);
const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

/// A send that failed, with Meta's error code when it gave one, so the
/// window logic can recognise 131047.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Failure {
    pub error: SendError,
    pub code: Option<i64>,
}

impl From<SendError> for Failure {
    fn from(error: SendError) -> Self {
        Failure { error, code: None }
    }
}

/// Meta's error object, as far as we read it.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct MetaError {
    pub code: Option<i64>,
    pub message: Option<String>,
    pub details: Option<String>,
}

impl MetaError {
    pub fn from_json(json: &Value) -> Option<MetaError> {
        let error = json.get("error")?.as_object()?;
        let text = |value: Option<&Value>| {
            value
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
        };
        Some(MetaError {
            code: error.get("code").and_then(integer),
            message: text(error.get("message")),
            details: text(error.get("error_data").and_then(|d| d.get("details"))),
        })
    }

    /// `(#131047) Re-engagement message: <details>`, in Meta's own words.
    /// Meta often puts the `(#code)` in the message already; it is not
    /// repeated, nor are details that say the same as the message.
    pub fn describe(&self) -> String {
        let mut text = String::new();
        if let Some(code) = self.code {
            let tag = format!("(#{code})");
            if !self.message.as_deref().is_some_and(|m| m.starts_with(&tag)) {
                text.push_str(&tag);
            }
        }
        if let Some(message) = &self.message {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(message);
        }
        if let Some(details) = self.details.as_deref()
            && self.message.as_deref() != Some(details)
        {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(details);
        }
        text
    }
}

/// A code given as a number or a numeric string.
fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The outcome of one Graph API request.
///
/// - 2xx: sent, with `messages[0].id` when the body says it; a 2xx whose body
///   cannot be read is still sent (never retry what WhatsApp may have).
/// - 429, or codes 130429, 131056, 80007, 4, 613: `RateLimited`, waiting
///   `Retry-After`, else 10 s for 131056 (one recipient), else 60 s.
/// - 401, or codes 190 (token), 0, 10, 200–299 (permissions): `Unauthorized`.
/// - 5xx, 408, or codes 1, 2, 131000, 131016: `Transient`.
/// - Anything else: `Rejected` with Meta's message.
pub(super) fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Sent, Failure> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    if status.is_success() {
        let provider_id = json
            .as_ref()
            .and_then(|j| j.get("messages")?.get(0)?.get("id")?.as_str())
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_string);
        if provider_id.is_none() {
            tracing::warn!(
                status = status.as_u16(),
                "the Cloud API accepted the message without saying its id"
            );
        }
        return Ok(Sent {
            provider_id,
            template: None,
        });
    }
    let meta = json.as_ref().and_then(MetaError::from_json);
    let code = meta.as_ref().and_then(|m| m.code);
    let message = truncate(&message(status, meta.as_ref(), body));
    let http = status.as_u16();
    let error = match (code, http) {
        (Some(130429 | PAIR_RATE_LIMIT | 80007 | 4 | 613), _) | (_, 429) => {
            let fallback = if code == Some(PAIR_RATE_LIMIT) {
                PAIR_RETRY_AFTER
            } else {
                DEFAULT_RETRY_AFTER
            };
            let retry_after = retry_after_seconds(headers)
                .map(Duration::from_secs)
                .map_or(fallback, |d| d.clamp(MIN_RETRY_AFTER, MAX_RETRY_AFTER));
            SendError::RateLimited {
                retry_after,
                message,
            }
        }
        (Some(0 | 10 | 190 | 200..=299), _) | (_, 401) => SendError::Unauthorized { message },
        (Some(1 | 2 | 131000 | 131016), _) | (_, 408 | 500..=599) => {
            SendError::Transient { message }
        }
        _ => SendError::Rejected {
            status: http,
            message,
        },
    };
    Err(Failure { error, code })
}

/// Meta's words, else the raw body, else the HTTP reason.
fn message(status: StatusCode, meta: Option<&MetaError>, body: &[u8]) -> String {
    let text = match meta {
        Some(meta) => meta.describe(),
        None => String::from_utf8_lossy(body).trim().to_string(),
    };
    if !text.is_empty() {
        return text;
    }
    match status.canonical_reason() {
        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}
