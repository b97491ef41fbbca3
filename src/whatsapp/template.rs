//! Approved templates for the WhatsApp Cloud API's 24-hour rule, as pure
//! logic: which automatic message kinds have one, the variables a message
//! offers its template, and the ordered body parameters a configured
//! template takes from them.
//!
//! A customer who has not written in the last 24 hours can only receive an
//! approved template. Each automatic message records, when it is queued,
//! the variables its text was rendered from ([`TemplateArgs`]); the Cloud
//! provider sends the configured template with those values when the
//! window is closed.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How long after a customer's last message free text may be sent.
pub const WINDOW_HOURS: i64 = 24;
/// The end of the window kept free: Meta counts from when the customer
/// wrote, we from when the webhook was stored (later by its delay, or by
/// hours when a delivery was retried), and Meta often accepts a text and
/// only then reports 131047 as a failed status. In the window's last 30
/// minutes the template goes instead.
pub const WINDOW_MARGIN_MINUTES: i64 = 30;

/// Whether free text may go to a customer whose last message came at
/// `last_inbound` (none: never wrote).
pub fn in_window(last_inbound: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    let open = Duration::hours(WINDOW_HOURS) - Duration::minutes(WINDOW_MARGIN_MINUTES);
    last_inbound.is_some_and(|at| now - at < open)
}

/// Meta's "Re-engagement message": more than 24 hours since the customer
/// wrote. It comes as the answer to a send, or later as a `failed` status.
pub const RE_ENGAGEMENT: i64 = 131047;

/// Whether a delivery status's error (`"<code>: <title>"`, as the Cloud
/// API's parser writes it) says the window had closed.
pub fn refused_for_closed_window(error: Option<&str>) -> bool {
    error
        .and_then(|e| e.split(':').next())
        .and_then(|code| code.trim().parse::<i64>().ok())
        == Some(RE_ENGAGEMENT)
}

/// The automatic messages that may need a template: the three reminders,
/// the renewal confirmation and the notices to staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateKind {
    Reminder,
    Urgent,
    Expired,
    Renewal,
    Notice,
}

impl TemplateKind {
    pub const ALL: [TemplateKind; 5] = [
        TemplateKind::Reminder,
        TemplateKind::Urgent,
        TemplateKind::Expired,
        TemplateKind::Renewal,
        TemplateKind::Notice,
    ];

    /// The kind of a text template (`reminder_urgent.txt` → `Urgent`);
    /// `None` for replies, which always go inside the window.
    pub fn for_text_template(name: &str) -> Option<TemplateKind> {
        match name {
            "reminder.txt" => Some(TemplateKind::Reminder),
            "reminder_urgent.txt" => Some(TemplateKind::Urgent),
            "reminder_expired.txt" => Some(TemplateKind::Expired),
            "renewal_confirmation.txt" => Some(TemplateKind::Renewal),
            "staff_notice.txt" | "session_restored.txt" => Some(TemplateKind::Notice),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            TemplateKind::Reminder => "reminder",
            TemplateKind::Urgent => "urgent",
            TemplateKind::Expired => "expired",
            TemplateKind::Renewal => "renewal",
            TemplateKind::Notice => "notice",
        }
    }

    /// The setting that maps this kind to a template.
    pub fn setting(self) -> &'static str {
        match self {
            TemplateKind::Reminder => "WHATSAPP_TEMPLATE_REMINDER",
            TemplateKind::Urgent => "WHATSAPP_TEMPLATE_URGENT",
            TemplateKind::Expired => "WHATSAPP_TEMPLATE_EXPIRED",
            TemplateKind::Renewal => "WHATSAPP_TEMPLATE_RENEWAL",
            TemplateKind::Notice => "WHATSAPP_TEMPLATE_NOTICE",
        }
    }

    /// The variables a template of this kind may take, in the order the
    /// README lists them. `text` (the whole message on one line) is
    /// offered by every kind.
    pub fn variables(self) -> &'static [&'static str] {
        match self {
            TemplateKind::Reminder | TemplateKind::Urgent | TemplateKind::Expired => &[
                "client_name",
                "service",
                "long_date",
                "when",
                "days_left",
                "price",
                "total",
                "payment_link",
                "business_name",
                "text",
            ],
            TemplateKind::Renewal => &[
                "client_name",
                "service",
                "months",
                "long_date",
                "business_name",
                "text",
            ],
            // Notices come from many texts with different variables: they
            // offer their whole text, on one line.
            TemplateKind::Notice => &["text"],
        }
    }
}

/// What an automatic message offers its template: the kind and the
/// values of its variables, flattened to single-line strings. Stored with
/// the message (JSON) when it is queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateArgs {
    pub kind: TemplateKind,
    pub vars: BTreeMap<String, String>,
}

/// Template parameters may not hold line breaks, tabs or more than four
/// spaces in a row (Meta refuses the send); a message's lines are joined
/// with " · ".
pub fn one_line(text: &str) -> String {
    let joined = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" · ");
    joined
        .replace('\t', " ")
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

