//! The settings in force as `/admin/operations` shows them: every variable
//! of `config::SETTINGS`, in its order, with its value; secrets only as set
//! / not set, URLs without passwords.

use serde::Serialize;

use super::i18n;
use crate::config::{Config, SETTINGS, Setting, Shown};
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

/// The setting's line, worded in `locale`.
fn line(config: &Config, setting: &Setting) -> SettingLine {
    let locale = config.locale;
    let value = match (setting.show)(config) {
        Shown::Value(value) => value,
        Shown::Nothing => i18n::text(locale, "ops_value_none"),
        Shown::Secret { set } => masked(locale, set),
        Shown::SecretOrGenerated { set: true } => masked(locale, true),
        Shown::SecretOrGenerated { set: false } => i18n::text(locale, "ops_secret_generated"),
    };
    SettingLine {
        var: setting.name,
        value,
        secret: setting.secret,
    }
}

/// The configuration as the page shows it: every setting. Secrets only say
/// whether they are set; URLs lose any password.
pub fn settings_lines(config: &Config) -> Vec<SettingLine> {
    SETTINGS
        .iter()
        .map(|setting| line(config, setting))
        .collect()
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
        assert_eq!(value("AVISA_SEND_INTERVAL_MS"), "5000 ms");
        assert_eq!(value("AVISA_DEFAULT_REGION"), "EC");
        // Every setting, once, in the table's order.
        let names: Vec<&str> = bare_lines.iter().map(|l| l.var).collect();
        let declared: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        assert_eq!(names, declared);
    }
}
