//! A payment the provider confirmed, settled exactly once: the renewal the
//! panel and `/renovar` make (`by = pago:<provider>:<id>`, method
//! "en_linea"), the payment row, the customer's confirmation and the staff
//! notice in one store transaction (`PaymentStore::settle_payment`); or,
//! when it must not renew (renewed already, another amount, cancelled,
//! unknown link), the row and a notice saying why. Refunds and chargebacks
//! are recorded and told, the subscription left as it is.
//!
//! Also [`link_for`]: a subscription's link for its end date, got or
//! created as the "renovar" reply is rendered.

use chrono::NaiveDate;
use serde_json::json;

use crate::conversation::ConversationState;
use crate::domain::{Money, long_date};
use crate::i18n;
use crate::jobs::queue::SEND_JOBS;
use crate::payments::links::links_for;
use crate::payments::token::looks_like_token;
use crate::payments::{Decision, PaymentFacts, decide::decide};
use crate::services::{JobError, Services};
use crate::store::payments::outcome;
use crate::store::{
    MessageKind, NewOutbound, NewPayment, NewPaymentRecord, NewRenewal, PaymentLink,
    PaymentSettlement, Settled, SubscriptionView,
};

/// The method stored on renewals paid by link (`pay.method_en_linea`).
pub const ONLINE_METHOD: &str = "en_linea";

/// The link of a subscription for its end date (created if new); empty
/// when no provider is set.
pub async fn link_for(
    services: &Services,
    subscription_id: i64,
    end_date: NaiveDate,
) -> Result<String, JobError> {
    let links = links_for(
        services.store.as_ref(),
        &services.config,
        &[(subscription_id, end_date)],
        services.clock.now(),
    )
    .await?;
    Ok(links.into_iter().next().unwrap_or_default())
}

/// What settling a payment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettleOutcome {
    /// Renewed, with the new end date.
    Renewed(NaiveDate),
    /// Recorded without renewing (double, amount, cancelled, unknown
    /// link) or a reversal recorded: staff told.
    Told(&'static str),
    /// Seen before: nothing written.
    AlreadyRecorded,
    /// Not settled at the provider yet (pending, rejected…).
    Waiting,
}

