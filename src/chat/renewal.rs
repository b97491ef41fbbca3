//! The one renewal: the staff `/renovar` command and the web panel's
//! "Renovar" both call [`renew`], so a renewal has the same rows and the same
//! confirmation to the customer wherever staff did it.

use chrono::NaiveDate;
use serde_json::json;

use crate::conversation::ConversationState;
use crate::domain::{add_months, long_date};
use crate::services::{JobError, Services};
use crate::store::{MessageKind, NewPayment, NewRenewal, RenewalRow, SubscriptionView};

/// What a renewal did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renewed {
    /// The audit row written (who, old and new end date, months, amount).
    pub renewal: RenewalRow,
    pub new_end_date: NaiveDate,
    /// The confirmation queued to the customer.
    pub confirmation_id: i64,
}

/// Extends `sub` by `months` from its end date (or from today when it has
/// already expired), in one store transaction that also writes the audit row
/// `by` (a staff phone, or `web:<email>`), closes its open renewal requests
/// and cancels queued reminders for the old date; then queues
/// `renewal_confirmation.txt` to the customer and resets their conversation.
///
/// A subscription whose end date changed since `sub` was read fails with
/// `JobError::Store(StoreError::Conflict(_))` and changes nothing.
pub async fn renew(
    services: &Services,
    sub: &SubscriptionView,
    months: u32,
    by: &str,
) -> Result<Renewed, JobError> {
    renew_paid(services, sub, months, by, None).await
}

/// [`renew`], keeping what was paid with the renewal row (the panel's
/// renewal form: amount received, method, reference).
pub async fn renew_paid(
    services: &Services,
    sub: &SubscriptionView,
    months: u32,
    by: &str,
    payment: Option<&NewPayment>,
) -> Result<Renewed, JobError> {
    let locale = services.config.locale;
    let today = super::today(services);
    let new_end = add_months(sub.end_date.max(today), months);
    let request = NewRenewal {
        subscription_id: sub.id,
        staff: by.to_string(),
        old_end_date: sub.end_date,
        new_end_date: new_end,
        months: i32::try_from(months).unwrap_or(i32::MAX),
        amount_cents: sub.price_cents.saturating_mul(i64::from(months)),
    };
    let renewal = services
        .store
        .renew_with_payment(&request, payment, services.clock.now())
        .await?;
    let customer = &sub.phone;
    let (body, template_args) = services.templates.render_outbound(
        "renewal_confirmation.txt",
        json!({
            "client_name": sub.client_name,
            "service": sub.service,
            "months": months,
            "long_date": long_date(new_end, locale),
            "business_name": services.config.business_name,
        }),
    )?;
    let id = super::queue(
        services,
        customer,
        Some(sub.client_id),
        MessageKind::Reply,
        body,
        template_args,
    )
    .await?;
    super::save_state(services, customer, &ConversationState::Idle).await?;
    tracing::info!(subscription = sub.id, months, by, "renewed");
    Ok(Renewed {
        renewal,
        new_end_date: new_end,
        confirmation_id: id,
    })
}
