//! `/admin/messages`: the message log (both directions) with filters and
//! paging, and "Reintentar" for a failed outbound message.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use chrono::{DateTime, Utc};
use minijinja::context;
use serde::Serialize;

use super::message_filter::{DIRECTIONS, KINDS, MessagesQuery, STATUSES};
use super::{CurrentUser, audit, i18n, pages};
use crate::domain::Locale;
use crate::jobs::retry::retry_failed;
use crate::store::{Direction, MessageKind, MessageLogRow, MessageRow, MessageStatus};
use crate::web::{Id, WebResult, WebState};

pub const PAGE_SIZE: i64 = 50;
/// Bodies longer than this show a preview and the full text in `<details>`.
pub const BODY_PREVIEW_CHARS: usize = 80;

/// One row of the table, labels already translated.
#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub direction: String,
    pub direction_label: String,
    pub phone: String,
    pub client_id: Option<i64>,
    pub client_name: Option<String>,
    pub kind_label: String,
    pub status: String,
    pub status_label: String,
    pub attempts: i32,
    pub preview: String,
    pub truncated: bool,
    pub body: String,
    pub error: Option<String>,
    pub can_retry: bool,
}

/// The label of `value` under `prefix` (`ops_status_sent`), or the value.
pub fn label(locale: Locale, prefix: &str, value: &str) -> String {
    i18n::lookup(locale, &format!("{prefix}{value}"))
        .unwrap_or(value)
        .to_string()
}

/// The kind in words; a customer's own message is "Cliente", not the
/// "Respuesta" its kind (`reply`: the conversation) would say.
pub fn kind_label(locale: Locale, direction: Direction, kind: MessageKind) -> String {
    if direction == Direction::In && kind == MessageKind::Reply {
        return i18n::text(locale, "msglog.from_customer");
    }
    label(locale, "ops_kind_", kind.as_str())
}

/// A log row with its client's name.
pub fn log_view(row: MessageLogRow, locale: Locale) -> MessageView {
    MessageView {
        client_name: row.client_name,
        ..view(row.message, locale)
    }
}

pub fn view(message: MessageRow, locale: Locale) -> MessageView {
    let truncated = message.body.chars().count() > BODY_PREVIEW_CHARS;
    let preview = if truncated {
        let cut: String = message.body.chars().take(BODY_PREVIEW_CHARS).collect();
        format!("{}…", cut.trim_end())
    } else {
        message.body.clone()
    };
    MessageView {
        id: message.id,
        created_at: message.created_at,
        direction_label: label(locale, "ops_direction_", message.direction.as_str()),
        // An unknown outcome (killed or timed out mid-request) is never resent
        // automatically; staff decide after checking the customer's phone.
        can_retry: message.direction == Direction::Out
            && matches!(
                message.status,
                MessageStatus::Failed | MessageStatus::Unknown
            ),
        direction: message.direction.to_string(),
        phone: message.phone.to_string(),
        client_id: message.client_id,
        client_name: None,
        kind_label: kind_label(locale, message.direction, message.kind),
        status_label: label(locale, "ops_status_", message.status.as_str()),
        status: message.status.to_string(),
        attempts: message.attempts,
        preview,
        truncated,
        body: message.body,
        error: message.error,
    }
}

/// (value, label) pairs for a `<select>`.
fn options(locale: Locale, prefix: &str, values: &[&str]) -> Vec<(String, String)> {
    values
        .iter()
        .map(|v| (v.to_string(), label(locale, prefix, v)))
        .collect()
}

