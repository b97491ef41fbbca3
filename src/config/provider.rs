//! The WhatsApp provider settings (`AVISA_PROVIDER` and each provider's
//! credentials), validated together: the chosen provider needs all of its
//! own, and a missing one stops start-up with one line naming it.

use secrecy::SecretString;

use super::settings::{
    AVISA_PROVIDER, Setting, WAHA_API_KEY, WAHA_BASE_URL, WAHA_SESSION, WAHA_WEBHOOK_HMAC_KEY,
    WASENDER_API_KEY, WHATSAPP_API_VERSION, WHATSAPP_APP_SECRET, WHATSAPP_BASE_URL,
    WHATSAPP_PHONE_NUMBER_ID, WHATSAPP_TOKEN, WHATSAPP_VERIFY_TOKEN,
};
use super::{ConfigError, Vars};
use crate::whatsapp::{ProviderKind, TemplateKind, TemplateMap, TemplateSpec};

/// The provider settings in force.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub kind: ProviderKind,
    pub cloud_token: Option<SecretString>,
    pub cloud_phone_number_id: Option<String>,
    pub cloud_app_secret: Option<SecretString>,
    pub cloud_verify_token: Option<SecretString>,
    pub cloud_api_version: String,
    pub cloud_base_url: reqwest::Url,
    /// The approved template for each automatic message kind (Cloud API).
    pub cloud_templates: TemplateMap,
    pub waha_base_url: Option<reqwest::Url>,
    pub waha_api_key: Option<SecretString>,
    pub waha_session: String,
    pub waha_webhook_hmac_key: Option<SecretString>,
}

fn http_url(v: &str) -> Result<reqwest::Url, String> {
    reqwest::Url::parse(v)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| "expected an http(s) URL with a host".to_string())
}

