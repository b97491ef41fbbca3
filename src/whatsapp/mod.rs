//! Sending WhatsApp messages and reading the providers' webhooks.
//!
//! [`Provider`] is the only way messages leave the process, and
//! [`WebhookSource`] the only way events come in; WaSender, the Cloud API,
//! WAHA and the console each implement them, and everything above sees
//! the same [`Sent`], [`SendError`] and [`WebhookEvent`]. One call is one
//! HTTP request (the Cloud API's template fallback on error 131047 is the
//! one exception: a second request, once): pacing and retries belong to the
//! job layer, which decides with [`SendError::is_retryable`] and
//! [`SendError::retry_after`].

mod cloud;
mod console;
pub mod hook;
pub mod http;
mod kind;
pub mod template;
mod waha;
mod wasender;
pub mod webhook;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::Phone;

pub use cloud::{CloudInitError, CloudProvider, CloudSettings, CloudWebhook};
pub use console::ConsoleProvider;
pub use hook::{WebhookAuthError, WebhookSource, WebhookSources};
pub use kind::ProviderKind;
pub use template::{TemplateArgs, TemplateKind, TemplateMap, TemplateSpec};
pub use waha::{WahaInitError, WahaProvider, WahaWebhook};
pub use wasender::{DEFAULT_BASE_URL, WasenderInitError, WasenderProvider, WasenderWebhook};
pub use webhook::{
    DeliveryStatus, InboundContent, InboundMessage, MediaKind, SenderAddress, WebhookEvent,
    WebhookParseError, parse_webhook,
};

/// One outbox message as the send job hands it over.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub to: &'a Phone,
    pub text: &'a str,
    pub attachment: Option<&'a Attachment>,
    /// The variables an automatic message offers a template (reminders,
    /// renewal confirmation, staff notices); `None` for replies and
    /// manual messages.
    pub template: Option<&'a TemplateArgs>,
    /// When this number last wrote to us: read only for a provider whose
    /// [`Provider::uses_window`] is true.
    pub last_inbound: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

/// What the provider says about the WhatsApp session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionReport {
    /// Messages can go out now.
    pub connected: bool,
    /// The provider's own word for it (`connected`, `WORKING`,
    /// `SCAN_QR_CODE`…), shown to staff.
    pub raw: String,
}

/// Something that delivers messages to WhatsApp numbers.
#[async_trait]
pub trait Provider: Send + Sync + std::fmt::Debug {
    /// Which provider this is (settings, panel, pacing key).
    fn kind(&self) -> ProviderKind;

    /// Sends one outbox message: its file when it has one, else its text.
    /// The Cloud API overrides this to honour the 24-hour window.
    async fn send(&self, message: &Outgoing<'_>) -> Result<Sent, SendError> {
        match message.attachment {
            Some(file) => self.send_media(message.to, message.text, file).await,
            None => self.send_text(message.to, message.text).await,
        }
    }

    /// Sends `text` to `to`. Exactly one attempt; never retries by itself.
    async fn send_text(&self, to: &Phone, text: &str) -> Result<Sent, SendError>;

    /// Sends a file with `text` as its caption; WhatsApp fetches the file
    /// from `attachment.url`. Exactly one attempt. A provider that cannot
    /// attach files sends the text with the link.
    async fn send_media(
        &self,
        to: &Phone,
        text: &str,
        attachment: &Attachment,
    ) -> Result<Sent, SendError> {
        self.send_text(to, &format!("{text}\n{}", attachment.url))
            .await
    }

    /// Fetches the file of an inbound message: `source` is what the
    /// webhook gave for it (the body of WaSender's `decrypt-media`). At
    /// most `limit` bytes are read; a larger file is [`MediaError::TooLarge`].
    async fn fetch_media(&self, source: &str, limit: usize) -> Result<Vec<u8>, MediaError> {
        let _ = (source, limit);
        Err(MediaError::Unsupported)
    }

    /// Asks the provider whether the session can send now. Exactly one
    /// request; the caller bounds how long it waits.
    async fn session_state(&self) -> Result<SessionReport, SendError>;

    /// True when free text only reaches customers who wrote in the last
    /// 24 hours (the Cloud API): the send job then reads
    /// [`Outgoing::last_inbound`] for it.
    fn uses_window(&self) -> bool {
        false
    }

