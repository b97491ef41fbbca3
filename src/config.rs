//! Every setting, read once from the environment (and optionally `avisa.toml`),
//! validated before anything starts. A bad value stops start-up with one line
//! naming the variable and the value.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveTime;
use chrono_tz::Tz;
use secrecy::SecretString;

use crate::domain::{Locale, Phone, QuietHours, Region, Tiers, policy::parse_hhmm};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var}={value:?}: {reason}")]
    Invalid {
        var: &'static str,
        value: String,
        reason: String,
    },
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
}

/// Where the data lives: a SQLite file (default) or a PostgreSQL database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite { path: PathBuf },
    Postgres { url: String },
}

impl DatabaseUrl {
    pub fn parse(value: &str) -> Result<DatabaseUrl, String> {
        let v = value.trim();
        if v.starts_with("postgres://") || v.starts_with("postgresql://") {
            if v.len() <= "postgres://".len() {
                return Err("the PostgreSQL URL has no host".into());
            }
            return Ok(DatabaseUrl::Postgres { url: v.to_string() });
        }
        let path = if let Some(rest) = v.strip_prefix("sqlite://") {
            rest
        } else if let Some(rest) = v.strip_prefix("sqlite:") {
            rest
        } else {
            return Err("use sqlite://FILE or postgres://USER@HOST/DB".into());
        };
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() {
            return Err("the SQLite URL has no file name".into());
        }
        Ok(DatabaseUrl::Sqlite {
            path: PathBuf::from(path),
        })
    }

    /// For logs and the settings page: never shows a password.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite { path } => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres { url } => match (url.find("://"), url.rfind('@')) {
                (Some(scheme), Some(at)) if at > scheme => {
                    format!("{}://***{}", &url[..scheme], &url[at..])
                }
                _ => url.clone(),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: DatabaseUrl,
    pub listen: SocketAddr,
    pub timezone: Tz,
    pub reminder_time: NaiveTime,
    pub reminder_days: Tiers,
    pub quiet_hours: Option<QuietHours>,
    pub default_region: Region,
    pub locale: Locale,
    pub business_name: String,
    pub payment_instructions: String,
    pub staff_phones: Vec<Phone>,
    pub cron_token: Option<SecretString>,
    pub handoff_hours: u32,
    pub send_interval: Duration,
    pub send_jitter: Duration,
    pub send_max_attempts: u32,
    pub send_retry_base: Duration,
    pub wasender_timeout: Duration,
    pub templates_dir: Option<PathBuf>,
    pub flows_dir: Option<PathBuf>,
    pub wasender_api_key: Option<SecretString>,
    pub wasender_base_url: reqwest::Url,
    pub wasender_webhook_secret: Option<SecretString>,
    pub log_format: LogFormat,
    /// Signs the staff panel's session cookies; generated and kept in the
    /// database when unset.
    pub secret_key: Option<SecretString>,
    /// Where the service is reached (e.g. https://avisa.fly.dev); an https
    /// URL makes panel cookies `Secure`.
    pub public_url: Option<reqwest::Url>,
    /// Believe `Fly-Client-IP` / `X-Forwarded-For` for the client address
    /// (login limits): only behind a proxy that sets them.
    pub trust_proxy: bool,
    /// Payment links and the provider behind them (`payments.rs`).
    pub payments: PaymentsConfig,
    /// Which WhatsApp provider sends, and its settings (`provider.rs`).
    pub provider: ProviderConfig,
}

pub mod payments;
pub mod provider;
pub mod settings;

pub use payments::{PaymentProvider, PaymentsConfig};
pub use provider::ProviderConfig;
pub use settings::{SETTINGS, Setting, SettingDefault, Shown};

impl Config {
    /// Reads `avisa.toml` (from `AVISA_CONFIG`, or the working directory if
    /// present), then the environment, which wins.
    pub fn from_env() -> Result<Config, ConfigError> {
        let mut vars = HashMap::new();
        let file = std::env::var("AVISA_CONFIG").ok().map(PathBuf::from);
        let file = file.or_else(|| {
            let default = PathBuf::from("avisa.toml");
            default.exists().then_some(default)
        });
        if let Some(path) = file {
            vars.extend(read_toml(&path)?);
        }
        for setting in SETTINGS {
            if let Ok(value) = std::env::var(setting.name) {
                vars.insert(setting.name.to_string(), value);
            }
        }
        Config::from_vars(&vars)
    }

