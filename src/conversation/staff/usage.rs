//! Command names, usage lines and error texts, kept in one table so
//! `/ayuda`, usage errors and the parser cannot drift apart. The names are
//! parser data (both languages are always accepted); the wording is in the
//! i18n catalog (`cmd.*`).

use std::fmt;

use crate::domain::Locale;
use crate::i18n;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandKind {
    Help,
    Renew,
    Pending,
    Due,
    Overdue,
    Client,
    Add,
    Cancel,
    Undo,
    Pause,
    Resume,
    Summary,
    Inbox,
    Payments,
}

struct Spec {
    kind: CommandKind,
    /// Accepted names, already normalized; first Spanish, then English.
    names: &'static [&'static str],
    /// `cmd.<key>.args` (when it takes any) and `cmd.<key>.about` in the
    /// i18n catalog.
    key: &'static str,
}

/// In `CommandKind` order (checked by a test) so a kind indexes its spec.
const SPECS: [Spec; 14] = [
    Spec {
        kind: CommandKind::Help,
        names: &["ayuda", "help"],
        key: "help",
    },
    Spec {
        kind: CommandKind::Renew,
        names: &["renovar", "renew"],
        key: "renew",
    },
    Spec {
        kind: CommandKind::Pending,
        names: &["pendientes", "pending"],
        key: "pending",
    },
    Spec {
        kind: CommandKind::Due,
        names: &["vencen", "due"],
        key: "due",
    },
    Spec {
        kind: CommandKind::Overdue,
        names: &["vencidos", "overdue", "expired"],
        key: "overdue",
    },
    Spec {
        kind: CommandKind::Client,
        names: &["cliente", "client"],
        key: "client",
    },
    Spec {
        kind: CommandKind::Add,
        names: &["alta", "add"],
        key: "add",
    },
    Spec {
        kind: CommandKind::Cancel,
        names: &["baja", "cancel"],
        key: "cancel",
    },
    Spec {
        kind: CommandKind::Undo,
        names: &["deshacer", "undo"],
        key: "undo",
    },
    Spec {
        kind: CommandKind::Pause,
        names: &["pausar", "pause"],
        key: "pause",
    },
    Spec {
        kind: CommandKind::Resume,
        names: &["reanudar", "resume"],
        key: "resume",
    },
    Spec {
        kind: CommandKind::Summary,
        names: &["resumen", "summary"],
        key: "summary",
    },
    Spec {
        kind: CommandKind::Inbox,
        names: &["bandeja", "inbox"],
        key: "inbox",
    },
    Spec {
        kind: CommandKind::Payments,
        names: &["pagos", "payments"],
        key: "payments",
    },
];

fn lang(locale: Locale) -> usize {
    match locale {
        Locale::Es => 0,
        Locale::En => 1,
    }
}

impl CommandKind {
    /// From a normalized name (`renovar`, `renew`, …).
    pub(super) fn from_name(name: &str) -> Option<CommandKind> {
        SPECS
            .iter()
            .find(|spec| spec.names.contains(&name))
            .map(|spec| spec.kind)
    }

    fn spec(self) -> &'static Spec {
        &SPECS[self as usize]
    }

    /// `/renovar` or `/renew`.
    pub fn name(self, locale: Locale) -> String {
        format!("/{}", self.spec().names[lang(locale)])
    }

    /// `/renovar <teléfono|#id> [servicio] [meses]`.
    pub fn syntax(self, locale: Locale) -> String {
        let key = format!("cmd.{}.args", self.spec().key);
        match i18n::lookup(locale, &key) {
            Some(args) => format!("{} {args}", self.name(locale)),
            None => self.name(locale),
        }
    }

    /// What the command does, for `/ayuda`.
    fn about(self, locale: Locale) -> String {
        i18n::text(locale, &format!("cmd.{}.about", self.spec().key))
    }

    /// `Uso: /renovar <teléfono|#id> [servicio] [meses]`.
    pub fn usage(self, locale: Locale) -> String {
        i18n::format(locale, "cmd.usage", &[("syntax", &self.syntax(locale))])
    }
}

/// What is wrong with a command's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    MissingPhone,
    MissingTarget,
    MissingService,
    MissingDate,
    MissingClient,
    BadPhone(String),
    BadId(String),
    BadMonths(String),
    BadDays(String),
    BadDate(String),
    BadPrice(String),
    Extra(String),
}

