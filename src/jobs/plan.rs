//! Planning a day's reminders: which subscriptions are due (pure), the text
//! for each client, and the outbox rows (one transaction per batch).

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use serde::Serialize;

use crate::domain::{Locale, Tiers, days_left, days_phrase, long_date};
use crate::store::{PlannedMessage, ReminderKey, SubscriptionView};
use crate::templates::{TemplateError, Templates};

use crate::services::{JobError, Services};

/// Counts reported by every trigger (CLI, cron endpoint, schedule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanReport {
    pub date: NaiveDate,
    /// Reminders newly planned, per tier in days before the end date
    /// (every configured tier listed). JSON shows the tiers as keys
    /// (`{"7":1,"3":0}`).
    pub planned: BTreeMap<i32, u64>,
    /// Due but not sent: opted-out clients, unusable phone numbers.
    pub skipped: u64,
    /// Due, but this (subscription, end date, tier) was already handled.
    pub already_sent: u64,
    #[serde(skip)]
    pub message_ids: Vec<i64>,
    #[serde(skip)]
    pub timings: PlanTimings,
}

/// Wall time of each planning phase, for logs and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanTimings {
    /// Reading due subscriptions and reminders already done.
    pub load: Duration,
    /// Deciding what is due (pure).
    pub draft: Duration,
    /// Rendering each client's text.
    pub render: Duration,
    /// Writing messages and reminder rows.
    pub record: Duration,
    /// Pushing send jobs (`plan_and_queue` only).
    pub queue: Duration,
}

/// One subscription due today with its tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueItem {
    pub subscription: SubscriptionView,
    pub tier: i32,
    pub days_left: i64,
}

/// The pure result of looking at a day: who gets a message about what.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draft {
    pub groups: Vec<Vec<DueItem>>,
    pub skipped: u64,
    pub already_sent: u64,
}

/// Decides what is due on `today`. `candidates` are active subscriptions
/// ordered by client; `done` holds keys already handled.
pub fn draft(
    candidates: &[SubscriptionView],
    done: &HashSet<ReminderKey>,
    tiers: &Tiers,
    today: NaiveDate,
) -> Draft {
    let mut out = Draft::default();
    let mut current: Vec<DueItem> = Vec::new();
    let flush = |group: &mut Vec<DueItem>, out: &mut Draft| {
        if !group.is_empty() {
            out.groups.push(std::mem::take(group));
        }
    };
    for sub in candidates {
        if !sub.is_active() {
            continue;
        }
        let left = days_left(sub.end_date, today);
        let Some(tier) = tiers.due_tier(left) else {
            continue;
        };
        let key = ReminderKey {
            subscription_id: sub.id,
            end_date: sub.end_date,
            tier,
        };
        if done.contains(&key) {
            out.already_sent += 1;
            continue;
        }
        if sub.opted_out_at.is_some() {
            out.skipped += 1;
            continue;
        }
        if current
            .first()
            .is_some_and(|first| first.subscription.client_id != sub.client_id)
        {
            flush(&mut current, &mut out);
        }
        current.push(DueItem {
            subscription: sub.clone(),
            tier,
            days_left: left,
        });
    }
    flush(&mut current, &mut out);
    out
}

/// The template for a client's message: urgent if anything ends today,
/// expired if everything has already ended, else the normal reminder.
pub fn template_for(items: &[DueItem]) -> &'static str {
    if items.iter().any(|i| i.days_left == 0) {
        "reminder_urgent.txt"
    } else if items.iter().all(|i| i.days_left < 0) {
        "reminder_expired.txt"
    } else {
        "reminder.txt"
    }
}

#[derive(Debug, Serialize)]
struct ItemContext {
    service: String,
    long_date: String,
    days_left: i64,
    when: String,
    price: String,
    /// `AVISA_PUBLIC_URL/pagar/{token}`, or empty without a provider.
    payment_link: String,
}

#[derive(Debug, Serialize)]
struct ReminderContext<'a> {
    client_name: &'a str,
    items: Vec<ItemContext>,
    total: String,
    days_left: i64,
    business_name: &'a str,
    payment_instructions: &'a str,
    /// The one subscription's link (several: each item has its own).
    payment_link: String,
}

