use chrono::NaiveDate;

use super::header::{detect_separator, normalize};
use super::*;
use crate::domain::Locale;

fn parse(text: &str) -> ParsedImport {
    parse_csv(text.as_bytes(), Region::default()).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// `(line, column)` of every error, in order.
fn where_(parsed: &ParsedImport) -> Vec<(usize, &str)> {
    parsed
        .errors
        .iter()
        .map(|e| (e.line, e.column.as_deref().unwrap_or("(fila)")))
        .collect()
}

#[test]
fn spanish_headers_give_complete_rows() {
    let parsed = parse(
        "nombres,apellidos,telefono,email,servicio,vence,precio\n\
         María José,Andrade Vera,0991234567,mj@gmail.com,Netflix,2026-11-25,7.50\n\
         Carlos,,+593 98 765 4321,,  HBO   Max ,28/11/2026,10\n",
    );
    assert!(parsed.is_clean(), "{:?}", parsed.errors);
    assert_eq!(
        parsed.rows[0],
        ImportRow {
            line: 2,
            name: "María José Andrade Vera".into(),
            phone: Phone::parse("+593991234567", Region::default()).unwrap(),
            email: Some("mj@gmail.com".into()),
            service: "Netflix".into(),
            end_date: date(2026, 11, 25),
            price: Money::from_cents(750),
        }
    );
    let carlos = &parsed.rows[1];
    assert_eq!((carlos.line, carlos.name.as_str()), (3, "Carlos"));
    assert_eq!(carlos.phone.as_str(), "+593987654321");
    assert_eq!(carlos.email, None);
    assert_eq!(carlos.service, "HBO Max");
    assert_eq!(carlos.end_date, date(2026, 11, 28));
    assert_eq!(carlos.price.cents(), 1000);
}

#[test]
fn english_and_variant_headers_in_any_case_accent_and_spacing() {
    let english = parse(
        "First Name,LAST_NAME,Phone,E-mail,Service,End Date,Price,Notes\n\
         Ana,Quishpe,593987112233,ana@hotmail.com,Spotify,2026-12-01,3.99,pays cash\n",
    );
    assert!(english.is_clean(), "{:?}", english.errors);
    assert_eq!(english.rows[0].name, "Ana Quishpe");
    assert_eq!(english.rows[0].price.cents(), 399);

    let variants = parse(
        " Nombre ,Apellido,Teléfono,Correo,SERVICIO,Vencimiento,Valor\n\
         Jorge,Salazar,099-456-7890,,IPTV Premium,2027-01-05,12\n",
    );
    assert!(variants.is_clean(), "{:?}", variants.errors);
    assert_eq!(variants.rows[0].phone.as_str(), "+593994567890");
    for (header, key) in [
        ("Teléfono", "telefono"),
        ("end_date", "enddate"),
        ("WhatsApp ", "whatsapp"),
    ] {
        assert_eq!(normalize(header), key);
    }
}

#[test]
fn semicolon_files_with_decimal_commas() {
    let parsed = parse(
        "nombres;telefono;servicio;vence;precio\r\n\
         Daniela Ortiz;0958877665;HBO Max;20/12/2026;7,50\r\n\
         Diego;+593 96 955 1234;\"Netflix; 4K\";2026-12-31;1.234,50\r\n",
    );
    assert!(parsed.is_clean(), "{:?}", parsed.errors);
    assert_eq!(parsed.rows[0].price.cents(), 750);
    assert_eq!(parsed.rows[1].service, "Netflix; 4K");
    assert_eq!(parsed.rows[1].price.cents(), 123_450);
    assert_eq!(detect_separator("\"a,b,c\";x;y\n1,2,3,4,5"), b';');
    assert_eq!(detect_separator("a;b,c,d\n"), b',');
}

#[test]
fn utf8_bom_is_ignored() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(
        "nombres,telefono,servicio,vence,precio\nSofía,0991112223,Disney+,2026-11-30,4.99\nX,abc,Disney+,2026-11-30,4.99\n"
            .as_bytes(),
    );
    let parsed = parse_csv(&bytes, Region::default()).unwrap();
    assert_eq!(parsed.rows.len(), 1);
    assert_eq!(parsed.rows[0].name, "Sofía");
    assert_eq!(where_(&parsed), [(3, "telefono")]);
}