pub async fn show(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(query): Query<MessagesQuery>,
) -> WebResult {
    let config = &state.services.config;
    let locale = config.locale;
    let form = context! {
        values => &query,
        kinds => options(locale, "ops_kind_", &KINDS),
        statuses => options(locale, "ops_status_", &STATUSES),
        directions => options(locale, "ops_direction_", &DIRECTIONS),
    };
    let filter = match query.search(config.default_region, config.timezone) {
        Ok(filter) => filter,
        Err(errors) => {
            let errors: BTreeMap<&str, String> = errors
                .into_iter()
                .map(|(field, key)| (field, i18n::text(locale, key)))
                .collect();
            let page = context! {
                errors => errors, rows => Vec::<MessageView>::new(), total => 0, more => false,
                media => BTreeMap::<i64, ()>::new(),
                page => 1, pages => 1, pager_base => query.pager_base(),
                csv_href => query.csv_href(),
            };
            return Ok(pages::render_status(
                &state,
                StatusCode::UNPROCESSABLE_ENTITY,
                "messages.html",
                Some(&user),
                minijinja::value::merge_maps([page, form]),
            ));
        }
    };
    let store = &state.services.store;
    let mut page = query.page();
    let mut result = store
        .message_log_search(&filter, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        .await?;
    let pages_count = ((result.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    if page > pages_count {
        page = pages_count;
        result = store
            .message_log_search(&filter, PAGE_SIZE, (page - 1) * PAGE_SIZE)
            .await?;
    }
    let with_files: Vec<i64> = result
        .rows
        .iter()
        .filter(|m| m.message.media_id.is_some())
        .map(|m| m.message.id)
        .collect();
    let media = crate::web::media::files_of(&state.services, &with_files).await?;
    let rows: Vec<MessageView> = result
        .rows
        .into_iter()
        .map(|m| log_view(m, locale))
        .collect();
    let page_ctx = context! {
        errors => BTreeMap::<String, String>::new(),
        rows => rows,
        media => media,
        total => result.total,
        more => result.more,
        page => page,
        pages => pages_count,
        pager_base => query.pager_base(),
        csv_href => query.csv_href(),
    };
    Ok(pages::render(
        &state,
        "messages.html",
        &user,
        minijinja::value::merge_maps([page_ctx, form]),
    ))
}

pub async fn retry(State(state): State<WebState>, user: CurrentUser, Id(id): Id) -> WebResult {
    if retry_failed(&state.services, id).await? {
        let locale = state.services.config.locale;
        let detail = i18n::format(locale, "audit.message", &[("id", &id)]);
        audit(&state, &user, "message.retry", &detail).await;
        Ok(Redirect::to("/admin/messages?status=failed&notice=ops_notice_retried").into_response())
    } else {
        Ok(Redirect::to("/admin/messages?notice=ops_notice_not_retried").into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn long_bodies_are_previewed() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap();
        let row = MessageRow {
            id: 1,
            direction: Direction::Out,
            phone: crate::domain::Phone::from_e164("+593991234567".into()).unwrap(),
            client_id: Some(3),
            kind: crate::store::MessageKind::Reminder,
            body: "á".repeat(100),
            template_args: None,
            sent_template: None,
            outside_window: false,
            media_kind: None,
            status: MessageStatus::Failed,
            automatic: true,
            priority: 1,
            provider_message_id: None,
            wa_message_id: None,
            attempts: 3,
            error: Some("HTTP 400".into()),
            permanent_failure: true,
            next_attempt_at: None,
            created_at: now,
            updated_at: now,
            sent_at: None,
            rate_limits: 0,
            media_id: None,
            sent_by: None,
        };
        let v = view(row, Locale::Es);
        assert!(v.truncated && v.can_retry);
        assert_eq!(v.preview.chars().count(), BODY_PREVIEW_CHARS + 1);
        assert_eq!(v.status_label, "Fallido");
        assert_eq!(v.kind_label, "Recordatorio");
        assert_eq!(
            kind_label(Locale::Es, Direction::In, crate::store::MessageKind::Reply),
            "Cliente"
        );
        assert_eq!(
            kind_label(Locale::En, Direction::Out, crate::store::MessageKind::Reply),
            "Reply"
        );
    }
}