impl ProviderConfig {
    pub(super) fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let kind = match vars.get(AVISA_PROVIDER.name) {
            Some(value) => ProviderKind::parse(value).ok_or_else(|| ConfigError::Invalid {
                var: AVISA_PROVIDER.name,
                value: value.to_string(),
                reason: "expected wasender, cloud, waha or console".into(),
            })?,
            None if vars.get(WASENDER_API_KEY.name).is_some() => ProviderKind::Wasender,
            None => ProviderKind::Console,
        };
        let secret = |s: &Setting| vars.get(s.name).map(|v| SecretString::from(v.to_string()));
        let cloud_api_version = vars.parse(&WHATSAPP_API_VERSION, |v| {
            let digits = v.strip_prefix('v').unwrap_or("");
            let valid = digits.split('.').count() == 2
                && digits
                    .split('.')
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
            if valid {
                Ok(v.to_string())
            } else {
                Err("expected a Graph API version such as v24.0".into())
            }
        })?;
        let cloud_phone_number_id = match vars.get(WHATSAPP_PHONE_NUMBER_ID.name) {
            Some(id) if !id.chars().all(|c| c.is_ascii_digit()) => {
                return Err(ConfigError::Invalid {
                    var: WHATSAPP_PHONE_NUMBER_ID.name,
                    value: id.to_string(),
                    reason: "expected the numeric id Meta's manager shows for the number (not the phone number itself)".into(),
                });
            }
            other => other.map(str::to_string),
        };
        let mut cloud_templates = TemplateMap::new();
        for kind in TemplateKind::ALL {
            if let Some(value) = vars.get(kind.setting()) {
                let spec = TemplateSpec::parse(kind, value).map_err(|e| ConfigError::Invalid {
                    var: kind.setting(),
                    value: value.to_string(),
                    reason: e.to_string(),
                })?;
                cloud_templates.insert(kind, spec);
            }
        }
        let waha_base_url = match vars.get(WAHA_BASE_URL.name) {
            Some(_) => Some(vars.parse(&WAHA_BASE_URL, http_url)?),
            None => None,
        };
        let config = ProviderConfig {
            kind,
            cloud_token: secret(&WHATSAPP_TOKEN),
            cloud_phone_number_id,
            cloud_app_secret: secret(&WHATSAPP_APP_SECRET),
            cloud_verify_token: secret(&WHATSAPP_VERIFY_TOKEN),
            cloud_api_version,
            cloud_base_url: vars.parse(&WHATSAPP_BASE_URL, http_url)?,
            cloud_templates,
            waha_base_url,
            waha_api_key: secret(&WAHA_API_KEY),
            waha_session: vars.parse(&WAHA_SESSION, |v| {
                if v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    Ok(v.to_string())
                } else {
                    Err("expected the session's name: letters, digits, _ or -".into())
                }
            })?,
            waha_webhook_hmac_key: secret(&WAHA_WEBHOOK_HMAC_KEY),
        };
        let needed: &[&Setting] = match kind {
            ProviderKind::Console => &[],
            ProviderKind::Wasender => &[&WASENDER_API_KEY],
            ProviderKind::Cloud => &[
                &WHATSAPP_TOKEN,
                &WHATSAPP_PHONE_NUMBER_ID,
                &WHATSAPP_APP_SECRET,
                &WHATSAPP_VERIFY_TOKEN,
            ],
            ProviderKind::Waha => &[&WAHA_BASE_URL, &WAHA_API_KEY, &WAHA_WEBHOOK_HMAC_KEY],
        };
        vars.require(AVISA_PROVIDER.name, kind.code(), needed)?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret;

    use super::*;
    use crate::config::Config;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_vars(&vars)
    }

    const CLOUD: [(&str, &str); 5] = [
        ("AVISA_PROVIDER", "cloud"),
        ("WHATSAPP_TOKEN", "EAAG-secret-token"),
        ("WHATSAPP_PHONE_NUMBER_ID", "106540352242922"),
        ("WHATSAPP_APP_SECRET", "app-secret-1"),
        ("WHATSAPP_VERIFY_TOKEN", "verify-me"),
    ];

    #[test]
    fn the_default_follows_the_wasender_key() {
        assert_eq!(config(&[]).unwrap().provider.kind, ProviderKind::Console);
        let c = config(&[("WASENDER_API_KEY", "wsk")]).unwrap();
        assert_eq!(c.provider.kind, ProviderKind::Wasender);
        let c = config(&[]).unwrap().provider;
        assert_eq!(c.cloud_api_version, "v24.0");
        assert_eq!(c.cloud_base_url.as_str(), "https://graph.facebook.com/");
        assert_eq!(c.waha_session, "default");
        assert!(c.cloud_templates.is_empty());
    }

    #[test]
    fn each_missing_setting_is_named_on_one_line() {
        for (i, (name, _)) in CLOUD.iter().enumerate().skip(1) {
            let mut pairs = CLOUD.to_vec();
            pairs.remove(i);
            let line = config(&pairs).unwrap_err().to_string();
            assert_eq!(line, format!("AVISA_PROVIDER=\"cloud\": {name} is not set"));
        }
        let line = config(&[
            ("AVISA_PROVIDER", "waha"),
            ("WAHA_BASE_URL", "http://waha:3000"),
        ])
        .unwrap_err()
        .to_string();
        assert_eq!(line, "AVISA_PROVIDER=\"waha\": WAHA_API_KEY is not set");
        let line = config(&[("AVISA_PROVIDER", "wasender")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            line,
            "AVISA_PROVIDER=\"wasender\": WASENDER_API_KEY is not set"
        );
        let line = config(&[("AVISA_PROVIDER", "twilio")])
            .unwrap_err()
            .to_string();
        assert!(line.starts_with("AVISA_PROVIDER=\"twilio\""), "{line}");
        assert!(!line.contains('\n'), "{line}");
    }

    #[test]
    fn cloud_with_templates_and_bad_values() {
        let mut pairs = CLOUD.to_vec();
        pairs.push((
            "WHATSAPP_TEMPLATE_REMINDER",
            "avisa_recordatorio:es:client_name,service,long_date",
        ));
        pairs.push(("WHATSAPP_TEMPLATE_NOTICE", "avisa_aviso:es:text"));
        let c = config(&pairs).unwrap();
        assert_eq!(c.provider.kind, ProviderKind::Cloud);
        assert_eq!(c.provider.cloud_templates.len(), 2);
        assert_eq!(
            c.provider.cloud_templates[&TemplateKind::Reminder].parameters,
            ["client_name", "service", "long_date"]
        );
        assert_eq!(
            c.provider.cloud_token.unwrap().expose_secret(),
            "EAAG-secret-token"
        );
        let debug = format!("{:?}", config(&pairs).unwrap());
        assert!(!debug.contains("EAAG-secret-token") && !debug.contains("app-secret-1"));

        let mut bad = CLOUD.to_vec();
        bad.push((
            "WHATSAPP_TEMPLATE_RENEWAL",
            "avisa_renovado:es:client_name,total",
        ));
        let line = config(&bad).unwrap_err().to_string();
        assert!(line.starts_with("WHATSAPP_TEMPLATE_RENEWAL="), "{line}");
        assert!(line.contains("`total`"), "{line}");

        let mut bad = CLOUD.to_vec();
        bad[2] = ("WHATSAPP_PHONE_NUMBER_ID", "+593991234567");
        let line = config(&bad).unwrap_err().to_string();
        assert!(line.starts_with("WHATSAPP_PHONE_NUMBER_ID="), "{line}");

        let mut bad = CLOUD.to_vec();
        bad.push(("WHATSAPP_API_VERSION", "24"));
        let line = config(&bad).unwrap_err().to_string();
        assert!(line.starts_with("WHATSAPP_API_VERSION="), "{line}");

        let line = config(&[("WAHA_BASE_URL", "waha:3000")])
            .unwrap_err()
            .to_string();
        assert!(line.starts_with("WAHA_BASE_URL="), "{line}");
    }
}
