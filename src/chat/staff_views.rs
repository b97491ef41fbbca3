//! Staff commands that list things: /pendientes, /vencen, /vencidos,
//! /cliente, /resumen.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, NaiveTime};
use serde::Serialize;
use serde_json::json;

use super::end_handoff;
use super::render::LineCtx;
use crate::conversation::ClientLookup;
use crate::domain::clock::local_to_utc;
use crate::domain::{Locale, Money, short_date};
use crate::i18n;
use crate::services::{JobError, Services};
use crate::store::{MessageStatus, SubscriptionView, is_paused};

/// How many recent messages `/cliente` shows.
const CLIENT_MESSAGES: i64 = 5;

pub(super) fn line(sub: &SubscriptionView, today: NaiveDate, locale: Locale) -> LineCtx {
    LineCtx::new(
        sub.id,
        &sub.service,
        sub.end_date,
        today,
        sub.price(),
        locale,
    )
}

pub(super) async fn pending(services: &Services) -> Result<String, JobError> {
    let locale = services.config.locale;
    let items: Vec<_> = services
        .store
        .open_requests()
        .await?
        .into_iter()
        .map(|r| {
            json!({
                "client_name": r.client_name,
                "phone": r.phone,
                "subscription_id": r.subscription_id,
                "service": r.service,
                "date": r.end_date.map(|d| short_date(d, locale)),
                "price": r.price_cents.map(|c| Money::from_cents(c).to_string()),
                "receipt": r.receipt_message_id.is_some(),
            })
        })
        .collect();
    Ok(services
        .templates
        .render("staff_pending.txt", json!({ "items": items }))?)
}

#[derive(Serialize)]
struct EndingItem {
    #[serde(flatten)]
    line: LineCtx,
    client_name: String,
    phone: String,
    opted_out: bool,
}

/// `/vencen N`: today..=today+N; `/vencidos N`: today-N..=yesterday.
pub(super) async fn ending(
    services: &Services,
    days: u32,
    overdue: bool,
) -> Result<String, JobError> {
    let locale = services.config.locale;
    let today = super::today(services);
    let span = Duration::days(i64::from(days));
    let (from, to) = if overdue {
        (today - span, today - Duration::days(1))
    } else {
        (today, today + span)
    };
    let mut subs = services
        .store
        .subscriptions_ending_by_date(from, to)
        .await?;
    if overdue {
        // Most recently expired first: the ones still worth a call.
        subs.reverse();
    }
    let items: Vec<EndingItem> = subs
        .iter()
        .map(|s| EndingItem {
            line: line(s, today, locale),
            client_name: s.client_name.clone(),
            phone: s.phone.to_string(),
            opted_out: s.opted_out_at.is_some(),
        })
        .collect();
    Ok(services.templates.render(
        "staff_subscriptions.txt",
        json!({"overdue": overdue, "days": days, "items": items}),
    )?)
}

pub(super) async fn client(services: &Services, query: ClientLookup) -> Result<String, JobError> {
    let store = &services.store;
    let locale = services.config.locale;
    let today = super::today(services);
    let found = match &query {
        ClientLookup::Phone(phone) => store.client_by_phone(phone.as_str()).await?,
        ClientLookup::Name(name) => {
            let mut clients = store.clients_by_name(name).await?;
            if clients.len() > 1 {
                let list: Vec<_> = clients
                    .iter()
                    .map(|c| json!({"name": c.name, "phone": c.phone}))
                    .collect();
                return Ok(services.templates.render(
                    "staff_choose.txt",
                    json!({"clients": list, "query": name, "client_name": "", "items": []}),
                )?);
            }
            clients.pop()
        }
    };
    let Some(client) = found else {
        let what = match &query {
            ClientLookup::Phone(phone) => phone.to_string(),
            ClientLookup::Name(name) => name.clone(),
        };
        return Ok(i18n::format(
            locale,
            "staff.client_not_found",
            &[("what", &what)],
        ));
    };
    let subscriptions: Vec<_> = store
        .subscriptions_of_client(client.id)
        .await?
        .iter()
        .map(|s| {
            let mut value = json!(line(s, today, locale));
            value["active"] = json!(s.is_active());
            value
        })
        .collect();
    let mut messages = store
        .messages_for_phone(client.phone.as_str(), CLIENT_MESSAGES)
        .await?;
    messages.reverse();
    let messages: Vec<_> = messages
        .iter()
        .map(|m| json!({"incoming": m.direction == crate::store::Direction::In, "body": first_line(&m.body)}))
        .collect();
    end_handoff(services, &client.phone).await?;
    Ok(services.templates.render(
        "staff_client.txt",
        json!({
            "name": client.name,
            "phone": client.phone,
            "opted_out": client.opted_out_at.is_some(),
            "subscriptions": subscriptions,
            "messages": messages,
        }),
    )?)
}

fn first_line(body: &str) -> String {
    const MAX: usize = 80;
    let line = body.lines().next().unwrap_or("");
    if line.chars().count() > MAX {
        let cut: String = line.chars().take(MAX).collect();
        format!("{cut}…")
    } else {
        line.to_string()
    }
}

pub(super) async fn summary(services: &Services) -> Result<String, JobError> {
    let store = &services.store;
    let locale = services.config.locale;
    let today = super::today(services);
    let tz = services.config.timezone;
    let mut tiers: BTreeMap<std::cmp::Reverse<i32>, Vec<serde_json::Value>> = BTreeMap::new();
    for count in store.reminder_counts(today).await? {
        tiers
            .entry(std::cmp::Reverse(count.tier))
            .or_default()
            .push(json!({"status": count.status, "count": count.count}));
    }
    let tiers: Vec<_> = tiers
        .into_iter()
        .map(|(std::cmp::Reverse(tier), statuses)| {
            json!({"label": tier_label(tier, locale), "statuses": statuses})
        })
        .collect();
    let start = local_to_utc(tz, today, NaiveTime::MIN);
    let failures: i64 = store
        .message_counts(start, start + Duration::days(1))
        .await?
        .iter()
        .filter(|c| c.status == MessageStatus::Failed)
        .map(|c| c.count)
        .sum();
    let pending = store.count_open_requests().await?;
    let revenue = store.revenue_due(today, today + Duration::days(7)).await?;
    Ok(services.templates.render(
        "staff_summary.txt",
        json!({
            "date": short_date(today, locale),
            "paused": is_paused(store.as_ref()).await?,
            "tiers": tiers,
            "failures": failures,
            "pending": pending,
            "revenue": Money::from_cents(revenue).to_string(),
        }),
    )?)
}

fn tier_label(tier: i32, locale: Locale) -> String {
    match tier {
        0 => i18n::text(locale, "staff.tier_day"),
        t if t < 0 => i18n::plural(locale, "staff.tier_after", t.unsigned_abs()),
        t => i18n::plural(locale, "staff.tier_before", t),
    }
}
