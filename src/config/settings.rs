//! Every setting declared once: its variable, its default, whether it is a
//! secret, and how the panel shows its value; what it is for is worded in
//! the i18n catalog under `setting.<NAME>` (a test checks every setting has
//! it in both languages). `Config`'s
//! parsing takes names and defaults from here (so an error names the
//! variable this table declares), `avisa.toml` keys are checked against it,
//! the panel's settings view (`web::admin::config_view`) lists it, and a
//! test keeps README's Configuration table the same, row for row.

use std::time::Duration;

use super::{Config, LogFormat};
use crate::domain::Locale;
use crate::i18n;
use crate::whatsapp::TemplateKind;

/// What applies when a variable is not set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingDefault {
    /// This value, parsed like a set one.
    Value(&'static str),
    /// Empty text.
    Empty,
    /// Nothing: what it enables stays off.
    Unset,
    /// This folder, when the working directory has one.
    FolderIfPresent(&'static str),
    /// Generated on first start and kept in the database.
    Generated,
}

impl SettingDefault {
    /// The text parsing starts from when the variable is not set.
    pub fn value(self) -> &'static str {
        match self {
            SettingDefault::Value(v) | SettingDefault::FolderIfPresent(v) => v,
            SettingDefault::Empty | SettingDefault::Unset | SettingDefault::Generated => "",
        }
    }

    /// As README's Configuration table writes it.
    pub fn readme(self) -> String {
        match self {
            SettingDefault::Value(v) => format!("`{v}`"),
            SettingDefault::Empty => "empty".to_string(),
            SettingDefault::Unset => "unset".to_string(),
            SettingDefault::FolderIfPresent(dir) => format!("`./{dir}` if present"),
            SettingDefault::Generated => "generated".to_string(),
        }
    }
}

/// A setting's value as the panel shows it (the panel words it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    Value(String),
    /// Not set and nothing in its place ("ninguno").
    Nothing,
    /// Only whether it is set.
    Secret {
        set: bool,
    },
    /// Whether it is set, else generated and kept in the database.
    SecretOrGenerated {
        set: bool,
    },
}

impl Shown {
    fn or_nothing(value: Option<String>) -> Shown {
        value.map_or(Shown::Nothing, Shown::Value)
    }

    fn millis(duration: Duration) -> Shown {
        Shown::Value(format!("{} ms", duration.as_millis()))
    }
}

/// One setting. See the module documentation.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The environment variable (and `avisa.toml` key, any case).
    pub name: &'static str,
    pub default: SettingDefault,
    /// Never shown nor logged: the panel says only whether it is set.
    pub secret: bool,
    /// Its value in force; passwords inside URLs are masked.
    pub show: fn(&Config) -> Shown,
}

impl Setting {
    /// What the setting is for, from the i18n catalog (`setting.<NAME>`):
    /// the English text is README's "meaning" column (Markdown), the
    /// Spanish one what `avisa serve --help` shows by default.
    pub fn meaning(&self, locale: Locale) -> String {
        i18n::text(locale, &format!("setting.{}", self.name))
    }
}

macro_rules! settings {
    ($($name:ident {
        default: $default:expr,
        secret: $secret:expr,
        show: $show:expr,
    })*) => {
        $(
            pub const $name: Setting = Setting {
                name: stringify!($name),
                default: $default,
                secret: $secret,
                show: $show,
            };
        )*
        /// Every setting, in README's order.
        pub const SETTINGS: &[Setting] = &[$($name),*];
    };
}

use SettingDefault::{Empty, FolderIfPresent, Generated, Unset, Value};