#[test]
fn not_utf8_names_the_line() {
    // "Cedeño" saved as Windows-1252 on the third line.
    let bytes = b"nombres,telefono,servicio,vence,precio\nAna,0991112223,Netflix,2026-11-30,7\nGabriela Cede\xF1o,0967788990,Netflix,2026-12-02,7\n";
    let err = parse_csv(bytes, Region::default()).unwrap_err();
    assert!(matches!(err, ImportError::Encoding { line: 3 }), "{err:?}");
    assert!(err.to_string().contains("CSV UTF-8"), "{err}");
    let utf16 = parse_csv(b"\xFF\xFEn\0o\0", Region::default()).unwrap_err();
    assert!(matches!(utf16, ImportError::Encoding { line: 1 }));
}

#[test]
fn quoted_fields_keep_commas_and_quotes() {
    let parsed = parse(
        "nombres,apellidos,telefono,email,servicio,vence,precio\n\
         \"Luis Fernando\",\"Guamán, hijo\",\"+593 99 321 6547\",,\"Plan \"\"Familiar\"\"\",2026-12-15,\"4,99\"\n",
    );
    assert!(parsed.is_clean(), "{:?}", parsed.errors);
    let row = &parsed.rows[0];
    assert_eq!(row.name, "Luis Fernando Guamán, hijo");
    assert_eq!(row.service, "Plan \"Familiar\"");
    assert_eq!(row.price.cents(), 499);
}

#[test]
fn day_first_dates_and_leap_years() {
    let parsed = parse(
        "nombres,telefono,servicio,vence,precio\n\
         A,0991234567,Netflix,05/12/2026,7\n\
         B,0991234568,Netflix,29/02/2028,7\n\
         C,0991234569,Netflix,29/02/2027,7\n",
    );
    assert_eq!(parsed.rows[0].end_date, date(2026, 12, 5));
    assert_eq!(parsed.rows[1].end_date, date(2028, 2, 29));
    assert_eq!(parsed.rows.len(), 2);
    assert_eq!(where_(&parsed), [(4, "vence")]);
    assert!(
        parsed.errors[0].reason(Locale::Es).contains("«29/02/2027»"),
        "{}",
        parsed.errors[0]
    );
}

#[test]
fn missing_required_columns_are_all_named() {
    let err = parse_csv(
        b"nombres,apellidos,email,servicio,precio\nAna,Quishpe,,Netflix,7\n",
        Region::default(),
    )
    .unwrap_err();
    match &err {
        ImportError::MissingColumns(cols) => assert_eq!(cols, &["telefono", "vence"]),
        other => panic!("expected MissingColumns, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(
            "le faltan columnas obligatorias: telefono (o teléfono, phone, celular, whatsapp)"
        ) && msg.contains("end_date"),
        "{msg}"
    );
    let msg = err.render(Locale::En);
    assert!(
        msg.contains("lacks required columns: telefono (or teléfono, phone, celular, whatsapp)"),
        "{msg}"
    );

    let err = parse_csv(b"nombre,telefono,servicio,vence\n", Region::default()).unwrap_err();
    assert!(
        matches!(&err, ImportError::MissingColumns(c) if c == &["precio"]),
        "{err:?}"
    );
    let err = parse_csv(
        b"name,phone,whatsapp,service,vence,precio\n",
        Region::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, ImportError::DuplicateColumns { .. }),
        "{err:?}"
    );
    assert!(matches!(
        parse_csv(b"\n\n", Region::default()),
        Err(ImportError::Empty)
    ));
}

#[test]
fn header_only_file_has_no_rows() {
    let parsed = parse("nombres,telefono,servicio,vence,precio\n");
    assert_eq!(parsed, ParsedImport::default());
    assert!(parsed.has_no_data());
    assert!(parse("nombres,telefono,servicio,vence,precio\n\n,,,,\n").has_no_data());
    let bad = parse("nombres,telefono,servicio,vence,precio\nAna,x,Netflix,2026-11-25,7.50\n");
    assert!(!bad.has_no_data(), "a bad row is data");
    let good =
        parse("nombres,telefono,servicio,vence,precio\nAna,0991234567,Netflix,2026-11-25,7.50\n");
    assert!(!good.has_no_data());
}

