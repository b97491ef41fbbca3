//! `/admin/operations`: pause/resume automatic reminders (the same setting
//! as `avisa pause`), plan and queue today's reminders (what
//! `POST /cron/notifications` does), the settings in force with secrets
//! masked, the WhatsApp session state, and pending renewal requests with
//! "Confirmar" (the renewal form of `renewals.rs`).

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::config_view::settings_lines;
use super::{CurrentUser, audit, i18n, pages};
use crate::domain::Locale;
use crate::domain::clock::local_today;
use crate::jobs::plan::plan_and_queue;
use crate::store;
use crate::web::whatsapp_state::WhatsAppState;
use crate::web::{WebResult, WebState};

/// "7 días antes" / "el día del vencimiento" / "2 días después".
pub fn tier_label(locale: Locale, tier: i32) -> String {
    match tier {
        0 => i18n::text(locale, "ops_tier_day"),
        t if t > 0 => i18n::plural(locale, "ops_tier_before", t),
        t => i18n::plural(locale, "ops_tier_after", t.unsigned_abs()),
    }
}

/// The last run's counts, carried in the redirect: `planned=7:1,3:0`.
#[derive(Debug, Default, Deserialize)]
pub struct RunQuery {
    run: Option<String>,
    #[serde(default)]
    planned: String,
    #[serde(default)]
    skipped: u64,
    #[serde(default)]
    already: u64,
}

#[derive(Debug, Serialize)]
struct TierCount {
    label: String,
    count: u64,
}

/// Tier counts as the redirect carries them: `7:1,3:0`, most days first.
pub fn format_planned(planned: &BTreeMap<i32, u64>) -> String {
    planned
        .iter()
        .rev()
        .map(|(tier, count)| format!("{tier}:{count}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `7:1,3:0` → tiers with counts, most days first; junk is ignored.
pub fn parse_planned(text: &str) -> Vec<(i32, u64)> {
    let mut out: Vec<(i32, u64)> = text
        .split(',')
        .filter_map(|pair| {
            let (tier, count) = pair.split_once(':')?;
            Some((tier.trim().parse().ok()?, count.trim().parse().ok()?))
        })
        .collect();
    out.sort_by_key(|pair| std::cmp::Reverse(pair.0));
    out
}

#[derive(Debug, Serialize)]
struct RequestView {
    id: i64,
    client_id: i64,
    client_name: String,
    phone: String,
    service: Option<String>,
    end_date: Option<chrono::NaiveDate>,
    price_cents: Option<i64>,
    receipt: bool,
    receipt_message_id: Option<i64>,
    created_at: chrono::DateTime<chrono::Utc>,
    can_confirm: bool,
}

pub async fn show(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(run): Query<RunQuery>,
) -> WebResult {
    let services = &state.services;
    let store = &services.store;
    let locale = services.config.locale;
    let paused = store.setting(store::SETTING_PAUSED).await?;
    let session_detail = store.setting(store::SETTING_SESSION_DOWN).await?;
    let whatsapp = WhatsAppState::read(services).await?;
    let provider = super::provider_view::read(services, services.config.timezone).await?;
    let requests = store.open_requests().await?;
    let requests: Vec<RequestView> = requests
        .into_iter()
        .map(|r| RequestView {
            id: r.id,
            client_id: r.client_id,
            client_name: r.client_name,
            phone: r.phone.to_string(),
            can_confirm: r.subscription_id.is_some(),
            service: r.service,
            end_date: r.end_date,
            price_cents: r.price_cents,
            receipt: r.receipt_message_id.is_some(),
            receipt_message_id: r.receipt_message_id,
            created_at: r.created_at,
        })
        .collect();
    let receipts: Vec<i64> = requests
        .iter()
        .filter_map(|r| r.receipt_message_id)
        .collect();
    let media = crate::web::media::files_of(services, &receipts).await?;
    let last_run = run.run.as_ref().map(|date| {
        let tiers: Vec<TierCount> = parse_planned(&run.planned)
            .into_iter()
            .map(|(tier, count)| TierCount {
                label: tier_label(locale, tier),
                count,
            })
            .collect();
        context! { date => date, tiers => tiers, skipped => run.skipped, already => run.already }
    });
    Ok(pages::render(
        &state,
        "operations.html",
        &user,
        context! {
            paused => paused.is_some(),
            paused_by => paused,
            whatsapp => whatsapp.code(),
            whatsapp_text => whatsapp.text(locale, services.config.timezone, services.clock.now()),
            session_detail => session_detail,
            provider => provider,
            quiet_hours => services.config.quiet_hours.is_some(),
            settings => settings_lines(&services.config),
            requests => requests,
            media => media,
            last_run => last_run,
        },
    ))
}

async fn set_paused(state: &WebState, user: &CurrentUser, pause: bool) -> WebResult {
    let services = &state.services;
    let by = format!("web:{}", user.email);
    services
        .store
        .set_setting(
            store::SETTING_PAUSED,
            pause.then_some(by.as_str()),
            services.clock.now(),
        )
        .await?;
    let (action, notice) = if pause {
        ("reminders.pause", "ops_notice_paused")
    } else {
        ("reminders.resume", "ops_notice_resumed")
    };
    audit(state, user, action, "").await;
    Ok(Redirect::to(&format!("/admin/operations?notice={notice}")).into_response())
}

pub async fn pause(State(state): State<WebState>, user: CurrentUser) -> WebResult {
    set_paused(&state, &user, true).await
}

pub async fn resume(State(state): State<WebState>, user: CurrentUser) -> WebResult {
    set_paused(&state, &user, false).await
}

/// "Ejecutar hoy": plans today's reminders and queues them, exactly what the
/// cron trigger does (automatic messages: pause and quiet hours still hold
/// them until the sending window).
pub async fn run(State(state): State<WebState>, user: CurrentUser) -> WebResult {
    let services = &state.services;
    let today = local_today(services.clock.as_ref(), services.config.timezone);
    let report = plan_and_queue(services, today, true).await?;
    let planned = format_planned(&report.planned);
    let detail = i18n::format(
        services.config.locale,
        "audit.run_detail",
        &[
            ("date", &today),
            ("planned", &planned),
            ("skipped", &report.skipped),
            ("already", &report.already_sent),
        ],
    );
    audit(&state, &user, "reminders.run", &detail).await;
    Ok(Redirect::to(&format!(
        "/admin/operations?notice=ops_notice_ran&run={today}&planned={planned}&skipped={}&already={}",
        report.skipped, report.already_sent
    ))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_read_as_days() {
        assert_eq!(tier_label(Locale::Es, 7), "7 días antes");
        assert_eq!(tier_label(Locale::Es, 1), "1 día antes");
        assert_eq!(tier_label(Locale::Es, 0), "el día del vencimiento");
        assert_eq!(tier_label(Locale::En, -2), "2 days after");
        assert_eq!(
            parse_planned("0:1,7:2,x:1,3:"),
            vec![(7, 2), (0, 1)],
            "junk ignored, most days first"
        );
    }

    #[test]
    fn planned_counts_are_formatted_for_the_redirect_and_read_back() {
        let planned = BTreeMap::from([(-3, 0), (0, 2), (3, 1), (10, 4)]);
        let text = format_planned(&planned);
        assert_eq!(text, "10:4,3:1,0:2,-3:0", "most days first, numerically");
        assert_eq!(
            parse_planned(&text),
            planned.into_iter().rev().collect::<Vec<_>>()
        );
    }
}
