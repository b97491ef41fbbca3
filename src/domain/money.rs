//! Money in integer cents. Prices are never floats.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Locale;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("price is empty")]
    Empty,
    #[error("`{0}` is not a price (use 7.50 or 7,50)")]
    Malformed(String),
    #[error("`{0}` has more than two decimals")]
    TooPrecise(String),
    /// Three digits after the only `.` or `,` (`7.505`): decimals or
    /// thousands? Guessing either way can be off by a factor of 1,000.
    #[error(
        "`{0}` is ambiguous: three digits after its only `.` or `,` could be \
         decimals or thousands; write at most two decimals (7.50) and \
         thousands without a separator (7505) or with a decimal part (7.505,00)"
    )]
    Ambiguous(String),
    #[error("`{0}` is negative")]
    Negative(String),
    #[error("`{0}` is too large")]
    TooLarge(String),
}

impl Money {
    pub const fn from_cents(cents: i64) -> Money {
        Money(cents)
    }

    pub const fn cents(self) -> i64 {
        self.0
    }

    /// Parses `7.50`, `7,50`, `$7.50`, `10`, `$ 1,234.50`, `1.234,50`.
    /// The last `.` or `,` followed by one or two digits is the decimal mark;
    /// any other separators are thousands separators. A single separator
    /// followed by three digits (`7.505`, `1,234`) is [`MoneyError::Ambiguous`]:
    /// both readings are common.
    pub fn parse(input: &str) -> Result<Money, MoneyError> {
        let original = input.trim();
        let mut s = original
            .trim_start_matches("USD")
            .trim_start_matches("US$")
            .trim_start_matches('$')
            .trim()
            .to_string();
        if s.is_empty() {
            return Err(if original.is_empty() {
                MoneyError::Empty
            } else {
                MoneyError::Malformed(original.to_string())
            });
        }
        if s.starts_with('-') {
            return Err(MoneyError::Negative(original.to_string()));
        }
        s.retain(|c| c != ' ');
        if !s
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        {
            return Err(MoneyError::Malformed(original.to_string()));
        }
        let (int_part, frac_part) = match s.rfind(['.', ',']) {
            Some(pos) => {
                let frac = &s[pos + 1..];
                if frac.len() <= 2 {
                    (&s[..pos], frac)
                } else if frac.len() == 3 && s[..pos].chars().all(|c| c.is_ascii_digit()) {
                    // `7.505` or `1,234`: the only separator, then three
                    // digits. `7.505` was once read as $7505.00.
                    return Err(MoneyError::Ambiguous(original.to_string()));
                } else {
                    return Err(MoneyError::TooPrecise(original.to_string()));
                }
            }
            None => (s.as_str(), ""),
        };
        let int_digits: String = int_part.chars().filter(|c| c.is_ascii_digit()).collect();
        if int_digits.is_empty() && frac_part.is_empty() {
            return Err(MoneyError::Malformed(original.to_string()));
        }
        let units: i64 = if int_digits.is_empty() {
            0
        } else {
            int_digits
                .parse()
                .map_err(|_| MoneyError::TooLarge(original.to_string()))?
        };
        let cents: i64 = match frac_part.len() {
            0 => Ok(0),
            1 => frac_part.parse::<i64>().map(|d| d * 10),
            _ => frac_part.parse::<i64>(),
        }
        .map_err(|_| MoneyError::Malformed(original.to_string()))?;
        units
            .checked_mul(100)
            .and_then(|u| u.checked_add(cents))
            .map(Money)
            .ok_or_else(|| MoneyError::TooLarge(original.to_string()))
    }
}

impl Money {
    /// `$1.584,05` (es) or `$1,584.05` (en): thousands grouped, two
    /// decimals, for the staff panel. Messages to customers use `Display`.
    pub fn localized(self, locale: Locale) -> String {
        let (thousands, decimal) = match locale {
            Locale::Es => ('.', ','),
            Locale::En => (',', '.'),
        };
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let units = (abs / 100).to_string();
        let mut grouped = String::with_capacity(units.len() + units.len() / 3);
        for (i, digit) in units.chars().enumerate() {
            if i > 0 && (units.len() - i).is_multiple_of(3) {
                grouped.push(thousands);
            }
            grouped.push(digit);
        }
        format!("{sign}${grouped}{decimal}{:02}", abs % 100)
    }
}

