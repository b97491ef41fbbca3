//! Payment links and the providers behind them (issue 16): pure parts
//! (`token`, `signature`, `decide`, each provider's request and answer
//! shapes) and [`Payments`], the one HTTP client that creates checkouts and
//! reads Mercado Pago payments. Settling a payment (renewal, confirmation,
//! notices) is `chat::payment`'s business.

pub mod decide;
pub mod links;
pub mod mercadopago;
pub mod signature;
pub mod stripe;
pub mod token;

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use secrecy::{ExposeSecret, SecretString};

use crate::config::{PaymentProvider, PaymentsConfig};

pub use decide::{Decision, PaymentFacts, PaymentStatus};
pub use signature::SignatureError;

/// How long a provider call may take before the customer is told to try
/// again in a few minutes.
pub const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum PayError {
    /// No provider set (`AVISA_PAYMENTS=off`) or its secret missing.
    #[error("payments are off")]
    Off,
    /// Network failure, timeout or a 5xx: try again later.
    #[error("provider unreachable: {0}")]
    Unreachable(String),
    /// The provider refused the request (4xx).
    #[error("provider refused ({status}): {body}")]
    Refused { status: u16, body: String },
    #[error("unexpected provider answer: {0}")]
    Malformed(String),
}

/// What a checkout is for: a link's token and the subscription's price now.
#[derive(Debug, Clone)]
pub struct CheckoutRequest<'a> {
    pub token: &'a str,
    /// The service's name, shown on the provider's page.
    pub title: &'a str,
    pub price_cents: i64,
    pub currency: &'a str,
    /// `AVISA_PUBLIC_URL` without its trailing slash.
    pub public_base: &'a str,
    pub end_date: NaiveDate,
}

impl CheckoutRequest<'_> {
    pub fn link_url(&self) -> String {
        format!("{}/pagar/{}", self.public_base, self.token)
    }

    pub fn thanks_url(&self) -> String {
        format!("{}/gracias", self.link_url())
    }
}

/// The HTTP side of payments.
#[derive(Debug, Clone)]
pub struct Payments {
    config: PaymentsConfig,
    http: reqwest::Client,
}

impl Payments {
    pub fn new(config: &PaymentsConfig) -> Payments {
        let http = reqwest::Client::builder()
            .timeout(PROVIDER_TIMEOUT)
            .connect_timeout(PROVIDER_TIMEOUT)
            .build()
            // Only fails when the TLS backend cannot start; the default
            // client then fails the same way on its first request.
            .unwrap_or_default();
        Payments {
            config: config.clone(),
            http,
        }
    }

    pub fn provider(&self) -> Option<PaymentProvider> {
        self.config.provider
    }

    /// The webhook secret of `provider`, when it is the one set.
    pub fn webhook_secret(&self, provider: PaymentProvider) -> Option<&SecretString> {
        if self.config.provider != Some(provider) {
            return None;
        }
        match provider {
            PaymentProvider::MercadoPago => self.config.mercadopago_webhook_secret.as_ref(),
            PaymentProvider::Stripe => self.config.stripe_webhook_secret.as_ref(),
        }
    }

    /// Creates the provider's checkout for `request`; its address.
    pub async fn checkout(
        &self,
        request: &CheckoutRequest<'_>,
        now: DateTime<Utc>,
    ) -> Result<String, PayError> {
        match self.config.provider {
            None => Err(PayError::Off),
            Some(PaymentProvider::MercadoPago) => {
                let token = self
                    .config
                    .mercadopago_access_token
                    .as_ref()
                    .ok_or(PayError::Off)?;
                let url = endpoint(&self.config.mercadopago_base_url, "checkout/preferences");
                let call = self
                    .http
                    .post(url)
                    .bearer_auth(token.expose_secret())
                    .header(
                        "X-Idempotency-Key",
                        format!("avisa-{}-{}", request.token, now.timestamp() / 3600),
                    )
                    .json(&mercadopago::preference_body(request, now));
                mercadopago::checkout_url(&answer(call).await?)
            }
            Some(PaymentProvider::Stripe) => {
                let key = self
                    .config
                    .stripe_secret_key
                    .as_ref()
                    .ok_or(PayError::Off)?;
                let url = endpoint(&self.config.stripe_base_url, "v1/checkout/sessions");
                let call = self
                    .http
                    .post(url)
                    .bearer_auth(key.expose_secret())
                    .header("Idempotency-Key", stripe::idempotency_key(request, now))
                    .form(&stripe::session_form(request, now));
                stripe::checkout_url(&answer(call).await?)
            }
        }
    }

    /// `GET /v1/payments/{id}`: the payment as Mercado Pago says it is.
    pub async fn mercadopago_payment(&self, id: &str) -> Result<PaymentFacts, PayError> {
        let token = self
            .config
            .mercadopago_access_token
            .as_ref()
            .ok_or(PayError::Off)?;
        let id: String = url_segment(id);
        let url = endpoint(
            &self.config.mercadopago_base_url,
            &format!("v1/payments/{id}"),
        );
        let call = self.http.get(url).bearer_auth(token.expose_secret());
        mercadopago::parse_payment(&answer(call).await?)
    }
}

/// `base` + `path`, whatever `base`'s trailing slash.
fn endpoint(base: &reqwest::Url, path: &str) -> String {
    format!("{}/{path}", base.as_str().trim_end_matches('/'))
}

/// A path segment from outside (a notification's id), percent-encoded.
fn url_segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Sends `call`; a 2xx JSON body, or the error classified.
async fn answer(call: reqwest::RequestBuilder) -> Result<serde_json::Value, PayError> {
    let response = call
        .send()
        .await
        .map_err(|e| PayError::Unreachable(e.without_url().to_string()))?;
    let status = response.status();
    if status.is_server_error() || status.as_u16() == 429 {
        return Err(PayError::Unreachable(format!("HTTP {status}")));
    }
    let body = response
        .text()
        .await
        .map_err(|e| PayError::Unreachable(e.without_url().to_string()))?;
    if !status.is_success() {
        let body: String = body.chars().take(300).collect();
        return Err(PayError::Refused {
            status: status.as_u16(),
            body,
        });
    }
    serde_json::from_str(&body).map_err(|e| PayError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_segments() {
        let base = reqwest::Url::parse("https://api.mercadopago.com").unwrap();
        assert_eq!(
            endpoint(&base, "v1/payments/1"),
            "https://api.mercadopago.com/v1/payments/1"
        );
        assert_eq!(url_segment("12/../x"), "12%2F%2E%2E%2Fx");
    }
}
