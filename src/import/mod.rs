//! `avisa import`: reading a customers CSV into validated rows. Pure but for
//! `load.rs`, which streams a file into the store; the caller decides what
//! to write (and `--skip-invalid`).
//!
//! Line numbers are lines of the file, header = line 1. A quoted cell that
//! spans several lines counts all of them; blank lines are skipped but count.
//!
//! [`read_csv`] streams: it hands each row or error to the caller as it
//! reads, holding only the current record and, to find repeated phone +
//! service pairs, a few bytes per row. [`parse_csv`] collects the same into
//! a [`ParsedImport`] for callers that hold the whole file anyway.

mod errors;
mod export;
pub mod fields;
mod header;
pub mod load;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Read;
use std::ops::ControlFlow;
use std::rc::Rc;

use chrono::NaiveDate;

use crate::domain::{Money, Phone, Region};
pub use errors::{ImportError, RowError, RowProblem, render_rows};
pub use export::{EXPORT_HEADER, Export, spreadsheet_safe, write_csv};
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

    /// [`ImportRow::to_subscription`] without copying.
    pub fn into_subscription(self) -> crate::store::NewSubscription {
        crate::store::NewSubscription {
            name: self.name,
            phone: self.phone,
            email: self.email,
            service: self.service,
            end_date: self.end_date,
            price: self.price,
        }
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
    // The whole file is at hand: a bad byte anywhere is the one error given.
    decode(bytes)?;
    let mut parsed = ParsedImport::default();
    read_csv(bytes, region, |item| {
        match item {
            Item::Row(row) => parsed.rows.push(row),
            Item::Error(error) => parsed.errors.push(error),
        }
        ControlFlow::Continue(())
    })?;
    Ok(parsed)
}

/// What [`read_csv`] finds, in file order: a row without any error, or one
/// bad cell (a row may have several, each given before the next row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Row(ImportRow),
    Error(RowError),
}

/// [`parse_csv`] while reading: each valid row and each bad cell goes to
/// `each` as soon as its record is read, so a file of any size is read in
/// little memory. `each` may break to stop reading. Run [`check_encoding`]
/// first for [`parse_csv`]'s answer to a file that is not UTF-8 (here a bad
/// record stops the reading with [`ImportError::Encoding`] when it is met).
pub fn read_csv<R: Read>(
    input: R,
    region: Region,
    mut each: impl FnMut(Item) -> ControlFlow<()>,
) -> Result<(), ImportError> {
    let mut input = input;
    let head = read_head(&mut input)?;
    let window = Rc::new(RefCell::new(Window::default()));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(separator_of(&head))
        .from_reader(Tap {
            inner: std::io::Cursor::new(head).chain(input),
            window: Rc::clone(&window),
        });
    let mut lines = LineCounter { window, line: 1 };
    let mut record = csv::StringRecord::new();

    let columns = loop {
        if !next_record(&mut reader, &mut record, &mut lines)? {
            return Err(ImportError::Empty);
        }
        if !is_blank(&record) {
            break Columns::from_headers(record.iter())?;
        }
    };

    let mut seen = Seen::default();
    let mut errors = Vec::new();
    while next_record(&mut reader, &mut record, &mut lines)? {
        if is_blank(&record) {
            continue;
        }
        let line = lines.line_at(record.position().map_or(0, csv::Position::byte));
        let row = RowCheck {
            record: &record,
            columns: &columns,
            line,
            errors: &mut errors,
        }
        .run(region, &mut seen);
        let clean = errors.is_empty();
        for error in errors.drain(..) {
            if each(Item::Error(error)).is_break() {
                return Ok(());
            }
        }
        if let Some(row) = row.filter(|_| clean)
            && each(Item::Row(row)).is_break()
        {
            return Ok(());
        }
    }
    Ok(())
}

/// Reads the next record into `record`; false at the end of the file. A
/// record that is not UTF-8 is an [`ImportError::Encoding`] at its line.
fn next_record<R: Read>(
    reader: &mut csv::Reader<R>,
    record: &mut csv::StringRecord,
    lines: &mut LineCounter,
) -> Result<bool, ImportError> {
    match reader.read_record(record) {
        Ok(more) => Ok(more),
        Err(error) => match error.kind() {
            csv::ErrorKind::Utf8 { pos, .. } => Err(ImportError::Encoding {
                line: lines.line_at(pos.as_ref().map_or(0, csv::Position::byte)),
            }),
            _ => Err(error.into()),
        },
    }
}

