//! The clients, subscriptions and services forms: what was typed (kept to
//! show again) and its validation with the importer's field checks
//! (`crate::import::fields`). Errors are i18n keys by field name.

use std::collections::BTreeMap;

use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::i18n;
use crate::domain::{Locale, Money, Region};
use crate::import::fields::{
    FieldError, check_date, check_email, check_name, check_phone, check_price, check_service,
};
use crate::store::ClientInput;
use crate::web::WebError;

/// Field name → message key, shown next to the field.
pub type Errors = BTreeMap<&'static str, &'static str>;

/// Longest notes accepted.
pub const MAX_NOTES: usize = 2000;

/// The renew form's choices of months.
pub const RENEW_MONTHS: [u32; 5] = [1, 2, 3, 6, 12];

/// The errors as text in `locale`, for `errors: {field: message}`.
pub fn messages(locale: Locale, errors: &Errors) -> BTreeMap<&'static str, String> {
    errors
        .iter()
        .map(|(field, key)| (*field, i18n::text(locale, key)))
        .collect()
}

/// 303 to `path` showing the notice `key` (an i18n key).
pub fn done(path: &str, key: &str) -> Response {
    Redirect::to(&with_notice(path, key)).into_response()
}

/// `path` with `notice=key` in its query, before any `#fragment`.
fn with_notice(path: &str, key: &str) -> String {
    let (path, fragment) = match path.split_once('#') {
        Some((path, fragment)) => (path, format!("#{fragment}")),
        None => (path, String::new()),
    };
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}notice={key}{fragment}")
}

#[cfg(test)]
mod notice_tests {
    use super::with_notice;

    #[test]
    fn the_notice_goes_into_the_query_before_the_fragment() {
        assert_eq!(with_notice("/admin/x", "k"), "/admin/x?notice=k");
        assert_eq!(with_notice("/admin/x?a=1", "k"), "/admin/x?a=1&notice=k");
        assert_eq!(
            with_notice("/admin/clients/3#reply", "k"),
            "/admin/clients/3?notice=k#reply"
        );
    }
}

/// A row the page needs: missing → the 404 page, a store error → the 500 page.
pub(super) fn found<T>(row: crate::store::StoreResult<Option<T>>) -> Result<T, WebError> {
    row?.ok_or(WebError::NotFound)
}

/// A delete the page asked for: nothing deleted (already gone) → the 404
/// page, a store error → the 500 page.
pub(super) fn deleted(outcome: crate::store::StoreResult<bool>) -> Result<(), WebError> {
    found(outcome.map(|gone| gone.then_some(())))
}

fn keep<T>(errors: &mut Errors, field: &'static str, checked: Result<T, FieldError>) -> Option<T> {
    checked.map_err(|e| errors.insert(field, e.key())).ok()
}

/// The client fields as typed.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ClientForm {
    pub name: String,
    pub phone: String,
    pub email: String,
    pub notes: String,
}

impl ClientForm {
    pub fn from_row(row: &crate::store::ClientRow) -> ClientForm {
        ClientForm {
            name: row.name.clone(),
            phone: row.phone.to_string(),
            email: row.email.clone().unwrap_or_default(),
            notes: row.notes.clone(),
        }
    }

    pub fn validate(&self, region: Region, errors: &mut Errors) -> Option<ClientInput> {
        let name = keep(errors, "name", check_name(&self.name));
        let phone = keep(errors, "phone", check_phone(&self.phone, region));
        let email = keep(errors, "email", check_email(&self.email));
        let notes = self.notes.trim().to_string();
        if notes.chars().count() > MAX_NOTES {
            errors.insert("notes", "field_notes_long");
        }
        if errors.is_empty() {
            Some(ClientInput {
                name: name?,
                phone: phone?,
                email: email?,
                notes,
            })
        } else {
            None
        }
    }
}

/// Which service a subscription form names: an existing one by id, or a new
/// name to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceChoice {
    Existing(i64),
    New(String),
}

/// A subscription's fields as typed: `service_id` from the select (empty:
/// none chosen), or a new service name; end date and price as text.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SubscriptionForm {
    pub service_id: String,
    pub new_service: String,
    pub end_date: String,
    pub price: String,
}

/// A valid subscription form; `price` is `None` when left empty (the
/// service's default price applies, if it has one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidSubscription {
    pub service: ServiceChoice,
    pub end_date: NaiveDate,
    pub price: Option<Money>,
}

