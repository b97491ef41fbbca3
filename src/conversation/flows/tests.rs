use super::*;

fn es() -> Flows {
    Flows::load(Locale::Es, None).unwrap()
}

fn en() -> Flows {
    Flows::load(Locale::En, None).unwrap()
}

#[test]
fn normalize_strips_case_accents_and_punctuation() {
    assert_eq!(normalize("¿CUÁNDO vence?"), "cuando vence");
    assert_eq!(normalize("  ¡Hola!!  ¿qué tal?  "), "hola que tal");
    assert_eq!(normalize("Menú"), "menu");
    assert_eq!(normalize("mañana"), "manana");
    assert_eq!(normalize("1."), "1");
    assert_eq!(normalize("no-más,mensajes"), "no mas mensajes");
    assert_eq!(normalize("👍"), "");
    assert_eq!(normalize(""), "");
}

#[test]
fn spanish_intents() {
    let f = es();
    let cases = [
        (
            Intent::Greeting,
            &["hola", "Buenas", "buenos días", "Hola, qué tal"][..],
        ),
        (
            Intent::Menu,
            &["menu", "MENÚ", "inicio", "ver el menú por favor"][..],
        ),
        (
            Intent::Expiry,
            &[
                "1",
                "uno",
                "vencimiento",
                "vence",
                "¿Cuándo vence?",
                "¿CUÁNDO vence?",
                "estado",
                "fecha",
            ][..],
        ),
        (
            Intent::Renew,
            &["2", "dos", "renovar", "pagar", "pago", "Quiero renovar!"][..],
        ),
        (
            Intent::Human,
            &[
                "3",
                "tres",
                "asesor",
                "humano",
                "persona",
                "agente",
                "un Asesor por favor",
            ][..],
        ),
        (
            Intent::OptOut,
            &[
                "4",
                "cuatro",
                "baja",
                "BAJA",
                "stop",
                "parar",
                "No más mensajes",
                "quiero darme de baja",
            ][..],
        ),
        (
            Intent::OptIn,
            &["alta", "start", "reactivar", "Alta!", "darme de alta"][..],
        ),
    ];
    for (intent, texts) in cases {
        for text in texts {
            assert_eq!(f.intent(text), Some(intent), "{text}");
        }
    }
}

#[test]
fn english_intents() {
    let f = en();
    let cases = [
        (Intent::Greeting, &["hi", "Hello!", "hey there"][..]),
        (Intent::Menu, &["menu", "options"][..]),
        (
            Intent::Expiry,
            &["1", "one", "expiry", "When does it expire?", "status"][..],
        ),
        (Intent::Renew, &["2", "two", "renew", "I want to pay"][..]),
        (
            Intent::Human,
            &["3", "agent", "human", "talk to a person"][..],
        ),
        (
            Intent::OptOut,
            &["4", "STOP", "unsubscribe", "please unsubscribe me"][..],
        ),
        (Intent::OptIn, &["start", "Start", "opt in"][..]),
    ];
    for (intent, texts) in cases {
        for text in texts {
            assert_eq!(f.intent(text), Some(intent), "{text}");
        }
    }
}

#[test]
fn keywords_match_whole_words_only() {
    let f = es();
    // "vence" is not a word inside "vencerá"; "hola" is not in "holanda".
    assert_eq!(f.intent("vencerá"), None);
    assert_eq!(f.intent("holanda"), None);
    assert_eq!(f.intent("xyz"), None);
    assert_eq!(f.intent(""), None);
    assert_eq!(f.intent("?!"), None);
}

#[test]
fn exact_words_only_count_as_the_whole_message() {
    let f = es();
    assert_eq!(f.intent("baja"), Some(Intent::OptOut));
    assert_eq!(f.intent("la señal está baja"), None);
    assert_eq!(f.intent("stop"), Some(Intent::OptOut));
    assert_eq!(f.intent("alta"), Some(Intent::OptIn));
    assert_eq!(f.intent("la calidad es alta"), None);
}

#[test]
fn numbers_only_as_the_whole_message() {
    let f = es();
    assert_eq!(f.intent("1"), Some(Intent::Expiry));
    assert_eq!(f.intent(" 2. "), Some(Intent::Renew));
    assert_eq!(f.intent("tengo 2 cuentas"), None);
    assert_eq!(f.intent("tengo dos cuentas"), None);
    // A number outside the menu is not understood.
    assert_eq!(f.intent("9"), None);
    assert_eq!(f.number("3"), Some(3));
    assert_eq!(f.number("tres"), Some(3));
    assert_eq!(f.number("Diez"), Some(10));
    assert_eq!(f.number("0"), Some(0));
    assert_eq!(f.number("3 meses"), None);
    assert_eq!(f.number("123456"), None);
}