/// What rendering a reminder needs besides its subscriptions (the chat's
/// replies use `chat::ReplyTexts`).
pub struct ReminderTexts<'a> {
    pub templates: &'a Templates,
    pub locale: Locale,
    pub business_name: &'a str,
    pub payment_instructions: &'a str,
    /// Each subscription's payment link by id (`payments::links`); none
    /// without a provider.
    pub payment_links: Option<&'a std::collections::HashMap<i64, String>>,
}

impl ReminderTexts<'_> {
    fn link(&self, subscription_id: i64) -> String {
        self.payment_links
            .and_then(|links| links.get(&subscription_id))
            .cloned()
            .unwrap_or_default()
    }
}

/// Renders one client's reminder.
pub fn render(texts: &ReminderTexts<'_>, items: &[DueItem]) -> Result<String, TemplateError> {
    render_outbound(texts, items).map(|(body, _)| body)
}

/// Renders one client's reminder and what it offers a Cloud API template.
pub fn render_outbound(
    texts: &ReminderTexts<'_>,
    items: &[DueItem],
) -> Result<(String, Option<String>), TemplateError> {
    let first = &items[0].subscription;
    let context = ReminderContext {
        client_name: first
            .client_name
            .split_whitespace()
            .next()
            .unwrap_or(&first.client_name),
        items: items
            .iter()
            .map(|i| ItemContext {
                service: i.subscription.service.clone(),
                long_date: long_date(i.subscription.end_date, texts.locale),
                days_left: i.days_left,
                when: days_phrase(i.days_left, texts.locale),
                price: i.subscription.price().to_string(),
                payment_link: texts.link(i.subscription.id),
            })
            .collect(),
        total: items
            .iter()
            .map(|i| i.subscription.price())
            .sum::<crate::domain::Money>()
            .to_string(),
        days_left: items.iter().map(|i| i.days_left).min().unwrap_or(0),
        business_name: texts.business_name,
        payment_instructions: texts.payment_instructions,
        payment_link: match items {
            [only] => texts.link(only.subscription.id),
            _ => String::new(),
        },
    };
    texts
        .templates
        .render_outbound(template_for(items), &context)
}

/// Turns a draft into outbox rows to record.
pub fn planned_messages(
    texts: &ReminderTexts<'_>,
    draft: &Draft,
) -> Result<Vec<PlannedMessage>, TemplateError> {
    draft
        .groups
        .iter()
        .map(|items| {
            let first = &items[0].subscription;
            let phone = first.phone.clone();
            render_outbound(texts, items).map(|(body, template_args)| PlannedMessage {
                client_id: first.client_id,
                phone,
                body,
                template_args,
                reminders: items
                    .iter()
                    .map(|i| {
                        let key = ReminderKey {
                            subscription_id: i.subscription.id,
                            end_date: i.subscription.end_date,
                            tier: i.tier,
                        };
                        (key, i.days_left)
                    })
                    .collect(),
            })
        })
        .collect()
}

/// An empty per-tier table with every configured tier, highest first in JSON.
pub fn tier_table(tiers: &Tiers) -> BTreeMap<i32, u64> {
    tiers.as_slice().iter().map(|t| (*t, 0)).collect()
}

/// Messages recorded per transaction: large enough to be fast, small
/// enough that a concurrent planner is not blocked for long.
const RECORD_BATCH: usize = 500;

