//! Panel wording: flat `key = "text"` catalogs in `templates/admin/i18n/`,
//! Spanish by default, English with `AVISA_LOCALE=en`. Templates call
//! `t("key")` (optionally `t("key", n=3)` to fill `{n}`).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::domain::Locale;

pub type Catalog = BTreeMap<String, String>;

const ES: &str = include_str!("../../../templates/admin/i18n/es.toml");
const EN: &str = include_str!("../../../templates/admin/i18n/en.toml");

fn parse(name: &str, text: &str) -> Catalog {
    match toml::from_str::<Catalog>(text) {
        Ok(catalog) => catalog,
        Err(e) => {
            // Embedded at compile time and parsed by a unit test, so this
            // only happens to a developer editing the catalog.
            tracing::error!(catalog = name, error = %e, "admin i18n catalog does not parse");
            Catalog::new()
        }
    }
}

pub fn catalog(locale: Locale) -> &'static Catalog {
    static ES_CATALOG: OnceLock<Catalog> = OnceLock::new();
    static EN_CATALOG: OnceLock<Catalog> = OnceLock::new();
    match locale {
        Locale::Es => ES_CATALOG.get_or_init(|| parse("es", ES)),
        Locale::En => EN_CATALOG.get_or_init(|| parse("en", EN)),
    }
}

/// The text for `key`, `None` when the catalog lacks it.
pub fn lookup(locale: Locale, key: &str) -> Option<&'static str> {
    catalog(locale).get(key).map(String::as_str)
}

/// The text for `key`, or the key itself (for Rust code that builds labels;
/// templates fail on a missing key instead).
pub fn text(locale: Locale, key: &str) -> String {
    lookup(locale, key).unwrap_or(key).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogs_parse_and_have_the_same_keys() {
        let es: Catalog = toml::from_str(ES).expect("es.toml parses");
        let en: Catalog = toml::from_str(EN).expect("en.toml parses");
        let only_es: Vec<_> = es.keys().filter(|k| !en.contains_key(*k)).collect();
        let only_en: Vec<_> = en.keys().filter(|k| !es.contains_key(*k)).collect();
        assert!(only_es.is_empty(), "keys missing in en.toml: {only_es:?}");
        assert!(only_en.is_empty(), "keys missing in es.toml: {only_en:?}");
        for (key, value) in es.iter().chain(en.iter()) {
            assert!(!value.trim().is_empty(), "empty text for {key}");
        }
    }

    #[test]
    fn templates_only_use_known_keys() {
        let es = catalog(Locale::Es);
        for (name, source) in super::super::pages::TEMPLATES {
            let mut rest = *source;
            while let Some(i) = rest.find("t(\"") {
                rest = &rest[i + 3..];
                let Some(end) = rest.find('"') else { break };
                let key = &rest[..end];
                assert!(es.contains_key(key), "{name}: unknown i18n key {key}");
                rest = &rest[end..];
            }
        }
    }
}