    /// True for the console provider, which prints instead of sending.
    fn is_console(&self) -> bool {
        self.kind() == ProviderKind::Console
    }
}

/// A message the provider accepted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sent {
    /// The provider's id for the message (WaSender's numeric `msgId` as a
    /// string). `None` when the provider accepted the message but its reply
    /// did not say which id it gave it.
    pub provider_id: Option<String>,
    /// The approved template it went as (Cloud API outside the 24-hour
    /// window, or after error 131047); `None` for free text.
    pub template: Option<String>,
}

/// A file sent with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Where WhatsApp fetches it (a signed link that lives an hour).
    pub url: String,
    pub kind: AttachmentKind,
    /// The name a document shows with.
    pub file_name: String,
}

/// How WhatsApp shows a file: as a photo (JPEG, PNG) or as a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentKind {
    Image,
    Document,
}

impl AttachmentKind {
    /// Photos for the image types WhatsApp shows inline; every other file
    /// (PDF, WebP, audio, video…) goes as a document.
    pub fn for_content_type(content_type: &str) -> AttachmentKind {
        match content_type {
            "image/jpeg" | "image/png" => AttachmentKind::Image,
            _ => AttachmentKind::Document,
        }
    }
}

/// Why an inbound file was not fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The console provider has no WhatsApp session to fetch from.
    #[error("this provider cannot fetch files")]
    Unsupported,
    /// Over the limit: not kept.
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// Refused for good: the link expired or is gone (404), the request
    /// was rejected, the key too. Not retried.
    #[error("the file cannot be fetched: {message}")]
    Gone { message: String },
    /// 5xx, timeouts, connections that failed: worth retrying later.
    #[error("temporary failure fetching the file: {message}")]
    Transient { message: String },
}

/// Why a send did not go out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// HTTP 429: wait `retry_after`, then try again.
    #[error("rate limited by the provider, retry after {}s: {message}", retry_after.as_secs())]
    RateLimited {
        retry_after: Duration,
        message: String,
    },
    /// 5xx, 408, or a connection that could not be made (refused, DNS):
    /// the message was not taken, worth retrying with backoff.
    #[error("temporary provider failure: {message}")]
    Transient { message: String },
    /// The request was written but no answer came (timeout, connection
    /// lost mid-request): WhatsApp may have the message. Never retried
    /// automatically, so a customer never gets it twice.
    #[error("outcome unknown: {message}")]
    Unknown { message: String },
    /// 401/403: the API key was rejected. Retrying is pointless; stop sending.
    #[error("the provider rejected the API key: {message}")]
    Unauthorized { message: String },
    /// Any other refusal (4xx, `success:false`, unexpected redirects): the
    /// message failed for good; `message` is what the provider said.
    #[error("the provider rejected the message (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
}

impl SendError {
    /// Whether the same send may succeed later (rate limits and transient
    /// failures). `Unauthorized` and `Rejected` are permanent.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SendError::RateLimited { .. } | SendError::Transient { .. }
        )
    }

    /// How long the provider asked us to wait, for rate limits.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SendError::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The provider's (or transport's) message, for storing with the row.
    pub fn message(&self) -> &str {
        match self {
            SendError::RateLimited { message, .. }
            | SendError::Transient { message }
            | SendError::Unknown { message }
            | SendError::Unauthorized { message }
            | SendError::Rejected { message, .. } => message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rate_limits_and_transient_failures_are_retryable() {
        let limited = SendError::RateLimited {
            retry_after: Duration::from_secs(5),
            message: "slow down".into(),
        };
        assert!(limited.is_retryable());
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(5)));
        assert!(
            SendError::Transient {
                message: "x".into()
            }
            .is_retryable()
        );
        assert!(
            !SendError::Unauthorized {
                message: "x".into()
            }
            .is_retryable()
        );
        assert!(
            !SendError::Unknown {
                message: "timed out".into()
            }
            .is_retryable()
        );
        let rejected = SendError::Rejected {
            status: 422,
            message: "Validation failed".into(),
        };
        assert!(!rejected.is_retryable());
        assert_eq!(rejected.retry_after(), None);
        assert_eq!(rejected.message(), "Validation failed");
        assert_eq!(
            rejected.to_string(),
            "the provider rejected the message (HTTP 422): Validation failed"
        );
    }
}