impl TemplateArgs {
    /// The args for a message rendered from text template `name` with
    /// `context` into `body`; `None` when the template is not one of the
    /// automatic kinds.
    ///
    /// Top-level strings and numbers are taken as they are; a list of
    /// items (a reminder for several services) gives each field its items'
    /// values joined with ", " (`service` = "Netflix, Disney+").
    pub fn from_context(name: &str, context: &Value, body: &str) -> Option<TemplateArgs> {
        let kind = TemplateKind::for_text_template(name)?;
        let mut vars = BTreeMap::new();
        if let Some(map) = context.as_object() {
            for (key, value) in map {
                if let Some(text) = scalar(value) {
                    vars.insert(key.clone(), text);
                }
            }
            if let Some(items) = map.get("items").and_then(Value::as_array) {
                let mut joined: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for item in items.iter().filter_map(Value::as_object) {
                    for (key, value) in item {
                        if let Some(text) = scalar(value).filter(|t| !t.is_empty()) {
                            joined.entry(key.clone()).or_default().push(text);
                        }
                    }
                }
                for (key, values) in joined {
                    // A top-level value of the same name (one service's
                    // `payment_link`) wins when it is set.
                    let top = vars.get(&key).filter(|v| !v.is_empty());
                    if top.is_none() {
                        vars.insert(key, values.join(", "));
                    }
                }
            }
        }
        vars.insert("text".into(), body.to_string());
        for value in vars.values_mut() {
            *value = one_line(value);
        }
        Some(TemplateArgs { kind, vars })
    }

    /// The stored form (JSON).
    pub fn to_json(&self) -> String {
        // A map of strings always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Option<TemplateArgs> {
        serde_json::from_str(text).ok()
    }
}

/// One kind's configured template: `name:language:var1,var2,…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateSpec {
    /// The template's name in Meta's manager (`avisa_recordatorio`).
    pub name: String,
    /// Its language code (`es`, `es_MX`, `en_US`).
    pub language: String,
    /// The variables that fill `{{1}}`, `{{2}}`… in order.
    pub parameters: Vec<String>,
}

/// Why a template setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateSpecError {
    #[error(
        "expected name:language:var1,var2 (for example avisa_recordatorio:es:client_name,service,long_date)"
    )]
    Shape,
    #[error("template name `{0}` may hold only lowercase letters, digits and _")]
    Name(String),
    #[error("language code `{0}` is not like es, es_MX or en_US")]
    Language(String),
    #[error("unknown variable `{var}`; this kind offers: {offered}")]
    Variable { var: String, offered: String },
}

impl TemplateSpec {
    /// Parses one setting's value for `kind`.
    pub fn parse(kind: TemplateKind, value: &str) -> Result<TemplateSpec, TemplateSpecError> {
        let mut parts = value.trim().splitn(3, ':');
        let (Some(name), Some(language)) = (parts.next(), parts.next()) else {
            return Err(TemplateSpecError::Shape);
        };
        let (name, language) = (name.trim(), language.trim());
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(TemplateSpecError::Name(name.to_string()));
        }
        let valid_language = {
            let mut bits = language.split('_');
            let lang = bits.next().unwrap_or_default();
            let region = bits.next();
            bits.next().is_none()
                && (2..=3).contains(&lang.len())
                && lang.chars().all(|c| c.is_ascii_lowercase())
                && region.is_none_or(|r| {
                    (2..=3).contains(&r.len()) && r.chars().all(|c| c.is_ascii_alphanumeric())
                })
        };
        if !valid_language {
            return Err(TemplateSpecError::Language(language.to_string()));
        }
        let parameters: Vec<String> = parts
            .next()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect();
        let offered = kind.variables();
        if let Some(unknown) = parameters.iter().find(|v| !offered.contains(&v.as_str())) {
            return Err(TemplateSpecError::Variable {
                var: unknown.clone(),
                offered: offered.join(", "),
            });
        }
        Ok(TemplateSpec {
            name: name.to_string(),
            language: language.to_string(),
            parameters,
        })
    }

    /// The body parameters for one message, in order. A variable the
    /// message has no value for is sent as "-" (Meta refuses empty ones).
    pub fn body_parameters(&self, args: &TemplateArgs) -> Vec<String> {
        self.parameters
            .iter()
            .map(|var| {
                args.vars
                    .get(var)
                    .filter(|v| !v.trim().is_empty())
                    .cloned()
                    .unwrap_or_else(|| "-".to_string())
            })
            .collect()
    }
}

/// The templates configured, by kind.
pub type TemplateMap = BTreeMap<TemplateKind, TemplateSpec>;