/// The beginning of the file, without a UTF-8 BOM: enough to find its
/// separator, as it holds the first line whole (up to 64 KiB, far more than
/// any header). The reading goes on from the rest of `input`.
fn read_head<R: Read>(input: &mut R) -> Result<Vec<u8>, ImportError> {
    const HEAD: usize = 64 * 1024;
    let mut head = Vec::with_capacity(HEAD);
    input.by_ref().take(HEAD as u64).read_to_end(&mut head)?;
    if head.starts_with(b"\xEF\xBB\xBF") {
        head.drain(..3);
    }
    Ok(head)
}

/// The separator of a file that starts with `head` (a character may be cut
/// at its end, or the file may not be UTF-8: only the valid start counts).
fn separator_of(head: &[u8]) -> u8 {
    let valid = match std::str::from_utf8(head) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default(),
    };
    header::detect_separator(valid)
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

/// [`parse_csv`]'s encoding check while reading, for a file too big to
/// hold: the same error for the same file (a UTF-16 byte order mark, or the
/// line of the first byte that is not UTF-8), in little memory.
pub fn check_encoding<R: Read>(mut input: R) -> Result<(), ImportError> {
    let mut buffer = vec![0u8; 64 * 1024];
    // Bytes of a character cut by the end of the last read.
    let mut carry = 0usize;
    let mut newlines = 0usize;
    let mut first = true;
    loop {
        let read = match input.read(&mut buffer[carry..]) {
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        let filled = carry + read;
        let mut bytes = &buffer[..filled];
        if first && (filled >= 3 || read == 0) {
            first = false;
            if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
                return Err(ImportError::Encoding { line: 1 });
            }
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        } else if first {
            // Not yet enough bytes to tell a byte order mark.
            carry = filled;
            continue;
        }
        let count = |b: &[u8]| b.iter().filter(|b| **b == b'\n').count();
        match std::str::from_utf8(bytes) {
            Ok(_) => {
                newlines += count(bytes);
                carry = 0;
            }
            // A character cut by the end of the buffer: finish it next time.
            Err(e) if e.error_len().is_none() && read > 0 => {
                newlines += count(&bytes[..e.valid_up_to()]);
                let cut = bytes.len() - e.valid_up_to();
                buffer.copy_within(filled - cut..filled, 0);
                carry = cut;
                continue;
            }
            Err(e) => {
                return Err(ImportError::Encoding {
                    line: 1 + newlines + count(&bytes[..e.valid_up_to()]),
                });
            }
        }
        if read == 0 {
            return Ok(());
        }
    }
}

/// The bytes the CSV reader has taken from the file that the line counter
/// has not passed yet: the current record and the reader's read-ahead.
#[derive(Debug, Default)]
struct Window {
    bytes: Vec<u8>,
    /// File offset (after any BOM) of `bytes[0]`.
    base: u64,
    /// Index in `bytes` up to which newlines were counted.
    counted: usize,
}

/// Passes the file to the CSV reader, keeping a copy in the [`Window`].
struct Tap<R> {
    inner: R,
    window: Rc<RefCell<Window>>,
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.window
            .borrow_mut()
            .bytes
            .extend_from_slice(&buf[..read]);
        Ok(read)
    }
}

/// The file line where a record starts. csv's own `position().line()` is
/// where the previous record ended, so it is short by the blank lines the
/// reader skipped in between; start from the byte offset and step over them.
struct LineCounter {
    window: Rc<RefCell<Window>>,
    line: usize,
}

impl LineCounter {
    /// Counted bytes are dropped from the window once there are this many.
    const KEEP: usize = 64 * 1024;

