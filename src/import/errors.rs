//! What can be wrong with an import: one bad cell ([`RowError`]) or a file
//! that cannot be read at all ([`ImportError`]), and their rendering in the
//! staff's language.

use std::fmt;

use crate::domain::Locale;
use crate::i18n;

use super::fields::FieldError;
use super::header;

/// One bad cell: `línea 4: telefono: «abc» tiene caracteres…`. `Display`
/// is [`RowError::render`] in the default language (Spanish).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render(Locale::default()))]
pub struct RowError {
    pub line: usize,
    /// The column's header as written in the file; `None` for the whole row.
    pub column: Option<String>,
    pub problem: RowProblem,
}

/// What is wrong with a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowProblem {
    /// A cell's value.
    Field(FieldError),
    /// More values than the header has columns (an unquoted separator).
    TooManyValues { values: usize, columns: usize },
    /// The phone (as written) already has this service on line `first`.
    Repeated {
        phone: String,
        service: String,
        first: usize,
    },
}

impl RowError {
    /// The column as the file names it, or "(fila)" for the whole row.
    pub fn column(&self, locale: Locale) -> String {
        match &self.column {
            Some(column) => column.clone(),
            None => i18n::text(locale, "import.whole_row"),
        }
    }

    /// What is wrong, without the line and column.
    pub fn reason(&self, locale: Locale) -> String {
        match &self.problem {
            RowProblem::Field(error) => error.message(locale),
            RowProblem::TooManyValues { values, columns } => i18n::format(
                locale,
                "import.too_many_values",
                &[("values", values), ("columns", columns)],
            ),
            RowProblem::Repeated {
                phone,
                service,
                first,
            } => i18n::format(
                locale,
                "import.repeated",
                &[("phone", phone), ("service", service), ("first", first)],
            ),
        }
    }

    /// `línea 4: telefono: «abc» …` / `line 4: telefono: `abc` …`.
    pub fn render(&self, locale: Locale) -> String {
        i18n::format(
            locale,
            "import.line",
            &[
                ("line", &self.line),
                ("column", &self.column(locale)),
                ("reason", &self.reason(locale)),
            ],
        )
    }
}

/// A file that cannot be imported. `Display` is [`ImportError::render`] in
/// the default language (Spanish).
#[derive(Debug)]
pub enum ImportError {
    Empty,
    Encoding {
        line: usize,
    },
    /// Canonical names of the required columns the header lacks.
    MissingColumns(Vec<String>),
    DuplicateColumns {
        first: String,
        second: String,
    },
    Rows(Vec<RowError>),
    Csv(csv::Error),
    Io(std::io::Error),
}

impl ImportError {
    pub fn render(&self, locale: Locale) -> String {
        match self {
            ImportError::Empty => {
                i18n::format(locale, "import.file_empty", &[("header", &EXAMPLE_HEADER)])
            }
            ImportError::Encoding { line } => {
                i18n::format(locale, "import.encoding", &[("line", line)])
            }
            ImportError::MissingColumns(missing) => i18n::format(
                locale,
                "import.missing_columns",
                &[
                    ("n", &missing.len()),
                    ("columns", &header::describe_missing(locale, missing)),
                    ("header", &EXAMPLE_HEADER),
                ],
            ),
            ImportError::DuplicateColumns { first, second } => i18n::format(
                locale,
                "import.duplicate_columns",
                &[("first", first), ("second", second)],
            ),
            ImportError::Rows(errors) => render_rows(locale, errors),
            ImportError::Csv(error) => i18n::format(locale, "import.csv", &[("error", error)]),
            ImportError::Io(error) => i18n::format(locale, "import.io", &[("error", error)]),
        }
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Locale::default()))
    }
}

impl std::error::Error for ImportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ImportError::Csv(error) => Some(error),
            ImportError::Io(error) => Some(error),
            _ => None,
        }
    }
}

impl From<csv::Error> for ImportError {
    fn from(error: csv::Error) -> Self {
        ImportError::Csv(error)
    }
}

impl From<std::io::Error> for ImportError {
    fn from(error: std::io::Error) -> Self {
        ImportError::Io(error)
    }
}

const EXAMPLE_HEADER: &str = "nombres,apellidos,telefono,email,servicio,vence,precio";

/// "2 filas no válidas" and then each error on its own line.
pub fn render_rows(locale: Locale, errors: &[RowError]) -> String {
    let mut lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    lines.dedup();
    let mut text = i18n::plural(locale, "import.invalid_rows", lines.len());
    for error in errors {
        text.push('\n');
        text.push_str(&error.render(locale));
    }
    text
}