/// The value one scalar JSON value gives a variable.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(hours_ago: i64, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        Some(now - Duration::hours(hours_ago))
    }

    #[test]
    fn a_closed_window_is_read_from_the_status_error() {
        assert!(refused_for_closed_window(Some(
            "131047: Re-engagement message"
        )));
        assert!(refused_for_closed_window(Some(" 131047 ")));
        for error in [
            None,
            Some("131026: Message undeliverable"),
            Some("Re-engagement 131047"),
            Some(""),
        ] {
            assert!(!refused_for_closed_window(error), "{error:?}");
        }
    }

    #[test]
    fn the_window_is_24_hours_after_the_last_message_less_a_margin() {
        let now = Utc::now();
        let minutes_ago = |m: i64| Some(now - Duration::minutes(m));
        assert!(in_window(at(1, now), now));
        assert!(in_window(minutes_ago(23 * 60 + 29), now));
        assert!(!in_window(minutes_ago(23 * 60 + 30), now));
        assert!(!in_window(minutes_ago(23 * 60 + 59), now));
        assert!(!in_window(at(24, now), now));
        assert!(!in_window(at(25, now), now));
        assert!(!in_window(None, now));
    }

    #[test]
    fn a_reminder_offers_its_items_joined_and_the_text_on_one_line() {
        let context = json!({
            "client_name": "José",
            "items": [
                {"service": "Netflix", "long_date": "5 de diciembre", "price": "$7,50", "payment_link": ""},
                {"service": "Disney+ \"Premium\"", "long_date": "6 de diciembre", "price": "$5,00", "payment_link": "https://x/pagar/b"}
            ],
            "total": "$12,50",
            "days_left": 3,
            "payment_link": "",
            "business_name": "Tío's <Streaming>",
        });
        let body = "Hola José 👋\n\nTe recordamos…\n\tTotal:    $12,50";
        let args = TemplateArgs::from_context("reminder.txt", &context, body).unwrap();
        assert_eq!(args.kind, TemplateKind::Reminder);
        assert_eq!(args.vars["service"], "Netflix, Disney+ \"Premium\"");
        assert_eq!(args.vars["long_date"], "5 de diciembre, 6 de diciembre");
        assert_eq!(args.vars["payment_link"], "https://x/pagar/b");
        assert_eq!(args.vars["days_left"], "3");
        assert_eq!(args.vars["business_name"], "Tío's <Streaming>");
        assert_eq!(
            args.vars["text"],
            "Hola José 👋 · Te recordamos… · Total: $12,50"
        );
        let back = TemplateArgs::from_json(&args.to_json()).unwrap();
        assert_eq!(back, args);
        assert!(TemplateArgs::from_context("reply_menu.txt", &context, body).is_none());
    }

    #[test]
    fn a_single_service_link_wins_over_the_joined_items() {
        let context = json!({
            "items": [{"service": "Netflix", "payment_link": "https://x/pagar/a"}],
            "payment_link": "https://x/pagar/a",
        });
        let args = TemplateArgs::from_context("reminder_urgent.txt", &context, "x").unwrap();
        assert_eq!(args.kind, TemplateKind::Urgent);
        assert_eq!(args.vars["payment_link"], "https://x/pagar/a");
    }

    #[test]
    fn specs_parse_and_fill_parameters_in_order() {
        let spec = TemplateSpec::parse(
            TemplateKind::Reminder,
            " avisa_recordatorio : es_MX : client_name, service,long_date ,payment_link",
        )
        .unwrap();
        assert_eq!(spec.name, "avisa_recordatorio");
        assert_eq!(spec.language, "es_MX");
        assert_eq!(
            spec.parameters,
            ["client_name", "service", "long_date", "payment_link"]
        );
        let args = TemplateArgs {
            kind: TemplateKind::Reminder,
            vars: [
                ("client_name".to_string(), "Ana".to_string()),
                ("service".to_string(), "IPTV".to_string()),
                ("long_date".to_string(), "1 de enero".to_string()),
                ("payment_link".to_string(), String::new()),
            ]
            .into(),
        };
        assert_eq!(
            spec.body_parameters(&args),
            ["Ana", "IPTV", "1 de enero", "-"]
        );
        let bare = TemplateSpec::parse(TemplateKind::Notice, "avisa_aviso:es").unwrap();
        assert!(bare.parameters.is_empty());
    }

    #[test]
    fn bad_specs_name_what_is_wrong() {
        let parse = |v| TemplateSpec::parse(TemplateKind::Renewal, v).unwrap_err();
        assert_eq!(parse("solo_nombre"), TemplateSpecError::Shape);
        assert_eq!(
            parse("Avisa Renovado:es:"),
            TemplateSpecError::Name("Avisa Renovado".into())
        );
        assert_eq!(
            parse("avisa:español:"),
            TemplateSpecError::Language("español".into())
        );
        let err = parse("avisa:es:client_name,total");
        assert!(
            matches!(&err, TemplateSpecError::Variable { var, .. } if var == "total"),
            "{err:?}"
        );
        assert!(err.to_string().contains("months"), "{err}");
        // Notices offer only their whole text (they are never rendered
        // with a client's variables).
        let err = TemplateSpec::parse(TemplateKind::Notice, "avisa_aviso:es:client_name,text")
            .unwrap_err();
        assert!(
            matches!(&err, TemplateSpecError::Variable { var, .. } if var == "client_name"),
            "{err:?}"
        );
        assert!(TemplateSpec::parse(TemplateKind::Notice, "avisa_aviso:es:text").is_ok());
    }
}
