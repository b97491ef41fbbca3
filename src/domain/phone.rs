//! Phone numbers, always held in E.164 form (`+593991234567`).

use std::fmt;
use std::str::FromStr;

use phonenumber::country::Id as CountryId;
use serde::{Deserialize, Serialize};

/// A region used for numbers written without a country code (`0991234567`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region(CountryId);

impl Region {
    /// Parses an ISO 3166 alpha-2 code such as `EC` or `co`.
    pub fn parse(code: &str) -> Result<Self, String> {
        let upper = code.trim().to_ascii_uppercase();
        if upper.len() != 2 {
            return Err(format!("`{code}` is not a two-letter region code"));
        }
        CountryId::from_str(&upper)
            .map(Region)
            .map_err(|_| format!("`{code}` is not a known region code"))
    }

    pub fn id(self) -> CountryId {
        self.0
    }
}

impl Default for Region {
    fn default() -> Self {
        Region(CountryId::EC)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error("`{0}` contains characters that are not part of a phone number")]
    BadCharacters(String),
    #[error("`{0}` could not be read as a phone number")]
    Unparseable(String),
    #[error("`{0}` is not a valid number for its country")]
    Invalid(String),
}

/// A phone number in E.164 form. Construct it with [`Phone::parse`]; the
/// inner string always starts with `+` followed by digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// Parses what people type (`0991234567`, `593991234567`,
    /// `+593 99 123 4567`, `099-123-4567`) or what WhatsApp sends
    /// (`593991234567@s.whatsapp.net`) into E.164.
    pub fn parse(input: &str, region: Region) -> Result<Phone, PhoneError> {
        let trimmed = input.trim();
        let trimmed = trimmed.split('@').next().unwrap_or(trimmed).trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        if trimmed
            .chars()
            .any(|c| !(c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.')))
        {
            return Err(PhoneError::BadCharacters(input.trim().to_string()));
        }
        let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
        if digits.len() < 6 {
            return Err(PhoneError::Unparseable(input.trim().to_string()));
        }
        // Try as written in the default region first, then as international
        // digits without the `+` (what WhatsApp and many spreadsheets hold).
        let mut candidates = vec![trimmed.to_string()];
        if !trimmed.starts_with('+') {
            candidates.push(format!("+{digits}"));
        }
        let mut parsed_any = false;
        for candidate in candidates {
            if let Ok(number) = phonenumber::parse(Some(region.id()), &candidate) {
                parsed_any = true;
                if phonenumber::is_valid(&number) {
                    let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
                    return Ok(Phone(e164));
                }
            }
        }
        if parsed_any {
            Err(PhoneError::Invalid(input.trim().to_string()))
        } else {
            Err(PhoneError::Unparseable(input.trim().to_string()))
        }
    }

    /// Builds a phone from a value already stored in E.164 form (database rows).
    pub fn from_e164(value: String) -> Result<Phone, PhoneError> {
        let ok = value.len() > 6
            && value.starts_with('+')
            && value[1..].chars().all(|c| c.is_ascii_digit());
        if ok {
            Ok(Phone(value))
        } else {
            Err(PhoneError::Unparseable(value))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Digits without the `+` (WhatsApp's `cleanedSenderPn` form).
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Phone {
    type Error = PhoneError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Phone::from_e164(value)
    }
}

impl From<Phone> for String {
    fn from(value: Phone) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ec(input: &str) -> Result<String, PhoneError> {
        Phone::parse(input, Region::default()).map(|p| p.to_string())
    }

    #[test]
    fn ecuadorian_mobile_in_every_usual_spelling() {
        for input in [
            "0991234567",
            "593991234567",
            "+593991234567",
            "+593 99 123 4567",
            "099-123-4567",
            "(099) 123 4567",
            " 0991234567 ",
            "593991234567@s.whatsapp.net",
        ] {
            assert_eq!(ec(input).as_deref(), Ok("+593991234567"), "{input}");
        }
    }

    #[test]
    fn other_countries_keep_their_code() {
        assert_eq!(ec("+57 300 1234567").as_deref(), Ok("+573001234567"));
        assert_eq!(ec("+34 612 34 56 78").as_deref(), Ok("+34612345678"));
        assert_eq!(ec("573001234567").as_deref(), Ok("+573001234567"));
    }

    #[test]
    fn ecuadorian_landline_is_accepted() {
        assert_eq!(ec("02 234 5678").as_deref(), Ok("+59322345678"));
    }

    #[test]
    fn local_numbers_follow_the_default_region() {
        let co = Region::parse("co").unwrap();
        assert_eq!(
            Phone::parse("300 1234567", co).unwrap().as_str(),
            "+573001234567"
        );
    }

    #[test]
    fn junk_is_rejected_with_a_reason() {
        assert_eq!(ec(""), Err(PhoneError::Empty));
        assert!(matches!(ec("abc"), Err(PhoneError::BadCharacters(_))));
        assert!(matches!(ec("123"), Err(PhoneError::Unparseable(_))));
        assert!(matches!(ec("0991"), Err(PhoneError::Unparseable(_))));
        assert!(matches!(ec("099123456789012"), Err(PhoneError::Invalid(_))));
        let msg = ec("hola").unwrap_err().to_string();
        assert!(msg.contains("hola"), "{msg}");
    }

    #[test]
    fn region_codes_are_validated() {
        assert!(Region::parse("EC").is_ok());
        assert!(Region::parse("XX").is_err());
        assert!(Region::parse("ECU").is_err());
    }

    #[test]
    fn stored_values_round_trip() {
        let phone = Phone::from_e164("+593991234567".into()).unwrap();
        assert_eq!(phone.digits(), "593991234567");
        assert!(Phone::from_e164("0991234567".into()).is_err());
    }
}
