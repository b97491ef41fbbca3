//! Command names, usage lines and error texts (Spanish and English), kept in
//! one table so `/ayuda`, usage errors and the parser cannot drift apart.

use std::fmt;

use crate::domain::Locale;

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
}

struct Spec {
    kind: CommandKind,
    /// Accepted names, already normalized; first Spanish, then English.
    names: &'static [&'static str],
    args: [&'static str; 2],
    about: [&'static str; 2],
}

/// In `CommandKind` order (checked by a test) so a kind indexes its spec.
const SPECS: [Spec; 12] = [
    Spec {
        kind: CommandKind::Help,
        names: &["ayuda", "help"],
        args: ["", ""],
        about: ["esta lista", "this list"],
    },
    Spec {
        kind: CommandKind::Renew,
        names: &["renovar", "renew"],
        args: [
            "<teléfono|#id> [servicio] [meses]",
            "<phone|#id> [service] [months]",
        ],
        about: [
            "renueva N meses (1 por defecto) y avisa al cliente",
            "renew for N months (default 1) and tell the customer",
        ],
    },
    Spec {
        kind: CommandKind::Pending,
        names: &["pendientes", "pending"],
        args: ["", ""],
        about: [
            "solicitudes de renovación y comprobantes pendientes",
            "pending renewal requests and receipts",
        ],
    },
    Spec {
        kind: CommandKind::Due,
        names: &["vencen", "due"],
        args: ["[días]", "[days]"],
        about: [
            "vencen desde hoy hasta dentro de N días (7 por defecto)",
            "ending from today to N days ahead (default 7)",
        ],
    },
    Spec {
        kind: CommandKind::Overdue,
        names: &["vencidos", "overdue", "expired"],
        args: ["[días]", "[days]"],
        about: [
            "vencidos en los últimos N días (30 por defecto)",
            "expired in the last N days (default 30)",
        ],
    },
    Spec {
        kind: CommandKind::Client,
        names: &["cliente", "client"],
        args: ["<teléfono|nombre>", "<phone|name>"],
        about: [
            "suscripciones y últimos mensajes de un cliente",
            "a client's subscriptions and last messages",
        ],
    },
    Spec {
        kind: CommandKind::Add,
        names: &["alta", "add"],
        args: [
            "<teléfono> <servicio> <fecha> [precio] [nombre…]",
            "<phone> <service> <date> [price] [name…]",
        ],
        about: [
            "agrega un cliente o suscripción (fecha AAAA-MM-DD o DD/MM/AAAA)",
            "add a client or subscription (date YYYY-MM-DD or DD/MM/YYYY)",
        ],
    },
    Spec {
        kind: CommandKind::Cancel,
        names: &["baja", "cancel"],
        args: ["<teléfono> [servicio]", "<phone> [service]"],
        about: ["cancela una suscripción", "cancel a subscription"],
    },
    Spec {
        kind: CommandKind::Undo,
        names: &["deshacer", "undo"],
        args: ["", ""],
        about: [
            "deshace tu última renovación (dentro de 24 h)",
            "undo your last renewal (within 24 h)",
        ],
    },
    Spec {
        kind: CommandKind::Pause,
        names: &["pausar", "pause"],
        args: ["", ""],
        about: ["detiene los avisos automáticos", "stop automatic reminders"],
    },
    Spec {
        kind: CommandKind::Resume,
        names: &["reanudar", "resume"],
        args: ["", ""],
        about: [
            "reanuda los avisos automáticos",
            "resume automatic reminders",
        ],
    },
    Spec {
        kind: CommandKind::Summary,
        names: &["resumen", "summary"],
        args: ["", ""],
        about: [
            "envíos de hoy, fallos, pendientes e ingresos de los próximos 7 días",
            "today's sends, failures, pending requests and revenue due in 7 days",
        ],
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
        let args = self.spec().args[lang(locale)];
        if args.is_empty() {
            self.name(locale)
        } else {
            format!("{} {args}", self.name(locale))
        }
    }

    /// `Uso: /renovar <teléfono|#id> [servicio] [meses]`.
    pub fn usage(self, locale: Locale) -> String {
        match locale {
            Locale::Es => format!("Uso: {}", self.syntax(locale)),
            Locale::En => format!("Usage: {}", self.syntax(locale)),
        }
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
        match (locale, self) {
            (Locale::Es, MissingPhone) => "Falta el teléfono.".into(),
            (Locale::Es, MissingTarget) => "Falta el teléfono o el #id.".into(),
            (Locale::Es, MissingService) => "Falta el servicio.".into(),
            (Locale::Es, MissingDate) => "Falta la fecha (AAAA-MM-DD o DD/MM/AAAA).".into(),
            (Locale::Es, MissingClient) => "Falta el teléfono o el nombre.".into(),
            (Locale::Es, BadPhone(s)) => format!("\"{s}\" no es un teléfono válido."),
            (Locale::Es, BadId(s)) => format!("\"{s}\" no es un #id de suscripción."),
            (Locale::Es, BadMonths(s)) => format!("\"{s}\": los meses van de 1 a 36."),
            (Locale::Es, BadDays(s)) => format!("\"{s}\": los días van de 0 a 366."),
            (Locale::Es, BadDate(s)) => {
                format!("\"{s}\" no es una fecha válida (AAAA-MM-DD o DD/MM/AAAA).")
            }
            (Locale::Es, BadPrice(s)) => format!("\"{s}\" no es un precio (7.50 o 7,50)."),
            (Locale::Es, Extra(s)) => format!("Sobra \"{s}\"."),
            (Locale::En, MissingPhone) => "The phone number is missing.".into(),
            (Locale::En, MissingTarget) => "The phone number or #id is missing.".into(),
            (Locale::En, MissingService) => "The service is missing.".into(),
            (Locale::En, MissingDate) => "The date is missing (YYYY-MM-DD or DD/MM/YYYY).".into(),
            (Locale::En, MissingClient) => "The phone number or name is missing.".into(),
            (Locale::En, BadPhone(s)) => format!("\"{s}\" is not a valid phone number."),
            (Locale::En, BadId(s)) => format!("\"{s}\" is not a subscription #id."),
            (Locale::En, BadMonths(s)) => format!("\"{s}\": months go from 1 to 36."),
            (Locale::En, BadDays(s)) => format!("\"{s}\": days go from 0 to 366."),
            (Locale::En, BadDate(s)) => {
                format!("\"{s}\" is not a valid date (YYYY-MM-DD or DD/MM/YYYY).")
            }
            (Locale::En, BadPrice(s)) => format!("\"{s}\" is not a price (7.50 or 7,50)."),
            (Locale::En, Extra(s)) => format!("Unexpected \"{s}\"."),
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
        match (self, locale) {
            (UsageError::Unknown { name }, Locale::Es) => {
                format!("No conozco el comando /{name}. Escribe /ayuda para ver la lista.")
            }
            (UsageError::Unknown { name }, Locale::En) => {
                format!("Unknown command /{name}. Type /help for the list.")
            }
            (UsageError::BadArguments { command, problem }, _) => {
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
    let title = match locale {
        Locale::Es => "*Comandos*",
        Locale::En => "*Commands*",
    };
    let mut text = title.to_string();
    for spec in &SPECS {
        text.push('\n');
        text.push_str(&spec.kind.syntax(locale));
        text.push_str(" — ");
        text.push_str(spec.about[lang(locale)]);
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
        ] {
            assert!(es.contains(&format!("\n{name}")), "{name}");
        }
        assert_eq!(es.lines().count(), 13);
        let en = help_text(Locale::En);
        assert!(en.contains("\n/renew <phone|#id> [service] [months] — "));
        assert!(en.contains("\n/summary — "));
    }
}
