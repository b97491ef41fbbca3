//! `/admin/clients/{id}`: the client, their subscriptions with the renew,
//! edit, cancel and delete actions, the add-subscription form, renewal
//! history and the whole conversation (in and out, with statuses).

use axum::extract::State;
use axum::http::StatusCode;
use minijinja::context;
use serde::Serialize;

use super::forms::{self, Errors, SubscriptionForm, found};
use super::renewals::{MONTHS, UNDO_MINUTES, method_label, method_options};
use super::{CurrentUser, pages};
use crate::chat::today;
use crate::domain::days_left;
use crate::store::{RenewalEntry, SubscriptionView};
use crate::web::{Id, WebResult, WebState};

/// Messages shown in the conversation, newest first.
pub const CONVERSATION_LIMIT: i64 = 300;
/// Renewals shown in the history.
pub const HISTORY_LIMIT: i64 = 100;

#[derive(Debug, Serialize)]
struct SubscriptionItem {
    #[serde(flatten)]
    view: SubscriptionView,
    days_left: i64,
    /// Days since the end date (0 until it has passed), so templates never
    /// negate a number themselves.
    days_overdue: i64,
    /// `active`, `expired` (active, end date passed) or `cancelled`.
    state: &'static str,
}

/// A history row: what was paid, in words, and whether it may be undone
/// now (the subscription's newest renewal, at most `UNDO_MINUTES` old).
#[derive(Debug, Serialize)]
struct HistoryItem {
    #[serde(flatten)]
    entry: RenewalEntry,
    method_label: Option<String>,
    undoable: bool,
}

/// Newest first: the first entry not undone of each subscription is its
/// newest renewal.
fn history_items(
    entries: Vec<RenewalEntry>,
    since: chrono::DateTime<chrono::Utc>,
    locale: crate::domain::Locale,
) -> Vec<HistoryItem> {
    let mut seen = std::collections::HashSet::new();
    entries
        .into_iter()
        .map(|entry| {
            let newest = entry.undone_at.is_none() && seen.insert(entry.subscription_id);
            HistoryItem {
                undoable: newest && entry.created_at >= since,
                method_label: entry
                    .payment_method
                    .as_deref()
                    .map(|m| method_label(locale, m)),
                entry,
            }
        })
        .collect()
}

pub async fn show(State(state): State<WebState>, user: CurrentUser, Id(id): Id) -> WebResult {
    let empty = SubscriptionForm::default();
    page(&state, &user, id, StatusCode::OK, &empty, &Errors::new()).await
}

/// The client page, with the add-subscription form holding `form` and its
/// `errors` (status 422 after a rejected add).
pub async fn page(
    state: &WebState,
    user: &CurrentUser,
    id: i64,
    status: StatusCode,
    form: &SubscriptionForm,
    errors: &Errors,
) -> WebResult {
    let services = &state.services;
    let store = &services.store;
    let client = found(store.client(id).await)?;
    let subs = store.subscriptions_of_client(id).await?;
    let locale = services.config.locale;
    let since = services.clock.now() - chrono::Duration::minutes(UNDO_MINUTES);
    let history = history_items(
        store.renewal_history(id, HISTORY_LIMIT).await?,
        since,
        locale,
    );
    let request = store.open_request_for_client(id).await?;
    let messages = store
        .messages_for_phone(client.phone.as_str(), CONVERSATION_LIMIT)
        .await?;
    let with_files: Vec<i64> = messages
        .iter()
        .filter(|m| m.media_id.is_some())
        .map(|m| m.id)
        .collect();
    let media = crate::web::media::files_of(services, &with_files).await?;
    let service_list = store.services_with_counts().await?;
    let (links, payments) = super::payments::rows_of_client(services, id).await?;
    let today = today(services);
    let subs: Vec<SubscriptionItem> = subs
        .into_iter()
        .map(|view| {
            let left = days_left(view.end_date, today);
            let state = match (view.is_active(), left < 0) {
                (false, _) => "cancelled",
                (true, true) => "expired",
                (true, false) => "active",
            };
            SubscriptionItem {
                view,
                days_left: left,
                days_overdue: (-left).max(0),
                state,
            }
        })
        .collect();
    Ok(pages::render_status(
        state,
        status,
        "client.html",
        Some(user),
        context! { client => client, subs => subs, history => history, messages => messages,
        services => service_list, form => form,
        errors => forms::messages(services.config.locale, errors),
        months => MONTHS.collect::<Vec<_>>(), methods => method_options(locale),
        request => request, undo_minutes => UNDO_MINUTES, media => media,
        handoff_hours => services.config.handoff_hours, links => links, payments => payments },
    ))
}