    /// Builds and validates a configuration from `NAME → value` pairs.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Config, ConfigError> {
        use settings::*;
        let vars = Vars(vars);
        let get = |setting: &Setting| vars.get(setting.name);
        let invalid = |var: &'static str, value: &str, reason: String| ConfigError::Invalid {
            var,
            value: value.to_string(),
            reason,
        };
        let database_url = vars.parse(&DATABASE_URL, DatabaseUrl::parse)?;
        if let DatabaseUrl::Sqlite { path } = &database_url {
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
            if let Some(dir) = parent
                && !dir.is_dir()
            {
                return Err(invalid(
                    DATABASE_URL.name,
                    get(&DATABASE_URL).unwrap_or_default(),
                    format!("folder {} does not exist", dir.display()),
                ));
            }
        }
        let listen = vars.parse(&AVISA_LISTEN, |v| {
            v.parse::<SocketAddr>()
                .map_err(|_| "expected HOST:PORT such as 0.0.0.0:8080".into())
        })?;
        let timezone = vars.parse(&AVISA_TIMEZONE, |v| {
            v.parse::<Tz>()
                .map_err(|_| "not an IANA time zone such as America/Guayaquil".into())
        })?;
        let reminder_time = vars.parse(&AVISA_REMINDER_TIME, parse_hhmm)?;
        let reminder_days = vars.parse(&AVISA_REMINDER_DAYS, Tiers::parse)?;
        let quiet_hours = vars.parse(&AVISA_QUIET_HOURS, QuietHours::parse)?;
        let default_region = vars.parse(&AVISA_DEFAULT_REGION, Region::parse)?;
        let locale = vars.parse(&AVISA_LOCALE, Locale::parse)?;
        let staff_phones = vars.parse(&AVISA_STAFF_PHONES, |v| {
            v.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| Phone::parse(p, default_region).map_err(|e| e.to_string()))
                .collect()
        })?;
        let handoff_hours = vars.parse(&AVISA_HANDOFF_HOURS, |v| number(v, 0, 24 * 30))?;
        let send_interval = vars.parse(&AVISA_SEND_INTERVAL_MS, |v| {
            number(v, 0, 3_600_000).map(|ms| Duration::from_millis(ms.into()))
        })?;
        let send_jitter = vars.parse(&AVISA_SEND_JITTER_MS, |v| {
            number(v, 0, 3_600_000).map(|ms| Duration::from_millis(ms.into()))
        })?;
        let send_retry_base = vars.parse(&AVISA_SEND_RETRY_BASE_MS, |v| {
            number(v, 1, 600_000).map(|ms| Duration::from_millis(ms.into()))
        })?;
        let wasender_timeout = vars.parse(&WASENDER_TIMEOUT_MS, |v| {
            number(v, 100, 300_000).map(|ms| Duration::from_millis(ms.into()))
        })?;
        let send_max_attempts = vars.parse(&AVISA_SEND_MAX_ATTEMPTS, |v| number(v, 1, 50))?;
        let dir_setting = |setting: &Setting| -> Result<Option<PathBuf>, ConfigError> {
            match get(setting) {
                Some(v) => {
                    let path = PathBuf::from(v);
                    if path.is_dir() {
                        Ok(Some(path))
                    } else {
                        Err(invalid(setting.name, v, "not a folder".into()))
                    }
                }
                None => Ok(Some(PathBuf::from(setting.default.value())).filter(|p| p.is_dir())),
            }
        };
        let templates_dir = dir_setting(&AVISA_TEMPLATES_DIR)?;
        let flows_dir = dir_setting(&AVISA_FLOWS_DIR)?;
        let wasender_base_url = vars.parse(&WASENDER_BASE_URL, |v| {
            let url = reqwest::Url::parse(v).map_err(|e| format!("not a URL: {e}"))?;
            if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                return Err("expected an http(s) URL with a host".into());
            }
            Ok(url)
        })?;
        let log_format = vars.parse(&AVISA_LOG_FORMAT, |v| {
            match v.to_ascii_lowercase().as_str() {
                "human" | "text" => Ok(LogFormat::Human),
                "json" => Ok(LogFormat::Json),
                _ => Err("expected human or json".into()),
            }
        })?;
        let secret = |setting: &Setting| get(setting).map(|v| SecretString::from(v.to_string()));
        let cron_token = secret(&AVISA_CRON_TOKEN);
        if let Some(token) = get(&AVISA_CRON_TOKEN)
            && token.len() < 16
        {
            return Err(invalid(
                AVISA_CRON_TOKEN.name,
                "(hidden)",
                "too short: use at least 16 random characters".into(),
            ));
        }
        if let Some(key) = get(&AVISA_SECRET_KEY)
            && key.len() < 32
        {
            return Err(invalid(
                AVISA_SECRET_KEY.name,
                "(hidden)",
                "too short: use at least 32 random characters".into(),
            ));
        }
        let public_url = match get(&AVISA_PUBLIC_URL) {
            None => None,
            Some(v) => {
                let url = reqwest::Url::parse(v)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                    .ok_or_else(|| {
                        invalid(
                            AVISA_PUBLIC_URL.name,
                            v,
                            "expected an http(s) URL such as https://avisa.example.com".into(),
                        )
                    })?;
                Some(url)
            }
        };
        let trust_proxy = vars.parse(&AVISA_TRUST_PROXY, |v| {
            match v.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Ok(true),
                "false" | "no" | "0" => Ok(false),
                _ => Err("expected true or false".into()),
            }
        })?;
        let payments = PaymentsConfig::from_vars(&vars, public_url.is_some())?;
        let provider = ProviderConfig::from_vars(&vars)?;
        Ok(Config {
            database_url,
            listen,
            timezone,
            reminder_time,
            reminder_days,
            quiet_hours,
            default_region,
            locale,
            business_name: get(&AVISA_BUSINESS_NAME).unwrap_or_default().to_string(),
            payment_instructions: get(&AVISA_PAYMENT_INSTRUCTIONS)
                .unwrap_or_default()
                .to_string(),
            staff_phones,
            cron_token,
            handoff_hours,
            send_interval,
            send_jitter,
            send_max_attempts,
            send_retry_base,
            wasender_timeout,
            templates_dir,
            flows_dir,
            wasender_api_key: secret(&WASENDER_API_KEY),
            wasender_base_url,
            wasender_webhook_secret: secret(&WASENDER_WEBHOOK_SECRET),
            log_format,
            secret_key: secret(&AVISA_SECRET_KEY),
            public_url,
            trust_proxy,
            payments,
            provider,
        })
    }

    pub fn is_staff(&self, phone: &Phone) -> bool {
        self.staff_phones.contains(phone)
    }
}

