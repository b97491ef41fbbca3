//! Meta's official WhatsApp Cloud API (Graph API):
//! `POST {base}/{version}/{phone_number_id}/messages` with a Bearer token.
//!
//! Unlike the gateways, the Cloud API only delivers free text to customers
//! who wrote in the last 24 hours; anyone else can only receive an approved
//! template. [`CloudProvider`] therefore overrides [`Provider::send`] to
//! choose between free text and the template configured for the message's
//! kind, and falls back to that template once when Meta answers 131047
//! (the window closed between the check and the send).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::http::{
    Reply, api_client, download_client, endpoint, exchange, is_http_url, log_send, query, redacted,
    truncate,
};
use super::template::{TemplateArgs, TemplateMap, TemplateSpec, in_window};
use super::{
    Attachment, MediaError, Outgoing, Provider, ProviderKind, SendError, Sent, SessionReport,
};
use crate::domain::Phone;

mod body;
mod classify;
mod events;
mod hook;
mod media;
#[cfg(test)]
mod tests;

pub use hook::CloudWebhook;

use classify::{Failure, RE_ENGAGEMENT};

/// How the provider is named in errors and logs.
const PROVIDER: &str = "the WhatsApp Cloud API";

/// What a [`CloudProvider`] is built from (`WHATSAPP_*`).
pub struct CloudSettings {
    /// The Graph API root (`https://graph.facebook.com`).
    pub base_url: Url,
    /// The Graph API version (`v24.0`).
    pub api_version: String,
    /// The sending number's id in Meta's manager (digits).
    pub phone_number_id: String,
    /// A system user's permanent access token.
    pub token: SecretString,
    /// The approved template for each automatic message kind.
    pub templates: TemplateMap,
    /// Bounds every request.
    pub timeout: Duration,
}

/// Why a [`CloudProvider`] could not be built; each names its setting.
#[derive(Debug, thiserror::Error)]
pub enum CloudInitError {
    #[error("WHATSAPP_BASE_URL `{0}` must be an http:// or https:// URL")]
    BadBaseUrl(String),
    #[error("WHATSAPP_API_VERSION `{0}` must look like v24.0")]
    BadApiVersion(String),
    #[error("WHATSAPP_PHONE_NUMBER_ID `{0}` must hold only digits")]
    BadPhoneNumberId(String),
    #[error("WHATSAPP_TOKEN is empty")]
    EmptyToken,
    #[error("WHATSAPP_TOKEN contains characters that cannot be sent in an HTTP header")]
    TokenNotHeaderSafe,
    #[error("the WhatsApp Cloud API request timeout must be greater than zero")]
    ZeroTimeout,
    #[error("could not build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// Sends through the Cloud API with a phone number id and an access token.
pub struct CloudProvider {
    client: reqwest::Client,
    /// Downloads inbound files: follows redirects, allows a longer transfer.
    download: reqwest::Client,
    /// `{base}/{version}/{phone_number_id}/messages`.
    messages_url: Url,
    /// `{base}/{version}/{phone_number_id}?fields=…`: the number's state.
    phone_url: Url,
    /// `{base}/{version}`: media ids are looked up under it.
    version_url: Url,
    token: SecretString,
    templates: TemplateMap,
    timeout: Duration,
}

/// `v` then a major and minor number: `v24.0`.
fn is_api_version(version: &str) -> bool {
    let Some(rest) = version.strip_prefix('v') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    matches!(rest.split_once('.'), Some((major, minor)) if digits(major) && digits(minor))
}

impl CloudProvider {
    pub fn new(settings: CloudSettings) -> Result<Self, CloudInitError> {
        let CloudSettings {
            base_url,
            api_version,
            phone_number_id,
            token,
            templates,
            timeout,
        } = settings;
        if !is_http_url(&base_url) {
            return Err(CloudInitError::BadBaseUrl(redacted(&base_url)));
        }
        let version = api_version.trim();
        if !is_api_version(version) {
            return Err(CloudInitError::BadApiVersion(api_version));
        }
        let number = phone_number_id.trim();
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CloudInitError::BadPhoneNumberId(phone_number_id));
        }
        let secret = token.expose_secret();
        if secret.trim().is_empty() {
            return Err(CloudInitError::EmptyToken);
        }
        if HeaderValue::from_str(&format!("Bearer {secret}")).is_err() {
            return Err(CloudInitError::TokenNotHeaderSafe);
        }
        if timeout.is_zero() {
            return Err(CloudInitError::ZeroTimeout);
        }
        let version_url = endpoint(&base_url, version);
        let messages_url = endpoint(&base_url, &format!("{version}/{number}/messages"));
        let mut phone_url = endpoint(&base_url, &format!("{version}/{number}"));
        phone_url.set_query(Some("fields=display_phone_number,quality_rating"));
        Ok(CloudProvider {
            client: api_client(timeout).map_err(CloudInitError::Client)?,
            download: download_client(timeout).map_err(CloudInitError::Client)?,
            messages_url,
            phone_url,
            version_url,
            token,
            templates,
            timeout,
        })
    }

    /// The approved templates, by kind (shown to staff).
    pub fn templates(&self) -> &TemplateMap {
        &self.templates
    }

    fn auth_header(&self) -> Result<HeaderValue, SendError> {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", self.token.expose_secret()))
            .map_err(|_| SendError::Unauthorized {
                message: "the access token cannot be sent in an HTTP header".into(),
            })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// One `POST …/messages` with `body`, classified; the failure keeps
    /// Meta's error code for the window logic.
    async fn post(&self, to: &Phone, body: &Value) -> Result<Sent, Failure> {
        let request = self
            .client
            .post(self.messages_url.clone())
            .header(AUTHORIZATION, self.auth_header()?)
            .json(body);
        let Reply {
            status,
            headers,
            body,
        } = exchange(PROVIDER, self.timeout, to, request).await?;
        let outcome = classify::classify(status, &headers, &body);
        log_send(PROVIDER, to, status, outcome.as_ref().map_err(|f| &f.error));
        outcome
    }

    /// Free text, or the file with the text as its caption.
    async fn post_free(&self, message: &Outgoing<'_>) -> Result<Sent, Failure> {
        let body = match message.attachment {
            Some(file) => body::media(message.to, message.text, file),
            None => body::text(message.to, message.text),
        };
        self.post(message.to, &body).await
    }

    async fn post_template(
        &self,
        to: &Phone,
        spec: &TemplateSpec,
        args: &TemplateArgs,
    ) -> Result<Sent, SendError> {
        let sent = self
            .post(to, &body::template(to, spec, args))
            .await
            .map_err(|f| f.error)?;
        Ok(Sent {
            template: Some(spec.name.clone()),
            ..sent
        })
    }
}

