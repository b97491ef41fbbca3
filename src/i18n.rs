//! The one wording catalog for everything that is not a customer-facing
//! message template: the staff panel, staff command answers, CLI output and
//! user-facing errors. Customer messages stay editable minijinja files
//! (`templates/<locale>/*.txt`, see `templates`).
//!
//! `templates/i18n/{es,en}.toml`, embedded at compile time: Spanish by
//! default, English with `AVISA_LOCALE=en`. Keys are flat (`key = "text"`,
//! or dotted `staff.paused = "…"` per area); a text that counts something
//! has CLDR plural forms (`key.one = "{n} cliente"`, `key.other = "{n}
//! clientes"`), chosen by the `n` argument with the language's CLDR
//! cardinal rule (`intl_pluralrules`). `{name}` is filled by the argument
//! `name`. Unit tests keep both languages with the same keys and forms, and
//! check every key that templates and Rust code name.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::sync::OnceLock;

use intl_pluralrules::{PluralCategory, PluralRuleType, PluralRules};
use unic_langid::LanguageIdentifier;

use crate::domain::Locale;

const ES: &str = include_str!("../templates/i18n/es.toml");
const EN: &str = include_str!("../templates/i18n/en.toml");

/// The CLDR plural categories a catalog entry may spell out.
const CATEGORIES: [&str; 6] = ["zero", "one", "two", "few", "many", "other"];

/// One catalog entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Text(String),
    /// Forms by CLDR category name; `other` is always there.
    Plural(BTreeMap<String, String>),
}

pub type Catalog = BTreeMap<String, Entry>;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("the {locale} catalog does not parse: {source}")]
    Parse {
        locale: &'static str,
        source: toml::de::Error,
    },
    #[error("{locale} catalog, `{key}`: {problem}")]
    Shape {
        locale: &'static str,
        key: String,
        problem: &'static str,
    },
}

fn source(locale: Locale) -> &'static str {
    match locale {
        Locale::Es => ES,
        Locale::En => EN,
    }
}

/// Parses a catalog: strings, dotted keys, and plural tables (only CLDR
/// category names, `other` required).
pub fn parse(locale: Locale, text: &str) -> Result<Catalog, CatalogError> {
    let table: toml::Table = toml::from_str(text).map_err(|source| CatalogError::Parse {
        locale: locale.code(),
        source,
    })?;
    let mut catalog = Catalog::new();
    flatten(locale, "", &table, &mut catalog)?;
    Ok(catalog)
}

fn flatten(
    locale: Locale,
    prefix: &str,
    table: &toml::Table,
    out: &mut Catalog,
) -> Result<(), CatalogError> {
    let shape = |key: String, problem| CatalogError::Shape {
        locale: locale.code(),
        key,
        problem,
    };
    for (name, value) in table {
        let key = format!("{prefix}{name}");
        match value {
            toml::Value::String(text) => {
                out.insert(key, Entry::Text(text.clone()));
            }
            toml::Value::Table(inner) if is_plural(inner) => {
                let mut forms = BTreeMap::new();
                for (category, form) in inner {
                    let toml::Value::String(form) = form else {
                        return Err(shape(key, "a plural form is not a string"));
                    };
                    forms.insert(category.clone(), form.clone());
                }
                if !forms.contains_key("other") {
                    return Err(shape(key, "plural forms lack `other`"));
                }
                out.insert(key, Entry::Plural(forms));
            }
            toml::Value::Table(inner) => flatten(locale, &format!("{key}."), inner, out)?,
            _ => return Err(shape(key, "not a string or a table")),
        }
    }
    Ok(())
}

/// A table of plural forms: every key a CLDR category.
fn is_plural(table: &toml::Table) -> bool {
    !table.is_empty() && table.keys().all(|k| CATEGORIES.contains(&k.as_str()))
}

