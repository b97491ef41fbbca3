//! Intent keywords and the numbered menu, from editable `flows/<locale>.toml`
//! (schema documented at the top of `flows/es.toml`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::domain::Locale;

const EMBEDDED_ES: &str = include_str!("../../flows/es.toml");
const EMBEDDED_EN: &str = include_str!("../../flows/en.toml");

/// What a customer's message asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    Greeting,
    /// Like a greeting, but also ends a handoff to a person.
    Menu,
    Expiry,
    Renew,
    Human,
    OptOut,
    OptIn,
}

impl Intent {
    /// Tie-break when several intents match one message: the most
    /// consequential request wins over small talk.
    const PRIORITY: [Intent; 7] = [
        Intent::OptOut,
        Intent::OptIn,
        Intent::Human,
        Intent::Renew,
        Intent::Expiry,
        Intent::Menu,
        Intent::Greeting,
    ];
}

/// One line of the numbered menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MenuOption {
    pub number: u32,
    pub intent: Intent,
    pub label: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FlowsError {
    #[error("cannot read flows file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("flows file {origin}: {message}")]
    Invalid { origin: String, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlows {
    #[serde(default)]
    number_words: Vec<String>,
    #[serde(default)]
    menu: Vec<MenuOption>,
    #[serde(default)]
    intents: HashMap<Intent, RawIntent>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawIntent {
    #[serde(default)]
    exact: Vec<String>,
    #[serde(default)]
    keywords: Vec<String>,
}

/// Loaded, validated and normalized flows for one locale.
#[derive(Debug, Clone)]
pub struct Flows {
    locale: Locale,
    number_words: Vec<String>,
    menu: Vec<MenuOption>,
    exact: HashMap<String, Intent>,
    /// In [`Intent::PRIORITY`] order; each keyword padded with spaces so a
    /// plain `contains` on the padded message matches whole words only.
    keywords: Vec<(Intent, Vec<String>)>,
}

impl Flows {
    /// Reads `<dir>/<locale>.toml` when it exists, else the embedded default,
    /// so the binary runs from any directory but stays editable.
    pub fn load(locale: Locale, override_dir: Option<&Path>) -> Result<Flows, FlowsError> {
        if let Some(dir) = override_dir {
            let path = dir.join(format!("{}.toml", locale.code()));
            match std::fs::read_to_string(&path) {
                Ok(text) => return Flows::parse(locale, &text, &path.display().to_string()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(FlowsError::Io { path, source }),
            }
        }
        Flows::parse(locale, Flows::embedded_toml(locale), "(built-in)")
    }

    pub fn from_toml_str(locale: Locale, text: &str) -> Result<Flows, FlowsError> {
        Flows::parse(locale, text, "(string)")
    }

    /// The default TOML compiled into the binary.
    pub fn embedded_toml(locale: Locale) -> &'static str {
        match locale {
            Locale::Es => EMBEDDED_ES,
            Locale::En => EMBEDDED_EN,
        }
    }

    fn parse(locale: Locale, text: &str, origin: &str) -> Result<Flows, FlowsError> {
        let invalid = |message: String| FlowsError::Invalid {
            origin: origin.to_string(),
            message,
        };
        let raw: RawFlows = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        validate_menu(&raw.menu).map_err(invalid)?;

        let mut number_words = Vec::with_capacity(raw.number_words.len());
        for word in &raw.number_words {
            number_words.push(normalized_entry(word, "number_words").map_err(invalid)?);
        }

        let mut exact: HashMap<String, Intent> = HashMap::new();
        let mut keywords = Vec::new();
        for intent in Intent::PRIORITY {
            let Some(entry) = raw.intents.get(&intent) else {
                continue;
            };
            for word in &entry.exact {
                let norm = normalized_entry(word, "exact").map_err(invalid)?;
                if norm.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid(format!(
                        "exact `{word}`: numbers belong in [[menu]]"
                    )));
                }
                if number_words.contains(&norm) {
                    return Err(invalid(format!("exact `{word}` is also a number word")));
                }
                if let Some(other) = exact.insert(norm, intent)
                    && other != intent
                {
                    return Err(invalid(format!(
                        "exact `{word}` is listed for both {other:?} and {intent:?}"
                    )));
                }
            }
            let mut padded = Vec::with_capacity(entry.keywords.len());
            for word in &entry.keywords {
                let norm = normalized_entry(word, "keywords").map_err(invalid)?;
                padded.push(format!(" {norm} "));
            }
            keywords.push((intent, padded));
        }
        Ok(Flows {
            locale,
            number_words,
            menu: raw.menu,
            exact,
            keywords,
        })
    }

    pub fn locale(&self) -> Locale {
        self.locale
    }

    /// The menu in display order.
    pub fn menu(&self) -> &[MenuOption] {
        &self.menu
    }

    /// The number a whole message stands for: digits ("2", "2.") or a number
    /// word ("dos"). Used both for the menu and for numbered lists.
    pub fn number(&self, text: &str) -> Option<u32> {
        let norm = normalize(text);
        if !norm.is_empty() && norm.len() <= 4 && norm.bytes().all(|b| b.is_ascii_digit()) {
            return norm.parse().ok();
        }
        let pos = self.number_words.iter().position(|w| *w == norm)?;
        u32::try_from(pos + 1).ok()
    }

    /// The intent of a message, or `None` when nothing matches.
    pub fn intent(&self, text: &str) -> Option<Intent> {
        if let Some(n) = self.number(text) {
            return self.menu.iter().find(|o| o.number == n).map(|o| o.intent);
        }
        let norm = normalize(text);
        if norm.is_empty() {
            return None;
        }
        if let Some(intent) = self.exact.get(&norm) {
            return Some(*intent);
        }
        let padded = format!(" {norm} ");
        self.keywords
            .iter()
            .find(|(_, words)| words.iter().any(|w| padded.contains(w.as_str())))
            .map(|(intent, _)| *intent)
    }
}

fn validate_menu(menu: &[MenuOption]) -> Result<(), String> {
    if menu.is_empty() {
        return Err("[[menu]] needs at least one option".into());
    }
    for (i, option) in menu.iter().enumerate() {
        if option.number == 0 {
            return Err("menu numbers start at 1".into());
        }
        if option.label.trim().is_empty() {
            return Err(format!("menu option {} has an empty label", option.number));
        }
        if menu[..i].iter().any(|o| o.number == option.number) {
            return Err(format!("menu number {} appears twice", option.number));
        }
    }
    Ok(())
}

fn normalized_entry(word: &str, list: &str) -> Result<String, String> {
    let norm = normalize(word);
    if norm.is_empty() {
        Err(format!(
            "{list}: `{word}` is empty once punctuation is removed"
        ))
    } else {
        Ok(norm)
    }
}

/// Lowercase, without accents, punctuation turned into single spaces:
/// "¿CUÁNDO vence?" → "cuando vence". People type all of these variants.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.to_lowercase().nfd().filter(|c| !is_combining_mark(*c)) {
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c);
        } else {
            pending_space = true;
        }
    }
    out
}

#[cfg(test)]
mod tests;
