//! `/admin/messages.csv`: the messages log with the page's filters (text
//! search included), newest first, as a CSV a spreadsheet opens safely:
//! UTF-8 with a byte order mark, CRLF lines, and every text cell that a
//! spreadsheet would run as a formula prefixed with `'`
//! (`import::export::spreadsheet_safe`).

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use chrono_tz::Tz;

use super::message_filter::MessagesQuery;
use super::messages::{kind_label, label};
use super::{CurrentUser, audit, i18n};
use crate::domain::Locale;
use crate::domain::clock::local_today;
use crate::import::spreadsheet_safe;
use crate::store::MessageLogRow;
use crate::web::{WebError, WebResult, WebState};

/// Most rows one download holds (newest first).
pub const MAX_ROWS: i64 = 50_000;

/// The CSV bytes of `rows`, labels in `locale`, times local to `tz`.
pub fn write_csv(rows: &[MessageLogRow], locale: Locale, tz: Tz) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer("\u{FEFF}".as_bytes().to_vec());
    let header: Vec<String> = [
        "ops_col_time",
        "ops_col_direction",
        "ops_col_phone",
        "msglog.client",
        "ops_col_kind",
        "ops_col_status",
        "ops_col_attempts",
        "ops_col_body",
        "ops_col_error",
    ]
    .iter()
    .map(|key| i18n::text(locale, key))
    .collect();
    writer.write_record(&header)?;
    for row in rows {
        let m = &row.message;
        let time = m.created_at.with_timezone(&tz).format("%Y-%m-%d %H:%M");
        writer.write_record([
            time.to_string().as_str(),
            &label(locale, "ops_direction_", m.direction.as_str()),
            &spreadsheet_safe(m.phone.as_str()),
            &spreadsheet_safe(row.client_name.as_deref().unwrap_or("")),
            &kind_label(locale, m.direction, m.kind),
            &label(locale, "ops_status_", m.status.as_str()),
            &m.attempts.to_string(),
            &spreadsheet_safe(&m.body),
            &spreadsheet_safe(m.error.as_deref().unwrap_or("")),
        ])?;
    }
    writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}

/// `GET /admin/messages.csv?…`: bad filters go back to the log, which
/// says what is wrong.
pub async fn export(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(query): Query<MessagesQuery>,
) -> WebResult {
    let services = &state.services;
    let config = &services.config;
    let Ok(search) = query.search(config.default_region, config.timezone) else {
        let back = query.pager_base();
        return Ok(Redirect::to(back.trim_end_matches(['&', '?'])).into_response());
    };
    let rows = services.store.message_log_rows(&search, MAX_ROWS).await?;
    let bytes = write_csv(&rows, config.locale, config.timezone)
        .map_err(|e| WebError::Internal(format!("messages csv: {e}")))?;
    let count = i18n::plural(config.locale, "count.messages", rows.len());
    let filters = query.pager_base();
    let detail = format!(
        "{count}; {}",
        filters
            .trim_start_matches("/admin/messages?")
            .trim_end_matches('&')
    );
    audit(
        &state,
        &user,
        "messages.export",
        detail.trim_end_matches("; "),
    )
    .await;
    let today = local_today(services.clock.as_ref(), config.timezone);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"avisa-mensajes-{today}.csv\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Direction, MessageKind, MessageRow, MessageStatus};
    use chrono::{TimeZone, Utc};

    #[test]
    fn formulas_become_text_and_customers_are_labelled() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 15, 4, 0).unwrap();
        let message = MessageRow {
            id: 1,
            direction: Direction::In,
            phone: crate::domain::Phone::from_e164("+593991234567".to_string()).unwrap(),
            client_id: Some(3),
            kind: MessageKind::Reply,
            body: "=HYPERLINK(\"http://x\",\"y\")".into(),
            template_args: None,
            sent_template: None,
            outside_window: false,
            media_kind: None,
            status: MessageStatus::Processed,
            automatic: false,
            priority: 1,
            provider_message_id: None,
            wa_message_id: None,
            attempts: 0,
            error: None,
            permanent_failure: false,
            next_attempt_at: None,
            created_at: now,
            updated_at: now,
            sent_at: None,
            rate_limits: 0,
            media_id: None,
            sent_by: None,
        };
        let row = MessageLogRow {
            message,
            client_name: Some("@Ana".into()),
        };
        let tz: Tz = "America/Guayaquil".parse().unwrap();
        let bytes = write_csv(&[row], Locale::Es, tz).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let line = text.lines().nth(1).unwrap();
        assert!(
            line.starts_with("2026-11-25 10:04,Entrante,'+593991234567,'@Ana,Cliente,"),
            "{line}"
        );
        assert!(
            line.contains("\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""),
            "{line}"
        );
    }
}
