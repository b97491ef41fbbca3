//! Message templates (minijinja). Defaults are embedded so `avisa` runs from
//! any folder; a file in `AVISA_TEMPLATES_DIR/<locale>/` replaces its default.

use std::path::{Path, PathBuf};

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::domain::Locale;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template {name}: {source}")]
    Render {
        name: String,
        #[source]
        source: minijinja::Error,
    },
}

macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        /// (locale, name, text) for every embedded template.
        pub const EMBEDDED: &[(&str, &str, &str)] = &[
            $(
                ("es", $name, include_str!(concat!("../templates/es/", $name))),
                ("en", $name, include_str!(concat!("../templates/en/", $name))),
            )*
        ];
    };
}

embedded!(
    "reminder.txt",
    "reminder_urgent.txt",
    "reminder_expired.txt",
    "session_restored.txt",
    "reply_menu.txt",
    "reply_expiry.txt",
    "reply_no_active.txt",
    "reply_renew_instructions.txt",
    "reply_renew_choose.txt",
    "reply_receipt_ack.txt",
    "reply_handoff_ack.txt",
    "reply_opted_out.txt",
    "reply_opted_in.txt",
    "reply_unknown_number.txt",
    "staff_notice.txt",
    "renewal_confirmation.txt",
    "staff_renewed.txt",
    "staff_pending.txt",
    "staff_subscriptions.txt",
    "staff_client.txt",
    "staff_choose.txt",
    "staff_summary.txt",
);

/// Names of the embedded templates, once each.
pub fn template_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = EMBEDDED.iter().map(|(_, name, _)| *name).collect();
    names.dedup();
    names
}

#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
    locale: Locale,
}

impl Templates {
    /// Loads every template for `locale`, checking overrides parse, so a
    /// broken override stops start-up instead of the first send.
    pub fn load(locale: Locale, override_dir: Option<&Path>) -> Result<Templates, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.add_filter("plural", plural);
        for (code, name, text) in EMBEDDED {
            if *code != locale.code() {
                continue;
            }
            let source = override_dir
                .map(|dir| dir.join(code).join(name))
                .filter(|p| p.is_file())
                .and_then(|p: PathBuf| std::fs::read_to_string(p).ok())
                .unwrap_or_else(|| (*text).to_string());
            env.add_template_owned(*name, source)
                .map_err(|source| TemplateError::Render {
                    name: (*name).to_string(),
                    source,
                })?;
        }
        Ok(Templates { env, locale })
    }

    pub fn locale(&self) -> Locale {
        self.locale
    }

    pub fn render<S: Serialize>(&self, name: &str, context: S) -> Result<String, TemplateError> {
        let wrap = |source| TemplateError::Render {
            name: name.to_string(),
            source,
        };
        let template = self.env.get_template(name).map_err(wrap)?;
        let text = template.render(context).map_err(wrap)?;
        Ok(tidy(&text))
    }

    /// Renders an outbox message and what it offers a Cloud API template
    /// (`TemplateArgs` as JSON; `None` for templates that are not one of
    /// the automatic kinds).
    pub fn render_outbound<S: Serialize>(
        &self,
        name: &str,
        context: S,
    ) -> Result<(String, Option<String>), TemplateError> {
        let context = serde_json::to_value(context).map_err(|e| TemplateError::Render {
            name: name.to_string(),
            source: minijinja::Error::new(minijinja::ErrorKind::BadSerialization, e.to_string()),
        })?;
        let body = self.render(name, &context)?;
        let args = crate::whatsapp::TemplateArgs::from_context(name, &context, &body)
            .map(|args| args.to_json());
        Ok((body, args))
    }
}

/// `{{ n | plural("día", "días") }}` → "1 día", "3 días".
fn plural(n: i64, one: &str, many: &str) -> String {
    if n.abs() == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Trims trailing spaces and collapses runs of blank lines left by
/// conditional blocks, so messages look hand-written.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plural_forms() {
        assert_eq!(plural(1, "día", "días"), "1 día");
        assert_eq!(plural(3, "día", "días"), "3 días");
        assert_eq!(plural(0, "día", "días"), "0 días");
    }

    #[test]
    fn tidy_collapses_blank_runs() {
        assert_eq!(tidy("a  \n\n\n\nb\n\n"), "a\n\nb");
    }

    #[test]
    fn every_template_exists_in_both_languages() {
        for name in template_names() {
            for code in ["es", "en"] {
                assert!(
                    EMBEDDED.iter().any(|(c, n, _)| *c == code && *n == name),
                    "{code}/{name}"
                );
            }
        }
    }

    #[test]
    fn overrides_replace_one_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("es")).unwrap();
        std::fs::write(dir.path().join("es/reminder.txt"), "Hola {{ client_name }}").unwrap();
        let t = Templates::load(Locale::Es, Some(dir.path())).unwrap();
        let ctx = serde_json::json!({"client_name": "Ana"});
        assert_eq!(t.render("reminder.txt", &ctx).unwrap(), "Hola Ana");
        // Strict: a missing variable is an error, not an empty string.
        assert!(t.render("reminder_urgent.txt", &ctx).is_err());
    }

    #[test]
    fn a_broken_override_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("es")).unwrap();
        std::fs::write(dir.path().join("es/reminder.txt"), "{% if %}").unwrap();
        let err = Templates::load(Locale::Es, Some(dir.path())).unwrap_err();
        assert!(err.to_string().contains("reminder.txt"), "{err}");
    }
}
