//! The customers CSV in the importer's own format, so a file exported by the
//! staff panel imports back with no changes.
//!
//! One line per **active** subscription: `nombres` holds the full name and
//! `apellidos` stays empty (the importer joins them with a space),
//! `telefono` in international format with spaces (`+593 99 123 4567`: a
//! spreadsheet keeps it as text), `vence` as `YYYY-MM-DD`, `precio` as
//! `7.50`. Cancelled subscriptions and clients without an active one are
//! left out: the importer has no column for them (a line needs a service,
//! date and price, and importing a cancelled subscription would reactivate
//! it). The file starts with a UTF-8 byte order mark so spreadsheets read
//! accents right; the importer skips it.

use crate::store::{ExportRow, SubscriptionStatus};

/// The header the export writes: the importer's canonical column names.
pub const EXPORT_HEADER: [&str; 7] = [
    "nombres",
    "apellidos",
    "telefono",
    "email",
    "servicio",
    "vence",
    "precio",
];

/// The CSV bytes and how many clients had nothing to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub bytes: Vec<u8>,
    pub lines: usize,
    pub clients_left_out: usize,
}

/// Writes the export. `rows` come from `Store::export_rows`.
pub fn write_csv(rows: &[ExportRow]) -> Result<Export, csv::Error> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer("\u{FEFF}".as_bytes().to_vec());
    writer.write_record(EXPORT_HEADER)?;
    let mut lines = 0;
    let mut exported = std::collections::HashSet::new();
    let mut clients = std::collections::HashSet::new();
    for row in rows {
        clients.insert(row.client_id);
        let (Some(service), Some(end_date), Some(cents), Some(SubscriptionStatus::Active)) =
            (&row.service, row.end_date, row.price_cents, row.status)
        else {
            continue;
        };
        writer.write_record([
            spreadsheet_safe(&row.name).as_ref(),
            "",
            &spreadsheet_safe(&international(&row.phone)),
            &spreadsheet_safe(row.email.as_deref().unwrap_or("")),
            &spreadsheet_safe(service),
            &end_date.format("%Y-%m-%d").to_string(),
            &price(cents),
        ])?;
        exported.insert(row.client_id);
        lines += 1;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(Export {
        bytes,
        lines,
        clients_left_out: clients.len() - exported.len(),
    })
}

/// A cell a spreadsheet would run as a formula (`=HYPERLINK(…)`,
/// `+cmd|…`, `@SUM(…)`, or one starting with `-`, a tab or a CR) gets a
/// leading `'`, which spreadsheets read as "this is text". A cell that
/// already starts with `'` gets one too, so the importer, which drops one
/// leading `'` from every cell, gives back exactly what was exported.
pub fn spreadsheet_safe(text: &str) -> std::borrow::Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\'') => format!("'{text}").into(),
        _ => text.into(),
    }
}

/// `+593991234567` → `+593 99 123 4567`; the stored text if it does not parse.
fn international(e164: &str) -> String {
    phonenumber::parse(None, e164)
        .map(|n| {
            n.format()
                .mode(phonenumber::Mode::International)
                .to_string()
        })
        .unwrap_or_else(|_| e164.to_string())
}