impl fmt::Debug for CloudProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudProvider")
            .field("messages_url", &redacted(&self.messages_url))
            .field("token", &"[redacted]")
            .field("templates", &self.templates.len())
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[async_trait]
impl Provider for CloudProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Cloud
    }

    fn uses_window(&self) -> bool {
        true
    }

    /// Inside the window: free text (or the file), then the template once
    /// if Meta says the window closed meanwhile (131047). Outside it: the
    /// template when one is configured for the message's kind; otherwise
    /// free text anyway (Meta decides), with a clear refusal on 131047.
    async fn send(&self, message: &Outgoing<'_>) -> Result<Sent, SendError> {
        let template = message
            .template
            .and_then(|args| Some((self.templates.get(&args.kind)?, args)));
        if in_window(message.last_inbound, message.now) {
            return match self.post_free(message).await {
                Err(failure) if failure.code == Some(RE_ENGAGEMENT) => match template {
                    Some((spec, args)) => {
                        tracing::info!(
                            to = %message.to,
                            template = %spec.name,
                            "the 24-hour window closed meanwhile: sending the template"
                        );
                        self.post_template(message.to, spec, args).await
                    }
                    None => Err(failure.error),
                },
                other => other.map_err(|f| f.error),
            };
        }
        if let Some((spec, args)) = template {
            return self.post_template(message.to, spec, args).await;
        }
        match self.post_free(message).await {
            Err(failure) if failure.code == Some(RE_ENGAGEMENT) => {
                let SendError::Rejected {
                    status,
                    message: said,
                } = &failure.error
                else {
                    return Err(failure.error);
                };
                let why = match message.template {
                    Some(args) => format!(
                        "outside WhatsApp's 24-hour window and no approved template is configured for {}",
                        args.kind.code()
                    ),
                    None => "outside WhatsApp's 24-hour window".to_string(),
                };
                Err(SendError::Rejected {
                    status: *status,
                    message: truncate(&format!("{why}: {said}")),
                })
            }
            other => other.map_err(|f| f.error),
        }
    }

    async fn send_text(&self, to: &Phone, text: &str) -> Result<Sent, SendError> {
        self.post(to, &body::text(to, text))
            .await
            .map_err(|f| f.error)
    }

    async fn send_media(
        &self,
        to: &Phone,
        text: &str,
        attachment: &Attachment,
    ) -> Result<Sent, SendError> {
        self.post(to, &body::media(to, text, attachment))
            .await
            .map_err(|f| f.error)
    }

    async fn fetch_media(&self, source: &str, limit: usize) -> Result<Vec<u8>, MediaError> {
        let url = self.media_url(source, limit).await?;
        self.download(&url, limit).await
    }

    /// `GET …/{phone_number_id}?fields=display_phone_number,quality_rating`:
    /// a 200 means the token and the number work.
    async fn session_state(&self) -> Result<SessionReport, SendError> {
        let request = self
            .client
            .get(self.phone_url.clone())
            .header(AUTHORIZATION, self.auth_header()?);
        let Reply {
            status,
            headers,
            body,
        } = query(PROVIDER, self.timeout, request).await?;
        if !status.is_success() {
            return Err(match classify::classify(status, &headers, &body) {
                Err(failure) => failure.error,
                // Only a 2xx classifies as sent, and this is not one.
                Ok(_) => SendError::Rejected {
                    status: status.as_u16(),
                    message: format!("HTTP {}", status.as_u16()),
                },
            });
        }
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let raw = json
            .get("quality_rating")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map_or_else(|| "ok".to_string(), |q| format!("quality_rating {q}"));
        Ok(SessionReport {
            connected: true,
            raw: truncate(&raw),
        })
    }
}
