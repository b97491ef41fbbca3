//! One check per client/subscription field, shared by the CSV importer and
//! the web panel's forms so both accept and reject exactly the same values.
//! Errors are typed; their words come from the i18n catalog: the importer
//! says what was wrong with the value (`FieldError::message`, with the value
//! quoted), the web panel's forms say it next to the field
//! (`FieldError::key`).

use chrono::NaiveDate;

use crate::domain::{DateError, Locale, Money, MoneyError, Phone, PhoneError, Region, parse_date};
use crate::i18n;

/// Longest service name accepted.
pub const MAX_SERVICE_LEN: usize = 100;

/// What is wrong with one field's value. `Display` is
/// [`FieldError::message`] in the default language (Spanish).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message(Locale::default()))]
pub enum FieldError {
    NameEmpty,
    Phone(#[from] PhoneError),
    Email(String),
    ServiceEmpty,
    ServiceTooLong(usize),
    Date(#[from] DateError),
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

impl FieldError {
    /// The catalog key of [`FieldError::message`] (`import.<what>`) and the
    /// value it quotes, if any.
    fn message_parts(&self) -> (&'static str, Option<&str>) {
        match self {
            FieldError::NameEmpty => ("import.name_empty", None),
            FieldError::Phone(PhoneError::Empty) => ("import.phone_empty", None),
            FieldError::Phone(PhoneError::BadCharacters(v)) => ("import.phone_characters", Some(v)),
            FieldError::Phone(PhoneError::Unparseable(v)) => ("import.phone_unparseable", Some(v)),
            FieldError::Phone(PhoneError::Invalid(v)) => ("import.phone_invalid", Some(v)),
            FieldError::Email(v) => ("import.email", Some(v)),
            FieldError::ServiceEmpty => ("import.service_empty", None),
            FieldError::ServiceTooLong(_) => ("import.service_long", None),
            FieldError::Date(DateError::Empty) => ("import.date_empty", None),
            FieldError::Date(DateError::Malformed(v)) => ("import.date_malformed", Some(v)),
            FieldError::Date(DateError::NotInCalendar(v)) => ("import.date_calendar", Some(v)),
            FieldError::Price(MoneyError::Empty) => ("import.price_empty", None),
            FieldError::Price(MoneyError::Malformed(v)) => ("import.price_malformed", Some(v)),
            FieldError::Price(MoneyError::TooPrecise(v)) => ("import.price_precise", Some(v)),
            FieldError::Price(MoneyError::Ambiguous(v)) => ("import.price_ambiguous", Some(v)),
            FieldError::Price(MoneyError::Negative(v)) => ("import.price_negative", Some(v)),
            FieldError::Price(MoneyError::TooLarge(v)) => ("import.price_large", Some(v)),
        }
    }

    /// What is wrong, naming the value as it was written: «12345» no es un
    /// número de teléfono válido.
    pub fn message(&self, locale: Locale) -> String {
        let (key, value) = self.message_parts();
        let length = match self {
            FieldError::ServiceTooLong(length) => *length,
            _ => 0,
        };
        i18n::format(
            locale,
            key,
            &[
                ("value", &value.unwrap_or_default()),
                ("n", &length),
                ("max", &MAX_SERVICE_LEN),
            ],
        )
    }
}

/// Every `FieldError::message` key, for catalog completeness tests.
pub const FIELD_MESSAGE_KEYS: &[&str] = &[
    "import.name_empty",
    "import.phone_empty",
    "import.phone_characters",
    "import.phone_unparseable",
    "import.phone_invalid",
    "import.email",
    "import.service_empty",
    "import.service_long",
    "import.date_empty",
    "import.date_malformed",
    "import.date_calendar",
    "import.price_empty",
    "import.price_malformed",
    "import.price_precise",
    "import.price_ambiguous",
    "import.price_negative",
    "import.price_large",
];

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
        let messages: Vec<&str> = samples
            .iter()
            .map(|r| r.as_ref().unwrap_err().message_parts().0)
            .collect();
        assert_eq!(messages, FIELD_MESSAGE_KEYS);
        for key in FIELD_MESSAGE_KEYS {
            for locale in [Locale::Es, Locale::En] {
                assert!(i18n::has(locale, key), "{key} missing in {locale:?}");
            }
        }
    }

    #[test]
    fn messages_quote_the_value_in_the_chosen_language() {
        let unparseable = check_phone("12345", Region::default()).unwrap_err();
        assert_eq!(
            unparseable.message(Locale::Es),
            "«12345» no es un número de teléfono válido"
        );
        assert_eq!(
            unparseable.message(Locale::En),
            "`12345` could not be read as a phone number"
        );
        assert_eq!(unparseable.to_string(), unparseable.message(Locale::Es));
        assert_eq!(
            check_service("").unwrap_err().message(Locale::Es),
            "falta el servicio"
        );
        let long = check_service(&"x".repeat(MAX_SERVICE_LEN + 1)).unwrap_err();
        assert_eq!(
            long.message(Locale::Es),
            "el nombre del servicio tiene 101 caracteres (máximo 100)"
        );
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
