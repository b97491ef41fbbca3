//! The header line: which separator the file uses and which column holds what.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use super::ImportError;
use crate::domain::Locale;
use crate::i18n;

/// A column avisa understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    FirstName,
    LastName,
    Phone,
    Email,
    Service,
    EndDate,
    Price,
}

impl Field {
    pub(crate) const ALL: [Field; 7] = [
        Field::FirstName,
        Field::LastName,
        Field::Phone,
        Field::Email,
        Field::Service,
        Field::EndDate,
        Field::Price,
    ];

    /// The name used in messages when the column is missing.
    pub(crate) fn canonical(self) -> &'static str {
        self.accepted()[0]
    }

    /// Accepted headers (compared after [`normalize`]). The first is canonical.
    pub(crate) fn accepted(self) -> &'static [&'static str] {
        match self {
            Field::FirstName => &["nombres", "nombre", "first_name", "name"],
            Field::LastName => &["apellidos", "apellido", "last_name"],
            Field::Phone => &["telefono", "teléfono", "phone", "celular", "whatsapp"],
            Field::Email => &["email", "correo"],
            Field::Service => &["servicio", "service"],
            Field::EndDate => &["vence", "vencimiento", "end_date", "fecha"],
            Field::Price => &["precio", "price", "valor"],
        }
    }

    fn required(self) -> bool {
        !matches!(self, Field::LastName | Field::Email)
    }

    fn from_header(header: &str) -> Option<Field> {
        let key = normalize(header);
        Field::ALL
            .into_iter()
            .find(|field| field.accepted().iter().any(|alias| normalize(alias) == key))
    }
}

/// Case-, accent- and space-insensitive form of a header:
/// `" Teléfono "` → `telefono`, `First_Name` → `firstname`, `E-mail` → `email`.
pub(crate) fn normalize(header: &str) -> String {
    header
        .nfd()
        .filter(|c| !is_combining_mark(*c) && c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// `;` when the first non-blank line has more semicolons than commas outside
/// quotes (what spreadsheets with a decimal comma export), otherwise `,`.
pub(crate) fn detect_separator(text: &str) -> u8 {
    let first = text.trim_start_matches(|c: char| c.is_whitespace());
    let (mut commas, mut semicolons, mut quoted) = (0usize, 0usize, false);
    for c in first.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => commas += 1,
            ';' if !quoted => semicolons += 1,
            '\n' | '\r' if !quoted => break,
            _ => {}
        }
    }
    if semicolons > commas { b';' } else { b',' }
}

/// Where each [`Field`] sits in a row, and the headers as the file wrote them.
#[derive(Debug)]
pub(crate) struct Columns {
    index: [Option<usize>; Field::ALL.len()],
    names: Vec<String>,
}

impl Columns {
    /// Maps the header row. Unknown columns (notes, ids…) are ignored.
    pub(crate) fn from_headers<'a>(
        headers: impl IntoIterator<Item = &'a str>,
    ) -> Result<Columns, ImportError> {
        let names: Vec<String> = headers.into_iter().map(|h| h.trim().to_string()).collect();
        let mut index: [Option<usize>; Field::ALL.len()] = [None; Field::ALL.len()];
        for (position, name) in names.iter().enumerate() {
            let Some(field) = Field::from_header(name) else {
                continue;
            };
            if let Some(earlier) = index[field as usize] {
                return Err(ImportError::DuplicateColumns {
                    first: names[earlier].clone(),
                    second: name.clone(),
                });
            }
            index[field as usize] = Some(position);
        }
        let missing: Vec<String> = Field::ALL
            .into_iter()
            .filter(|field| field.required() && index[*field as usize].is_none())
            .map(|field| field.canonical().to_string())
            .collect();
        if missing.is_empty() {
            Ok(Columns { index, names })
        } else {
            Err(ImportError::MissingColumns(missing))
        }
    }

    /// Number of columns in the header.
    pub(crate) fn width(&self) -> usize {
        self.names.len()
    }

    pub(crate) fn position(&self, field: Field) -> Option<usize> {
        self.index[field as usize]
    }

    /// The header as written in the file (for error messages); the canonical
    /// name if the column is absent.
    pub(crate) fn name(&self, field: Field) -> &str {
        self.position(field)
            .and_then(|i| self.names.get(i))
            .map_or(field.canonical(), String::as_str)
    }
}

/// For [`ImportError::MissingColumns`]: `telefono (o teléfono, phone,
/// celular, whatsapp)`.
pub(crate) fn describe_missing(locale: Locale, missing: &[String]) -> String {
    missing
        .iter()
        .map(
            |name| match Field::ALL.into_iter().find(|f| f.canonical() == name) {
                Some(field) => i18n::format(
                    locale,
                    "import.missing_column",
                    &[
                        ("name", name),
                        ("aliases", &field.accepted()[1..].join(", ")),
                    ],
                ),
                None => name.clone(),
            },
        )
        .collect::<Vec<_>>()
        .join("; ")
}