/// The catalog of `locale`, parsed once.
pub fn catalog(locale: Locale) -> &'static Catalog {
    static ES_CATALOG: OnceLock<Catalog> = OnceLock::new();
    static EN_CATALOG: OnceLock<Catalog> = OnceLock::new();
    let cell = match locale {
        Locale::Es => &ES_CATALOG,
        Locale::En => &EN_CATALOG,
    };
    cell.get_or_init(|| {
        parse(locale, source(locale)).unwrap_or_else(|e| {
            // Embedded at compile time and parsed by a unit test, so this
            // only happens to a developer editing the catalog.
            tracing::error!(error = %e, "i18n catalog does not parse");
            Catalog::new()
        })
    })
}

fn rules(locale: Locale) -> Option<&'static PluralRules> {
    static ES_RULES: OnceLock<Option<PluralRules>> = OnceLock::new();
    static EN_RULES: OnceLock<Option<PluralRules>> = OnceLock::new();
    let cell = match locale {
        Locale::Es => &ES_RULES,
        Locale::En => &EN_RULES,
    };
    cell.get_or_init(|| {
        let id: LanguageIdentifier = locale.code().parse().ok()?;
        PluralRules::create(id, PluralRuleType::CARDINAL).ok()
    })
    .as_ref()
}

/// The CLDR cardinal category of `n` (an integer or decimal as text, e.g.
/// "1", "-3", "2.5") in `locale`: "one", "many", "other"…; "other" when `n`
/// is not a number.
pub fn category(locale: Locale, n: &str) -> &'static str {
    let Some(selected) = rules(locale).and_then(|r| r.select(n).ok()) else {
        return "other";
    };
    match selected {
        PluralCategory::ZERO => "zero",
        PluralCategory::ONE => "one",
        PluralCategory::TWO => "two",
        PluralCategory::FEW => "few",
        PluralCategory::MANY => "many",
        PluralCategory::OTHER => "other",
    }
}

/// Whether `key` is in the catalog of `locale`.
pub fn has(locale: Locale, key: &str) -> bool {
    catalog(locale).contains_key(key)
}

/// The raw text of `key` (a plural entry's `other` form, or the form for
/// `n`), `None` when the catalog lacks it. Placeholders are left as they
/// are.
pub fn lookup_form(locale: Locale, key: &str, n: Option<&str>) -> Option<&'static str> {
    match catalog(locale).get(key)? {
        Entry::Text(text) => Some(text),
        Entry::Plural(forms) => {
            let category = n.map_or("other", |n| category(locale, n));
            forms
                .get(category)
                .or_else(|| forms.get("other"))
                .map(String::as_str)
        }
    }
}

/// The text of `key` with no arguments, `None` when the catalog lacks it.
pub fn lookup(locale: Locale, key: &str) -> Option<&'static str> {
    lookup_form(locale, key, None)
}

/// The text of `key`, or the key itself when missing (tests keep every key
/// named in code in both catalogs; templates fail on a missing key
/// instead).
pub fn text(locale: Locale, key: &str) -> String {
    lookup(locale, key).unwrap_or(key).to_string()
}

/// `{name}` in `text` replaced by each argument's value.
pub fn fill(text: &str, args: &[(&str, &dyn Display)]) -> String {
    let mut text = text.to_string();
    for (name, value) in args {
        let placeholder = format!("{{{name}}}");
        if text.contains(&placeholder) {
            text = text.replace(&placeholder, &value.to_string());
        }
    }
    text
}

/// The text of `key` with `{name}` placeholders filled; a plural entry's
/// form is chosen by the argument `n`. The key itself when missing.
pub fn format(locale: Locale, key: &str, args: &[(&str, &dyn Display)]) -> String {
    let n = args
        .iter()
        .find(|(name, _)| *name == "n")
        .map(|(_, value)| value.to_string());
    match lookup_form(locale, key, n.as_deref()) {
        Some(text) => fill(text, args),
        None => key.to_string(),
    }
}

/// The plural text of `key` for the count `n` (which fills `{n}`): any
/// integer type, or a decimal.
pub fn plural(locale: Locale, key: &str, n: impl Display) -> String {
    format(locale, key, &[("n", &n)])
}

#[cfg(test)]
mod tests;
