//! Fixed clock, dates, phones and subscription rows for the store suites.

use avisa::domain::{Money, Phone, Region};
use avisa::store::{NewSubscription, PlannedMessage, ReminderKey, Store, SubscriptionView};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};

/// The suites' "now": 2026-11-25 14:00 UTC.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap()
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn phone(s: &str) -> Phone {
    Phone::parse(s, Region::default()).unwrap()
}

pub fn row(name: &str, tel: &str, service: &str, end: NaiveDate, cents: i64) -> NewSubscription {
    NewSubscription {
        name: name.into(),
        phone: phone(tel),
        email: None,
        service: service.into(),
        end_date: end,
        price: Money::from_cents(cents),
    }
}

/// Stores client "A" at `tel` with Netflix ending 2026-11-28 (7.50) and
/// returns that subscription as the reminder planner reads it.
pub async fn one_netflix_subscription(store: &dyn Store, tel: &str) -> SubscriptionView {
    store
        .upsert_subscriptions(&[row("A", tel, "Netflix", date(2026, 11, 28), 750)], now())
        .await
        .unwrap();
    store
        .active_subscriptions_ending(date(2026, 11, 1), date(2026, 12, 31))
        .await
        .unwrap()
        .remove(0)
}

/// A reminder message for `sub` at `tier`, as the planner would make it.
pub fn planned(sub: &SubscriptionView, tier: i32) -> PlannedMessage {
    PlannedMessage {
        client_id: sub.client_id,
        phone: sub.phone.clone(),
        body: format!("recordatorio {}", sub.service),
        template_args: None,
        reminders: vec![(
            ReminderKey {
                subscription_id: sub.id,
                end_date: sub.end_date,
                tier,
            },
            3,
        )],
    }
}
