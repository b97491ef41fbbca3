//! A reminder sent now, by staff (Cobranza's bulk "Enviar recordatorio"):
//! the usual reminder text for each chosen subscription, written like the
//! daily plan's (`Store::record_reminders`: a `reminder` message and its
//! `reminders` row, not automatic) and sent through the outbox, so it is
//! paced, held while the session is down, retried and logged like any
//! reminder.
//!
//! **Once per subscription per day:** the reminder row's tier is the days
//! left on that day, so `UNIQUE(subscription, end_date, tier)` refuses a
//! second one the same day (a second click) and the planner sees the day's
//! tier as done when the days left are a configured tier.

use chrono::NaiveDate;

use super::plan::{self, DueItem, ReminderTexts};
use crate::domain::days_left;
use crate::services::{JobError, Services};
use crate::store::{PlannedMessage, ReminderKey, SubscriptionView};

/// What [`remind_now`] did with the subscriptions it was given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemindedNow {
    /// New messages queued (one per subscription).
    pub queued: Vec<i64>,
    /// Cancelled, opted out, or a phone number that cannot be written to.
    pub skipped: usize,
    /// Already reminded today.
    pub already: usize,
}

/// Whether `sub` may get a reminder at all (its phone was checked when the
/// row was read).
pub fn eligible(sub: &SubscriptionView) -> bool {
    sub.is_active() && sub.opted_out_at.is_none()
}

/// The reminder for each eligible subscription on `today` (pure).
pub fn drafts(
    texts: &ReminderTexts<'_>,
    subs: &[SubscriptionView],
    today: NaiveDate,
) -> Result<(Vec<PlannedMessage>, usize), JobError> {
    let mut planned = Vec::with_capacity(subs.len());
    let mut skipped = 0;
    for sub in subs {
        if !eligible(sub) {
            skipped += 1;
            continue;
        }
        let phone = sub.phone.clone();
        let left = days_left(sub.end_date, today);
        let tier = i32::try_from(left).unwrap_or(if left < 0 { i32::MIN } else { i32::MAX });
        let item = DueItem {
            subscription: sub.clone(),
            tier,
            days_left: left,
        };
        let (body, template_args) = plan::render_outbound(texts, std::slice::from_ref(&item))?;
        let key = ReminderKey {
            subscription_id: sub.id,
            end_date: sub.end_date,
            tier,
        };
        planned.push(PlannedMessage {
            client_id: sub.client_id,
            phone,
            body,
            template_args,
            reminders: vec![(key, left)],
        });
    }
    Ok((planned, skipped))
}

/// Writes and queues a reminder for each eligible subscription in `subs`.
pub async fn remind_now(
    services: &Services,
    subs: &[SubscriptionView],
) -> Result<RemindedNow, JobError> {
    let today =
        crate::domain::clock::local_today(services.clock.as_ref(), services.config.timezone);
    let config = &services.config;
    let due: Vec<(i64, chrono::NaiveDate)> = subs.iter().map(|s| (s.id, s.end_date)).collect();
    let store = services.store.as_ref();
    let links = crate::payments::links::link_map(store, config, &due, services.clock.now()).await?;
    let texts = ReminderTexts {
        templates: &services.templates,
        locale: config.locale,
        business_name: &config.business_name,
        payment_instructions: &config.payment_instructions,
        payment_links: Some(&links),
    };
    let (planned, skipped) = drafts(&texts, subs, today)?;
    let ids = if planned.is_empty() {
        Vec::new()
    } else {
        services
            .store
            .record_reminders(&planned, today, false, services.clock.now())
            .await?
    };
    let queued: Vec<i64> = ids.iter().flatten().copied().collect();
    services.queue.push_sends(&queued).await?;
    Ok(RemindedNow {
        already: ids.len() - queued.len(),
        queued,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Locale, Phone};
    use crate::store::SubscriptionStatus;
    use crate::templates::Templates;
    use chrono::{TimeZone, Utc};

    fn sub(id: i64, end: NaiveDate) -> SubscriptionView {
        SubscriptionView {
            id,
            client_id: id,
            client_name: "Ana Pérez".into(),
            phone: Phone::from_e164("+593991234567".to_string()).unwrap(),
            opted_out_at: None,
            service_id: 1,
            service: "Netflix".into(),
            end_date: end,
            price_cents: 750,
            currency: "USD".into(),
            status: SubscriptionStatus::Active,
        }
    }

    #[test]
    fn one_reminder_per_eligible_subscription_keyed_by_days_left() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let templates = Templates::load(Locale::Es, None).unwrap();
        let texts = ReminderTexts {
            templates: &templates,
            locale: Locale::Es,
            business_name: "StreamEC",
            payment_instructions: "",
            payment_links: None,
        };
        let mut cancelled = sub(2, today);
        cancelled.status = SubscriptionStatus::Cancelled;
        let mut opted = sub(3, today);
        opted.opted_out_at = Some(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap());
        let expired = sub(5, today - chrono::Duration::days(30));
        let subs = [
            sub(1, today + chrono::Duration::days(20)),
            cancelled,
            opted,
            expired,
        ];
        let (planned, skipped) = drafts(&texts, &subs, today).unwrap();
        assert_eq!(skipped, 2);
        let keys: Vec<(i64, i32, i64)> = planned
            .iter()
            .map(|p| {
                (
                    p.reminders[0].0.subscription_id,
                    p.reminders[0].0.tier,
                    p.reminders[0].1,
                )
            })
            .collect();
        assert_eq!(keys, vec![(1, 20, 20), (5, -30, -30)]);
        assert!(planned[0].body.contains("Netflix"), "{}", planned[0].body);
    }
}
