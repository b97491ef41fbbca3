use super::*;
use crate::domain::Locale;

fn parse(text: &str) -> Result<Option<StaffCommand>, UsageError> {
    parse_command(text, Region::default())
}

fn ok(text: &str) -> StaffCommand {
    match parse(text) {
        Ok(Some(command)) => command,
        other => panic!("{text}: {other:?}"),
    }
}

fn problem(text: &str) -> (CommandKind, Problem) {
    match parse(text) {
        Err(UsageError::BadArguments { command, problem }) => (command, problem),
        other => panic!("{text}: {other:?}"),
    }
}

fn ana() -> Phone {
    Phone::parse("+593991234567", Region::default()).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn renew(target: Target, service: Option<&str>, months: u32) -> StaffCommand {
    StaffCommand::Renew {
        target,
        service: service.map(str::to_string),
        months,
    }
}

#[test]
fn text_without_slash_is_not_a_command() {
    for text in ["hola", "renovar 0991234567", "", "  1", "a/b"] {
        assert_eq!(parse(text), Ok(None), "{text}");
    }
}

#[test]
fn commands_without_arguments() {
    let cases = [
        ("/ayuda", StaffCommand::Help),
        ("/help", StaffCommand::Help),
        ("/ayuda renovar", StaffCommand::Help),
        ("/pendientes", StaffCommand::Pending),
        ("/pending", StaffCommand::Pending),
        ("/deshacer", StaffCommand::Undo),
        ("/undo", StaffCommand::Undo),
        ("/pausar", StaffCommand::Pause),
        ("/pause", StaffCommand::Pause),
        ("/reanudar", StaffCommand::Resume),
        ("/resume", StaffCommand::Resume),
        ("/resumen", StaffCommand::Summary),
        ("/summary", StaffCommand::Summary),
    ];
    for (text, expected) in cases {
        assert_eq!(ok(text), expected, "{text}");
        assert_eq!(ok(text).kind(), expected.kind());
    }
}

#[test]
fn names_ignore_case_accents_and_surrounding_space() {
    assert_eq!(ok("/AYUDA"), StaffCommand::Help);
    assert_eq!(ok("  /Resúmen "), StaffCommand::Summary);
    assert_eq!(ok("/PÉNDIENTES"), StaffCommand::Pending);
    assert_eq!(ok("/Renovar #5"), renew(Target::Subscription(5), None, 1));
}

#[test]
fn renew_by_phone_in_any_format() {
    for phone in [
        "0991234567",
        "593991234567",
        "+593991234567",
        "099-123-4567",
        "+593 99 123 4567",
        "099 123 4567",
    ] {
        assert_eq!(
            ok(&format!("/renovar {phone}")),
            renew(Target::Phone(ana()), None, 1),
            "{phone}"
        );
        assert_eq!(
            ok(&format!("/renovar {phone} 3")),
            renew(Target::Phone(ana()), None, 3),
            "{phone} 3"
        );
    }
}

#[test]
fn renew_with_service_and_months() {
    assert_eq!(
        ok("/renovar 0991234567 netflix"),
        renew(Target::Phone(ana()), Some("netflix"), 1)
    );
    assert_eq!(
        ok("/renovar 0991234567 Disney Plus 2"),
        renew(Target::Phone(ana()), Some("Disney Plus"), 2)
    );
    assert_eq!(
        ok("/renew +593 99 123 4567 IPTV Premium 12 meses"),
        renew(Target::Phone(ana()), Some("IPTV Premium"), 12)
    );
    assert_eq!(
        ok("/renovar 0991234567 \"Disney Plus\" 36"),
        renew(Target::Phone(ana()), Some("Disney Plus"), 36)
    );
    assert_eq!(
        ok("/renovar #123 6"),
        renew(Target::Subscription(123), None, 6)
    );
    assert_eq!(
        ok("/renovar #123 Max 4K"),
        renew(Target::Subscription(123), Some("Max 4K"), 1)
    );
}

#[test]
fn renew_bad_arguments_answer_with_usage() {
    assert_eq!(
        problem("/renovar"),
        (CommandKind::Renew, Problem::MissingTarget)
    );
    assert_eq!(
        problem("/renovar juan"),
        (CommandKind::Renew, Problem::BadPhone("juan".into()))
    );
    assert_eq!(
        problem("/renovar 0991"),
        (CommandKind::Renew, Problem::BadPhone("0991".into()))
    );
    assert_eq!(
        problem("/renovar #abc"),
        (CommandKind::Renew, Problem::BadId("#abc".into()))
    );
    assert_eq!(
        problem("/renovar #0"),
        (CommandKind::Renew, Problem::BadId("#0".into()))
    );
    assert_eq!(
        problem("/renovar 0991234567 netflix 0"),
        (CommandKind::Renew, Problem::BadMonths("0".into()))
    );
    assert_eq!(
        problem("/renovar 0991234567 37"),
        (CommandKind::Renew, Problem::BadMonths("37".into()))
    );
    let err = parse("/renovar").unwrap_err();
    assert_eq!(
        err.usage(Locale::Es).as_deref(),
        Some("Uso: /renovar <teléfono|#id> [servicio] [meses]")
    );
    assert_eq!(
        err.to_string(),
        "Falta el teléfono o el #id.\nUso: /renovar <teléfono|#id> [servicio] [meses]"
    );
    assert!(
        err.message(Locale::En)
            .ends_with("Usage: /renew <phone|#id> [service] [months]")
    );
}

#[test]
fn due_and_overdue_days() {
    assert_eq!(ok("/vencen"), StaffCommand::Due { days: 7 });
    assert_eq!(ok("/vencen 0"), StaffCommand::Due { days: 0 });
    assert_eq!(ok("/due 15"), StaffCommand::Due { days: 15 });
    assert_eq!(ok("/vencidos"), StaffCommand::Overdue { days: 30 });
    assert_eq!(ok("/vencidos 3"), StaffCommand::Overdue { days: 3 });
    assert_eq!(ok("/overdue 60"), StaffCommand::Overdue { days: 60 });
    assert_eq!(
        problem("/vencen x"),
        (CommandKind::Due, Problem::BadDays("x".into()))
    );
    assert_eq!(
        problem("/vencen -1"),
        (CommandKind::Due, Problem::BadDays("-1".into()))
    );
    assert_eq!(
        problem("/vencen 999"),
        (CommandKind::Due, Problem::BadDays("999".into()))
    );
    assert_eq!(
        problem("/vencidos 3 4"),
        (CommandKind::Overdue, Problem::Extra("4".into()))
    );
}

#[test]
fn client_by_phone_or_name() {
    assert_eq!(
        ok("/cliente 0991234567"),
        StaffCommand::Client(ClientLookup::Phone(ana()))
    );
    assert_eq!(
        ok("/client +593 99 123 4567"),
        StaffCommand::Client(ClientLookup::Phone(ana()))
    );
    assert_eq!(
        ok("/cliente Ana María Pérez"),
        StaffCommand::Client(ClientLookup::Name("Ana María Pérez".into()))
    );
    assert_eq!(
        problem("/cliente"),
        (CommandKind::Client, Problem::MissingClient)
    );
    assert_eq!(
        problem("/cliente 123"),
        (CommandKind::Client, Problem::BadPhone("123".into()))
    );
}

#[test]
fn add_client_and_subscription() {
    assert_eq!(
        ok("/alta 0991234567 Netflix 2026-12-01 7,50 Ana María Pérez"),
        StaffCommand::Add {
            phone: ana(),
            service: "Netflix".into(),
            end_date: date(2026, 12, 1),
            price: Some(Money::from_cents(750)),
            name: Some("Ana María Pérez".into()),
        }
    );
    // Multi-word service without quotes, latin date, no price, no name.
    assert_eq!(
        ok("/add +593 99 123 4567 Disney Plus 01/12/2026"),
        StaffCommand::Add {
            phone: ana(),
            service: "Disney Plus".into(),
            end_date: date(2026, 12, 1),
            price: None,
            name: None,
        }
    );
    // Quoted service, `$` price, name without price.
    assert_eq!(
        ok("/alta 0991234567 “IPTV Full” 1/12/2026 $10"),
        StaffCommand::Add {
            phone: ana(),
            service: "IPTV Full".into(),
            end_date: date(2026, 12, 1),
            price: Some(Money::from_cents(1000)),
            name: None,
        }
    );
    assert_eq!(
        ok("/alta 0991234567 Netflix 2026-12-01 Ana"),
        StaffCommand::Add {
            phone: ana(),
            service: "Netflix".into(),
            end_date: date(2026, 12, 1),
            price: None,
            name: Some("Ana".into()),
        }
    );
}

#[test]
fn add_bad_arguments() {
    let add = CommandKind::Add;
    assert_eq!(problem("/alta"), (add, Problem::MissingPhone));
    assert_eq!(problem("/alta 0991234567"), (add, Problem::MissingService));
    assert_eq!(
        problem("/alta 0991234567 2026-12-01"),
        (add, Problem::MissingService)
    );
    assert_eq!(
        problem("/alta 0991234567 Netflix"),
        (add, Problem::MissingDate)
    );
    assert_eq!(
        problem("/alta 0991234567 Netflix 31/02/2026"),
        (add, Problem::BadDate("31/02/2026".into()))
    );
    assert_eq!(
        problem("/alta 0991234567 Netflix 1/12/26"),
        (add, Problem::BadDate("1/12/26".into()))
    );
    assert_eq!(
        problem("/alta 0991234567 Netflix 2026-12-01 7.5x"),
        (add, Problem::BadPrice("7.5x".into()))
    );
    assert_eq!(
        problem("/alta Ana Netflix 2026-12-01"),
        (add, Problem::BadPhone("Ana".into()))
    );
    assert!(
        parse("/alta")
            .unwrap_err()
            .to_string()
            .ends_with("Uso: /alta <teléfono> <servicio> <fecha> [precio] [nombre…]")
    );
}

#[test]
fn cancel_subscription() {
    assert_eq!(
        ok("/baja 0991234567"),
        StaffCommand::Cancel {
            phone: ana(),
            service: None
        }
    );
    assert_eq!(
        ok("/cancel 099 123 4567 Disney Plus"),
        StaffCommand::Cancel {
            phone: ana(),
            service: Some("Disney Plus".into())
        }
    );
    assert_eq!(
        problem("/baja"),
        (CommandKind::Cancel, Problem::MissingPhone)
    );
}

#[test]
fn commands_without_arguments_reject_extras() {
    assert_eq!(
        problem("/pausar 2h"),
        (CommandKind::Pause, Problem::Extra("2h".into()))
    );
    assert_eq!(
        problem("/resumen hoy"),
        (CommandKind::Summary, Problem::Extra("hoy".into()))
    );
}

#[test]
fn unknown_commands_point_to_help() {
    for text in ["/foo", "/", "/renovarr 0991234567"] {
        let err = parse(text).unwrap_err();
        assert!(matches!(err, UsageError::Unknown { .. }), "{text}");
        assert_eq!(err.usage(Locale::Es), None);
        assert!(err.to_string().contains("/ayuda"), "{text}");
    }
    assert!(
        parse("/foo")
            .unwrap_err()
            .message(Locale::En)
            .contains("/help")
    );
}

#[test]
fn other_regions_parse_local_numbers() {
    let co = Region::parse("CO").unwrap();
    let expected = Phone::parse("+573001234567", co).unwrap();
    assert_eq!(
        parse_command("/renovar 300 123 4567 2", co),
        Ok(Some(renew(Target::Phone(expected), None, 2)))
    );
}
