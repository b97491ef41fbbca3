//! `import::parse_csv` on any bytes and any CSV-like text; the export reads
//! back as the rows it was written from.

use chrono::NaiveDate;
use proptest::prelude::*;

use super::{config, typed_text};
use crate::domain::{Money, Phone, Region};
use crate::import::{ParsedImport, parse_csv, write_csv};
use crate::store::ExportRow;

const HEADERS: [&str; 3] = [
    "nombres,apellidos,telefono,email,servicio,vence,precio",
    "nombres;telefono;servicio;vence;precio",
    "First Name,Phone,Service,End Date,Price",
];

/// Cells and separators a customers file is made of, and some that it is not.
fn csv_like_text() -> impl Strategy<Value = String> {
    let cell = prop_oneof![
        Just(String::new()),
        prop::sample::select(vec![
            "Ana",
            "Pérez",
            "0991234567",
            "+593 98 765 4321",
            "abc",
            "ana@x.com",
            "Netflix",
            "2026-11-25",
            "31/02/2026",
            "25/11/2026",
            "7.50",
            "7,50",
            "7.505",
            "1.234,50",
            "-3",
            "$",
            "\"7,50\"",
            "\"",
            "\"\"",
            "\r",
            "\n",
            "\r\n",
            ",",
            ";",
            "\u{FEFF}",
            "\u{0}",
        ])
        .prop_map(str::to_string),
        typed_text(),
    ];
    let line = prop::collection::vec(cell, 0..9).prop_map(|cells| cells.join(","));
    (
        prop::sample::select(HEADERS.to_vec()),
        prop::collection::vec(line, 0..8),
        newline(),
    )
        .prop_map(|(header, lines, newline)| {
            let mut text = header.to_string();
            for line in lines {
                text.push_str(newline);
                text.push_str(&line);
            }
            text
        })
}

/// The line ends spreadsheets write: Unix, Windows, classic Mac.
fn newline() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["\n", "\r\n", "\r"])
}

/// What every readable file promises about line numbers and rows.
fn check(parsed: &ParsedImport, text_lines: usize) -> Result<(), TestCaseError> {
    let row_lines: Vec<usize> = parsed.rows.iter().map(|r| r.line).collect();
    prop_assert!(row_lines.windows(2).all(|w| w[0] < w[1]), "{row_lines:?}");
    for line in row_lines
        .iter()
        .chain(parsed.errors.iter().map(|e| &e.line))
    {
        prop_assert!(
            (2..=text_lines).contains(line),
            "line {line} of {text_lines}"
        );
    }
    let invalid = parsed.invalid_lines();
    prop_assert!(invalid.windows(2).all(|w| w[0] < w[1]));
    prop_assert!(row_lines.iter().all(|l| !invalid.contains(l)));
    prop_assert_eq!(
        parsed.has_no_data(),
        parsed.rows.is_empty() && parsed.errors.is_empty()
    );
    for row in &parsed.rows {
        prop_assert!(!row.name.is_empty() && row.name.trim() == row.name);
        prop_assert!(!row.service.is_empty());
        prop_assert!(row.price.cents() >= 0);
    }
    for error in &parsed.errors {
        prop_assert!(!error.reason(crate::domain::Locale::Es).is_empty());
        let prefix = format!("línea {}: ", error.line);
        prop_assert!(error.to_string().starts_with(&prefix), "{}", error);
    }
    Ok(())
}

/// Lines of a file, a `\r\n` counting once.
fn lines_in(bytes: &[u8]) -> usize {
    1 + bytes
        .iter()
        .enumerate()
        .filter(|&(i, b)| *b == b'\n' || (*b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count()
}

/// One subscription as the store would export it.
fn export_row() -> impl Strategy<Value = (String, Option<String>, String, NaiveDate, i64)> {
    let word = "[A-Za-zÁÉÍÓÚáéíóúÑñü]{1,10}";
    (
        prop::collection::vec(word, 1..4).prop_map(|w| w.join(" ")),
        prop::option::of("[a-z0-9.]{1,8}@[a-z]{1,8}\\.(com|ec)"),
        prop::collection::vec("[A-Za-z0-9+ñ]{1,12}", 1..4).prop_map(|w| w.join(" ")),
        (0_i64..36_500).prop_map(|d| {
            NaiveDate::from_ymd_opt(2000, 1, 1).expect("a date") + chrono::Duration::days(d)
        }),
        0_i64..100_000_000,
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_bytes_are_read_or_refused_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(parsed) = parse_csv(&bytes, Region::default()) {
            check(&parsed, lines_in(&bytes))?;
        }
    }

    #[test]
    fn csv_like_text_keeps_line_numbers_and_rows_straight(text in csv_like_text()) {
        let parsed = parse_csv(text.as_bytes(), Region::default());
        // The header always has the required columns.
        let parsed = parsed.map_err(|e| TestCaseError::fail(format!("{e}")))?;
        check(&parsed, lines_in(text.as_bytes()))?;
        prop_assert_eq!(parsed.clone().into_result().is_ok(), parsed.errors.is_empty());
    }

    #[test]
    fn an_export_imports_back_as_the_same_rows(
        rows in prop::collection::vec(export_row(), 0..12),
        newline in newline(),
    ) {
        let export: Vec<ExportRow> = rows
            .iter()
            .enumerate()
            .map(|(i, (name, email, service, end_date, cents))| ExportRow {
                client_id: i as i64,
                name: name.clone(),
                // Distinct numbers: one line per phone and service.
                phone: format!("+59399{:07}", 1_000_000 + i),
                email: email.clone(),
                service: Some(service.clone()),
                end_date: Some(*end_date),
                price_cents: Some(*cents),
                status: Some(crate::store::SubscriptionStatus::Active),
            })
            .collect();
        let file = write_csv(&export).expect("written");
        // The same file saved again with other line ends (no cell holds one).
        let text = String::from_utf8(file.bytes).expect("UTF-8").replace("\r\n", newline);
        let parsed = parse_csv(text.as_bytes(), Region::default()).expect("read");
        if rows.is_empty() {
            prop_assert!(parsed.has_no_data());
        }
        prop_assert!(parsed.is_clean(), "{:?}", parsed.errors);
        prop_assert_eq!(parsed.rows.len(), rows.len());
        for ((i, (name, email, service, end_date, cents)), row) in
            rows.iter().enumerate().zip(&parsed.rows)
        {
            prop_assert_eq!(row.line, i + 2);
            prop_assert_eq!(&row.name, name);
            prop_assert_eq!(&row.email, email);
            prop_assert_eq!(&row.service, service);
            prop_assert_eq!(row.end_date, *end_date);
            prop_assert_eq!(row.price, Money::from_cents(*cents));
            let phone = Phone::parse(&export[i].phone, Region::default()).ok();
            prop_assert_eq!(Some(&row.phone), phone.as_ref());
        }
    }
}
