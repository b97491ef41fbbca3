//! `avisa remind`: plan a day and send its reminders now, waiting for retries,
//! then report per tier. Quiet hours and pause do not apply: an operator asked.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use super::plan::{PlanReport, plan_day};
use super::send::{Delivery, Hold, Mode, deliver};
use crate::domain::Locale;
use crate::i18n;
use crate::services::{JobError, Services};
use crate::store::{MessageStatus, PlannedMessage};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TierResult {
    pub sent: u64,
    pub failed: u64,
    pub held: u64,
    /// The request may have reached WhatsApp (timeout, connection lost):
    /// not resent; staff can check and retry from the panel.
    pub unknown: u64,
}

#[derive(Debug, Clone)]
pub struct RemindOutcome {
    pub plan: PlanReport,
    /// Per tier (reminders, not messages).
    pub tiers: BTreeMap<i32, TierResult>,
    /// Set when the provider rejected the API key; sending stopped there.
    pub auth_error: Option<String>,
    /// For `--dry-run`: what would be sent.
    pub preview: Vec<PlannedMessage>,
}

/// Progress callback: (messages finished, messages total).
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

pub async fn run(
    s: &Services,
    date: NaiveDate,
    dry_run: bool,
    progress: Progress<'_>,
) -> Result<RemindOutcome, JobError> {
    let (plan, planned) = plan_day(s, date, false, dry_run).await?;
    let mut tiers: BTreeMap<i32, TierResult> = s
        .config
        .reminder_days
        .as_slice()
        .iter()
        .map(|t| (*t, TierResult::default()))
        .collect();
    if dry_run {
        return Ok(RemindOutcome {
            plan,
            tiers,
            auth_error: None,
            preview: planned,
        });
    }
    let mut tiers_of: HashMap<i64, Vec<i32>> = plan
        .message_ids
        .iter()
        .zip(&planned)
        .map(|(id, message)| (*id, message.reminders.iter().map(|(k, _)| k.tier).collect()))
        .collect();
    let mut waiting: VecDeque<(i64, Option<DateTime<Utc>>)> =
        plan.message_ids.iter().map(|id| (*id, None)).collect();
    // The day's reminders an earlier run planned and did not send (it was
    // killed, or stopped by a rejected API key): this run sends them too,
    // so `remind` from a system cron is complete without `serve`.
    for (id, tier) in s.store.queued_reminders_planned_on(date).await? {
        let tiers = tiers_of.entry(id).or_default();
        if tiers.is_empty() {
            waiting.push_back((id, None));
        }
        if !tiers.contains(&tier) {
            tiers.push(tier);
        }
    }
    let total = waiting.len();
    let mut finished = 0;
    let mut auth_error = None;
    let record = |tiers: &mut BTreeMap<i32, TierResult>, id: i64, f: fn(&mut TierResult)| {
        for tier in tiers_of.get(&id).into_iter().flatten() {
            f(tiers.entry(*tier).or_default());
        }
    };
    progress(0, total);
    while !waiting.is_empty() {
        let now = s.clock.now();
        let ready = waiting
            .iter()
            .position(|(_, at)| at.is_none_or(|at| at <= now));
        let Some(index) = ready else {
            let next = waiting
                .iter()
                .filter_map(|(_, at)| *at)
                .min()
                .unwrap_or(now);
            let wait = (next - now)
                .to_std()
                .unwrap_or_default()
                .max(Duration::from_millis(10));
            tokio::time::sleep(wait.min(Duration::from_secs(5))).await;
            continue;
        };
        let Some((id, _)) = waiting.remove(index) else {
            continue;
        };
        match deliver(s, id, Mode::Operator).await? {
            Delivery::RetryAt(at) => {
                waiting.push_back((id, Some(at)));
                continue;
            }
            Delivery::Sent => record(&mut tiers, id, |t| t.sent += 1),
            Delivery::Unknown => record(&mut tiers, id, |t| t.unknown += 1),
            Delivery::Failed { .. } | Delivery::NotPending => {
                // NotPending: another process (a running `serve`) took it; report its end state.
                match s.store.message(id).await?.map(|m| m.status) {
                    Some(status) if status.is_sent() => record(&mut tiers, id, |t| t.sent += 1),
                    Some(MessageStatus::Unknown) => record(&mut tiers, id, |t| t.unknown += 1),
                    _ => record(&mut tiers, id, |t| t.failed += 1),
                }
            }
            Delivery::Held(Hold::SessionDown) | Delivery::Held(_) => {
                record(&mut tiers, id, |t| t.held += 1)
            }
            Delivery::AuthRejected(error) => {
                record(&mut tiers, id, |t| t.failed += 1);
                auth_error = Some(error);
                for (rest, _) in waiting.drain(..) {
                    record(&mut tiers, rest, |t| t.held += 1);
                }
            }
        }
        finished += 1;
        progress(finished, total);
    }
    Ok(RemindOutcome {
        plan,
        tiers,
        auth_error,
        preview: Vec::new(),
    })
}

/// The report printed at the end, like the old system's per-tier summary,
/// in `locale`.
pub fn table(outcome: &RemindOutcome, locale: Locale) -> String {
    let t = |key: &str| i18n::text(locale, key);
    let mut out = i18n::format(locale, "remind.title", &[("date", &outcome.plan.date)]);
    out.push('\n');
    out.push_str(&format!(
        "{:<10} {:>8} {:>8} {:>8} {:>8} {:>8}\n",
        t("remind.tier"),
        t("remind.planned"),
        t("remind.sent"),
        t("remind.failed"),
        t("remind.held"),
        t("remind.unknown")
    ));
    let mut totals = (0, 0, 0, 0, 0);
    for (tier, result) in outcome.tiers.iter().rev() {
        let planned = outcome.plan.planned.get(tier).copied().unwrap_or(0);
        let label = match tier {
            0 => t("remind.tier_today"),
            t if *t < 0 => i18n::format(locale, "remind.tier_overdue", &[("n", t)]),
            t => i18n::plural(locale, "remind.tier_days", t),
        };
        out.push_str(&format!(
            "{label:<10} {planned:>8} {:>8} {:>8} {:>8} {:>8}\n",
            result.sent, result.failed, result.held, result.unknown
        ));
        totals = (
            totals.0 + planned,
            totals.1 + result.sent,
            totals.2 + result.failed,
            totals.3 + result.held,
            totals.4 + result.unknown,
        );
    }
    out.push_str(&format!(
        "{:<10} {:>8} {:>8} {:>8} {:>8} {:>8}\n",
        t("remind.total"),
        totals.0,
        totals.1,
        totals.2,
        totals.3,
        totals.4
    ));
    for (key, n) in [
        ("remind.skipped", outcome.plan.skipped),
        ("remind.already", outcome.plan.already_sent),
    ] {
        out.push_str(&i18n::format(locale, key, &[("n", &n)]));
        out.push('\n');
    }
    if let Some(error) = &outcome.auth_error {
        out.push_str(&i18n::format(locale, "remind.stopped", &[("error", error)]));
        out.push('\n');
    }
    out
}
