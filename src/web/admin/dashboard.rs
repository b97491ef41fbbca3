//! `/admin`: the day at a glance — counts, money due, the renewal rate,
//! WhatsApp and pause state, and two charts.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::State;
use chrono::{Datelike, Duration, NaiveDate, NaiveTime};
use chrono_tz::Tz;
use minijinja::context;
use serde::Serialize;

use super::charts::{self, ExpirationLabels, MessageLabels, MessagesDay};
use super::collection_filter::{Collections, Due};
use super::{CurrentUser, i18n, pages};
use crate::domain::clock::{local_to_utc, local_today};
use crate::store::{
    self, CollectionCounts, DueSubscription, MessageKind, MessageStatus, RenewalRow, StoreError,
};
use crate::web::whatsapp_state::WhatsAppState;
use crate::web::{WebResult, WebState};

/// Days of grace after an end date in which a renewal still counts as on time.
pub const GRACE_DAYS: i64 = 3;
/// How many end dates the renewal rate looks at.
pub const RATE_WINDOW_DAYS: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RenewalRate {
    pub renewed: i64,
    pub due: i64,
}

impl RenewalRate {
    /// Whole percent, rounded; `None` when nothing was due.
    pub fn percent(&self) -> Option<i64> {
        (self.due > 0).then(|| (self.renewed * 200 + self.due) / (2 * self.due))
    }
}

/// The end dates the renewal rate covers: the last [`RATE_WINDOW_DAYS`]
/// days whose grace period is over, `today-33 ..= today-4`. (A subscription
/// that ended yesterday may still be renewed on time, so it is not counted
/// yet.)
pub fn renewal_window(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let to = today - Duration::days(GRACE_DAYS + 1);
    (to - Duration::days(RATE_WINDOW_DAYS - 1), to)
}

/// Renewal rate over the window from [`renewal_window`].
///
/// **Due**: each (subscription, end date) with the end date in the window —
/// every renewal not undone whose old end date is in the window, plus every
/// subscription (active or cancelled) whose current end date is still in the
/// window, i.e. that was not renewed. **Renewed**: those renewals recorded
/// (local date in `tz`) on or before the end date + [`GRACE_DAYS`]; early
/// renewals count. A late renewal counts as due, not renewed.
/// `renewals` and `current` must come from the same window (the store's
/// `renewals_of_end_dates` and `subscriptions_due`).
pub fn renewal_rate(renewals: &[RenewalRow], current: &[DueSubscription], tz: Tz) -> RenewalRate {
    let mut due: HashSet<(i64, NaiveDate)> = HashSet::new();
    let mut renewed: HashSet<(i64, NaiveDate)> = HashSet::new();
    for r in renewals.iter().filter(|r| r.undone_at.is_none()) {
        let key = (r.subscription_id, r.old_end_date);
        due.insert(key);
        let on = r.created_at.with_timezone(&tz).date_naive();
        if on <= r.old_end_date + Duration::days(GRACE_DAYS) {
            renewed.insert(key);
        }
    }
    for s in current {
        due.insert((s.id, s.end_date));
    }
    RenewalRate {
        renewed: renewed.len() as i64,
        due: due.len() as i64,
    }
}

#[derive(Debug, Clone, Serialize)]
struct Figures {
    active: i64,
    expiring_7: i64,
    revenue_7: i64,
    revenue_30: i64,
    reminders_sent_today: i64,
    reminders_failed_today: i64,
    pending_requests: i64,
    /// Conversations waiting for a person (the Bandeja).
    inbox: i64,
    renewal: RenewalRate,
    renewal_percent: Option<i64>,
    /// `WhatsAppState::code`, and its words.
    whatsapp: &'static str,
    whatsapp_text: String,
    paused: bool,
    /// Active subscriptions expired, due today, in 7 and 30 days.
    due: CollectionCounts,
    /// Each figure's list in Cobranza.
    links: Links,
    /// Collected by payment link this month (local), when a provider is
    /// set, with the Pagos list from the month's first day.
    collected_by_link: Option<(i64, String)>,
}

/// The Cobranza list behind each figure: active subscriptions, by end date.
#[derive(Debug, Clone, Serialize)]
struct Links {
    active: String,
    expired: String,
    today: String,
    next_7: String,
    next_30: String,
}

impl Links {
    fn new() -> Links {
        let list = |due: Due| {
            Collections {
                due,
                status: Some("active"),
                page: 1,
                ..Collections::default()
            }
            .list_path()
        };
        Links {
            active: list(Due::Any),
            expired: list(Due::Expired),
            today: list(Due::Today),
            next_7: list(Due::Next7),
            next_30: list(Due::Next30),
        }
    }
}

