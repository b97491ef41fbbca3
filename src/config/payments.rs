//! The payment provider settings (`AVISA_PAYMENTS` and each provider's
//! credentials), validated together: a provider needs its secrets and
//! `AVISA_PUBLIC_URL` (its links and webhooks live there).

use secrecy::SecretString;

use super::settings::{
    AVISA_PAYMENTS, MERCADOPAGO_ACCESS_TOKEN, MERCADOPAGO_BASE_URL, MERCADOPAGO_WEBHOOK_SECRET,
    STRIPE_BASE_URL, STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, Setting,
};
use super::{ConfigError, Vars};

/// Which provider takes payments by link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentProvider {
    MercadoPago,
    Stripe,
}

impl PaymentProvider {
    /// The code stored with payments and used in `by = pago:<code>:<id>`.
    pub fn code(self) -> &'static str {
        match self {
            PaymentProvider::MercadoPago => "mercadopago",
            PaymentProvider::Stripe => "stripe",
        }
    }

    pub fn parse(code: &str) -> Option<PaymentProvider> {
        match code {
            "mercadopago" => Some(PaymentProvider::MercadoPago),
            "stripe" => Some(PaymentProvider::Stripe),
            _ => None,
        }
    }
}

/// The payments settings in force.
#[derive(Debug, Clone)]
pub struct PaymentsConfig {
    /// `None`: `AVISA_PAYMENTS=off`, messages carry no link.
    pub provider: Option<PaymentProvider>,
    pub mercadopago_access_token: Option<SecretString>,
    pub mercadopago_webhook_secret: Option<SecretString>,
    pub mercadopago_base_url: reqwest::Url,
    pub stripe_secret_key: Option<SecretString>,
    pub stripe_webhook_secret: Option<SecretString>,
    pub stripe_base_url: reqwest::Url,
}

impl PaymentsConfig {
    pub(super) fn from_vars(vars: &Vars<'_>, has_public_url: bool) -> Result<Self, ConfigError> {
        let provider = vars.parse(&AVISA_PAYMENTS, |v| match v.to_ascii_lowercase().as_str() {
            "off" => Ok(None),
            "mercadopago" => Ok(Some(PaymentProvider::MercadoPago)),
            "stripe" => Ok(Some(PaymentProvider::Stripe)),
            _ => Err("expected mercadopago, stripe or off".into()),
        })?;
        let secret = |s: &Setting| vars.get(s.name).map(|v| SecretString::from(v.to_string()));
        let base_url = |s: &Setting| {
            vars.parse(s, |v| {
                reqwest::Url::parse(v)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                    .ok_or_else(|| "expected an http(s) URL with a host".to_string())
            })
        };
        let config = PaymentsConfig {
            provider,
            mercadopago_access_token: secret(&MERCADOPAGO_ACCESS_TOKEN),
            mercadopago_webhook_secret: secret(&MERCADOPAGO_WEBHOOK_SECRET),
            mercadopago_base_url: base_url(&MERCADOPAGO_BASE_URL)?,
            stripe_secret_key: secret(&STRIPE_SECRET_KEY),
            stripe_webhook_secret: secret(&STRIPE_WEBHOOK_SECRET),
            stripe_base_url: base_url(&STRIPE_BASE_URL)?,
        };
        let needed: &[&Setting] = match provider {
            None => &[],
            Some(PaymentProvider::MercadoPago) => {
                &[&MERCADOPAGO_ACCESS_TOKEN, &MERCADOPAGO_WEBHOOK_SECRET]
            }
            Some(PaymentProvider::Stripe) => &[&STRIPE_SECRET_KEY, &STRIPE_WEBHOOK_SECRET],
        };
        let value = vars.get(AVISA_PAYMENTS.name).unwrap_or_default();
        vars.require(AVISA_PAYMENTS.name, value, needed)?;
        if provider.is_some() && !has_public_url {
            return Err(ConfigError::Invalid {
                var: AVISA_PAYMENTS.name,
                value: value.to_string(),
                reason: "AVISA_PUBLIC_URL is not set: payment links and webhooks live there".into(),
            });
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::Config;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_vars(&vars)
    }

    const PUBLIC: (&str, &str) = ("AVISA_PUBLIC_URL", "https://avisa.example.com");

    #[test]
    fn off_by_default_with_the_public_base_urls() {
        let c = config(&[]).unwrap();
        assert_eq!(c.payments.provider, None);
        assert_eq!(
            c.payments.mercadopago_base_url.as_str(),
            "https://api.mercadopago.com/"
        );
        assert_eq!(
            c.payments.stripe_base_url.as_str(),
            "https://api.stripe.com/"
        );
    }

    #[test]
    fn a_provider_needs_its_secrets_and_the_public_url() {
        let line = config(&[("AVISA_PAYMENTS", "mercadopago"), PUBLIC])
            .unwrap_err()
            .to_string();
        assert!(line.contains("MERCADOPAGO_ACCESS_TOKEN"), "{line}");
        let line = config(&[
            ("AVISA_PAYMENTS", "stripe"),
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            PUBLIC,
        ])
        .unwrap_err()
        .to_string();
        assert!(line.contains("STRIPE_WEBHOOK_SECRET"), "{line}");
        let line = config(&[
            ("AVISA_PAYMENTS", "stripe"),
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
        ])
        .unwrap_err()
        .to_string();
        assert!(line.contains("AVISA_PUBLIC_URL"), "{line}");
        let c = config(&[
            ("AVISA_PAYMENTS", "mercadopago"),
            ("MERCADOPAGO_ACCESS_TOKEN", "APP_USR-secret-token"),
            ("MERCADOPAGO_WEBHOOK_SECRET", "mp-webhook-secret"),
            PUBLIC,
        ])
        .unwrap();
        assert_eq!(c.payments.provider, Some(PaymentProvider::MercadoPago));
        let debug = format!("{c:?}");
        assert!(!debug.contains("APP_USR-secret-token") && !debug.contains("mp-webhook-secret"));
        let line = config(&[("AVISA_PAYMENTS", "paypal")])
            .unwrap_err()
            .to_string();
        assert!(line.starts_with("AVISA_PAYMENTS=\"paypal\""), "{line}");
    }
}