/// Plans `date`: writes reminder rows and outbox messages (unless
/// `dry_run`) and reports counts. Idempotent: a second call records nothing.
pub async fn plan_day(
    s: &Services,
    date: NaiveDate,
    automatic: bool,
    dry_run: bool,
) -> Result<(PlanReport, Vec<PlannedMessage>), JobError> {
    let tiers = &s.config.reminder_days;
    let from = date + chrono::Duration::days(i64::from(tiers.min()));
    let to = date + chrono::Duration::days(i64::from(tiers.max()));
    let mut timings = PlanTimings::default();
    let started = Instant::now();
    let candidates = s.store.active_subscriptions_ending(from, to).await?;
    let done = s.store.reminders_done(from, to).await?;
    timings.load = started.elapsed();
    let started = Instant::now();
    let draft = draft(&candidates, &done, tiers, date);
    drop((candidates, done));
    timings.draft = started.elapsed();
    let started = Instant::now();
    let due: Vec<(i64, NaiveDate)> = draft
        .groups
        .iter()
        .flatten()
        .map(|i| (i.subscription.id, i.subscription.end_date))
        .collect();
    let links = if dry_run {
        Default::default()
    } else {
        crate::payments::links::link_map(s.store.as_ref(), &s.config, &due, s.clock.now()).await?
    };
    let texts = ReminderTexts {
        templates: &s.templates,
        locale: s.config.locale,
        business_name: &s.config.business_name,
        payment_instructions: &s.config.payment_instructions,
        payment_links: Some(&links),
    };
    let planned = planned_messages(&texts, &draft)?;
    timings.render = started.elapsed();
    let mut report = PlanReport {
        date,
        planned: tier_table(tiers),
        skipped: draft.skipped,
        already_sent: draft.already_sent,
        message_ids: Vec::new(),
        timings,
    };
    let count = |report: &mut PlanReport, message: &PlannedMessage| {
        for (key, _) in &message.reminders {
            *report.planned.entry(key.tier).or_default() += 1;
        }
    };
    if dry_run {
        for message in &planned {
            count(&mut report, message);
        }
        return Ok((report, planned));
    }
    let started = Instant::now();
    let mut recorded = Vec::with_capacity(planned.len());
    for batch in planned.chunks(RECORD_BATCH) {
        let ids = s
            .store
            .record_reminders(batch, date, automatic, s.clock.now())
            .await?;
        for (message, id) in batch.iter().zip(ids) {
            match id {
                Some(id) => {
                    count(&mut report, message);
                    report.message_ids.push(id);
                    recorded.push(message.clone());
                }
                // Another planner recorded it first.
                None => report.already_sent += message.reminders.len() as u64,
            }
        }
    }
    report.timings.record = started.elapsed();
    Ok((report, recorded))
}

