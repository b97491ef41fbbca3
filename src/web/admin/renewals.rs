//! Renewing from the panel with a receipt of what was paid: months (1–12),
//! amount received (empty: months × price), method from a fixed list and
//! an optional reference, through the one renewal (`chat::renewal`), from a
//! subscription (client page's "Renovar") or an open request ("quiero
//! renovar", confirmed from Operaciones or the client page). Undo of a
//! subscription's newest renewal within [`UNDO_MINUTES`].

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Duration;
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::forms::{Errors, done, found};
use super::{CurrentUser, audit, i18n, pages};
use crate::chat::renewal::renew_paid;
use crate::domain::{Locale, Money};
use crate::services::JobError;
use crate::store::{
    MAX_PAYMENT_REFERENCE, NewPayment, PAYMENT_METHODS, PendingRequestView, StoreError,
    SubscriptionView,
};
use crate::web::{Id, WebError, WebResult, WebState};

/// Months a renewal may add.
pub const MONTHS: std::ops::RangeInclusive<u32> = 1..=12;
/// How long after a renewal the panel may undo it.
pub const UNDO_MINUTES: i64 = 10;

/// The renewal form as typed. `back` is where to go afterwards
/// (`operations`, else the client page).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RenewalForm {
    pub months: String,
    pub amount: String,
    pub method: String,
    pub reference: String,
    pub back: String,
}

/// A valid renewal form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRenewal {
    pub months: u32,
    pub payment: NewPayment,
}

impl RenewalForm {
    /// Checks each field against a subscription priced `price_cents` a
    /// month; errors are i18n keys by field.
    pub fn validate(&self, price_cents: i64, errors: &mut Errors) -> Option<ValidRenewal> {
        let months = match self.months.trim() {
            "" => Some(1),
            text => text.parse::<u32>().ok().filter(|m| MONTHS.contains(m)),
        };
        if months.is_none() {
            errors.insert("months", "field_renew_months");
        }
        let amount = match (self.amount.trim(), months) {
            ("", Some(m)) => Some(price_cents.saturating_mul(i64::from(m))),
            ("", None) => None,
            (text, _) => match Money::parse(text) {
                Ok(money) if money.cents() >= 0 => Some(money.cents()),
                _ => {
                    errors.insert("amount", "field_payment_amount");
                    None
                }
            },
        };
        let method = self.method.trim();
        if !PAYMENT_METHODS.contains(&method) {
            errors.insert("method", "field_payment_method");
        }
        let reference = self.reference.trim();
        if reference.chars().count() > MAX_PAYMENT_REFERENCE
            || reference.chars().any(char::is_control)
        {
            errors.insert("reference", "field_payment_reference");
        }
        if !errors.is_empty() {
            return None;
        }
        Some(ValidRenewal {
            months: months?,
            payment: NewPayment {
                paid_cents: amount?,
                method: method.to_string(),
                reference: (!reference.is_empty()).then(|| reference.to_string()),
            },
        })
    }
}

/// "Efectivo" for `efectivo`; the code itself if unknown.
pub fn method_label(locale: Locale, method: &str) -> String {
    i18n::lookup(locale, &format!("pay.method_{method}"))
        .unwrap_or(method)
        .to_string()
}

/// (code, label) of every payment method, for the `<select>`.
pub fn method_options(locale: Locale) -> Vec<(&'static str, String)> {
    PAYMENT_METHODS
        .iter()
        .map(|m| (*m, method_label(locale, m)))
        .collect()
}

/// The audit detail of a renewal with its payment.
fn detail(
    locale: Locale,
    sub: &SubscriptionView,
    valid: &ValidRenewal,
    end: chrono::NaiveDate,
) -> String {
    let p = &valid.payment;
    let reference = p.reference.as_deref().map_or(String::new(), |r| {
        i18n::format(locale, "pay.audit_reference", &[("reference", &r)])
    });
    let subscription = format!(
        "#{} {} ({}) {}",
        sub.id, sub.client_name, sub.phone, sub.service
    );
    i18n::format(
        locale,
        "pay.audit_renewal",
        &[
            ("subscription", &subscription),
            (
                "months",
                &i18n::plural(locale, "sub_months_n", valid.months),
            ),
            ("old", &sub.end_date),
            ("new", &end),
            ("amount", &Money::from_cents(p.paid_cents)),
            ("method", &method_label(locale, &p.method)),
            ("reference", &reference),
        ],
    )
}

/// Where the form was opened from.
enum Origin {
    Subscription,
    Request(PendingRequestView),
}

