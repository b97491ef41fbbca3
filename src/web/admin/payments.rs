//! `/admin/payments` (Pagos): what the providers reported, newest first,
//! filtered by provider, status and local days; each row with its client,
//! subscription, amount, status and what it did (renewed, possible double
//! payment, other amount…). The client page shows its links and payments
//! with [`rows_of_client`].

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use chrono::{Duration, NaiveTime};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::{CurrentUser, i18n, pages};
use crate::domain::clock::local_to_utc;
use crate::domain::{Locale, parse_date};
use crate::payments::token::link_url;
use crate::services::Services;
use crate::store::{PaymentFilter, PaymentRow, StoreResult};
use crate::web::{WebResult, WebState};

/// Rows shown at most.
pub const LIMIT: i64 = 200;

pub const PROVIDERS: [&str; 2] = ["mercadopago", "stripe"];
pub const STATUSES: [&str; 3] = ["approved", "refunded", "charged_back"];

/// A payment as the panel shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentItem {
    #[serde(flatten)]
    pub row: PaymentRow,
    pub status_label: String,
    pub outcome_label: String,
}

fn label(locale: Locale, prefix: &str, code: &str) -> String {
    i18n::lookup(locale, &format!("{prefix}.{code}"))
        .unwrap_or(code)
        .to_string()
}

pub fn items(locale: Locale, rows: Vec<PaymentRow>) -> Vec<PaymentItem> {
    rows.into_iter()
        .map(|row| PaymentItem {
            status_label: label(locale, "payments.status", &row.status),
            outcome_label: label(locale, "payments.outcome", &row.outcome),
            row,
        })
        .collect()
}

/// The filter form as typed.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct PaymentsQuery {
    pub provider: String,
    pub status: String,
    pub from: String,
    pub to: String,
}

impl PaymentsQuery {
    /// The store filter, or the i18n key of each field's problem; days are
    /// local, both inclusive.
    pub fn filter(
        &self,
        tz: chrono_tz::Tz,
    ) -> Result<PaymentFilter, BTreeMap<&'static str, &'static str>> {
        let mut errors = BTreeMap::new();
        let choice =
            |field: &'static str, value: &str, allowed: &[&str], errors: &mut BTreeMap<_, _>| {
                let value = value.trim();
                if value.is_empty() {
                    None
                } else if allowed.contains(&value) {
                    Some(value.to_string())
                } else {
                    errors.insert(field, "ops_error_choice");
                    None
                }
            };
        let provider = choice("provider", &self.provider, &PROVIDERS, &mut errors);
        let status = choice("status", &self.status, &STATUSES, &mut errors);
        let mut date = |field: &'static str, value: &str| {
            let value = value.trim();
            if value.is_empty() {
                return None;
            }
            parse_date(value)
                .map_err(|_| errors.insert(field, "ops_error_date"))
                .ok()
        };
        let from = date("from", &self.from);
        let to = date("to", &self.to);
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            errors.insert("to", "ops_error_range");
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(PaymentFilter {
            provider,
            status,
            from: from.map(|d| local_to_utc(tz, d, NaiveTime::MIN)),
            to: to.map(|d| local_to_utc(tz, d + Duration::days(1), NaiveTime::MIN)),
            client_id: None,
        })
    }
}

/// `GET /admin/payments`.
pub async fn show(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(query): Query<PaymentsQuery>,
) -> WebResult {
    let config = &state.services.config;
    let locale = config.locale;
    let (rows, errors, status) = match query.filter(config.timezone) {
        Ok(filter) => (
            state.services.store.payments(&filter, LIMIT).await?,
            BTreeMap::new(),
            StatusCode::OK,
        ),
        Err(errors) => (Vec::new(), errors, StatusCode::UNPROCESSABLE_ENTITY),
    };
    let errors: BTreeMap<&str, String> = errors
        .into_iter()
        .map(|(f, key)| (f, i18n::text(locale, key)))
        .collect();
    let statuses: Vec<(&str, String)> = STATUSES
        .iter()
        .map(|s| (*s, label(locale, "payments.status", s)))
        .collect();
    Ok(pages::render_status(
        &state,
        status,
        "payments.html",
        Some(&user),
        context! { payments => items(locale, rows), values => query, errors => errors,
        providers => PROVIDERS, statuses => statuses,
        provider_on => config.payments.provider.map(|p| p.code()) },
    ))
}

/// A link sent to a client, for the client page.
#[derive(Debug, Clone, Serialize)]
pub struct LinkItem {
    pub url: String,
    pub end_date: chrono::NaiveDate,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The client's payment links and payments.
pub async fn rows_of_client(
    services: &Services,
    client_id: i64,
) -> StoreResult<(Vec<LinkItem>, Vec<PaymentItem>)> {
    let store = &services.store;
    let links = match &services.config.public_url {
        Some(public_url) => store
            .payment_links_of_client(client_id)
            .await?
            .into_iter()
            .map(|l| LinkItem {
                url: link_url(public_url, &l.token),
                end_date: l.end_date,
                created_at: l.created_at,
            })
            .collect(),
        None => Vec::new(),
    };
    let filter = PaymentFilter {
        client_id: Some(client_id),
        ..PaymentFilter::default()
    };
    let payments = store.payments(&filter, 50).await?;
    Ok((links, items(services.config.locale, payments)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_take_known_values_and_local_days() {
        let tz = chrono_tz::America::Guayaquil;
        let query = PaymentsQuery {
            provider: "stripe".into(),
            status: "refunded".into(),
            from: "2026-11-01".into(),
            to: "2026-11-30".into(),
        };
        let filter = query.filter(tz).unwrap();
        assert_eq!(filter.provider.as_deref(), Some("stripe"));
        assert_eq!(
            filter.from.unwrap().to_rfc3339(),
            "2026-11-01T05:00:00+00:00"
        );
        assert_eq!(filter.to.unwrap().to_rfc3339(), "2026-12-01T05:00:00+00:00");
        let bad = PaymentsQuery {
            provider: "paypal".into(),
            to: "2026-10-01".into(),
            from: "2026-11-01".into(),
            ..PaymentsQuery::default()
        };
        let errors = bad.filter(tz).unwrap_err();
        assert_eq!(errors.get("provider"), Some(&"ops_error_choice"));
        assert_eq!(errors.get("to"), Some(&"ops_error_range"));
    }
}
