//! Rows and inputs of the staff panel's clients, subscriptions and services
//! pages, and how a search box text becomes a client query.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::domain::{Money, Phone, Region};

/// A client's editable fields, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInput {
    pub name: String,
    pub phone: Phone,
    pub email: Option<String>,
    pub notes: String,
}

/// A subscription's editable fields, already validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionInput {
    pub service_id: i64,
    pub end_date: NaiveDate,
    pub price: Money,
}

/// One line of the clients list.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct ClientSummary {
    pub id: i64,
    pub name: String,
    pub phone: String,
    pub email: Option<String>,
    pub opted_out_at: Option<DateTime<Utc>>,
    pub active_subscriptions: i64,
    /// The soonest end date among active subscriptions.
    pub next_end_date: Option<NaiveDate>,
}

/// One page of a client search and how many clients match in all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClientPage {
    pub rows: Vec<ClientSummary>,
    pub total: i64,
}

/// A service with how many subscriptions use it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct ServiceRow {
    pub id: i64,
    pub name: String,
    pub default_price_cents: Option<i64>,
    pub active_subscriptions: i64,
    pub subscriptions: i64,
}

/// A renewal of one of a client's subscriptions, with the service name.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct RenewalHistoryRow {
    pub id: i64,
    pub subscription_id: i64,
    pub service: String,
    pub staff: String,
    pub old_end_date: NaiveDate,
    pub new_end_date: NaiveDate,
    pub months: i32,
    pub amount_cents: i64,
    pub created_at: DateTime<Utc>,
    pub undone_at: Option<DateTime<Utc>>,
}

/// What a search box text means: part of a name (case and accents ignored)
/// or a phone number in any spelling, whole or in part.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientQuery {
    /// `LIKE` pattern over the folded name (`%ana perez%`); `%` for all.
    pub name_pattern: String,
    /// The E.164 number when the text is a whole phone number.
    pub phone: Option<String>,
    /// `LIKE` pattern over the stored number when the text is digits
    /// (`%99123%`), leading trunk zeros dropped.
    pub digits_pattern: Option<String>,
}

/// Fewest digits that search by part of a number.
const MIN_PARTIAL_DIGITS: usize = 3;

impl ClientQuery {
    /// Reads a search box: local numbers in `region`.
    pub fn parse(text: &str, region: Region) -> ClientQuery {
        let text = text.trim();
        let phone = Phone::parse(text, region).ok().map(String::from);
        let phone_like = !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.'));
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        let digits = digits.trim_start_matches('0');
        let digits_pattern =
            (phone_like && digits.len() >= MIN_PARTIAL_DIGITS).then(|| format!("%{digits}%"));
        ClientQuery {
            name_pattern: format!("%{}%", escape_like(&fold(text))),
            phone,
            digits_pattern,
        }
    }
}

/// Lowercase without accents, as the store folds names for searching.
pub fn fold(text: &str) -> String {
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Escapes `LIKE` wildcards (the queries use `ESCAPE '\'`).
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(text: &str) -> ClientQuery {
        ClientQuery::parse(text, Region::default())
    }

    #[test]
    fn any_spelling_of_a_number_finds_it() {
        for text in ["0991234567", "+593 99 123 4567", "593991234567"] {
            assert_eq!(
                query(text).phone.as_deref(),
                Some("+593991234567"),
                "{text}"
            );
        }
        assert_eq!(query("099123").digits_pattern.as_deref(), Some("%99123%"));
        assert_eq!(query("099123").phone, None);
        assert_eq!(query("09").digits_pattern, None);
    }

    #[test]
    fn names_are_folded_and_escaped() {
        let q = query("  JOSÉ Muñoz ");
        assert_eq!(q.name_pattern, "%jose munoz%");
        assert_eq!(q.phone, None);
        assert_eq!(q.digits_pattern, None);
        assert_eq!(query("50%_x").name_pattern, "%50\\%\\_x%");
        assert_eq!(query("").name_pattern, "%%");
    }
}