settings! {
    DATABASE_URL {
        default: Value("sqlite://avisa.db"),
        secret: false,
        show: |c| Shown::Value(c.database_url.redacted()),
    }
    AVISA_LISTEN {
        default: Value("0.0.0.0:8080"),
        secret: false,
        show: |c| Shown::Value(c.listen.to_string()),
    }
    AVISA_TIMEZONE {
        default: Value("America/Guayaquil"),
        secret: false,
        show: |c| Shown::Value(c.timezone.name().to_string()),
    }
    AVISA_REMINDER_TIME {
        default: Value("09:00"),
        secret: false,
        show: |c| Shown::Value(c.reminder_time.format("%H:%M").to_string()),
    }
    AVISA_REMINDER_DAYS {
        default: Value("7,3,1,0"),
        secret: false,
        show: |c| Shown::Value(c.reminder_days.to_string()),
    }
    AVISA_QUIET_HOURS {
        default: Value("21:00-08:00"),
        secret: false,
        show: |c| {
            Shown::or_nothing(
                c.quiet_hours
                    .map(|q| format!("{}-{}", q.start.format("%H:%M"), q.end.format("%H:%M"))),
            )
        },
    }
    AVISA_DEFAULT_REGION {
        default: Value("EC"),
        secret: false,
        show: |c| Shown::Value(format!("{:?}", c.default_region.id())),
    }
    AVISA_LOCALE {
        default: Value("es"),
        secret: false,
        show: |c| Shown::Value(c.locale.code().to_string()),
    }
    AVISA_BUSINESS_NAME {
        default: Empty,
        secret: false,
        show: |c| Shown::Value(c.business_name.clone()),
    }
    AVISA_PAYMENT_INSTRUCTIONS {
        default: Empty,
        secret: false,
        show: |c| Shown::Value(c.payment_instructions.clone()),
    }
    AVISA_STAFF_PHONES {
        default: Empty,
        secret: false,
        show: |c| {
            let phones: Vec<String> = c.staff_phones.iter().map(ToString::to_string).collect();
            Shown::or_nothing((!phones.is_empty()).then(|| phones.join(", ")))
        },
    }
    AVISA_CRON_TOKEN {
        default: Unset,
        secret: true,
        show: |c| Shown::Secret { set: c.cron_token.is_some() },
    }
    AVISA_HANDOFF_HOURS {
        default: Value("12"),
        secret: false,
        show: |c| Shown::Value(c.handoff_hours.to_string()),
    }
    AVISA_SEND_INTERVAL_MS {
        default: Value("5000"),
        secret: false,
        show: |c| Shown::millis(c.send_interval),
    }
    AVISA_SEND_JITTER_MS {
        default: Value("2000"),
        secret: false,
        show: |c| Shown::millis(c.send_jitter),
    }
    AVISA_SEND_MAX_ATTEMPTS {
        default: Value("5"),
        secret: false,
        show: |c| Shown::Value(c.send_max_attempts.to_string()),
    }
    AVISA_SEND_RETRY_BASE_MS {
        default: Value("2000"),
        secret: false,
        show: |c| Shown::millis(c.send_retry_base),
    }
    AVISA_TEMPLATES_DIR {
        default: FolderIfPresent("templates"),
        secret: false,
        show: |c| Shown::or_nothing(c.templates_dir.as_ref().map(|p| p.display().to_string())),
    }
    AVISA_FLOWS_DIR {
        default: FolderIfPresent("flows"),
        secret: false,
        show: |c| Shown::or_nothing(c.flows_dir.as_ref().map(|p| p.display().to_string())),
    }
    AVISA_LOG_FORMAT {
        default: Value("human"),
        secret: false,
        show: |c| {
            Shown::Value(match c.log_format {
                LogFormat::Human => "human".to_string(),
                LogFormat::Json => "json".to_string(),
            })
        },
    }
    AVISA_PROVIDER {
        default: Unset,
        secret: false,
        show: |c| Shown::Value(c.provider.kind.code().to_string()),
    }
    WASENDER_API_KEY {
        default: Unset,
        secret: true,
        show: |c| Shown::Secret { set: c.wasender_api_key.is_some() },
    }
    WASENDER_BASE_URL {
        default: Value("https://www.wasenderapi.com/api"),
        secret: false,
        show: |c| {
            let mut url = c.wasender_base_url.clone();
            if url.password().is_some() {
                // Only fails for URLs that cannot have a password: this one has one.
                let _ = url.set_password(Some("***"));
            }
            Shown::Value(url.to_string())
        },
    }
    WASENDER_TIMEOUT_MS {
        default: Value("20000"),
        secret: false,
        show: |c| Shown::millis(c.wasender_timeout),
    }
    WASENDER_WEBHOOK_SECRET {
        default: Unset,
        secret: true,
        show: |c| Shown::Secret { set: c.wasender_webhook_secret.is_some() },
    }
    WHATSAPP_TOKEN {
        default: Unset,
        secret: true,
        show: |c| Shown::Secret { set: c.provider.cloud_token.is_some() },
    }
    WHATSAPP_PHONE_NUMBER_ID {
        default: Unset,
        secret: false,
        show: |c| Shown::or_nothing(c.provider.cloud_phone_number_id.clone()),
    }
    WHATSAPP_APP_SECRET {
        default: Unset,
        secret: true,
        show: |c| Shown::Secret { set: c.provider.cloud_app_secret.is_some() },
    }
    WHATSAPP_VERIFY_TOKEN {
        default: Unset,
        secret: true,
        show: |c| Shown::Secret { set: c.provider.cloud_verify_token.is_some() },
    }
    WHATSAPP_API_VERSION {
        default: Value("v24.0"),
        secret: false,
        show: |c| Shown::Value(c.provider.cloud_api_version.clone()),
    }
    WHATSAPP_BASE_URL {
        default: Value("https://graph.facebook.com"),
        secret: false,
        show: |c| Shown::Value(c.provider.cloud_base_url.to_string()),
    }
    WHATSAPP_TEMPLATE_REMINDER {
        default: Unset,
        secret: false,
        show: |c| template_shown(c, TemplateKind::Reminder),
    }
    WHATSAPP_TEMPLATE_URGENT {
        default: Unset,
        secret: false,
        show: |c| template_shown(c, TemplateKind::Urgent),
    }
    WHATSAPP_TEMPLATE_EXPIRED {
        default: Unset,
        secret: false,
        show: |c| template_shown(c, TemplateKind::Expired),
    }
    WHATSAPP_TEMPLATE_RENEWAL {
        default: Unset,
        secret: false,
        show: |c| template_shown(c, TemplateKind::Renewal),
    }
    WHATSAPP_TEMPLATE_NOTICE {
        default: Unset,
        secret: false,
        show: |c| template_shown(c, TemplateKind::Notice),
    }
    WAHA_BASE_URL {
        default: Unset,
        secret: false,
        show: |c| Shown::or_nothing(c.provider.waha_base_url.as_ref().map(ToString::to_string)),
    }
    WAHA_API_KEY {
        default: Unset,
        secret: true,
        show: |c| Shown::Secret { set: c.provider.waha_api_key.is_some() },
    }
    WAHA_SESSION {
        default: Value("default"),
        secret: false,
        show: |c| Shown::Value(c.provider.waha_session.clone()),
    }
    WAHA_WEBHOOK_HMAC_KEY {
        default: Unset,
        secret: true,
        show: |c| Shown::Secret { set: c.provider.waha_webhook_hmac_key.is_some() },
    }
    AVISA_SECRET_KEY {
        default: Generated,
        secret: true,
        show: |c| Shown::SecretOrGenerated { set: c.secret_key.is_some() },
    }
    AVISA_PUBLIC_URL {
        default: Unset,
        secret: false,
        show: |c| Shown::or_nothing(c.public_url.as_ref().map(ToString::to_string)),
    }
    AVISA_TRUST_PROXY {
        default: Value("false"),
        secret: false,
        show: |c| Shown::Value(c.trust_proxy.to_string()),
    }
    AVISA_PAYMENTS {
        default: Value("off"),
        secret: false,
        show: |c| Shown::Value(c.payments.provider.map_or("off", |p| p.code()).to_string()),
    }
    MERCADOPAGO_ACCESS_TOKEN {
        default: Unset,
        secret: true,
        show: |c| Shown::Secret { set: c.payments.mercadopago_access_token.is_some() },
    }
    MERCADOPAGO_WEBHOOK_SECRET {
        default: Unset,
        secret: true,
        show: |c| Shown::Secret { set: c.payments.mercadopago_webhook_secret.is_some() },
    }
    MERCADOPAGO_BASE_URL {
        default: Value("https://api.mercadopago.com"),
        secret: false,
        show: |c| Shown::Value(c.payments.mercadopago_base_url.to_string()),
    }
    STRIPE_SECRET_KEY {
        default: Unset,
        secret: true,
        show: |c| Shown::Secret { set: c.payments.stripe_secret_key.is_some() },
    }
    STRIPE_WEBHOOK_SECRET {
        default: Unset,
        secret: true,
        show: |c| Shown::Secret { set: c.payments.stripe_webhook_secret.is_some() },
    }
    STRIPE_BASE_URL {
        default: Value("https://api.stripe.com"),
        secret: false,
        show: |c| Shown::Value(c.payments.stripe_base_url.to_string()),
    }
}

