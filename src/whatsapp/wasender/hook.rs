//! `POST /webhooks/wasender`: the `X-Webhook-Signature` header carries the
//! session's webhook secret itself (WaSender does not sign the body).

use reqwest::header::HeaderMap;
use secrecy::SecretString;

use crate::whatsapp::hook::{WebhookAuthError, WebhookSource, configured, header, secret_equals};
use crate::whatsapp::{ProviderKind, WebhookEvent, WebhookParseError, parse_webhook};

/// WaSender's webhook, checked with `WASENDER_WEBHOOK_SECRET`.
#[derive(Debug)]
pub struct WasenderWebhook {
    secret: Option<SecretString>,
}

impl WasenderWebhook {
    pub fn new(secret: Option<SecretString>) -> Self {
        WasenderWebhook { secret }
    }
}

impl WebhookSource for WasenderWebhook {
    fn provider(&self) -> ProviderKind {
        ProviderKind::Wasender
    }

    fn verify(&self, headers: &HeaderMap, _body: &[u8]) -> Result<(), WebhookAuthError> {
        let secret = configured(self.secret.as_ref())?;
        let presented = header(headers, "x-webhook-signature")?;
        if secret_equals(presented.as_bytes(), secret) {
            Ok(())
        } else {
            Err(WebhookAuthError::Invalid)
        }
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<WebhookEvent>, WebhookParseError> {
        parse_webhook(body)
    }
}