    /// `byte` never decreases between calls (records come in file order).
    fn line_at(&mut self, byte: u64) -> usize {
        let mut window = self.window.borrow_mut();
        let Window {
            bytes,
            base,
            counted,
        } = &mut *window;
        let relative = byte.saturating_sub(*base);
        let mut start = usize::try_from(relative).map_or(bytes.len(), |b| b.min(bytes.len()));
        while matches!(bytes.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        if start > *counted {
            // `start` is never between the `\r` and `\n` of one break.
            self.line += line_breaks(&bytes[*counted..start]);
            *counted = start;
        }
        if *counted >= Self::KEEP {
            bytes.drain(..*counted);
            *base += *counted as u64;
            *counted = 0;
        }
        self.line
    }
}

/// The phone + service pairs read so far, each with its first line, in a
/// few bytes each: a phone's digits and the service's number share one
/// `u64` (E.164 has at most 15 digits, under 2^50).
#[derive(Debug, Default)]
struct Seen {
    /// Lowercased service name → its number.
    services: HashMap<String, u32>,
    pairs: HashMap<u64, u32>,
    /// Pairs that do not fit in `pairs` (never, for E.164 numbers and fewer
    /// than 8,192 services, or lines past 4 billion).
    others: HashMap<(Phone, u32), usize>,
}

impl Seen {
    const PHONE_BITS: u32 = 50;

    /// The first line of this phone and service, or `None` after noting
    /// `line` as their first.
    fn first_line(&mut self, phone: &Phone, service: &str, line: usize) -> Option<usize> {
        let next = u32::try_from(self.services.len()).unwrap_or(u32::MAX);
        let service = *self.services.entry(service.to_lowercase()).or_insert(next);
        let digits = phone
            .as_str()
            .strip_prefix('+')
            .filter(|d| !d.starts_with('0'))
            .and_then(|d| d.parse::<u64>().ok())
            .filter(|d| *d < 1 << Self::PHONE_BITS);
        let key = digits
            .filter(|_| service < 1 << (64 - Self::PHONE_BITS))
            .map(|d| d | u64::from(service) << Self::PHONE_BITS);
        match (key, u32::try_from(line)) {
            (Some(key), Ok(short)) => match self.pairs.get(&key) {
                Some(first) => Some(*first as usize),
                None => {
                    self.pairs.insert(key, short);
                    None
                }
            },
            _ => match self.others.get(&(phone.clone(), service)) {
                Some(first) => Some(*first),
                None => {
                    self.others.insert((phone.clone(), service), line);
                    None
                }
            },
        }
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
    /// The cell's text, trimmed, without one leading `'` (a spreadsheet's
    /// "this is text" mark, which the export adds to formula-like cells).
    fn cell(&self, field: Field) -> &str {
        let text = self
            .columns
            .position(field)
            .and_then(|i| self.record.get(i))
            .unwrap_or("")
            .trim();
        text.strip_prefix('\'').unwrap_or(text)
    }

    fn fail(&mut self, field: Option<Field>, problem: RowProblem) {
        self.errors.push(RowError {
            line: self.line,
            column: field.map(|field| self.columns.name(field).to_string()),
            problem,
        });
    }

    /// The cell's value, or `None` after recording why it is bad.
    fn check<T>(
        &mut self,
        field: Field,
        parse: impl FnOnce(&str) -> Result<T, FieldError>,
    ) -> Option<T> {
        match parse(self.cell(field)) {
            Ok(value) => Some(value),
            Err(error) => {
                self.fail(Some(field), RowProblem::Field(error));
                None
            }
        }
    }

    fn run(mut self, region: Region, seen: &mut Seen) -> Option<ImportRow> {
        let full_name = format!(
            "{} {}",
            self.cell(Field::FirstName),
            self.cell(Field::LastName)
        );
        let name = match check_name(&full_name) {
            Ok(name) => name,
            Err(error) => {
                self.fail(Some(Field::FirstName), RowProblem::Field(error));
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
            let problem = RowProblem::TooManyValues {
                values: self.record.len(),
                columns: self.columns.width(),
            };
            self.fail(None, problem);
        }

        if let (Some(phone), Some(service)) = (&phone, &service)
            && let Some(first) = seen.first_line(phone, service, self.line)
        {
            let problem = RowProblem::Repeated {
                phone: self.cell(Field::Phone).to_string(),
                service: service.clone(),
                first,
            };
            self.fail(Some(Field::Phone), problem);
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