/// A template setting as `name:language:var1,var2`, or nothing.
fn template_shown(c: &Config, kind: TemplateKind) -> Shown {
    Shown::or_nothing(c.provider.cloud_templates.get(&kind).map(|spec| {
        format!(
            "{}:{}:{}",
            spec.name,
            spec.language,
            spec.parameters.join(",")
        )
    }))
}

/// The setting named `name`, if there is one.
pub fn find(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// README's Configuration table: (variable, default, meaning) per row.
    fn readme_rows() -> Vec<(String, String, String)> {
        let readme = include_str!("../../README.md");
        let start = readme
            .find("## Configuration")
            .expect("README has a Configuration section");
        let section = &readme[start..];
        let end = section[3..].find("\n## ").map_or(section.len(), |i| i + 3);
        section[..end]
            .lines()
            .filter(|line| line.starts_with("| `"))
            .map(|line| {
                let cells: Vec<&str> = line
                    .trim_start_matches("| ")
                    .trim_end_matches(" |")
                    .splitn(3, " | ")
                    .collect();
                assert_eq!(cells.len(), 3, "{line}");
                (
                    cells[0].trim_matches('`').to_string(),
                    cells[1].to_string(),
                    cells[2].to_string(),
                )
            })
            .collect()
    }

    fn readme_line(setting: &Setting) -> String {
        format!(
            "| `{}` | {} | {} |",
            setting.name,
            setting.default.readme(),
            setting.meaning(Locale::En)
        )
    }

    #[test]
    fn readme_lists_exactly_these_settings() {
        let rows = readme_rows();
        let expected: Vec<String> = SETTINGS.iter().map(readme_line).collect();
        let found: Vec<String> = rows
            .iter()
            .map(|(name, default, meaning)| format!("| `{name}` | {default} | {meaning} |"))
            .collect();
        assert_eq!(
            found,
            expected,
            "README's Configuration table must be, row for row:\n{}",
            expected.join("\n")
        );
    }

    #[test]
    fn every_setting_is_worded_in_both_languages() {
        for setting in SETTINGS {
            for locale in [Locale::Es, Locale::En] {
                let key = format!("setting.{}", setting.name);
                assert!(i18n::has(locale, &key), "{key} missing in {locale:?}");
            }
        }
    }

    #[test]
    fn names_are_unique_and_defaults_parse() {
        for (i, setting) in SETTINGS.iter().enumerate() {
            assert!(
                SETTINGS[..i].iter().all(|s| s.name != setting.name),
                "{} twice",
                setting.name
            );
            assert!(find(setting.name).is_some());
        }
        // Every default is valid: a configuration with nothing set builds.
        let config = Config::from_vars(&Default::default()).unwrap();
        for setting in SETTINGS {
            let shown = (setting.show)(&config);
            let is_secret = matches!(
                shown,
                Shown::Secret { .. } | Shown::SecretOrGenerated { .. }
            );
            assert_eq!(is_secret, setting.secret, "{}", setting.name);
        }
    }
}
