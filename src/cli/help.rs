//! `avisa --help` in the configured language: the commands and arguments
//! are declared with clap's derive (names, types, defaults), their words
//! come from the i18n catalog (`help.<command>[.<sub>].<arg>`), set on the
//! built `clap::Command` at run time. `avisa serve --help` also lists every
//! environment variable from `config::SETTINGS`, so each setting is
//! declared once.
//!
//! The language is `AVISA_LOCALE` from the environment, read before the
//! configuration (which `--help` must not need to be valid).

use clap::{Arg, ArgAction, Command, CommandFactory};

use super::Cli;
use crate::config::{SETTINGS, SettingDefault};
use crate::domain::Locale;
use crate::i18n;

/// The language of `--help`: `AVISA_LOCALE` if it names one, else Spanish.
pub fn locale_from_env() -> Locale {
    std::env::var("AVISA_LOCALE")
        .ok()
        .and_then(|value| Locale::parse(&value).ok())
        .unwrap_or_default()
}

/// A catalog text as clap's headings want it (`'static`: the catalog is).
fn word(locale: Locale, key: &'static str) -> &'static str {
    i18n::lookup(locale, key).unwrap_or(key)
}

/// The whole command line, worded in `locale`.
pub fn command(locale: Locale) -> Command {
    let root = Cli::command().disable_help_subcommand(true);
    localize(root, locale, "help.avisa", true)
}

/// Words `command` (and its subcommands) from the catalog under `key`.
fn localize(command: Command, locale: Locale, key: &str, root: bool) -> Command {
    let text = |suffix: &str| i18n::text(locale, &format!("{key}.{suffix}"));
    let mut command = command
        .about(text("about"))
        .help_template(i18n::text(locale, "help.template"))
        .subcommand_help_heading(word(locale, "help.commands"))
        .subcommand_value_name(word(locale, "help.command"))
        .disable_help_flag(true)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help(i18n::text(locale, "help.flag_help")),
        );
    if root {
        command = command.disable_version_flag(true).arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help(i18n::text(locale, "help.flag_version")),
        );
    }
    let ids: Vec<String> = command
        .get_arguments()
        .map(|arg| arg.get_id().to_string())
        .filter(|id| id != "help" && id != "version")
        .collect();
    for id in ids {
        let positional = command
            .get_arguments()
            .any(|arg| arg.get_id() == id.as_str() && arg.is_positional());
        let heading = if positional {
            "help.arguments"
        } else {
            "help.options"
        };
        let help = text(&id);
        command = command.mut_arg(id.as_str(), |arg| {
            arg.help(help).help_heading(word(locale, heading))
        });
    }
    command = command.mut_arg("help", |arg| arg.help_heading(word(locale, "help.options")));
    if root {
        command = command.mut_arg("version", |arg| {
            arg.help_heading(word(locale, "help.options"))
        });
    }
    let names: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_string())
        .collect();
    for name in names {
        let sub_key = if root {
            format!("help.{name}")
        } else {
            format!("{key}.{name}")
        };
        command = command.mut_subcommand(name.as_str(), |sub| {
            let sub = localize(sub, locale, &sub_key, false);
            if name == "serve" {
                sub.after_help(environment(locale))
            } else {
                sub
            }
        });
    }
    command
}

/// `avisa serve --help`'s list of settings: every variable of
/// `config::SETTINGS` with its default and meaning.
pub fn environment(locale: Locale) -> String {
    let mut text = i18n::text(locale, "help.environment");
    for setting in SETTINGS {
        let default = match setting.default {
            SettingDefault::Value(value) => {
                i18n::format(locale, "help.default_value", &[("value", &value)])
            }
            SettingDefault::Empty => i18n::text(locale, "help.default_empty"),
            SettingDefault::Unset => i18n::text(locale, "help.default_unset"),
            SettingDefault::FolderIfPresent(dir) => {
                i18n::format(locale, "help.default_folder", &[("dir", &dir)])
            }
            SettingDefault::Generated => i18n::text(locale, "help.default_generated"),
        };
        text.push_str(&format!(
            "\n  {}\n      {} ({default})",
            setting.name,
            setting.meaning(locale)
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command, subcommand and argument has its words in both
    /// catalogs: a missing key would show as the key itself.
    #[test]
    fn every_command_and_argument_is_worded_in_both_languages() {
        fn walk(command: &Command, key: &str, root: bool, found: &mut Vec<String>) {
            found.push(format!("{key}.about"));
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id != "help" && id != "version" {
                    found.push(format!("{key}.{id}"));
                }
            }
            for sub in command.get_subcommands() {
                let sub_key = if root {
                    format!("help.{}", sub.get_name())
                } else {
                    format!("{key}.{}", sub.get_name())
                };
                walk(sub, &sub_key, false, found);
            }
        }
        let mut keys = Vec::new();
        walk(&Cli::command(), "help.avisa", true, &mut keys);
        assert!(keys.len() > 20, "{keys:?}");
        for key in keys {
            for locale in [Locale::Es, Locale::En] {
                assert!(i18n::has(locale, &key), "{key} missing in {locale:?}");
            }
        }
    }

    #[test]
    fn help_is_spanish_by_default_and_english_on_request() {
        let mut es = command(Locale::Es);
        let help = es.render_long_help().to_string();
        assert!(help.contains("Uso:"), "{help}");
        assert!(help.contains("Comandos:"), "{help}");
        assert!(help.contains("Importa clientes"), "{help}");
        for english in [
            "Usage",
            "Commands",
            "Options",
            "Print help",
            "Import clients",
        ] {
            assert!(!help.contains(english), "{english} in:\n{help}");
        }
        let mut en = command(Locale::En);
        let help = en.render_long_help().to_string();
        assert!(
            help.contains("Usage:") && help.contains("Import clients"),
            "{help}"
        );

        let mut import = command(Locale::Es);
        let import = import
            .find_subcommand_mut("import")
            .expect("import")
            .render_long_help()
            .to_string();
        assert!(import.contains("--skip-invalid"), "{import}");
        assert!(
            import.contains("Opciones:") && import.contains("Argumentos:"),
            "{import}"
        );
    }

    #[test]
    fn serve_help_lists_every_setting_with_its_default() {
        let mut command = command(Locale::Es);
        let serve = command
            .find_subcommand_mut("serve")
            .expect("serve")
            .render_long_help()
            .to_string();
        for setting in SETTINGS {
            assert!(
                serve.contains(setting.name),
                "{} missing:\n{serve}",
                setting.name
            );
        }
        assert!(serve.contains("por defecto: 09:00"), "{serve}");
    }

    #[test]
    fn the_command_line_still_parses() {
        use clap::FromArgMatches;
        let matches = command(Locale::Es)
            .try_get_matches_from(["avisa", "import", "a.csv", "--dry-run"])
            .unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        assert!(matches!(
            cli.command,
            super::super::Command::Import {
                dry_run: true,
                skip_invalid: false,
                ..
            }
        ));
    }
}