/// Settles `facts` (see the module documentation). Safe to call any number
/// of times, at once too: the payment's row is written once.
pub async fn settle(services: &Services, facts: &PaymentFacts) -> Result<SettleOutcome, JobError> {
    // Twice at most: a renewal that lost a race with staff (the end date
    // moved) is decided again and is then a double payment.
    for _ in 0..2 {
        let link = match facts.reference.as_deref().filter(|r| looks_like_token(r)) {
            Some(token) => services.store.payment_link(token).await?,
            None => None,
        };
        let sub = match &link {
            Some(link) => services.store.subscription(link.subscription_id).await?,
            None => None,
        };
        let today = super::today(services);
        let decision = decide(facts, link.as_ref(), sub.as_ref(), today);
        let record = |outcome: &'static str| NewPaymentRecord {
            provider: facts.provider.code().to_string(),
            payment_id: facts.payment_id.clone(),
            link_id: link.as_ref().map(|l| l.id),
            subscription_id: sub.as_ref().map(|s| s.id),
            client_id: sub.as_ref().map(|s| s.client_id),
            amount_cents: facts.amount_cents,
            currency: facts.currency.clone(),
            status: facts.status.code().to_string(),
            outcome,
        };
        let now = services.clock.now();
        match decision {
            Decision::Wait => {
                tracing::info!(provider = facts.provider.code(), payment = %facts.payment_id,
                    status = facts.status.code(), "payment not settled yet");
                return Ok(SettleOutcome::Waiting);
            }
            Decision::Reversal => {
                let notice = notice(
                    services,
                    "payments.notice.reversal",
                    facts,
                    sub.as_ref(),
                    "",
                );
                let record = record(outcome::REVERSAL_ONLY);
                let written = services
                    .store
                    .reverse_payment(&record, &staff_messages(services, &notice), &SEND_JOBS, now)
                    .await?;
                return Ok(match written {
                    Some(ids) => {
                        services.queue.pushed_in_store(&ids);
                        tracing::warn!(payment = %facts.payment_id, status = facts.status.code(), "payment reversed");
                        SettleOutcome::Told("reversal")
                    }
                    None => SettleOutcome::AlreadyRecorded,
                });
            }
            Decision::Renew { new_end_date } => {
                let (Some(link), Some(sub)) = (&link, &sub) else {
                    return Ok(SettleOutcome::Waiting);
                };
                let settlement = renewal(services, facts, link, sub, new_end_date, record)?;
                match services
                    .store
                    .settle_payment(&settlement, &SEND_JOBS, now)
                    .await?
                {
                    Settled::Recorded { outbox, .. } => {
                        services.queue.pushed_in_store(&outbox);
                        tracing::info!(subscription = sub.id, payment = %facts.payment_id, "renewed by payment");
                        return Ok(SettleOutcome::Renewed(new_end_date));
                    }
                    Settled::AlreadyRecorded => return Ok(SettleOutcome::AlreadyRecorded),
                    Settled::EndDateMoved => continue,
                }
            }
            Decision::Double
            | Decision::AmountMismatch
            | Decision::Cancelled
            | Decision::UnknownReference => {
                let (code, key) = match decision {
                    Decision::Double => (outcome::DOUBLE, "payments.notice.double"),
                    Decision::AmountMismatch => {
                        (outcome::AMOUNT_MISMATCH, "payments.notice.amount")
                    }
                    Decision::Cancelled => (outcome::CANCELLED, "payments.notice.cancelled"),
                    _ => (outcome::UNKNOWN_REFERENCE, "payments.notice.unknown"),
                };
                let text = notice(services, key, facts, sub.as_ref(), "");
                let settlement = PaymentSettlement {
                    payment: record(code),
                    renewal: None,
                    conversation: None,
                    outbox: staff_messages(services, &text),
                };
                return Ok(
                    match services
                        .store
                        .settle_payment(&settlement, &SEND_JOBS, now)
                        .await?
                    {
                        Settled::Recorded { outbox, .. } => {
                            services.queue.pushed_in_store(&outbox);
                            tracing::warn!(payment = %facts.payment_id, outcome = code, "payment not renewed");
                            SettleOutcome::Told(code)
                        }
                        _ => SettleOutcome::AlreadyRecorded,
                    },
                );
            }
        }
    }
    Ok(SettleOutcome::AlreadyRecorded)
}