#[test]
fn ambiguous_prices_are_rejected_with_their_line() {
    let parsed = parse(
        "nombres;telefono;servicio;vence;precio\n\
         Ana;0991234567;Netflix;2026-11-25;7.50\n\
         Beto;0991234568;Netflix;2026-11-25;7.505\n\
         Carla;0991234569;Netflix;2026-11-25;7,505\n\
         Dora;0991234570;Netflix;2026-11-25;1.234,50\n\
         Eva;0991234571;Netflix;2026-11-25;1,234.50\n",
    );
    assert_eq!(where_(&parsed), [(3, "precio"), (4, "precio")]);
    assert_eq!(
        parsed.errors[0].to_string(),
        "línea 3: precio: «7.505» es ambiguo: tres cifras después del único punto o coma \
         pueden ser decimales o miles; escribe hasta dos decimales (7,50) y los miles sin \
         separador (7505) o con parte decimal (7.505,00)"
    );
    assert_eq!(
        parsed.errors[0].render(Locale::En),
        "line 3: precio: `7.505` is ambiguous: three digits after its only `.` or `,` \
         could be decimals or thousands; write at most two decimals (7.50) and \
         thousands without a separator (7505) or with a decimal part (7.505,00)"
    );
    let cents: Vec<i64> = parsed.rows.iter().map(|r| r.price.cents()).collect();
    assert_eq!(cents, [750, 123_450, 123_450]);
}

#[test]
fn every_bad_cell_is_reported_with_its_file_line() {
    let parsed = parse(
        "nombres,telefono,email,servicio,vence,precio\n\
         Ana,0991234567,ana@gmail.com,Netflix,2026-11-25,7.50\n\
         \n\
         Beto,abc,beto@gmail.com,Netflix,2026-11-25,7.50\n\
         ,,,,,\n\
         \"Carla\nLínea dos\",0991234568,carla@gmail,,31/02/2026,abc\n\
         Dora,0991234569,,Spotify,2026-11-25,3.99\n\
         ,0991234570,x@y.com,Spotify,2026-11-25,\n",
    );
    assert_eq!(
        where_(&parsed),
        [
            (4, "telefono"),
            (6, "email"),
            (6, "servicio"),
            (6, "vence"),
            (6, "precio"),
            (9, "nombres"),
            (9, "precio"),
        ]
    );
    assert_eq!(parsed.invalid_lines(), [4, 6, 9]);
    let lines: Vec<usize> = parsed.rows.iter().map(|r| r.line).collect();
    assert_eq!(lines, [2, 8]);
    assert_eq!(
        parsed.errors[0].to_string(),
        "línea 4: telefono: «abc» tiene caracteres que no son de un número de teléfono"
    );
    assert_eq!(
        parsed.errors[6].to_string(),
        "línea 9: precio: falta el precio"
    );
    assert_eq!(
        parsed.errors[6].render(Locale::En),
        "line 9: precio: the price is empty"
    );

    let err = parsed.into_result().unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("3 filas no válidas\nlínea 4: telefono:"),
        "{msg}"
    );
    let msg = err.render(Locale::En);
    assert!(
        msg.starts_with("3 invalid rows\nline 4: telefono:"),
        "{msg}"
    );
}

#[test]
fn unquoted_decimal_comma_is_not_silently_truncated() {
    let parsed =
        parse("nombres,telefono,servicio,vence,precio\nAna,0991234567,Netflix,2026-11-25,7,50\n");
    assert!(parsed.rows.is_empty());
    assert_eq!(where_(&parsed), [(2, "(fila)")]);
    assert_eq!(parsed.errors[0].column(Locale::Es), "(fila)");
    assert_eq!(parsed.errors[0].column(Locale::En), "(row)");
    assert!(
        parsed.errors[0]
            .reason(Locale::Es)
            .contains("tiene 6 valores"),
        "{}",
        parsed.errors[0]
    );
    // Trailing empty cells, as spreadsheets export them, are fine.
    assert!(
        parse("nombres,telefono,servicio,vence,precio\nAna,0991234567,Netflix,2026-11-25,7,,\n")
            .is_clean()
    );
}