async fn form_page(
    state: &WebState,
    user: &CurrentUser,
    status: StatusCode,
    sub: &SubscriptionView,
    origin: &Origin,
    form: &RenewalForm,
    errors: &Errors,
) -> WebResult {
    let locale = state.services.config.locale;
    let (action, request) = match origin {
        Origin::Subscription => (format!("/admin/subscriptions/{}/renew", sub.id), None),
        Origin::Request(r) => (
            format!("/admin/requests/{}/confirm", r.id),
            Some(context! { id => r.id, created_at => r.created_at,
            receipt => r.receipt_message_id.is_some() }),
        ),
    };
    let selected = form.months.trim().parse::<u32>().unwrap_or(1);
    Ok(pages::render_status(
        state,
        status,
        "renew.html",
        Some(user),
        context! {
            sub => sub, action => action, request => request, form => form,
            selected_months => selected, months => MONTHS.collect::<Vec<_>>(),
            methods => method_options(locale),
            max_reference => MAX_PAYMENT_REFERENCE,
            errors => super::forms::messages(locale, errors),
        },
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct BackQuery {
    back: String,
}

/// `GET /admin/subscriptions/{id}/renew`: the renewal form.
pub async fn renew_page(
    State(state): State<WebState>,
    user: CurrentUser,
    Id(id): Id,
    Query(query): Query<BackQuery>,
) -> WebResult {
    let sub = found(state.services.store.subscription(id).await)?;
    let form = RenewalForm {
        months: "1".into(),
        back: query.back,
        ..RenewalForm::default()
    };
    let origin = Origin::Subscription;
    form_page(
        &state,
        &user,
        StatusCode::OK,
        &sub,
        &origin,
        &form,
        &Errors::new(),
    )
    .await
}

/// Renews `sub` with the valid form or shows it again with 422.
async fn submit(
    state: &WebState,
    user: &CurrentUser,
    sub: &SubscriptionView,
    origin: &Origin,
    form: &RenewalForm,
) -> Result<Result<(ValidRenewal, chrono::NaiveDate), Response>, WebError> {
    let mut errors = Errors::new();
    let Some(valid) = form.validate(sub.price_cents, &mut errors) else {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(Err(form_page(
            state, user, status, sub, origin, form, &errors,
        )
        .await?));
    };
    let by = format!("web:{}", user.email);
    let services = &state.services;
    match renew_paid(services, sub, valid.months, &by, Some(&valid.payment)).await {
        Ok(renewed) => Ok(Ok((valid, renewed.new_end_date))),
        Err(JobError::Store(StoreError::Conflict(_))) => Ok(Err(done(
            &back_path(form, sub.client_id),
            "notice_subscription_renew_conflict",
        ))),
        Err(e) => Err(e.into()),
    }
}

fn back_path(form: &RenewalForm, client_id: i64) -> String {
    match form.back.as_str() {
        "operations" => "/admin/operations".to_string(),
        // The Cobranza list with its filter (never another address).
        back if super::collection_filter::is_list_path(back) => back.to_string(),
        _ => format!("/admin/clients/{client_id}"),
    }
}

/// `POST /admin/subscriptions/{id}/renew`: the same renewal as the staff
/// chat's `/renovar`, recorded as `web:<email>` with what was paid.
pub async fn renew(
    State(state): State<WebState>,
    user: CurrentUser,
    Id(id): Id,
    Form(form): Form<RenewalForm>,
) -> WebResult {
    let sub = found(state.services.store.subscription(id).await)?;
    let (valid, end) = match submit(&state, &user, &sub, &Origin::Subscription, &form).await? {
        Ok(renewed) => renewed,
        Err(page) => return Ok(page),
    };
    let locale = state.services.config.locale;
    audit(
        &state,
        &user,
        "subscription.renew",
        &detail(locale, &sub, &valid, end),
    )
    .await;
    Ok(done(
        &back_path(&form, sub.client_id),
        "notice_subscription_renewed",
    ))
}

/// The open request `id` with its subscription, or the notice saying why not.
async fn open_request(
    state: &WebState,
    id: i64,
) -> Result<Result<(PendingRequestView, SubscriptionView), &'static str>, WebError> {
    let store = &state.services.store;
    let request = store
        .open_requests()
        .await?
        .into_iter()
        .find(|r| r.id == id);
    let Some(request) = request else {
        return Ok(Err("ops_notice_request_gone"));
    };
    let Some(subscription_id) = request.subscription_id else {
        return Ok(Err("ops_notice_request_no_subscription"));
    };
    match store.subscription(subscription_id).await? {
        Some(sub) => Ok(Ok((request, sub))),
        None => Ok(Err("ops_notice_request_gone")),
    }
}

/// `GET /admin/requests/{id}/confirm`: the renewal form for the request's
/// subscription.
pub async fn request_page(
    State(state): State<WebState>,
    user: CurrentUser,
    Id(id): Id,
    Query(query): Query<BackQuery>,
) -> WebResult {
    let (request, sub) = match open_request(&state, id).await? {
        Ok(found) => found,
        Err(notice) => return Ok(done("/admin/operations", notice)),
    };
    let form = RenewalForm {
        months: "1".into(),
        back: query.back,
        ..RenewalForm::default()
    };
    let origin = Origin::Request(request);
    form_page(
        &state,
        &user,
        StatusCode::OK,
        &sub,
        &origin,
        &form,
        &Errors::new(),
    )
    .await
}

/// `POST /admin/requests/{id}/confirm`: renews the request's subscription
/// with what was paid (closing the request) and confirms to the customer.
pub async fn confirm_request(
    State(state): State<WebState>,
    user: CurrentUser,
    Id(id): Id,
    Form(form): Form<RenewalForm>,
) -> WebResult {
    let (request, sub) = match open_request(&state, id).await? {
        Ok(found) => found,
        Err(notice) => return Ok(done("/admin/operations", notice)),
    };
    let origin = Origin::Request(request);
    let (valid, end) = match submit(&state, &user, &sub, &origin, &form).await? {
        Ok(renewed) => renewed,
        Err(page) => return Ok(page),
    };
    let locale = state.services.config.locale;
    let detail = i18n::format(
        locale,
        "pay.audit_request",
        &[("id", &id), ("renewal", &detail(locale, &sub, &valid, end))],
    );
    audit(&state, &user, "request.confirm", &detail).await;
    Ok(done(
        &back_path(&form, sub.client_id),
        "ops_notice_request_confirmed",
    ))
}

/// `POST /admin/renewals/{id}/undo`: back to the old end date, if this is
/// the subscription's newest renewal and at most [`UNDO_MINUTES`] old.
pub async fn undo(State(state): State<WebState>, user: CurrentUser, Id(id): Id) -> WebResult {
    let services = &state.services;
    let store = &services.store;
    let entry = found(store.renewal_entry(id).await)?;
    let page = format!("/admin/clients/{}", entry.client_id);
    let now = services.clock.now();
    let since = now - Duration::minutes(UNDO_MINUTES);
    if entry.undone_at.is_some() {
        return Ok(done(&page, "notice_renewal_undo_failed"));
    }
    if entry.created_at < since {
        return Ok(done(&page, "notice_renewal_undo_too_late"));
    }
    if store.newest_open_renewal(entry.subscription_id).await? != Some(entry.id) {
        return Ok(done(&page, "notice_renewal_undo_not_last"));
    }
    if !store.undo_recent_renewal(id, since, now).await? {
        return Ok(done(&page, "notice_renewal_undo_failed"));
    }
    let locale = services.config.locale;
    let detail = i18n::format(
        locale,
        "pay.audit_undo",
        &[
            ("id", &entry.id),
            ("subscription", &entry.subscription_id),
            ("service", &entry.service),
            ("new", &entry.new_end_date),
            ("old", &entry.old_end_date),
        ],
    );
    audit(&state, &user, "renewal.undo", &detail).await;
    Ok(done(&page, "notice_renewal_undone"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(months: &str, amount: &str, method: &str, reference: &str) -> RenewalForm {
        RenewalForm {
            months: months.into(),
            amount: amount.into(),
            method: method.into(),
            reference: reference.into(),
            back: String::new(),
        }
    }

    #[test]
    fn amount_defaults_to_months_times_price() {
        let mut errors = Errors::new();
        let valid = form("3", "", "efectivo", " ").validate(750, &mut errors);
        let valid = valid.expect("valid");
        assert_eq!(valid.months, 3);
        assert_eq!(valid.payment.paid_cents, 2250);
        assert_eq!(valid.payment.reference, None);
        let valid = form("1", "1.234,50", "transferencia", " #A-1 ").validate(750, &mut errors);
        let valid = valid.expect("valid");
        assert_eq!(valid.payment.paid_cents, 123_450);
        assert_eq!(valid.payment.reference.as_deref(), Some("#A-1"));
    }

    #[test]
    fn each_bad_field_has_its_error() {
        let mut errors = Errors::new();
        let long = "x".repeat(MAX_PAYMENT_REFERENCE + 1);
        assert!(
            form("13", "abc", "bitcoin", &long)
                .validate(750, &mut errors)
                .is_none()
        );
        assert_eq!(
            errors.keys().copied().collect::<Vec<_>>(),
            ["amount", "method", "months", "reference"]
        );
        let mut errors = Errors::new();
        assert!(form("0", "-5", "", "").validate(750, &mut errors).is_none());
        assert_eq!(errors.len(), 3, "{errors:?}");
        for key in errors.values() {
            for locale in [Locale::Es, Locale::En] {
                assert!(i18n::lookup(locale, key).is_some(), "{key}");
            }
        }
        for m in PAYMENT_METHODS {
            assert_ne!(method_label(Locale::En, m), m);
        }
    }
}