#[test]
fn priority_resolves_several_matches() {
    let f = es();
    assert_eq!(f.intent("hola, ¿cuándo vence?"), Some(Intent::Expiry));
    assert_eq!(f.intent("hola quiero renovar"), Some(Intent::Renew));
    assert_eq!(f.intent("hola menu"), Some(Intent::Menu));
    assert_eq!(
        f.intent("buenas, quiero pagar, ¿cuándo vence?"),
        Some(Intent::Renew)
    );
    assert_eq!(f.intent("hola, no más mensajes"), Some(Intent::OptOut));
}

#[test]
fn menu_comes_from_the_file() {
    let f = es();
    let numbers: Vec<(u32, Intent)> = f.menu().iter().map(|o| (o.number, o.intent)).collect();
    assert_eq!(
        numbers,
        [
            (1, Intent::Expiry),
            (2, Intent::Renew),
            (3, Intent::Human),
            (4, Intent::OptOut)
        ]
    );
    assert!(f.menu()[2].label.contains("asesor"));
    assert_eq!(f.locale(), Locale::Es);
    assert_eq!(en().menu().len(), 4);
}

const CUSTOM: &str = r#"
number_words = ["one"]
[[menu]]
number = 7
intent = "renew"
label = "Pay"
[intents.human]
keywords = ["¡Socorro!"]
"#;

#[test]
fn custom_toml_replaces_the_defaults() {
    let f = Flows::from_toml_str(Locale::En, CUSTOM).unwrap();
    assert_eq!(f.intent("7"), Some(Intent::Renew));
    assert_eq!(f.intent("1"), None);
    assert_eq!(f.intent("socorro"), Some(Intent::Human));
    assert_eq!(f.intent("hola"), None);
    assert_eq!(f.number("one"), Some(1));
}

#[test]
fn override_dir_is_used_only_when_the_file_exists() {
    let dir = tempfile::tempdir().unwrap();
    // No es.toml there: embedded default.
    let f = Flows::load(Locale::Es, Some(dir.path())).unwrap();
    assert_eq!(f.intent("1"), Some(Intent::Expiry));
    std::fs::write(dir.path().join("es.toml"), CUSTOM).unwrap();
    let f = Flows::load(Locale::Es, Some(dir.path())).unwrap();
    assert_eq!(f.intent("7"), Some(Intent::Renew));
    assert_eq!(f.intent("1"), None);
    // en.toml still missing: English default.
    assert_eq!(
        Flows::load(Locale::En, Some(dir.path()))
            .unwrap()
            .intent("hi"),
        Some(Intent::Greeting)
    );
}

#[test]
fn bad_override_file_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("es.toml"), "menu = 3").unwrap();
    let err = Flows::load(Locale::Es, Some(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("es.toml"), "{err}");
}

#[test]
fn invalid_files_are_rejected() {
    let menu = "[[menu]]\nnumber = 1\nintent = \"expiry\"\nlabel = \"x\"\n";
    let bad = [
        ("not toml", "[[menu"),
        ("no menu", "[intents.greeting]\nkeywords = [\"hola\"]"),
        (
            "unknown intent",
            &format!("{menu}[intents.dance]\nkeywords = [\"x\"]"),
        ),
        (
            "unknown field",
            &format!("{menu}[intents.greeting]\nwords = [\"x\"]"),
        ),
        (
            "unknown menu intent",
            "[[menu]]\nnumber = 1\nintent = \"dance\"\nlabel = \"x\"",
        ),
        ("duplicate number", &format!("{menu}{menu}")),
        (
            "zero",
            "[[menu]]\nnumber = 0\nintent = \"expiry\"\nlabel = \"x\"",
        ),
        (
            "empty label",
            "[[menu]]\nnumber = 1\nintent = \"expiry\"\nlabel = \" \"",
        ),
        (
            "empty keyword",
            &format!("{menu}[intents.greeting]\nkeywords = [\"¿?\"]"),
        ),
        (
            "digit exact",
            &format!("{menu}[intents.greeting]\nexact = [\"5\"]"),
        ),
        (
            "exact clash",
            &format!(
                "{menu}[intents.opt_in]\nexact = [\"ya\"]\n[intents.opt_out]\nexact = [\"Ya\"]"
            ),
        ),
        (
            "number word clash",
            &format!("number_words = [\"uno\"]\n{menu}[intents.greeting]\nexact = [\"uno\"]"),
        ),
    ];
    for (name, text) in bad {
        assert!(
            matches!(
                Flows::from_toml_str(Locale::Es, text),
                Err(FlowsError::Invalid { .. })
            ),
            "{name}"
        );
    }
}

#[test]
fn embedded_files_are_valid() {
    for locale in [Locale::Es, Locale::En] {
        assert!(Flows::from_toml_str(locale, Flows::embedded_toml(locale)).is_ok());
    }
}
