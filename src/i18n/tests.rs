use std::collections::BTreeSet;
use std::path::Path;

use super::*;

const LOCALES: [Locale; 2] = [Locale::Es, Locale::En];

fn parsed(locale: Locale) -> Catalog {
    parse(locale, source(locale)).unwrap_or_else(|e| panic!("{e}"))
}

/// `{name}` placeholders of a text.
fn placeholders(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        rest = &rest[start + 1..];
        let Some(end) = rest.find('}') else { break };
        let name = &rest[..end];
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            found.insert(name.to_string());
        }
        rest = &rest[end..];
    }
    found
}

fn texts(entry: &Entry) -> Vec<&str> {
    match entry {
        Entry::Text(text) => vec![text.as_str()],
        Entry::Plural(forms) => forms.values().map(String::as_str).collect(),
    }
}

#[test]
fn catalogs_parse_and_have_the_same_keys_and_shapes() {
    let es = parsed(Locale::Es);
    let en = parsed(Locale::En);
    let only_es: Vec<_> = es.keys().filter(|k| !en.contains_key(*k)).collect();
    let only_en: Vec<_> = en.keys().filter(|k| !es.contains_key(*k)).collect();
    assert!(only_es.is_empty(), "keys missing in en.toml: {only_es:?}");
    assert!(only_en.is_empty(), "keys missing in es.toml: {only_en:?}");
    for (key, es_entry) in &es {
        let en_entry = &en[key];
        assert_eq!(
            matches!(es_entry, Entry::Plural(_)),
            matches!(en_entry, Entry::Plural(_)),
            "{key}: plural in one language only"
        );
        let es_names: BTreeSet<_> = texts(es_entry)
            .iter()
            .flat_map(|t| placeholders(t))
            .collect();
        let en_names: BTreeSet<_> = texts(en_entry)
            .iter()
            .flat_map(|t| placeholders(t))
            .collect();
        assert_eq!(es_names, en_names, "{key}: different placeholders");
        for text in texts(es_entry).into_iter().chain(texts(en_entry)) {
            assert!(!text.trim().is_empty(), "empty text for {key}");
        }
    }
}

#[test]
fn plural_entries_have_the_forms_their_language_uses() {
    for locale in LOCALES {
        for (key, entry) in &parsed(locale) {
            if let Entry::Plural(forms) = entry {
                for n in 0..=1_000_000 {
                    // The categories integers reach: 0, 1, 2… and 10^6.
                    if n > 20 && n != 1_000_000 {
                        continue;
                    }
                    let wanted = category(locale, &n.to_string());
                    assert!(
                        forms.contains_key(wanted) || wanted == "many",
                        "{key} ({locale:?}) has no `{wanted}` form (n = {n})"
                    );
                }
                for form in forms.values() {
                    assert!(form.contains("{n}") || forms.len() > 1, "{key}");
                }
            }
        }
    }
}

#[test]
fn no_text_guesses_a_plural() {
    for locale in LOCALES {
        for (key, entry) in &parsed(locale) {
            for text in texts(entry) {
                for guess in ["(s)", "(es)"] {
                    assert!(!text.contains(guess), "{key} ({locale:?}): {text:?}");
                }
            }
        }
    }
}

#[test]
fn cldr_rules_pick_the_form() {
    assert_eq!(category(Locale::Es, "1"), "one");
    assert_eq!(category(Locale::Es, "0"), "other");
    assert_eq!(category(Locale::Es, "2"), "other");
    assert_eq!(category(Locale::Es, "-1"), "one");
    assert_eq!(category(Locale::En, "1"), "one");
    assert_eq!(category(Locale::En, "1.0"), "other");
    assert_eq!(category(Locale::En, "314"), "other");
    assert_eq!(category(Locale::Es, "not a number"), "other");

    assert_eq!(plural(Locale::Es, "clients_count", 1), "1 cliente");
    assert_eq!(plural(Locale::Es, "clients_count", 314), "314 clientes");
    assert_eq!(plural(Locale::Es, "clients_count", 0), "0 clientes");
    assert_eq!(plural(Locale::En, "clients_count", 1), "1 client");
    assert_eq!(plural(Locale::Es, "sub_days", 1), "1 día");
    assert_eq!(plural(Locale::Es, "sub_days", 3), "3 días");
    assert_eq!(plural(Locale::Es, "sub_months_n", 1), "1 mes");
    assert_eq!(plural(Locale::Es, "sub_months_n", 12), "12 meses");
    assert_eq!(plural(Locale::En, "sub_months_n", 2), "2 months");
}