/// Cents as `7.50` (no currency sign, dot decimal: what `Money::parse` reads).
fn price(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::domain::{Phone, Region};
    use crate::import::parse_csv;

    fn export_row(
        id: i64,
        name: &str,
        phone: &str,
        sub: Option<(&str, u32, i64, &str)>,
    ) -> ExportRow {
        ExportRow {
            client_id: id,
            name: name.into(),
            phone: phone.into(),
            email: (id % 2 == 0).then(|| format!("c{id}@example.com")),
            service: sub.map(|s| s.0.to_string()),
            end_date: sub.map(|s| NaiveDate::from_ymd_opt(2026, 12, s.1).unwrap()),
            price_cents: sub.map(|s| s.2),
            status: sub.map(|s| s.3.parse().expect("a subscription status")),
        }
    }

    #[test]
    fn export_then_import_gives_the_same_rows() {
        let rows = vec![
            export_row(
                1,
                "María José Andrade",
                "+593991234567",
                Some(("Netflix", 1, 750, "active")),
            ),
            export_row(
                1,
                "María José Andrade",
                "+593991234567",
                Some(("HBO Max", 2, 599, "active")),
            ),
            export_row(
                2,
                "Carlos \"Charlie\", Jr.",
                "+593987654321",
                Some(("Disney+", 3, 499, "active")),
            ),
            export_row(
                3,
                "Ana; Quishpe",
                "+593987112233",
                Some(("Spotify", 4, 0, "active")),
            ),
            export_row(4, "Sin Servicio", "+593958877665", None),
            export_row(
                5,
                "Cancelado",
                "+593979988776",
                Some(("IPTV", 5, 1000, "cancelled")),
            ),
            export_row(
                6,
                "Colombia",
                "+573001234567",
                Some(("Netflix", 6, 123456, "active")),
            ),
        ];
        let export = write_csv(&rows).unwrap();
        assert_eq!(export.lines, 5);
        assert_eq!(export.clients_left_out, 2);
        let text = String::from_utf8(export.bytes.clone()).unwrap();
        assert!(
            text.starts_with("\u{FEFF}nombres,apellidos,telefono,email,servicio,vence,precio\r\n")
        );
        assert!(text.contains("+593 99 123 4567"), "{text}");

        let parsed = parse_csv(&export.bytes, Region::default()).unwrap();
        assert!(parsed.is_clean(), "{:?}", parsed.errors);
        let back: Vec<(String, String, Option<String>, String, NaiveDate, i64)> = parsed
            .rows
            .iter()
            .map(|r| {
                (
                    r.name.clone(),
                    r.phone.as_str().to_string(),
                    r.email.clone(),
                    r.service.clone(),
                    r.end_date,
                    r.price.cents(),
                )
            })
            .collect();
        let expected: Vec<_> = rows
            .iter()
            .filter(|r| r.status == Some(SubscriptionStatus::Active))
            .map(|r| {
                (
                    r.name.clone(),
                    Phone::from_e164(r.phone.clone())
                        .unwrap()
                        .as_str()
                        .to_string(),
                    r.email.clone(),
                    r.service.clone().unwrap(),
                    r.end_date.unwrap(),
                    r.price_cents.unwrap(),
                )
            })
            .collect();
        assert_eq!(back, expected);
        assert_eq!(
            parsed.rows.iter().map(|r| r.line).collect::<Vec<_>>(),
            [2, 3, 4, 5, 6]
        );
    }

    #[test]
    fn formula_like_cells_are_written_as_text_and_read_back_unchanged() {
        assert_eq!(spreadsheet_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(
            spreadsheet_safe("+cmd|' /C calc'!A0"),
            "'+cmd|' /C calc'!A0"
        );
        assert_eq!(spreadsheet_safe("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(spreadsheet_safe("-2+3"), "'-2+3");
        assert_eq!(spreadsheet_safe("'quoted"), "''quoted");
        assert_eq!(spreadsheet_safe("Ana"), "Ana");
        let names = [
            "=HYPERLINK(\"http://x\",\"y\")",
            "+cmd|' /C calc'!A0",
            "@SUM(1+1)",
            "-Ana",
            "'Chino",
            "O'Brien <b>",
        ];
        let rows: Vec<ExportRow> = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                export_row(
                    i as i64,
                    name,
                    &format!("+59399123456{i}"),
                    Some(("=Netflix", 1, 750, "active")),
                )
            })
            .collect();
        let export = write_csv(&rows).unwrap();
        let text = String::from_utf8(export.bytes.clone()).unwrap();
        for line in text.lines().skip(1) {
            let first = line.trim_start_matches('"');
            assert!(
                first.starts_with('\'') || first.starts_with("O'Brien"),
                "{line}"
            );
            assert!(line.contains(",'+593 "), "phone written as text: {line}");
        }
        let parsed = parse_csv(&export.bytes, Region::default()).unwrap();
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let read: Vec<&str> = parsed.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(read, names);
        assert!(parsed.rows.iter().all(|r| r.service == "=Netflix"));
    }

    #[test]
    fn an_empty_database_exports_the_header_only() {
        let export = write_csv(&[]).unwrap();
        assert_eq!(export.lines, 0);
        assert!(matches!(
            parse_csv(&export.bytes, Region::default()),
            Ok(parsed) if parsed.rows.is_empty() && parsed.is_clean()
        ));
    }

    #[test]
    fn prices_have_two_decimals() {
        assert_eq!(price(750), "7.50");
        assert_eq!(price(5), "0.05");
        assert_eq!(price(0), "0.00");
        assert_eq!(price(123456), "1234.56");
    }
}
