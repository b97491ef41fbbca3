//! `avisa import`: reading a customers CSV into validated rows. Pure: no
//! database here; the caller decides what to write (and `--skip-invalid`).
//!
//! Line numbers are lines of the file, header = line 1. A quoted cell that
//! spans several lines counts all of them; blank lines are skipped but count.

mod export;
pub mod fields;
mod header;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;

use chrono::NaiveDate;

use crate::domain::{Money, Phone, Region};
pub use export::{EXPORT_HEADER, Export, write_csv};
use fields::{check_date, check_email, check_name, check_phone, check_price, check_service};
use header::{Columns, Field};

pub use fields::{FieldError, MAX_SERVICE_LEN};

/// One valid subscription line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// Line of the file where the row starts (header = 1).
    pub line: usize,
    /// `nombres` + `apellidos`, whitespace collapsed.
    pub name: String,
    pub phone: Phone,
    pub email: Option<String>,
    /// Trimmed, inner whitespace collapsed, case as written.
    pub service: String,
    pub end_date: NaiveDate,
    pub price: Money,
}

impl ImportRow {
    /// What the store writes for this row (`avisa import` and the panel's
    /// import share it).
    pub fn to_subscription(&self) -> crate::store::NewSubscription {
        crate::store::NewSubscription {
            name: self.name.clone(),
            phone: self.phone.clone(),
            email: self.email.clone(),
            service: self.service.clone(),
            end_date: self.end_date,
            price: self.price,
        }
    }
}

/// One bad cell: `line 4: telefono: `abc` contains characters…`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {column}: {reason}")]
pub struct RowError {
    pub line: usize,
    /// The column's header as written in the file.
    pub column: String,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file is empty: expected a header line such as `{EXAMPLE_HEADER}`")]
    Empty,
    #[error(
        "line {line} is not UTF-8 text (probably saved as Latin-1/Windows-1252 or UTF-16); \
         save it as \"CSV UTF-8\" and import again"
    )]
    Encoding { line: usize },
    #[error(
        "the header (line 1) lacks required column(s): {}; expected e.g. `{EXAMPLE_HEADER}`",
        header::describe_missing(.0)
    )]
    MissingColumns(Vec<String>),
    #[error("the header has both `{first}` and `{second}`, which mean the same; keep one")]
    DuplicateColumns { first: String, second: String },
    #[error("{}", RowList(.0))]
    Rows(Vec<RowError>),
    #[error("could not read the CSV: {0}")]
    Csv(#[from] csv::Error),
}

const EXAMPLE_HEADER: &str = "nombres,apellidos,telefono,email,servicio,vence,precio";

struct RowList<'a>(&'a [RowError]);

impl fmt::Display for RowList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lines: Vec<usize> = self.0.iter().map(|e| e.line).collect();
        lines.dedup();
        write!(f, "{} invalid row(s)", lines.len())?;
        for error in self.0 {
            write!(f, "\n{error}")?;
        }
        Ok(())
    }
}

/// The outcome of reading a file whose header was usable: valid rows and every
/// problem found in the others, both in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedImport {
    /// Rows without any error.
    pub rows: Vec<ImportRow>,
    /// Every bad cell; a row may have several.
    pub errors: Vec<RowError>,
}

impl ParsedImport {
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }

    /// True when the file had a header but no data row at all, good or bad
    /// (blank lines do not count).
    pub fn has_no_data(&self) -> bool {
        self.rows.is_empty() && self.errors.is_empty()
    }

    /// Lines that have at least one error, ascending, without repeats.
    pub fn invalid_lines(&self) -> Vec<usize> {
        let mut lines: Vec<usize> = self.errors.iter().map(|e| e.line).collect();
        lines.sort_unstable();
        lines.dedup();
        lines
    }

    /// All rows, or [`ImportError::Rows`] if any row was bad (the default,
    /// all-or-nothing import).
    pub fn into_result(self) -> Result<Vec<ImportRow>, ImportError> {
        if self.errors.is_empty() {
            Ok(self.rows)
        } else {
            Err(ImportError::Rows(self.errors))
        }
    }
}

