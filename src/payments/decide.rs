//! What a payment does, pure: the provider's facts, the link it names and
//! the subscription as it is now → renew, or tell staff why not.

use chrono::NaiveDate;

use crate::config::PaymentProvider;
use crate::domain::add_months;
use crate::store::{PaymentLink, SubscriptionView};

/// A payment's state as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentStatus {
    Approved,
    Refunded,
    ChargedBack,
    /// Pending, in process, rejected, cancelled…: nothing to do yet.
    Other(String),
}

impl PaymentStatus {
    pub fn code(&self) -> &str {
        match self {
            PaymentStatus::Approved => "approved",
            PaymentStatus::Refunded => "refunded",
            PaymentStatus::ChargedBack => "charged_back",
            PaymentStatus::Other(other) => other,
        }
    }
}

/// One payment, as the provider's API (or signed event) says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentFacts {
    pub provider: PaymentProvider,
    pub payment_id: String,
    pub status: PaymentStatus,
    pub amount_cents: i64,
    /// ISO 4217, upper case.
    pub currency: String,
    /// Our link's token (`external_reference` / `client_reference_id`).
    pub reference: Option<String>,
}

/// What to do with a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Renew one month: from the end date, or from today if it has passed.
    Renew {
        new_end_date: NaiveDate,
    },
    /// The subscription no longer ends on the link's date: renewed already.
    Double,
    AmountMismatch,
    Cancelled,
    UnknownReference,
    /// A refund or chargeback: staff told, the subscription unchanged.
    Reversal,
    /// Not settled yet (pending, rejected…): nothing recorded.
    Wait,
}

/// Whether what was paid is what was asked: same cents, same currency
/// (case ignored).
pub fn amount_matches(
    paid_cents: i64,
    paid_currency: &str,
    price_cents: i64,
    currency: &str,
) -> bool {
    paid_cents == price_cents && paid_currency.eq_ignore_ascii_case(currency)
}

/// A decimal amount (Mercado Pago's `transaction_amount`) in cents.
pub fn cents(amount: f64) -> Option<i64> {
    let cents = (amount * 100.0).round();
    (cents.is_finite() && (0.0..1e15).contains(&cents)).then_some(cents as i64)
}

pub fn decide(
    facts: &PaymentFacts,
    link: Option<&PaymentLink>,
    subscription: Option<&SubscriptionView>,
    today: NaiveDate,
) -> Decision {
    match facts.status {
        PaymentStatus::Refunded | PaymentStatus::ChargedBack => return Decision::Reversal,
        PaymentStatus::Other(_) => return Decision::Wait,
        PaymentStatus::Approved => {}
    }
    let (Some(link), Some(sub)) = (link, subscription) else {
        return Decision::UnknownReference;
    };
    if !sub.is_active() {
        return Decision::Cancelled;
    }
    if sub.end_date != link.end_date {
        return Decision::Double;
    }
    if !amount_matches(
        facts.amount_cents,
        &facts.currency,
        sub.price_cents,
        &sub.currency,
    ) {
        return Decision::AmountMismatch;
    }
    Decision::Renew {
        new_end_date: add_months(sub.end_date.max(today), 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Phone, Region};
    use crate::store::SubscriptionStatus;

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, day).unwrap()
    }

    fn sub(end: NaiveDate) -> SubscriptionView {
        SubscriptionView {
            id: 7,
            client_id: 3,
            client_name: "Ana".into(),
            phone: Phone::parse("0991234567", Region::default()).unwrap(),
            opted_out_at: None,
            service_id: 1,
            service: "Netflix".into(),
            end_date: end,
            price_cents: 750,
            currency: "USD".into(),
            status: SubscriptionStatus::Active,
        }
    }

    fn link(end: NaiveDate) -> PaymentLink {
        PaymentLink {
            id: 1,
            token: "t".repeat(22),
            subscription_id: 7,
            end_date: end,
            created_at: chrono::Utc::now(),
        }
    }

    fn facts(status: PaymentStatus, cents: i64, currency: &str) -> PaymentFacts {
        PaymentFacts {
            provider: PaymentProvider::MercadoPago,
            payment_id: "1".into(),
            status,
            amount_cents: cents,
            currency: currency.into(),
            reference: Some("t".repeat(22)),
        }
    }

    #[test]
    fn approved_and_matching_renews_a_month_from_the_end_or_today() {
        let approved = facts(PaymentStatus::Approved, 750, "usd");
        let today = d(11, 25);
        assert_eq!(
            decide(
                &approved,
                Some(&link(d(11, 29))),
                Some(&sub(d(11, 29))),
                today
            ),
            Decision::Renew {
                new_end_date: d(12, 29)
            }
        );
        // Already expired: a month from today.
        assert_eq!(
            decide(
                &approved,
                Some(&link(d(11, 20))),
                Some(&sub(d(11, 20))),
                today
            ),
            Decision::Renew {
                new_end_date: d(12, 25)
            }
        );
    }

    #[test]
    fn everything_else_is_told_not_renewed() {
        let today = d(11, 25);
        let (l, s) = (link(d(11, 29)), sub(d(11, 29)));
        let check = |f: &PaymentFacts, s: &SubscriptionView| decide(f, Some(&l), Some(s), today);
        let approved = facts(PaymentStatus::Approved, 750, "USD");
        assert_eq!(check(&approved, &sub(d(12, 29))), Decision::Double);
        assert_eq!(
            check(&facts(PaymentStatus::Approved, 700, "USD"), &s),
            Decision::AmountMismatch
        );
        assert_eq!(
            check(&facts(PaymentStatus::Approved, 750, "ARS"), &s),
            Decision::AmountMismatch
        );
        let mut cancelled = s.clone();
        cancelled.status = SubscriptionStatus::Cancelled;
        assert_eq!(check(&approved, &cancelled), Decision::Cancelled);
        assert_eq!(
            check(&facts(PaymentStatus::Refunded, 750, "USD"), &s),
            Decision::Reversal
        );
        assert_eq!(
            check(&facts(PaymentStatus::ChargedBack, 750, "USD"), &s),
            Decision::Reversal
        );
        let pending = facts(PaymentStatus::Other("pending".into()), 750, "USD");
        assert_eq!(check(&pending, &s), Decision::Wait);
        assert_eq!(
            decide(&approved, None, None, today),
            Decision::UnknownReference
        );
    }

    #[test]
    fn amounts_in_cents() {
        assert_eq!(cents(7.5), Some(750));
        assert_eq!(cents(0.29), Some(29));
        assert_eq!(cents(19.99), Some(1999));
        assert_eq!(cents(-1.0), None);
        assert_eq!(cents(f64::NAN), None);
        assert!(amount_matches(750, "usd", 750, "USD"));
        assert!(!amount_matches(751, "USD", 750, "USD"));
    }
}
