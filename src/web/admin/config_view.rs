//! The settings in force as `/admin/operations` shows them: every variable
//! with its value, secrets only as set / not set, URLs without passwords.

use serde::Serialize;

use super::i18n;
use crate::config::{Config, LogFormat};
use crate::domain::Locale;

/// One line of the settings table: the variable and its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingLine {
    pub var: &'static str,
    pub value: String,
    pub secret: bool,
}

/// A secret is never shown: `•••• (configurado)` or `no configurado`.
fn masked(locale: Locale, set: bool) -> String {
    if set {
        format!("•••• ({})", i18n::text(locale, "ops_secret_set"))
    } else {
        i18n::text(locale, "ops_secret_unset")
    }
}

fn or_none(locale: Locale, value: Option<String>) -> String {
    value.unwrap_or_else(|| i18n::text(locale, "ops_value_none"))
}

/// The configuration as the page shows it. Secrets only say whether they
/// are set; URLs lose any password.
pub fn settings_lines(config: &Config) -> Vec<SettingLine> {
    let locale = config.locale;
    let plain = |var, value: String| SettingLine {
        var,
        value,
        secret: false,
    };
    let secret = |var, set: bool| SettingLine {
        var,
        value: masked(locale, set),
        secret: true,
    };
    let ms = |d: std::time::Duration| format!("{} ms", d.as_millis());
    let mut base_url = config.wasender_base_url.clone();
    if base_url.password().is_some() {
        let _ = base_url.set_password(Some("***"));
    }
    vec![
        plain("DATABASE_URL", config.database_url.redacted()),
        plain("AVISA_LISTEN", config.listen.to_string()),
        plain(
            "AVISA_PUBLIC_URL",
            or_none(locale, config.public_url.as_ref().map(ToString::to_string)),
        ),
        plain("AVISA_TIMEZONE", config.timezone.name().to_string()),
        plain("AVISA_LOCALE", config.locale.code().to_string()),
        plain(
            "AVISA_DEFAULT_REGION",
            format!("{:?}", config.default_region.id()),
        ),
        plain(
            "AVISA_REMINDER_TIME",
            config.reminder_time.format("%H:%M").to_string(),
        ),
        plain("AVISA_REMINDER_DAYS", config.reminder_days.to_string()),
        plain(
            "AVISA_QUIET_HOURS",
            or_none(
                locale,
                config
                    .quiet_hours
                    .map(|q| format!("{}-{}", q.start.format("%H:%M"), q.end.format("%H:%M"))),
            ),
        ),
        plain("AVISA_BUSINESS_NAME", config.business_name.clone()),
        plain(
            "AVISA_PAYMENT_INSTRUCTIONS",
            config.payment_instructions.clone(),
        ),
        plain(
            "AVISA_STAFF_PHONES",
            or_none(
                locale,
                (!config.staff_phones.is_empty()).then(|| {
                    config
                        .staff_phones
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                }),
            ),
        ),
        plain("AVISA_HANDOFF_HOURS", config.handoff_hours.to_string()),
        plain("AVISA_SEND_INTERVAL_MS", ms(config.send_interval)),
        plain("AVISA_SEND_JITTER_MS", ms(config.send_jitter)),
        plain(
            "AVISA_SEND_MAX_ATTEMPTS",
            config.send_max_attempts.to_string(),
        ),
        plain("AVISA_SEND_RETRY_BASE_MS", ms(config.send_retry_base)),
        plain("WASENDER_TIMEOUT_MS", ms(config.wasender_timeout)),
        plain("WASENDER_BASE_URL", base_url.to_string()),
        plain(
            "AVISA_TEMPLATES_DIR",
            or_none(
                locale,
                config
                    .templates_dir
                    .as_ref()
                    .map(|p| p.display().to_string()),
            ),
        ),
        plain(
            "AVISA_FLOWS_DIR",
            or_none(
                locale,
                config.flows_dir.as_ref().map(|p| p.display().to_string()),
            ),
        ),
        plain(
            "AVISA_LOG_FORMAT",
            match config.log_format {
                LogFormat::Human => "human".to_string(),
                LogFormat::Json => "json".to_string(),
            },
        ),
        plain("AVISA_TRUST_PROXY", config.trust_proxy.to_string()),
        secret("WASENDER_API_KEY", config.wasender_api_key.is_some()),
        secret(
            "WASENDER_WEBHOOK_SECRET",
            config.wasender_webhook_secret.is_some(),
        ),
        secret("AVISA_CRON_TOKEN", config.cron_token.is_some()),
        SettingLine {
            var: "AVISA_SECRET_KEY",
            value: if config.secret_key.is_some() {
                masked(locale, true)
            } else {
                i18n::text(locale, "ops_secret_generated")
            },
            secret: true,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked() {
        let key = "k".repeat(32) + "-xyzzy-4";
        let vars: std::collections::HashMap<String, String> = [
            ("WASENDER_API_KEY", "api-key-xyzzy-1"),
            ("WASENDER_WEBHOOK_SECRET", "hook-xyzzy-2"),
            ("AVISA_CRON_TOKEN", "cron-token-xyzzy-3"),
            ("AVISA_SECRET_KEY", key.as_str()),
            ("DATABASE_URL", "postgres://avisa:pw-xyzzy-5@db/avisa"),
            (
                "WASENDER_BASE_URL",
                "https://user:url-xyzzy-6@wasender.example/api",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let config = Config::from_vars(&vars).unwrap();
        let lines = settings_lines(&config);
        let all: String = lines
            .iter()
            .map(|l| format!("{}={}\n", l.var, l.value))
            .collect();
        assert!(!all.contains("xyzzy"), "{all}");
        let secret = |var: &str| lines.iter().find(|l| l.var == var).unwrap().value.clone();
        assert_eq!(secret("WASENDER_API_KEY"), "•••• (configurado)");
        assert_eq!(secret("AVISA_SECRET_KEY"), "•••• (configurado)");
        assert!(secret("WASENDER_BASE_URL").contains("wasender.example"));
        let bare = Config::from_vars(&std::collections::HashMap::new()).unwrap();
        let bare_lines = settings_lines(&bare);
        let value = |var: &str| {
            bare_lines
                .iter()
                .find(|l| l.var == var)
                .unwrap()
                .value
                .clone()
        };
        assert_eq!(value("AVISA_CRON_TOKEN"), "no configurado");
        assert!(value("AVISA_SECRET_KEY").starts_with("no configurado"));
    }
}
