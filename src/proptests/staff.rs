//! The staff command parser on any text, and commands written from values
//! reading back as those values.

use chrono::NaiveDate;
use proptest::prelude::*;

use super::{config, ec_mobile, typed_text};
use crate::conversation::{CommandKind, StaffCommand, Target, parse_command};
use crate::domain::{Locale, Money, Phone, Region};

/// Typed text, often after a `/` and a command name in either language.
fn command_text() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec![
        "ayuda",
        "help",
        "renovar",
        "renew",
        "pendientes",
        "vencen",
        "vencidos",
        "cliente",
        "alta",
        "baja",
        "deshacer",
        "pausar",
        "reanudar",
        "resumen",
        "RENOVAR",
        "Vencen",
        "nada",
        "",
    ]);
    prop_oneof![
        typed_text(),
        (name.clone(), typed_text()).prop_map(|(name, rest)| format!("/{name} {rest}")),
        (
            name,
            prop::collection::vec("[0-9#$./-]{1,10}|[a-z]{1,6}", 0..6)
        )
            .prop_map(|(name, words)| format!(" /{name} {}", words.join(" "))),
    ]
}

/// Words that are never a phone, a number, a date or a unit of months.
fn plain_words() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[A-Za-zñ]{2,9}", 1..4).prop_filter("not a unit", |words| {
        words.iter().all(|w| {
            !matches!(
                w.to_lowercase().as_str(),
                "mes" | "meses" | "month" | "months"
            )
        })
    })
}

fn date() -> impl Strategy<Value = NaiveDate> {
    (0_i64..36_500).prop_map(|d| {
        NaiveDate::from_ymd_opt(2000, 1, 1).expect("a date") + chrono::Duration::days(d)
    })
}

fn locale() -> impl Strategy<Value = Locale> {
    prop::sample::select(vec![Locale::Es, Locale::En])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_text_parses_or_explains_itself(text in command_text(), locale in locale()) {
        match parse_command(&text, Region::default()) {
            Ok(None) => prop_assert!(!text.trim_start().starts_with('/')),
            Ok(Some(command)) => {
                prop_assert!(text.trim_start().starts_with('/'));
                match &command {
                    StaffCommand::Renew { target, service, months } => {
                        prop_assert!((1..=36).contains(months));
                        if let Target::Subscription(id) = target {
                            prop_assert!(*id > 0);
                        }
                        if let Some(service) = service {
                            prop_assert!(!service.is_empty() && service.trim() == service);
                        }
                    }
                    StaffCommand::Due { days } | StaffCommand::Overdue { days } => {
                        prop_assert!(*days <= 366);
                    }
                    StaffCommand::Add { service, name, price, .. } => {
                        prop_assert!(!service.is_empty() && service.trim() == service);
                        if let Some(name) = name {
                            prop_assert!(!name.is_empty() && name.trim() == name);
                        }
                        if let Some(price) = price {
                            prop_assert!(price.cents() >= 0);
                        }
                    }
                    _ => {}
                }
            }
            Err(error) => {
                prop_assert!(text.trim_start().starts_with('/'));
                prop_assert!(!error.message(locale).is_empty());
                prop_assert!(!error.to_string().is_empty());
            }
        }
    }

    #[test]
    fn a_renewal_reads_back(
        local in ec_mobile(),
        service in prop::option::of(plain_words()),
        months in prop::option::of(1_u32..=36),
        locale in locale(),
    ) {
        let phone = Phone::parse(&local, Region::default()).expect("valid");
        let mut text = format!("{} {local}", CommandKind::Renew.name(locale));
        if let Some(words) = &service {
            text = format!("{text} {}", words.join(" "));
        }
        if let Some(months) = months {
            text = format!("{text} {months}");
        }
        prop_assert_eq!(
            parse_command(&text, Region::default()),
            Ok(Some(StaffCommand::Renew {
                target: Target::Phone(phone),
                service: service.map(|w| w.join(" ")),
                months: months.unwrap_or(1),
            })),
            "{}", text
        );
    }

    #[test]
    fn an_addition_reads_back(
        local in ec_mobile(),
        service in plain_words(),
        end_date in date(),
        cents in prop::option::of(0_i64..10_000_000),
        name in prop::option::of(plain_words()),
        locale in locale(),
    ) {
        let phone = Phone::parse(&local, Region::default()).expect("valid");
        let mut text = format!(
            "{} {local} {} {}",
            CommandKind::Add.name(locale),
            service.join(" "),
            end_date.format("%d/%m/%Y")
        );
        if let Some(cents) = cents {
            text = format!("{text} {}", Money::from_cents(cents));
        }
        if let Some(words) = &name {
            text = format!("{text} {}", words.join(" "));
        }
        prop_assert_eq!(
            parse_command(&text, Region::default()),
            Ok(Some(StaffCommand::Add {
                phone,
                service: service.join(" "),
                end_date,
                price: cents.map(Money::from_cents),
                name: name.map(|w| w.join(" ")),
            })),
            "{}", text
        );
    }

    #[test]
    fn days_and_ids_read_back(days in 0_u32..=366, id in 1_i64..i64::MAX, locale in locale()) {
        let due = format!("{} {days}", CommandKind::Due.name(locale));
        prop_assert_eq!(parse_command(&due, Region::default()), Ok(Some(StaffCommand::Due { days })));
        let overdue = format!("{} {days}", CommandKind::Overdue.name(locale));
        prop_assert_eq!(
            parse_command(&overdue, Region::default()),
            Ok(Some(StaffCommand::Overdue { days }))
        );
        let renew = format!("{} #{id}", CommandKind::Renew.name(locale));
        prop_assert_eq!(
            parse_command(&renew, Region::default()),
            Ok(Some(StaffCommand::Renew { target: Target::Subscription(id), service: None, months: 1 }))
        );
    }
}