impl SubscriptionForm {
    pub fn from_view(view: &crate::store::SubscriptionView) -> SubscriptionForm {
        SubscriptionForm {
            service_id: view.service_id.to_string(),
            new_service: String::new(),
            end_date: view.end_date.format("%Y-%m-%d").to_string(),
            price: format!("{}.{:02}", view.price_cents / 100, view.price_cents % 100),
        }
    }

    /// True when nothing was typed (the optional first subscription).
    pub fn is_blank(&self) -> bool {
        self.service_id.trim().is_empty()
            && self.new_service.trim().is_empty()
            && self.end_date.trim().is_empty()
            && self.price.trim().is_empty()
    }

    pub fn validate(&self, errors: &mut Errors) -> Option<ValidSubscription> {
        let service = if !self.new_service.trim().is_empty() {
            keep(errors, "service", check_service(&self.new_service)).map(ServiceChoice::New)
        } else {
            match self.service_id.trim().parse::<i64>() {
                Ok(id) => Some(ServiceChoice::Existing(id)),
                Err(_) => {
                    errors.insert("service", "field_service_empty");
                    None
                }
            }
        };
        let end_date = keep(errors, "end_date", check_date(&self.end_date));
        let price = if self.price.trim().is_empty() {
            Some(None)
        } else {
            keep(errors, "price", check_price(&self.price)).map(Some)
        };
        Some(ValidSubscription {
            service: service?,
            end_date: end_date?,
            price: price?,
        })
    }
}

/// The services page's create and edit form.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ServiceForm {
    pub name: String,
    pub default_price: String,
}

impl ServiceForm {
    pub fn validate(&self, errors: &mut Errors) -> Option<(String, Option<Money>)> {
        let name = keep(errors, "name", check_service(&self.name));
        let price = if self.default_price.trim().is_empty() {
            Some(None)
        } else {
            keep(errors, "default_price", check_price(&self.default_price)).map(Some)
        };
        Some((name?, price?))
    }
}

/// Every key these forms may put in `Errors` besides `FieldError` keys.
pub const FORM_ERROR_KEYS: &[&str] = &[
    "field_notes_long",
    "field_phone_taken",
    "field_service_taken",
    "field_service_name_taken",
    "field_service_unknown",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_key_is_in_both_catalogs() {
        let keys = crate::import::fields::FIELD_ERROR_KEYS
            .iter()
            .chain(FORM_ERROR_KEYS);
        for key in keys {
            for locale in [Locale::Es, Locale::En] {
                assert!(i18n::lookup(locale, key).is_some(), "{key} ({locale:?})");
            }
        }
    }

    #[test]
    fn client_errors_are_by_field() {
        let form = ClientForm {
            name: "  ".into(),
            phone: "12ab".into(),
            email: "ana@".into(),
            notes: String::new(),
        };
        let mut errors = Errors::new();
        assert!(form.validate(Region::default(), &mut errors).is_none());
        assert_eq!(errors["name"], "field_name_empty");
        assert_eq!(errors["phone"], "field_phone_characters");
        assert_eq!(errors["email"], "field_email");
    }

    #[test]
    fn a_valid_client_is_normalised() {
        let form = ClientForm {
            name: " Ana   Pérez".into(),
            phone: "099 123 4567".into(),
            email: String::new(),
            notes: " vip ".into(),
        };
        let mut errors = Errors::new();
        let client = form.validate(Region::default(), &mut errors).unwrap();
        assert_eq!(client.name, "Ana Pérez");
        assert_eq!(client.phone.as_str(), "+593991234567");
        assert_eq!((client.email, client.notes.as_str()), (None, "vip"));
    }

    #[test]
    fn subscription_needs_a_service_and_good_values() {
        let mut errors = Errors::new();
        let form = SubscriptionForm {
            end_date: "31/02/2027".into(),
            price: "doce".into(),
            ..SubscriptionForm::default()
        };
        assert!(form.validate(&mut errors).is_none());
        assert_eq!(errors["service"], "field_service_empty");
        assert_eq!(errors["end_date"], "field_date_calendar");
        assert_eq!(errors["price"], "field_price_malformed");

        let mut errors = Errors::new();
        let form = SubscriptionForm {
            service_id: "3".into(),
            new_service: " Disney  Plus ".into(),
            end_date: "05/01/2027".into(),
            price: "1.234,50".into(),
        };
        let valid = form.validate(&mut errors).unwrap();
        assert_eq!(valid.service, ServiceChoice::New("Disney Plus".into()));
        assert_eq!(valid.end_date, NaiveDate::from_ymd_opt(2027, 1, 5).unwrap());
        assert_eq!(valid.price, Some(Money::from_cents(123_450)));
    }
}
