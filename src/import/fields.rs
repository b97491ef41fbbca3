//! One check per client/subscription field, shared by the CSV importer and
//! the web panel's forms so both accept and reject exactly the same values.
//! Errors are typed: the importer prints them (English, `Display`), the web
//! panel shows them through its i18n catalogs (`FieldError::key`).

use chrono::NaiveDate;

use crate::domain::{DateError, Money, MoneyError, Phone, PhoneError, Region, parse_date};

/// Longest service name accepted.
pub const MAX_SERVICE_LEN: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("name is empty")]
    NameEmpty,
    #[error(transparent)]
    Phone(#[from] PhoneError),
    #[error("`{0}` is not an email address")]
    Email(String),
    #[error("service is empty")]
    ServiceEmpty,
    #[error("service name has {0} characters (at most {MAX_SERVICE_LEN})")]
    ServiceTooLong(usize),
    #[error(transparent)]
    Date(#[from] DateError),
    #[error(transparent)]
    Price(#[from] MoneyError),
}

impl FieldError {
    /// A stable message key (`field_<what>`) for translated messages.
    pub fn key(&self) -> &'static str {
        match self {
            FieldError::NameEmpty => "field_name_empty",
            FieldError::Phone(PhoneError::Empty) => "field_phone_empty",
            FieldError::Phone(PhoneError::BadCharacters(_)) => "field_phone_characters",
            FieldError::Phone(PhoneError::Unparseable(_)) => "field_phone_unparseable",
            FieldError::Phone(PhoneError::Invalid(_)) => "field_phone_invalid",
            FieldError::Email(_) => "field_email",
            FieldError::ServiceEmpty => "field_service_empty",
            FieldError::ServiceTooLong(_) => "field_service_long",
            FieldError::Date(DateError::Empty) => "field_date_empty",
            FieldError::Date(DateError::Malformed(_)) => "field_date_malformed",
            FieldError::Date(DateError::NotInCalendar(_)) => "field_date_calendar",
            FieldError::Price(MoneyError::Empty) => "field_price_empty",
            FieldError::Price(MoneyError::Malformed(_)) => "field_price_malformed",
            FieldError::Price(MoneyError::TooPrecise(_)) => "field_price_precise",
            FieldError::Price(MoneyError::Ambiguous(_)) => "field_price_ambiguous",
            FieldError::Price(MoneyError::Negative(_)) => "field_price_negative",
            FieldError::Price(MoneyError::TooLarge(_)) => "field_price_large",
        }
    }
}

/// Every `FieldError::key`, for catalog completeness tests.
pub const FIELD_ERROR_KEYS: &[&str] = &[
    "field_name_empty",
    "field_phone_empty",
    "field_phone_characters",
    "field_phone_unparseable",
    "field_phone_invalid",
    "field_email",
    "field_service_empty",
    "field_service_long",
    "field_date_empty",
    "field_date_malformed",
    "field_date_calendar",
    "field_price_empty",
    "field_price_malformed",
    "field_price_precise",
    "field_price_ambiguous",
    "field_price_negative",
    "field_price_large",
];

/// Inner whitespace collapsed to single spaces, ends trimmed.
pub fn collapse_spaces(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A person's name: whitespace collapsed, not empty.
pub fn check_name(s: &str) -> Result<String, FieldError> {
    let name = collapse_spaces(s);
    if name.is_empty() {
        Err(FieldError::NameEmpty)
    } else {
        Ok(name)
    }
}

/// Any usual spelling of a number, to E.164; local numbers read in `region`.
pub fn check_phone(s: &str, region: Region) -> Result<Phone, FieldError> {
    Ok(Phone::parse(s, region)?)
}

/// Empty is fine (no email); otherwise one `@` with a dotted domain after it.
pub fn check_email(s: &str) -> Result<Option<String>, FieldError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let valid = match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
                && !s.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if valid {
        Ok(Some(s.to_string()))
    } else {
        Err(FieldError::Email(s.to_string()))
    }
}

/// A service name: whitespace collapsed, 1..=MAX_SERVICE_LEN characters.
pub fn check_service(s: &str) -> Result<String, FieldError> {
    let service = collapse_spaces(s);
    let len = service.chars().count();
    if service.is_empty() {
        Err(FieldError::ServiceEmpty)
    } else if len > MAX_SERVICE_LEN {
        Err(FieldError::ServiceTooLong(len))
    } else {
        Ok(service)
    }
}

/// `YYYY-MM-DD` or `DD/MM/YYYY`.
pub fn check_date(s: &str) -> Result<NaiveDate, FieldError> {
    Ok(parse_date(s)?)
}

/// `12,50`, `12.50`, `$12`, `1.234,50`: cents, never negative.
pub fn check_price(s: &str) -> Result<Money, FieldError> {
    Ok(Money::parse(s)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_a_listed_key() {
        let samples = [
            check_name("  "),
            check_phone("", Region::default()).map(|_| String::new()),
            check_phone("abc", Region::default()).map(|_| String::new()),
            check_phone("123", Region::default()).map(|_| String::new()),
            check_phone("099123456789012", Region::default()).map(|_| String::new()),
            check_email("ana").map(|_| String::new()),
            check_service(""),
            check_service(&"x".repeat(MAX_SERVICE_LEN + 1)),
            check_date("").map(|_| String::new()),
            check_date("mañana").map(|_| String::new()),
            check_date("31/02/2027").map(|_| String::new()),
            check_price("").map(|_| String::new()),
            check_price("abc").map(|_| String::new()),
            check_price("7.5055").map(|_| String::new()),
            check_price("7.505").map(|_| String::new()),
            check_price("-1").map(|_| String::new()),
            check_price("99999999999999999999").map(|_| String::new()),
        ];
        let keys: Vec<&str> = samples
            .iter()
            .map(|r| r.as_ref().unwrap_err().key())
            .collect();
        assert_eq!(keys, FIELD_ERROR_KEYS);
    }

    #[test]
    fn the_importers_formats_are_accepted() {
        assert_eq!(check_price("12,50").unwrap().cents(), 1250);
        assert_eq!(check_price("12.50").unwrap().cents(), 1250);
        assert_eq!(check_price("1.234,50").unwrap().cents(), 123_450);
        assert_eq!(check_date("05/01/2027"), check_date("2027-01-05"));
        assert_eq!(
            check_phone("+593 99 123 4567", Region::default())
                .unwrap()
                .as_str(),
            "+593991234567"
        );
        assert_eq!(check_name("  Ana   Pérez "), Ok("Ana Pérez".into()));
    }
}