impl Problem {
    pub fn text(&self, locale: Locale) -> String {
        use Problem::*;
        let (key, value) = match self {
            MissingPhone => ("cmd.missing_phone", None),
            MissingTarget => ("cmd.missing_target", None),
            MissingService => ("cmd.missing_service", None),
            MissingDate => ("cmd.missing_date", None),
            MissingClient => ("cmd.missing_client", None),
            BadPhone(s) => ("cmd.bad_phone", Some(s)),
            BadId(s) => ("cmd.bad_id", Some(s)),
            BadMonths(s) => ("cmd.bad_months", Some(s)),
            BadDays(s) => ("cmd.bad_days", Some(s)),
            BadDate(s) => ("cmd.bad_date", Some(s)),
            BadPrice(s) => ("cmd.bad_price", Some(s)),
            Extra(s) => ("cmd.extra", Some(s)),
        };
        match value {
            Some(value) => i18n::format(locale, key, &[("value", value)]),
            None => i18n::text(locale, key),
        }
    }
}

/// A `/…` message that is not a valid command. [`UsageError::message`] is
/// the answer to send; `Display` is the Spanish one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageError {
    Unknown {
        name: String,
    },
    BadArguments {
        command: CommandKind,
        problem: Problem,
    },
}

impl UsageError {
    /// The usage line of the command, when the command is known.
    pub fn usage(&self, locale: Locale) -> Option<String> {
        match self {
            UsageError::Unknown { .. } => None,
            UsageError::BadArguments { command, .. } => Some(command.usage(locale)),
        }
    }

    pub fn message(&self, locale: Locale) -> String {
        match self {
            UsageError::Unknown { name } => i18n::format(locale, "cmd.unknown", &[("name", name)]),
            UsageError::BadArguments { command, problem } => {
                format!("{}\n{}", problem.text(locale), command.usage(locale))
            }
        }
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(Locale::Es))
    }
}

impl std::error::Error for UsageError {}

/// The `/ayuda` answer: one line per command. A plain string because it
/// is the same for every staff member and needs no template.
pub fn help_text(locale: Locale) -> String {
    let mut text = i18n::text(locale, "cmd.title");
    for spec in &SPECS {
        text.push('\n');
        text.push_str(&spec.kind.syntax(locale));
        text.push_str(" — ");
        text.push_str(&spec.kind.about(locale));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_in_kind_order() {
        for (i, spec) in SPECS.iter().enumerate() {
            assert_eq!(spec.kind as usize, i, "{:?}", spec.kind);
        }
    }

    #[test]
    fn every_command_has_its_wording_in_both_languages() {
        for spec in &SPECS {
            for locale in [Locale::Es, Locale::En] {
                let about = format!("cmd.{}.about", spec.key);
                assert!(i18n::has(locale, &about), "{about} ({locale:?})");
            }
            let args = format!("cmd.{}.args", spec.key);
            assert_eq!(
                i18n::has(Locale::Es, &args),
                i18n::has(Locale::En, &args),
                "{args}"
            );
        }
    }

    #[test]
    fn usage_lines() {
        assert_eq!(
            CommandKind::Renew.usage(Locale::Es),
            "Uso: /renovar <teléfono|#id> [servicio] [meses]"
        );
        assert_eq!(
            CommandKind::Renew.usage(Locale::En),
            "Usage: /renew <phone|#id> [service] [months]"
        );
        assert_eq!(CommandKind::Pause.usage(Locale::Es), "Uso: /pausar");
    }

    #[test]
    fn help_lists_every_command() {
        let es = help_text(Locale::Es);
        for name in [
            "/ayuda",
            "/renovar",
            "/pendientes",
            "/vencen",
            "/vencidos",
            "/cliente",
            "/alta",
            "/baja",
            "/deshacer",
            "/pausar",
            "/reanudar",
            "/resumen",
            "/bandeja",
            "/pagos",
        ] {
            assert!(es.contains(&format!("\n{name}")), "{name}");
        }
        assert_eq!(es.lines().count(), 15);
        let en = help_text(Locale::En);
        assert!(en.contains("\n/renew <phone|#id> [service] [months] — "));
        assert!(en.contains("\n/summary — "));
    }
}