/// Plans `date` and queues a send job per new message: what the schedule
/// and the cron endpoint do. Sends wait for the window and for pause.
pub async fn plan_and_queue(
    s: &Services,
    date: NaiveDate,
    automatic: bool,
) -> Result<PlanReport, JobError> {
    let (mut report, _) = plan_day(s, date, automatic, false).await?;
    let started = Instant::now();
    s.queue.push_sends(&report.message_ids).await?;
    report.timings.queue = started.elapsed();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    fn sub(id: i64, client: i64, end: NaiveDate) -> SubscriptionView {
        SubscriptionView {
            id,
            client_id: client,
            client_name: format!("Cliente {client}"),
            phone: crate::domain::Phone::from_e164(format!("+59399{:07}", client)).unwrap(),
            opted_out_at: None,
            service_id: 1,
            service: "Netflix".into(),
            end_date: end,
            price_cents: 750,
            currency: "USD".into(),
            status: crate::store::SubscriptionStatus::Active,
        }
    }

    #[test]
    fn groups_by_client_and_skips_done_and_opted_out() {
        let today = d(25);
        let mut opted = sub(4, 3, d(26));
        opted.opted_out_at = Some(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap());
        let candidates = vec![
            sub(1, 1, d(25)),
            sub(2, 1, d(28)),
            sub(3, 2, d(26)),
            opted,
            sub(5, 4, d(30)),
        ];
        let done: HashSet<_> = [ReminderKey {
            subscription_id: 3,
            end_date: d(26),
            tier: 1,
        }]
        .into();
        let draft = draft(&candidates, &done, &Tiers::default(), today);
        assert_eq!(draft.already_sent, 1);
        assert_eq!(draft.skipped, 1);
        let groups: Vec<Vec<(i64, i32)>> = draft
            .groups
            .iter()
            .map(|g| g.iter().map(|i| (i.subscription.id, i.tier)).collect())
            .collect();
        assert_eq!(groups, vec![vec![(1, 0), (2, 3)], vec![(5, 7)]]);
        assert_eq!(template_for(&draft.groups[0]), "reminder_urgent.txt");
        assert_eq!(template_for(&draft.groups[1]), "reminder.txt");
    }

    #[test]
    fn expired_template_only_when_everything_ended() {
        let tiers = Tiers::parse("7,3,1,0,-3").unwrap();
        let draft = draft(&[sub(1, 1, d(22))], &HashSet::new(), &tiers, d(25));
        assert_eq!(draft.groups[0][0].tier, -3);
        assert_eq!(template_for(&draft.groups[0]), "reminder_expired.txt");
    }

    #[test]
    fn cancelled_and_out_of_window_are_ignored() {
        let mut cancelled = sub(1, 1, d(26));
        cancelled.status = crate::store::SubscriptionStatus::Cancelled;
        let far = sub(2, 2, NaiveDate::from_ymd_opt(2026, 12, 20).unwrap());
        let draft = draft(&[cancelled, far], &HashSet::new(), &Tiers::default(), d(25));
        assert_eq!(draft, Draft::default());
    }

    fn render_with(locale: Locale, items: &[DueItem]) -> String {
        let templates = Templates::load(locale, None).unwrap();
        let texts = ReminderTexts {
            templates: &templates,
            locale,
            business_name: "StreamEC",
            payment_instructions: "Transferencia Banco Pichincha 2200000000",
            payment_links: None,
        };
        render(&texts, items).unwrap()
    }

    fn item(id: i64, service: &str, end: NaiveDate, today: NaiveDate, tier: i32) -> DueItem {
        let mut subscription = sub(id, 1, end);
        subscription.client_name = "Ana Pérez".into();
        subscription.service = service.into();
        DueItem {
            subscription,
            tier,
            days_left: days_left(end, today),
        }
    }

    #[test]
    fn reminder_templates_snapshots() {
        let today = d(25);
        for locale in [Locale::Es, Locale::En] {
            let code = locale.code();
            let three = [item(1, "Netflix", d(28), today, 3)];
            insta::assert_snapshot!(format!("reminder_{code}"), render_with(locale, &three));
            let one = [item(1, "Netflix", d(26), today, 1)];
            insta::assert_snapshot!(
                format!("reminder_one_day_{code}"),
                render_with(locale, &one)
            );
            let today_item = [item(1, "HBO Max", d(25), today, 0)];
            insta::assert_snapshot!(
                format!("reminder_urgent_{code}"),
                render_with(locale, &today_item)
            );
            let expired = [item(1, "Disney+", d(22), today, -3)];
            insta::assert_snapshot!(
                format!("reminder_expired_{code}"),
                render_with(locale, &expired)
            );
            let grouped = [
                item(1, "HBO Max", d(25), today, 0),
                item(2, "Netflix", d(28), today, 3),
            ];
            insta::assert_snapshot!(
                format!("reminder_grouped_{code}"),
                render_with(locale, &grouped)
            );
            let templates = Templates::load(locale, None).unwrap();
            insta::assert_snapshot!(
                format!("session_restored_{code}"),
                templates
                    .render("session_restored.txt", serde_json::json!({}))
                    .unwrap()
            );
        }
    }

    #[test]
    fn reminder_text_has_the_contract_fields() {
        let text = render_with(Locale::Es, &[item(1, "Netflix", d(27), d(25), 3)]);
        assert!(text.contains("Netflix"), "{text}");
        assert!(text.contains("viernes 27 de noviembre de 2026"), "{text}");
        assert!(text.contains("en 2 días"), "{text}");
        assert!(text.contains("$7.50"), "{text}");
        let urgent = render_with(Locale::Es, &[item(1, "Netflix", d(25), d(25), 0)]);
        assert!(
            urgent.starts_with("¡URGENTE!") && urgent.contains("¡HOY!"),
            "{urgent}"
        );
    }
}