#[test]
fn duplicate_phone_and_service_points_to_the_first_line() {
    let parsed = parse(
        "nombres,telefono,servicio,vence,precio\n\
         Luis,0993216547,Netflix,2026-12-15,7.50\n\
         Luis,0993216547,Spotify,2026-12-15,3.99\n\
         Luis G.,+593 99 321 6547,NETFLIX,2027-01-15,7.50\n",
    );
    assert_eq!(parsed.rows.len(), 2);
    assert_eq!(where_(&parsed), [(4, "telefono")]);
    assert_eq!(
        parsed.errors[0].reason(Locale::Es),
        "«+593 99 321 6547» ya tiene «NETFLIX» en la línea 2; deja una línea por teléfono y servicio"
    );
    let reason = parsed.errors[0].reason(Locale::En);
    assert!(
        reason.contains("on line 2") && reason.contains("NETFLIX"),
        "{reason}"
    );
}

#[test]
fn email_and_service_sanity() {
    assert_eq!(check_email(""), Ok(None));
    assert_eq!(check_email("a.b@mail.ec"), Ok(Some("a.b@mail.ec".into())));
    for bad in [
        "ana",
        "ana@gmail",
        "@gmail.com",
        "a@@b.com",
        "a@b@c.com",
        "a@.com",
        "a@b.",
        "a b@c.com",
    ] {
        assert!(check_email(bad).is_err(), "{bad}");
    }
    assert_eq!(check_service(" IPTV   Premium "), Ok("IPTV Premium".into()));
    assert!(check_service(&"x".repeat(MAX_SERVICE_LEN)).is_ok());
    assert!(check_service(&"x".repeat(MAX_SERVICE_LEN + 1)).is_err());
}

#[test]
fn example_file_is_all_valid() {
    let parsed = parse_csv(
        include_bytes!("../../examples/clientes.csv"),
        Region::default(),
    )
    .unwrap();
    assert!(parsed.is_clean(), "{:?}", parsed.errors);
    assert_eq!(parsed.rows.len(), 15);
    let mut phones: Vec<&str> = parsed.rows.iter().map(|r| r.phone.as_str()).collect();
    phones.sort_unstable();
    phones.dedup();
    assert_eq!(phones.len(), 14, "one client has two subscriptions");
    let jorge = parsed
        .rows
        .iter()
        .find(|r| r.name == "Jorge Salazar Tapia")
        .unwrap();
    assert_eq!(jorge.end_date, date(2026, 11, 28));
    assert_eq!(parsed.rows[1].price.cents(), 499);
}

#[test]
fn example_file_with_errors_reports_exactly_its_bad_lines() {
    let parsed = parse_csv(
        include_bytes!("../../examples/clientes_con_errores.csv"),
        Region::default(),
    )
    .unwrap();
    assert_eq!(
        where_(&parsed),
        [
            (3, "telefono"),
            (5, "vence"),
            (7, "precio"),
            (8, "email"),
            (8, "servicio")
        ]
    );
    assert_eq!(parsed.rows.len(), 5);
}

#[test]
fn crlf_files_with_blank_lines_keep_file_line_numbers() {
    let parsed = parse(
        "\r\nnombres;telefono;servicio;vence;precio\r\n\r\n\r\nAna;0991234567;Netflix;2026-11-25;7,50\r\n   \r\n\"Beto\r\nB.\";abc;Netflix;2026-11-25;7,50\r\n\r\nCarla;0991234568;Netflix;2026-13-01;7,50",
    );
    assert_eq!(parsed.rows.len(), 1);
    assert_eq!(parsed.rows[0].line, 5);
    assert_eq!(where_(&parsed), [(7, "telefono"), (10, "vence")]);
}

