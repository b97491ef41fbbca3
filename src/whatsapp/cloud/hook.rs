//! `/webhooks/cloud`: Meta signs each delivery's raw body with the app
//! secret (`X-Hub-Signature-256: sha256=<hex>`), and checks the URL once
//! with a `GET` carrying the verify token and a challenge to echo.

use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};

use super::events;
use crate::whatsapp::hook::{
    WebhookAuthError, WebhookSource, configured, header, hmac_sha256_matches, secret_equals,
};
use crate::whatsapp::{ProviderKind, WebhookEvent, WebhookParseError};

const SIGNATURE_HEADER: &str = "x-hub-signature-256";
/// Longest challenge echoed back (Meta's are short numbers).
const MAX_CHALLENGE_LEN: usize = 256;

/// The Cloud API's webhook, checked with `WHATSAPP_APP_SECRET`; its
/// subscription check uses `WHATSAPP_VERIFY_TOKEN`.
pub struct CloudWebhook {
    app_secret: Option<SecretString>,
    verify_token: Option<SecretString>,
    /// `WHATSAPP_PHONE_NUMBER_ID`: changes about the account's other
    /// numbers (one app webhook for all) are not ours.
    phone_number_id: Option<String>,
}

impl std::fmt::Debug for CloudWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |s: &Option<SecretString>| {
            if s.as_ref().is_some_and(|s| !s.expose_secret().is_empty()) {
                "[set]"
            } else {
                "[unset]"
            }
        };
        f.debug_struct("CloudWebhook")
            .field("app_secret", &set(&self.app_secret))
            .field("verify_token", &set(&self.verify_token))
            .field("phone_number_id", &self.phone_number_id)
            .finish()
    }
}

/// A trimmed, non-empty query value.
fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

impl CloudWebhook {
    pub fn new(app_secret: Option<SecretString>, verify_token: Option<SecretString>) -> Self {
        CloudWebhook {
            app_secret,
            verify_token,
            phone_number_id: None,
        }
    }

    /// Only changes about `phone_number_id` (when set) are taken; others
    /// are ignored.
    pub fn for_number(mut self, phone_number_id: Option<String>) -> Self {
        self.phone_number_id = phone_number_id
            .map(|id| id.trim().to_string())
            .filter(|id| !id.is_empty());
        self
    }

    /// Meta's subscription check (`GET ?hub.mode=subscribe&hub.verify_token=…
    /// &hub.challenge=…`): the challenge to answer with, when the mode is
    /// `subscribe` and the token matches (constant time).
    pub fn verify_subscription(
        &self,
        mode: Option<&str>,
        token: Option<&str>,
        challenge: Option<&str>,
    ) -> Result<String, WebhookAuthError> {
        let expected = configured(self.verify_token.as_ref())?;
        let mode = present(mode).ok_or(WebhookAuthError::Missing)?;
        let token = present(token).ok_or(WebhookAuthError::Missing)?;
        let matches = secret_equals(token.as_bytes(), expected);
        if mode != "subscribe" || !matches {
            return Err(WebhookAuthError::Invalid);
        }
        let challenge = present(challenge).ok_or(WebhookAuthError::Missing)?;
        // It is echoed into a response: only plain tokens.
        let plain = challenge.len() <= MAX_CHALLENGE_LEN
            && challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        if !plain {
            return Err(WebhookAuthError::Invalid);
        }
        Ok(challenge.to_string())
    }
}

impl WebhookSource for CloudWebhook {
    fn provider(&self) -> ProviderKind {
        ProviderKind::Cloud
    }

    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), WebhookAuthError> {
        let secret = configured(self.app_secret.as_ref())?;
        let presented = header(headers, SIGNATURE_HEADER)?;
        let hex = presented
            .strip_prefix("sha256=")
            .ok_or(WebhookAuthError::Invalid)?;
        if hmac_sha256_matches(secret, body, hex) {
            Ok(())
        } else {
            Err(WebhookAuthError::Invalid)
        }
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<WebhookEvent>, WebhookParseError> {
        events::parse(body, self.phone_number_id.as_deref())
    }
}