fn day_start(tz: Tz, day: NaiveDate) -> chrono::DateTime<chrono::Utc> {
    local_to_utc(tz, day, NaiveTime::MIN)
}

/// How long a finished day's message counts are reused: the chart's past
/// days change only by late delivery and read receipts, and counting them
/// reads every message of the 29 days (~80 ms with 200,000 messages on
/// SQLite). Today's counts are always read afresh.
const PAST_DAYS_FOR: std::time::Duration = std::time::Duration::from_secs(300);

/// A finished local day's counts and when they were read.
type DayCounts = HashMap<(NaiveDate, Tz), (Instant, MessagesDay)>;

/// The dashboard's counts of finished local days, per process.
#[derive(Debug, Clone, Default)]
pub struct PastDays {
    days: Arc<Mutex<DayCounts>>,
}

impl PastDays {
    fn get(&self, day: NaiveDate, tz: Tz) -> Option<MessagesDay> {
        let days = self
            .days
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        days.get(&(day, tz))
            .filter(|(at, _)| at.elapsed() < PAST_DAYS_FOR)
            .map(|(_, counts)| *counts)
    }

    fn put(&self, day: NaiveDate, tz: Tz, counts: MessagesDay) {
        let mut days = self
            .days
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        days.retain(|_, (at, _)| at.elapsed() < PAST_DAYS_FOR);
        days.insert((day, tz), (Instant::now(), counts));
    }
}

/// Outbound messages created on `day` (local), by outcome, all kinds.
async fn messages_on(
    store: &dyn store::Store,
    tz: Tz,
    day: NaiveDate,
) -> Result<(MessagesDay, Vec<store::KindStatusCount>), StoreError> {
    let counts = store
        .message_counts(day_start(tz, day), day_start(tz, day + Duration::days(1)))
        .await?;
    let mut out = MessagesDay {
        day,
        ..MessagesDay::default()
    };
    for c in &counts {
        match c.status {
            status if status.is_sent() => out.sent += c.count,
            MessageStatus::Failed => out.failed += c.count,
            MessageStatus::Queued | MessageStatus::Sending => out.queued += c.count,
            _ => {}
        }
    }
    Ok((out, counts))
}

async fn figures(state: &WebState) -> Result<(Figures, String, String), StoreError> {
    let services = &state.services;
    let store = services.store.as_ref();
    let tz = services.config.timezone;
    let locale = services.config.locale;
    let today = local_today(services.clock.as_ref(), tz);
    let in_days = |n: i64| today + Duration::days(n);

    let expirations = store.expirations_by_day(today, in_days(29)).await?;
    let expiring_7 = expirations
        .iter()
        .filter(|d| d.day <= in_days(6))
        .map(|d| d.count)
        .sum();
    let mut message_days = Vec::with_capacity(30);
    let past_days = &state.admin.past_days;
    for back in (1..30).rev() {
        let day = today - Duration::days(back);
        let counts = match past_days.get(day, tz) {
            Some(counts) => counts,
            None => {
                let (counts, _) = messages_on(store, tz, day).await?;
                past_days.put(day, tz, counts);
                counts
            }
        };
        message_days.push(counts);
    }
    let (today_day, today_counts) = messages_on(store, tz, today).await?;
    message_days.push(today_day);
    let reminders = |counted: fn(MessageStatus) -> bool| -> i64 {
        today_counts
            .iter()
            .filter(|c| c.kind == MessageKind::Reminder && counted(c.status))
            .map(|c| c.count)
            .sum()
    };
    let (from, to) = renewal_window(today);
    let renewal = renewal_rate(
        &store.renewals_of_end_dates(from, to).await?,
        &store.subscriptions_due(from, to).await?,
        tz,
    );
    let whatsapp = WhatsAppState::read(services).await?;
    let figures = Figures {
        active: store.count_active_subscriptions().await?,
        expiring_7,
        revenue_7: store.revenue_due(today, in_days(6)).await?,
        revenue_30: store.revenue_due(today, in_days(29)).await?,
        reminders_sent_today: reminders(MessageStatus::is_sent),
        reminders_failed_today: reminders(|s| s == MessageStatus::Failed),
        pending_requests: store.count_open_requests().await?,
        inbox: store.count_inbox().await?,
        renewal_percent: renewal.percent(),
        renewal,
        whatsapp: whatsapp.code(),
        whatsapp_text: whatsapp.text(locale, tz, services.clock.now()),
        paused: store::is_paused(store).await?,
        due: store.collection_counts(today).await?,
        links: Links::new(),
        collected_by_link: match services.config.payments.provider {
            None => None,
            Some(_) => {
                let first = today.with_day(1).unwrap_or(today);
                let since = crate::domain::clock::local_to_utc(tz, first, NaiveTime::MIN);
                let cents = store.collected_since(since).await?;
                Some((cents, format!("/admin/payments?from={first}")))
            }
        },
    };
    let t = |key: &str| i18n::text(locale, key);
    let (title, sent, failed, queued, empty) = (
        t("chart_messages_title"),
        t("chart_sent"),
        t("chart_failed"),
        t("chart_queued"),
        t("chart_empty"),
    );
    let (chart_today, chart_peak) = (t("chart_today"), t("chart_peak"));
    let messages_svg = charts::messages_chart(
        &message_days,
        &MessageLabels {
            title: &title,
            sent: &sent,
            failed: &failed,
            queued: &queued,
            empty: &empty,
            today: &chart_today,
            peak: &chart_peak,
        },
        locale,
    );
    let (exp_title, exp_series) = (t("chart_expirations_title"), t("chart_expirations_series"));
    let counts: Vec<(NaiveDate, i64)> = expirations.iter().map(|d| (d.day, d.count)).collect();
    let expirations_svg = charts::expirations_chart(
        today,
        30,
        &counts,
        &ExpirationLabels {
            title: &exp_title,
            series: &exp_series,
            empty: &empty,
            today: &chart_today,
            peak: &chart_peak,
        },
        locale,
    );
    Ok((figures, messages_svg, expirations_svg))
}