#[test]
fn format_fills_arguments_and_keeps_a_missing_key() {
    assert_eq!(
        format(Locale::Es, "pager_page_of", &[("page", &2), ("pages", &5)]),
        "Página 2 de 5"
    );
    assert_eq!(text(Locale::Es, "no_such_key"), "no_such_key");
    assert_eq!(lookup(Locale::Es, "no_such_key"), None);
    // A plural entry without `n` gives its `other` form.
    assert_eq!(lookup(Locale::Es, "clients_count"), Some("{n} clientes"));
}

#[test]
fn shapes_that_are_not_text_are_rejected() {
    assert!(parse(Locale::Es, "a = 1").is_err());
    assert!(parse(Locale::Es, "a.one = \"x\"").is_err(), "no `other`");
    assert!(parse(Locale::Es, "a = [\"x\"]").is_err());
    let nested = parse(
        Locale::Es,
        "a.b = \"x\"\na.c.one = \"y\"\na.c.other = \"z\"",
    )
    .unwrap();
    assert_eq!(nested["a.b"], Entry::Text("x".into()));
    assert!(matches!(nested["a.c"], Entry::Plural(_)));
}

#[test]
fn templates_only_use_known_keys() {
    let es = catalog(Locale::Es);
    for (name, source) in crate::web::admin::pages::TEMPLATES {
        for quote in ['"', '\''] {
            let open = format!("t({quote}");
            let mut rest = *source;
            while let Some(i) = rest.find(&open) {
                rest = &rest[i + open.len()..];
                let Some(end) = rest.find(quote) else { break };
                let key = &rest[..end];
                rest = &rest[end + 1..];
                if rest.trim_start().starts_with('~') {
                    // `t('sub_state_' ~ s.state)`: a prefix, not a key.
                    continue;
                }
                assert!(es.contains_key(key), "{name}: unknown i18n key {key}");
            }
        }
    }
}

/// Every `i18n::text(locale, "key")`-style call in the Rust sources names
/// a key that both catalogs have.
#[test]
fn rust_code_only_uses_known_keys() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect_rs(&src, &mut files);
    let mut checked = 0;
    for file in files {
        // Test code builds provider payloads (`"error_data": …`) that look
        // like keys; only what users read is checked.
        let is_test =
            file.ends_with("tests.rs") || file.components().any(|c| c.as_os_str() == "tests");
        if is_test {
            continue;
        }
        let Ok(source) = std::fs::read_to_string(&file) else {
            continue;
        };
        // Comments quote other formats (Meta's `"error_subcode"`).
        let source: String = source
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for key in literal_keys(&source)
            .into_iter()
            .chain(prefixed_keys(&source))
        {
            checked += 1;
            for locale in LOCALES {
                assert!(
                    has(locale, &key),
                    "{}: i18n key {key:?} missing in {locale:?}",
                    file.display()
                );
            }
        }
    }
    assert!(
        checked > 20,
        "found only {checked} keys: is the scan broken?"
    );
}

/// Keys the panel passes around before they reach the catalog (notices in
/// redirects, form errors by field, error pages): string literals that
/// start with one of these prefixes and are whole keys (not `"ops_kind_"`
/// prefixes completed at run time).
const KEY_PREFIXES: [&str; 15] = [
    "import.",
    "cli.",
    "count.",
    "audit.",
    "notice_",
    "ops_notice_",
    "field_",
    "ops_error_",
    "error_",
    "chart_",
    "sub_error_",
    "ops_import_",
    "ops_secret_",
    "login_error",
    "login_blocked",
];

fn prefixed_keys(source: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for prefix in KEY_PREFIXES {
        let open = format!("\"{prefix}");
        let mut rest = source;
        while let Some(i) = rest.find(&open) {
            // `json.get("error_subcode")`: a field of someone's JSON, not a key.
            let json_field = rest[..i].ends_with("get(");
            rest = &rest[i + 1..];
            if json_field {
                continue;
            }
            let end = rest
                .find(|c: char| {
                    !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
                })
                .unwrap_or(rest.len());
            let key = &rest[..end];
            let file = key.ends_with(".html") || key.ends_with(".txt");
            if rest[end..].starts_with('"') && !key.ends_with('_') && !key.ends_with('.') && !file {
                keys.push(key.to_string());
            }
        }
    }
    keys
}