struct Vars<'a>(&'a HashMap<String, String>);

impl<'a> Vars<'a> {
    fn get(&self, name: &str) -> Option<&'a str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// `chooser=value` picked something that needs every one of `needed`:
    /// the first missing one stops start-up, named.
    fn require(
        &self,
        chooser: &'static str,
        value: &str,
        needed: &[&settings::Setting],
    ) -> Result<(), ConfigError> {
        match needed.iter().find(|s| self.get(s.name).is_none()) {
            Some(missing) => Err(ConfigError::Invalid {
                var: chooser,
                value: value.to_string(),
                reason: format!("{} is not set", missing.name),
            }),
            None => Ok(()),
        }
    }

    /// The setting's value (its default when unset) through `f`; an error
    /// names the variable and the value.
    fn parse<T>(
        &self,
        setting: &Setting,
        f: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let value = self.get(setting.name).unwrap_or(setting.default.value());
        f(value).map_err(|reason| ConfigError::Invalid {
            var: setting.name,
            value: value.to_string(),
            reason,
        })
    }
}

fn number(v: &str, min: u32, max: u32) -> Result<u32, String> {
    let n: u32 = v.parse().map_err(|_| "not a whole number".to_string())?;
    if n < min || n > max {
        return Err(format!("must be between {min} and {max}"));
    }
    Ok(n)
}

