//! `/admin/inbox` (Bandeja): conversations waiting for a person, the
//! longest waiting first, each with its last messages, the waiting time
//! and the receipt if any; "Resuelto" closes an entry and gives the chat
//! back to the bot.

use std::collections::HashMap;

use axum::extract::State;
use minijinja::context;
use serde::Serialize;

use super::forms::done;
use super::{CurrentUser, audit, pages};
use crate::chat::inbox::{reason_text, waited};
use crate::store::{InboxRow, MessageRow};
use crate::web::{Id, WebError, WebResult, WebState};

/// Entries shown on the page, the longest waiting (the count says how
/// many there are in all).
const PAGE_LIMIT: i64 = 50;
/// Messages shown under each entry.
const LAST_MESSAGES: i64 = 3;

#[derive(Debug, Serialize)]
struct Entry {
    #[serde(flatten)]
    row: InboxRow,
    reason_text: String,
    waited: String,
    /// Oldest first, so the entry reads like a chat.
    messages: Vec<MessageRow>,
}

/// GET /admin/inbox: two queries for the whole page (the entries with
/// their receipts, then every entry's last messages).
pub async fn show(State(state): State<WebState>, user: CurrentUser) -> WebResult {
    let services = &state.services;
    let store = &services.store;
    let locale = services.config.locale;
    let now = services.clock.now();
    let total = store.count_inbox().await?;
    let rows = store.inbox(PAGE_LIMIT).await?;
    let mut recent: HashMap<String, Vec<MessageRow>> = HashMap::new();
    for message in store.inbox_messages(LAST_MESSAGES, PAGE_LIMIT).await? {
        recent
            .entry(message.phone.as_str().to_string())
            .or_default()
            .push(message);
    }
    let entries: Vec<Entry> = rows
        .into_iter()
        .map(|row| Entry {
            reason_text: reason_text(locale, row.reason),
            waited: waited(locale, row.waiting_since, now),
            messages: recent.remove(row.phone.as_str()).unwrap_or_default(),
            row,
        })
        .collect();
    Ok(pages::render(
        &state,
        "inbox.html",
        &user,
        context! { entries => entries, total => total, shown => PAGE_LIMIT },
    ))
}

/// POST /admin/inbox/{id}/resolve: "Resuelto" — the entry is closed and a
/// takeover or handoff with that customer ends now.
pub async fn resolve(State(state): State<WebState>, user: CurrentUser, Id(id): Id) -> WebResult {
    let services = &state.services;
    let Some(entry) = services.store.inbox_entry(id).await? else {
        return Err(WebError::NotFound);
    };
    let resolved = services
        .store
        .resolve_inbox(id, &user.email, services.clock.now())
        .await?;
    if resolved.is_some() {
        let name = entry.client_name.as_deref().unwrap_or("-");
        let detail = format!("#{id} {name} ({})", entry.phone);
        audit(&state, &user, "inbox.resolve", &detail).await;
    }
    Ok(done("/admin/inbox", "inbox.notice_resolved"))
}