#[test]
fn cr_only_files_keep_file_line_numbers() {
    // "CSV (Macintosh)" from Excel ends lines with a lone \r: every error
    // said "line 1", and two bad rows counted as one.
    let parsed = parse(
        "nombres,telefono,servicio,vence,precio\r\
         Ana,0991234567,Netflix,2026-11-25,7.50\r\
         Beto,abc,Netflix,2026-11-25,7.50\r\r\
         Carla,0991234568,Netflix,2026-11-25,7.505\r",
    );
    assert_eq!(parsed.rows.len(), 1);
    assert_eq!(parsed.rows[0].line, 2);
    assert_eq!(where_(&parsed), [(3, "telefono"), (5, "precio")]);
    assert_eq!(parsed.invalid_lines(), [3, 5]);
    let not_utf8 = parse_csv(b"nombres\rAna\r\xE9\r", Region::default()).unwrap_err();
    assert!(
        matches!(not_utf8, ImportError::Encoding { line: 3 }),
        "{not_utf8:?}"
    );
}

/// Hands out one byte per read: every boundary a file can be cut at.
struct Trickle<'a>(&'a [u8]);

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), buf.is_empty()) {
            (Some((byte, rest)), false) => {
                buf[0] = *byte;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

fn streamed(input: impl std::io::Read) -> ParsedImport {
    let mut parsed = ParsedImport::default();
    read_csv(input, Region::default(), |item| {
        match item {
            Item::Row(row) => parsed.rows.push(row),
            Item::Error(error) => parsed.errors.push(error),
        }
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    parsed
}

#[test]
fn streaming_finds_the_same_rows_errors_and_lines_in_a_big_file() {
    // Blank lines, CRLF, a quoted cell over two lines and bad rows spread
    // over far more than the line counter's 64 KiB window.
    let mut text = String::from("\u{feff}nombres;telefono;servicio;vence;precio\r\n\r\n");
    for i in 0..6_000 {
        match i % 1_000 {
            7 => text.push_str("Ana;abc;Netflix;2026-11-25;7,50\r\n"),
            8 => text.push_str("\"Beto\nSegunda\";0991234567;HBO;31/02/2026;7,50\r\n\r\n"),
            9 => text.push_str(&format!(
                "Dup;{};Netflix;2026-11-25;1\n",
                990_000_000 + i - 9
            )),
            _ => text.push_str(&format!(
                "Cliente {i};{};Netflix;2026-11-25;7,50\n",
                990_000_000 + i
            )),
        }
    }
    let whole = parse(&text);
    assert_eq!(whole.rows.len(), 6_000 - 18);
    assert_eq!(whole.invalid_lines().len(), 18);
    assert!(
        whole.errors[2].to_string().contains("en la línea"),
        "{}",
        whole.errors[2]
    );
    assert_eq!(streamed(text.as_bytes()), whole);
    assert_eq!(streamed(Trickle(text.as_bytes())), whole);
}

#[test]
fn streaming_encoding_check_matches_the_whole_file_check() {
    let good = "nombres,telefono\nMaría,Ñandú\n".repeat(20_000);
    assert!(check_encoding(good.as_bytes()).is_ok());
    assert!(check_encoding(Trickle(good.as_bytes())).is_ok());
    let mut bad = good.clone().into_bytes();
    let at = bad.len() - 100;
    bad[at] = 0xE9;
    let line = 1 + bad[..at].iter().filter(|b| **b == b'\n').count();
    for error in [
        check_encoding(&bad[..]).unwrap_err(),
        check_encoding(Trickle(&bad)).unwrap_err(),
        parse_csv(&bad, Region::default()).unwrap_err(),
    ] {
        assert!(
            matches!(error, ImportError::Encoding { line: l } if l == line),
            "{error:?}"
        );
    }
    // A character cut at the very end, and UTF-16.
    assert!(matches!(
        check_encoding(&b"a\nb\n\xC3"[..]),
        Err(ImportError::Encoding { line: 3 })
    ));
    assert!(matches!(
        check_encoding(&b"\xFF\xFEn\0"[..]),
        Err(ImportError::Encoding { line: 1 })
    ));
    assert!(check_encoding(&b"\xEF\xBB\xBF"[..]).is_ok());
}