/// Reads a customers CSV (UTF-8 with or without BOM, `,` or `;` separated,
/// Spanish or English headers). Numbers without a country code are read in
/// `region`. Header and encoding problems are errors; bad rows are collected
/// in [`ParsedImport::errors`].
pub fn parse_csv(bytes: &[u8], region: Region) -> Result<ParsedImport, ImportError> {
    let text = decode(bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(header::detect_separator(text))
        .from_reader(text.as_bytes());
    let mut records = reader.records();

    let columns = loop {
        match records.next() {
            None => return Err(ImportError::Empty),
            Some(record) => {
                let record = record?;
                if !is_blank(&record) {
                    break Columns::from_headers(record.iter())?;
                }
            }
        }
    };

    let mut lines = LineCounter::new(text);
    let mut parsed = ParsedImport::default();
    let mut seen: HashMap<(Phone, String), usize> = HashMap::new();
    for record in records {
        let record = record?;
        if is_blank(&record) {
            continue;
        }
        let line = lines.line_at(record.position().map_or(0, csv::Position::byte));
        let before = parsed.errors.len();
        let row = RowCheck {
            record: &record,
            columns: &columns,
            line,
            errors: &mut parsed.errors,
        }
        .run(region, &mut seen);
        if let Some(row) = row.filter(|_| parsed.errors.len() == before) {
            parsed.rows.push(row);
        }
    }
    Ok(parsed)
}

/// Strips a UTF-8 BOM; rejects anything that is not UTF-8, naming the line.
fn decode(bytes: &[u8]) -> Result<&str, ImportError> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(ImportError::Encoding { line: 1 });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| ImportError::Encoding {
        line: 1 + line_breaks(&bytes[..e.valid_up_to()]),
    })
}

/// Line breaks as the CSV reader sees them: `\r\n`, `\n`, and a lone `\r`
/// (files saved as "CSV (Macintosh)" end their lines with `\r` only).
fn line_breaks(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .enumerate()
        .filter(|&(i, b)| *b == b'\n' || (*b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count()
}

/// The file line where a record starts. csv's own `position().line()` is
/// where the previous record ended, so it is short by the blank lines the
/// reader skipped in between; start from the byte offset and step over them.
struct LineCounter<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        LineCounter {
            bytes: text.as_bytes(),
            offset: 0,
            line: 1,
        }
    }

    /// `byte` never decreases between calls (records come in file order).
    fn line_at(&mut self, byte: u64) -> usize {
        let mut start = usize::try_from(byte).map_or(self.bytes.len(), |b| b.min(self.bytes.len()));
        while matches!(self.bytes.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        if start > self.offset {
            // `start` is never between the `\r` and `\n` of one break.
            self.line += line_breaks(&self.bytes[self.offset..start]);
            self.offset = start;
        }
        self.line
    }
}

/// Empty lines, and lines of separators only (`,,,,`) that spreadsheets leave.
fn is_blank(record: &csv::StringRecord) -> bool {
    record.iter().all(|cell| cell.trim().is_empty())
}

/// Validation of one record; every bad cell is pushed to `errors`.
struct RowCheck<'a> {
    record: &'a csv::StringRecord,
    columns: &'a Columns,
    line: usize,
    errors: &'a mut Vec<RowError>,
}

impl RowCheck<'_> {
    fn cell(&self, field: Field) -> &str {
        self.columns
            .position(field)
            .and_then(|i| self.record.get(i))
            .unwrap_or("")
            .trim()
    }

    fn fail(&mut self, column: &str, reason: impl fmt::Display) {
        self.errors.push(RowError {
            line: self.line,
            column: column.to_string(),
            reason: reason.to_string(),
        });
    }

    /// The cell's value, or `None` after recording why it is bad.
    fn check<T, E: fmt::Display>(
        &mut self,
        field: Field,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        match parse(self.cell(field)) {
            Ok(value) => Some(value),
            Err(reason) => {
                let column = self.columns.name(field).to_string();
                self.fail(&column, reason);
                None
            }
        }
    }

    fn run(
        mut self,
        region: Region,
        seen: &mut HashMap<(Phone, String), usize>,
    ) -> Option<ImportRow> {
        let full_name = format!(
            "{} {}",
            self.cell(Field::FirstName),
            self.cell(Field::LastName)
        );
        let name = match check_name(&full_name) {
            Ok(name) => name,
            Err(reason) => {
                let column = self.columns.name(Field::FirstName).to_string();
                self.fail(&column, reason);
                String::new()
            }
        };
        let phone = self.check(Field::Phone, |s| check_phone(s, region));
        let email = self.check(Field::Email, check_email);
        let service = self.check(Field::Service, check_service);
        let end_date = self.check(Field::EndDate, check_date);
        let price = self.check(Field::Price, check_price);

        let extra = self.record.iter().skip(self.columns.width());
        if extra.filter(|cell| !cell.trim().is_empty()).count() > 0 {
            let reason = format!(
                "the row has {} values but the header has {} columns; \
                 put values that contain the separator in quotes (\"7,50\")",
                self.record.len(),
                self.columns.width()
            );
            self.fail("(row)", reason);
        }

        if let (Some(phone), Some(service)) = (&phone, &service) {
            let key = (phone.clone(), service.to_lowercase());
            if let Some(first) = seen.get(&key) {
                let reason = format!(
                    "`{}` already has `{service}` on line {first}; keep one line per phone and service",
                    self.cell(Field::Phone)
                );
                let column = self.columns.name(Field::Phone).to_string();
                self.fail(&column, reason);
            } else {
                seen.insert(key, self.line);
            }
        }

        Some(ImportRow {
            line: self.line,
            name,
            phone: phone?,
            email: email?,
            service: service?,
            end_date: end_date?,
            price: price?,
        })
    }
}