fn collect_rs(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The string literal keys passed to the catalog functions in `source`:
/// the first literal inside `i18n::text(…)`, `i18n::format(…)`, etc.
fn literal_keys(source: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for call in [
        "i18n::text(",
        "i18n::format(",
        "i18n::plural(",
        "i18n::lookup(",
        "i18n::lookup_form(",
    ] {
        let mut rest = source;
        while let Some(i) = rest.find(call) {
            rest = &rest[i + call.len()..];
            // The locale, a comma, then the key if it is a literal.
            let Some(comma) = rest.find(',') else { break };
            let arg = rest[comma + 1..].trim_start();
            if let Some(tail) = arg.strip_prefix('"')
                && let Some(end) = tail.find('"')
            {
                keys.push(tail[..end].to_string());
            }
        }
    }
    keys
}

/// English that must never show in Spanish output.
const ENGLISH: [&str; 16] = [
    "could not",
    "cannot",
    "is empty",
    "already",
    "row(s)",
    "(s)",
    "(es)",
    "invalid",
    "imported",
    "line ",
    " the ",
    "is not ",
    "missing",
    "expected",
    "Usage",
    "Print help",
];

/// Fails on any of [`ENGLISH`] in `text`, leaving out what is not words:
/// `{placeholders}`, `--flags` and clap's `[OPTIONS]` in a usage line.
fn assert_spanish(what: &str, text: &str) {
    let mut words = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        words.push_str(&rest[..start]);
        rest = rest[start..]
            .find('}')
            .map_or("", |end| &rest[start + end + 1..]);
    }
    words.push_str(rest);
    let lower: String = words
        .replace("[OPTIONS]", "")
        .split(' ')
        .filter(|word| !word.starts_with("--"))
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    for word in ENGLISH {
        assert!(
            !lower.contains(&word.to_lowercase()),
            "{what}: English {word:?} in Spanish output:\n{text}"
        );
    }
}

#[test]
fn no_spanish_catalog_text_is_english() {
    for (key, entry) in &parsed(Locale::Es) {
        for text in texts(entry) {
            assert_spanish(key, text);
        }
    }
}

/// What the importer, the CLI's `--help` and the CLI's import summary say
/// by default: every kind of error, rendered in Spanish.
#[test]
fn import_errors_and_cli_help_are_spanish_by_default() {
    use crate::import::{ImportError, RowError, RowProblem, parse_csv};

    let bad = "nombres,apellidos,telefono,email,servicio,vence,precio\n\
               ,X,12345,ana,,31/02/2026,7.505\n\
               Beto,Y,09912abc45,b@c.com,Netflix,2026-01-01,abc\n\
               Carla,Z,0991234567,,Netflix,,\n\
               Dora,W,0991234568,,Netflix,mañana,-1\n\
               Eva,V,0991234569,,Netflix,2026-01-01,99999999999999999999\n\
               Fe,U,0991234570,,Netflix,2026-01-01,7.5055\n\
               Gil,T,0991234570,,NETFLIX,2026-01-01,7,50,extra\n";
    let parsed = parse_csv(bad.as_bytes(), crate::domain::Region::default()).unwrap();
    assert!(parsed.errors.len() >= 10, "{:?}", parsed.errors);
    for error in &parsed.errors {
        assert_spanish("import error", &error.to_string());
        assert!(error.to_string().starts_with("línea "), "{error}");
    }
    let long = RowError {
        line: 2,
        column: Some("servicio".into()),
        problem: RowProblem::Field(
            crate::import::fields::check_service(&"x".repeat(200)).unwrap_err(),
        ),
    };
    assert_spanish("long service", &long.to_string());
    let whole = ImportError::Rows(parsed.errors.clone());
    assert_spanish("rows", &whole.to_string());
    let headers = [
        parse_csv(b"", crate::domain::Region::default()).unwrap_err(),
        parse_csv(b"nombres,servicio\n", crate::domain::Region::default()).unwrap_err(),
        parse_csv(
            b"nombres,telefono,phone,servicio,vence,precio\n",
            crate::domain::Region::default(),
        )
        .unwrap_err(),
        parse_csv(b"nombres\n\xff\n", crate::domain::Region::default()).unwrap_err(),
    ];
    for error in headers {
        assert_spanish("file error", &error.to_string());
    }

    let mut command = crate::cli::command(Locale::Es);
    assert_spanish("avisa --help", &command.render_long_help().to_string());
    let names: Vec<String> = command
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for name in names {
        let Some(sub) = command.find_subcommand_mut(&name) else {
            continue;
        };
        assert_spanish(&name, &sub.render_long_help().to_string());
    }

    for (key, n) in [
        ("count.imported_rows", 1),
        ("count.imported_rows", 15),
        ("count.skipped_rows", 2),
        ("import.invalid_rows", 3),
        ("count.valid_rows", 1),
    ] {
        assert_spanish(key, &plural(Locale::Es, key, n));
    }
    assert_eq!(
        plural(Locale::Es, "count.imported_rows", 1),
        "1 fila importada"
    );
    assert_eq!(
        plural(Locale::Es, "count.imported_rows", 15),
        "15 filas importadas"
    );
    assert_eq!(
        plural(Locale::En, "count.imported_rows", 1),
        "1 row imported"
    );
}