impl fmt::Display for Money {
    /// `$7.50`: dot, two decimals, as customers expect to read prices.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}${}.{:02}", abs / 100, abs % 100)
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0 + rhs.0)
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        Money(iter.map(|m| m.0).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localized_money_groups_thousands() {
        let m = |c: i64, l: Locale| Money::from_cents(c).localized(l);
        assert_eq!(m(158_405, Locale::Es), "$1.584,05");
        assert_eq!(m(158_405, Locale::En), "$1,584.05");
        assert_eq!(m(750, Locale::Es), "$7,50");
        assert_eq!(m(750, Locale::En), "$7.50");
        assert_eq!(m(0, Locale::Es), "$0,00");
        assert_eq!(m(99_999, Locale::En), "$999.99");
        assert_eq!(m(100_000, Locale::En), "$1,000.00");
        assert_eq!(m(12_345_678_900, Locale::Es), "$123.456.789,00");
        assert_eq!(m(-158_405, Locale::Es), "-$1.584,05");
        // What the panel prints, the price fields read back.
        for cents in [0, 5, 750, 158_405, 12_345_678_900] {
            for locale in [Locale::Es, Locale::En] {
                assert_eq!(
                    Money::parse(&m(cents, locale)),
                    Ok(Money::from_cents(cents))
                );
            }
        }
    }

    fn cents(s: &str) -> Result<i64, MoneyError> {
        Money::parse(s).map(Money::cents)
    }

    #[test]
    fn parses_both_decimal_marks_and_symbols() {
        assert_eq!(cents("7.50"), Ok(750));
        assert_eq!(cents("7,50"), Ok(750));
        assert_eq!(cents("$7.50"), Ok(750));
        assert_eq!(cents("$ 7.5"), Ok(750));
        assert_eq!(cents("10"), Ok(1000));
        assert_eq!(cents("0.99"), Ok(99));
        assert_eq!(cents(",99"), Ok(99));
        assert_eq!(cents("1,234.50"), Ok(123450));
        assert_eq!(cents("1.234,50"), Ok(123450));
        assert_eq!(cents("USD 12"), Ok(1200));
    }

    #[test]
    fn rejects_what_is_not_a_price() {
        assert_eq!(cents(""), Err(MoneyError::Empty));
        assert!(matches!(cents("abc"), Err(MoneyError::Malformed(_))));
        assert!(matches!(cents("$"), Err(MoneyError::Malformed(_))));
        assert!(matches!(cents("-5"), Err(MoneyError::Negative(_))));
        assert!(matches!(cents("7.5055"), Err(MoneyError::TooPrecise(_))));
        assert!(matches!(
            cents("99999999999999999999"),
            Err(MoneyError::TooLarge(_))
        ));
    }

    #[test]
    fn three_digits_after_a_single_separator_are_ambiguous() {
        for input in [
            "7.505",
            "7,505",
            "1.234",
            "1,234",
            "$ 7.505",
            ",505",
            "12345.678",
        ] {
            assert_eq!(
                cents(input),
                Err(MoneyError::Ambiguous(input.trim().to_string())),
                "{input}"
            );
        }
        let message = Money::parse("7.505").unwrap_err().to_string();
        assert!(message.contains("`7.505` is ambiguous"), "{message}");
        // Two kinds of separator say which is which.
        assert_eq!(cents("7.505,00"), Ok(750_500));
        assert_eq!(cents("7,505.00"), Ok(750_500));
        assert_eq!(cents("1.234,5"), Ok(123_450));
        assert_eq!(cents("1 234,50"), Ok(123_450));
        assert_eq!(cents("7505"), Ok(750_500));
        // Three digits after a second separator of the same kind are not
        // a price either way (as before).
        assert!(matches!(cents("1.234.567"), Err(MoneyError::TooPrecise(_))));
        assert!(matches!(cents("7.5050"), Err(MoneyError::TooPrecise(_))));
    }

    #[test]
    fn prints_dollars_with_two_decimals() {
        assert_eq!(Money::from_cents(750).to_string(), "$7.50");
        assert_eq!(Money::from_cents(1000).to_string(), "$10.00");
        assert_eq!(Money::from_cents(5).to_string(), "$0.05");
        assert_eq!(Money::from_cents(123450).to_string(), "$1234.50");
    }

    #[test]
    fn sums() {
        let total: Money = [750, 1099].into_iter().map(Money::from_cents).sum();
        assert_eq!(total.to_string(), "$18.49");
    }
}