fn read_toml(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    let file_err = |reason: String| ConfigError::File {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| file_err(e.message().to_string()))?;
    let mut vars = HashMap::new();
    for (key, value) in table {
        let name = key.to_ascii_uppercase();
        if settings::find(&name).is_none() {
            return Err(file_err(format!("unknown setting `{key}`")));
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        vars.insert(name, text);
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_vars(&vars)
    }

    fn error_line(pairs: &[(&str, &str)]) -> String {
        config(pairs).unwrap_err().to_string()
    }

    #[test]
    fn defaults_match_the_design() {
        let c = config(&[]).unwrap();
        assert_eq!(
            c.database_url,
            DatabaseUrl::Sqlite {
                path: "avisa.db".into()
            }
        );
        assert_eq!(c.listen.to_string(), "0.0.0.0:8080");
        assert_eq!(c.timezone, chrono_tz::America::Guayaquil);
        assert_eq!(c.reminder_time, NaiveTime::from_hms_opt(9, 0, 0).unwrap());
        assert_eq!(c.reminder_days.to_string(), "7,3,1,0");
        assert!(c.quiet_hours.is_some());
        assert_eq!(c.locale, Locale::Es);
        assert_eq!(c.send_interval, Duration::from_secs(5));
        assert_eq!(c.send_jitter, Duration::from_secs(2));
        assert_eq!(c.send_max_attempts, 5);
        assert_eq!(c.handoff_hours, 12);
        assert!(c.cron_token.is_none() && c.wasender_api_key.is_none());
        assert_eq!(
            c.wasender_base_url.as_str(),
            "https://www.wasenderapi.com/api"
        );
    }

    #[test]
    fn bad_values_name_the_variable_and_value() {
        let cases = [
            ("AVISA_TIMEZONE", "Mars/Olympus"),
            ("AVISA_REMINDER_TIME", "25:00"),
            ("AVISA_REMINDER_DAYS", "7,x"),
            ("AVISA_DEFAULT_REGION", "XX"),
            ("WASENDER_BASE_URL", "not a url"),
            ("DATABASE_URL", "mysql://x"),
            ("AVISA_QUIET_HOURS", "21-08"),
            ("AVISA_LISTEN", "8080"),
            ("AVISA_LOCALE", "fr"),
            ("AVISA_SEND_MAX_ATTEMPTS", "0"),
            ("AVISA_STAFF_PHONES", "0991234567,abc"),
            ("AVISA_PUBLIC_URL", "ftp://x"),
            ("AVISA_TRUST_PROXY", "maybe"),
        ];
        for (var, value) in cases {
            let line = error_line(&[(var, value)]);
            assert!(line.starts_with(var), "{line}");
            assert!(line.contains(value), "{line}");
            assert!(!line.contains('\n'), "{line}");
        }
    }

    #[test]
    fn repeated_reminder_days_are_refused() {
        let line = error_line(&[("AVISA_REMINDER_DAYS", "7,7,3")]);
        assert_eq!(
            line,
            "AVISA_REMINDER_DAYS=\"7,7,3\": `7` is listed twice; list each day once"
        );
    }

    #[test]
    fn sqlite_folder_must_exist() {
        let line = error_line(&[("DATABASE_URL", "sqlite:///no/such/dir/avisa.db")]);
        assert!(line.contains("does not exist"), "{line}");
    }

    #[test]
    fn secrets_never_print() {
        let c = config(&[
            ("WASENDER_API_KEY", "super-secret-api-key-123"),
            ("AVISA_CRON_TOKEN", "cron-token-0123456789"),
        ])
        .unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("super-secret-api-key-123"));
        assert!(!debug.contains("cron-token-0123456789"));
        assert_eq!(
            c.wasender_api_key.unwrap().expose_secret(),
            "super-secret-api-key-123"
        );
        let short_key = error_line(&[("AVISA_SECRET_KEY", "short-key")]);
        assert!(short_key.contains("AVISA_SECRET_KEY") && !short_key.contains("short-key"));
        let c = config(&[("AVISA_SECRET_KEY", "k".repeat(32).as_str())]).unwrap();
        assert!(!format!("{c:?}").contains(&"k".repeat(32)));
        let short = error_line(&[("AVISA_CRON_TOKEN", "abc")]);
        assert!(!short.contains("abc\""), "{short}");
    }

    #[test]
    fn staff_phones_and_postgres() {
        let c = config(&[
            ("AVISA_STAFF_PHONES", "0991234567, +57 300 1234567"),
            ("DATABASE_URL", "postgres://user:pw@localhost/avisa"),
        ])
        .unwrap();
        assert_eq!(c.staff_phones.len(), 2);
        assert!(c.is_staff(&Phone::parse("+593991234567", Region::default()).unwrap()));
        assert_eq!(c.database_url.redacted(), "postgres://***@localhost/avisa");
    }

    #[test]
    fn toml_file_is_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("avisa.toml");
        std::fs::write(
            &path,
            "AVISA_TIMEZONE = \"America/Bogota\"\navisa_reminder_days = \"7,1\"\n",
        )
        .unwrap();
        let vars = read_toml(&path).unwrap();
        assert_eq!(vars["AVISA_TIMEZONE"], "America/Bogota");
        assert_eq!(vars["AVISA_REMINDER_DAYS"], "7,1");
        std::fs::write(&path, "AVISA_TYPO = 1\n").unwrap();
        assert!(
            read_toml(&path)
                .unwrap_err()
                .to_string()
                .contains("AVISA_TYPO")
        );
    }
}