/// The renewal, confirmation and notice of an approved payment.
fn renewal(
    services: &Services,
    facts: &PaymentFacts,
    link: &PaymentLink,
    sub: &SubscriptionView,
    new_end_date: NaiveDate,
    record: impl Fn(&'static str) -> NewPaymentRecord,
) -> Result<PaymentSettlement, JobError> {
    let locale = services.config.locale;
    let (confirmation, template_args) = services.templates.render_outbound(
        "renewal_confirmation.txt",
        json!({
            "client_name": sub.client_name,
            "service": sub.service,
            "months": 1,
            "long_date": long_date(new_end_date, locale),
            "business_name": services.config.business_name,
        }),
    )?;
    let by = format!("pago:{}:{}", facts.provider.code(), facts.payment_id);
    let state = serde_json::to_string(&ConversationState::Idle)
        .map_err(|e| JobError::State(e.to_string()))?;
    let date = long_date(new_end_date, locale);
    let text = notice(services, "payments.notice.renewed", facts, Some(sub), &date);
    let mut outbox = vec![NewOutbound {
        phone: sub.phone.clone(),
        client_id: Some(sub.client_id),
        kind: MessageKind::Reply,
        body: confirmation,
        template_args,
    }];
    outbox.extend(staff_messages(services, &text));
    Ok(PaymentSettlement {
        payment: record(outcome::RENEWED),
        renewal: Some((
            NewRenewal {
                subscription_id: sub.id,
                staff: by,
                old_end_date: link.end_date,
                new_end_date,
                months: 1,
                amount_cents: sub.price_cents,
            },
            NewPayment {
                paid_cents: facts.amount_cents,
                method: ONLINE_METHOD.to_string(),
                reference: Some(format!("{} {}", facts.provider.code(), facts.payment_id)),
            },
        )),
        conversation: Some((sub.phone.as_str().to_string(), state)),
        outbox,
    })
}

/// A staff notice about a payment, from the catalog.
fn notice(
    services: &Services,
    key: &str,
    facts: &PaymentFacts,
    sub: Option<&SubscriptionView>,
    date: &str,
) -> String {
    let locale = services.config.locale;
    let amount = format!(
        "{} {}",
        Money::from_cents(facts.amount_cents),
        facts.currency
    );
    let expected = sub
        .map(|s| format!("{} {}", Money::from_cents(s.price_cents), s.currency))
        .unwrap_or_default();
    let unknown = i18n::text(locale, "payments.notice.no_client");
    let client = sub.map_or(unknown.clone(), |s| {
        format!("{} ({})", s.client_name, s.phone)
    });
    let service = sub.map_or(unknown, |s| s.service.clone());
    let reference = format!("{} {}", facts.provider.code(), facts.payment_id);
    let status = i18n::text(locale, &format!("payments.status.{}", facts.status.code()));
    i18n::format(
        locale,
        key,
        &[
            ("client", &client),
            ("service", &service),
            ("amount", &amount),
            ("expected", &expected),
            ("reference", &reference),
            ("status", &status),
            ("date", &date),
        ],
    )
}

fn staff_messages(services: &Services, body: &str) -> Vec<NewOutbound> {
    services
        .config
        .staff_phones
        .iter()
        .map(|staff| NewOutbound {
            phone: staff.clone(),
            client_id: None,
            kind: MessageKind::Notice,
            body: body.to_string(),
            template_args: None,
        })
        .collect()
}

/// Payments listed in one `/pagos` answer at most.
const STAFF_LIST: i64 = 30;

/// `/pagos`: today's online payments (local day), newest first.
pub(super) async fn staff_today(services: &Services) -> Result<String, JobError> {
    let config = &services.config;
    let locale = config.locale;
    let today = super::today(services);
    let start = crate::domain::clock::local_to_utc(config.timezone, today, chrono::NaiveTime::MIN);
    let end = crate::domain::clock::local_to_utc(
        config.timezone,
        today + chrono::Duration::days(1),
        chrono::NaiveTime::MIN,
    );
    let filter = crate::store::PaymentFilter {
        from: Some(start),
        to: Some(end),
        ..Default::default()
    };
    let rows = services.store.payments(&filter, STAFF_LIST).await?;
    if rows.is_empty() {
        return Ok(i18n::text(locale, "payments.staff_empty"));
    }
    let mut text = i18n::plural(locale, "payments.staff_title", rows.len());
    for row in &rows {
        let time = row
            .created_at
            .with_timezone(&config.timezone)
            .format("%H:%M");
        let client = row
            .client_name
            .clone()
            .unwrap_or_else(|| i18n::text(locale, "payments.notice.no_client"));
        let outcome = i18n::lookup(locale, &format!("payments.outcome.{}", row.outcome))
            .unwrap_or(&row.outcome);
        let status =
            i18n::lookup(locale, &format!("payments.status.{}", row.status)).unwrap_or(&row.status);
        text.push_str(&format!(
            "\n• {time} {client}: {} {} ({}) · {status} · {outcome}",
            Money::from_cents(row.amount_cents),
            row.currency,
            row.service.as_deref().unwrap_or("—"),
        ));
    }
    Ok(text)
}