/// GET /admin
pub async fn show(State(state): State<WebState>, user: CurrentUser) -> WebResult {
    let (figures, messages_chart, expirations_chart) = figures(&state).await?;
    Ok(pages::render(
        &state,
        "dashboard.html",
        &user,
        context! { f => figures, messages_chart => messages_chart,
        expirations_chart => expirations_chart },
    ))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, day).unwrap()
    }

    fn renewal(sub: i64, old: NaiveDate, at: chrono::DateTime<Utc>, undone: bool) -> RenewalRow {
        RenewalRow {
            id: sub,
            subscription_id: sub,
            staff: "web:a@b.co".into(),
            old_end_date: old,
            new_end_date: old + Duration::days(30),
            months: 1,
            amount_cents: 500,
            created_at: at,
            undone_at: undone.then_some(at),
        }
    }

    #[test]
    fn figures_link_into_the_matching_filter() {
        let links = Links::new();
        assert_eq!(links.active, "/admin/subscriptions?estado=active");
        assert_eq!(
            links.expired,
            "/admin/subscriptions?vence=vencidas&estado=active"
        );
        assert_eq!(links.today, "/admin/subscriptions?vence=hoy&estado=active");
        assert_eq!(links.next_7, "/admin/subscriptions?vence=7&estado=active");
        assert_eq!(links.next_30, "/admin/subscriptions?vence=30&estado=active");
    }

    #[test]
    fn the_window_is_the_last_30_days_past_their_grace() {
        assert_eq!(renewal_window(d(11, 25)), (d(10, 23), d(11, 21)));
    }

    #[test]
    fn renewal_rate_counts_early_and_grace_renewals_only() {
        let tz: Tz = "America/Guayaquil".parse().unwrap();
        // 02:00 UTC on Nov 14 is still Nov 13 in Ecuador.
        let local_13th = Utc.with_ymd_and_hms(2026, 11, 14, 2, 0, 0).unwrap();
        let renewals = [
            // Early: renewed Nov 1 for Nov 10.
            renewal(
                1,
                d(11, 10),
                Utc.with_ymd_and_hms(2026, 11, 1, 15, 0, 0).unwrap(),
                false,
            ),
            // Last day of grace (local date): Nov 10 + 3 = Nov 13.
            renewal(2, d(11, 10), local_13th, false),
            // Late: Nov 14 local.
            renewal(
                3,
                d(11, 10),
                Utc.with_ymd_and_hms(2026, 11, 14, 15, 0, 0).unwrap(),
                false,
            ),
            // Undone: ignored (the subscription shows its old date again).
            renewal(
                4,
                d(11, 12),
                Utc.with_ymd_and_hms(2026, 11, 12, 15, 0, 0).unwrap(),
                true,
            ),
        ];
        let current = [
            DueSubscription {
                id: 4,
                end_date: d(11, 12),
                status: crate::store::SubscriptionStatus::Active,
            },
            DueSubscription {
                id: 5,
                end_date: d(11, 5),
                status: crate::store::SubscriptionStatus::Cancelled,
            },
        ];
        let rate = renewal_rate(&renewals, &current, tz);
        assert_eq!(rate, RenewalRate { renewed: 2, due: 5 });
        assert_eq!(rate.percent(), Some(40));
        assert_eq!(RenewalRate { renewed: 2, due: 3 }.percent(), Some(67));
        assert_eq!(RenewalRate { renewed: 0, due: 0 }.percent(), None);
    }
}
