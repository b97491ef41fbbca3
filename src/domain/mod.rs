//! Pure domain types and rules: no I/O here.

pub mod clock;
pub mod dates;
pub mod money;
pub mod phone;
pub mod policy;

use serde::{Deserialize, Serialize};

pub use clock::{Clock, FixedClock, OffsetClock, SystemClock};
pub use dates::{
    DateError, add_months, day_month, days_phrase, long_date, parse_date, short_date,
    short_date_with_year,
};
pub use money::{Money, MoneyError};
pub use phone::{Phone, PhoneError, Region};
pub use policy::{QuietHours, Tiers, days_left};

/// The language of customer-facing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    #[default]
    Es,
    En,
}

impl Locale {
    pub fn parse(s: &str) -> Result<Locale, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "es" => Ok(Locale::Es),
            "en" => Ok(Locale::En),
            other => Err(format!("`{other}` is not a supported locale (es, en)")),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Locale::Es => "es",
            Locale::En => "en",
        }
    }
}
