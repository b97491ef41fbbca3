//! `/admin/subscriptions` (Cobranza): every subscription, filtered (end
//! date, service, state, opted out) and sorted in the store
//! (`CollectionsStore`), 50 a page, each with its last reminder, the
//! client's last message and an open renewal request; the same list as a
//! CSV. Bulk actions on chosen rows are in `collections_bulk.rs`; the
//! filter form in `collection_filter.rs`.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::collection_filter::{Collections, CollectionsQuery, Due, SORTS, STATUSES};
use super::{CurrentUser, audit, i18n, pages};
use crate::domain::clock::local_today;
use crate::domain::{Locale, Money, short_date};
use crate::import::spreadsheet_safe;
use crate::store::CollectionRow;
use crate::web::{WebError, WebResult, WebState};

pub const PAGE_SIZE: i64 = 50;
/// Most rows a CSV download holds.
pub const CSV_MAX_ROWS: i64 = 100_000;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    #[serde(flatten)]
    filter: CollectionsQuery,
    /// `csv`: the filtered list as a file.
    format: String,
    /// After a bulk action: its notice key, how many rows it changed and
    /// how many it left out.
    notice: String,
    n: String,
    omitidas: String,
}

/// One row of the table: the store's row and what the page computes.
#[derive(Debug, Serialize)]
struct Line<'a> {
    #[serde(flatten)]
    row: &'a CollectionRow,
    /// Days from today to the end date (negative: overdue).
    days: i64,
    /// `-days` when overdue (templates cannot negate a keyword argument).
    days_overdue: i64,
    /// Days after the end date of the last reminder, when it came after.
    tier_after: i64,
    end_label: String,
    /// The open request names this subscription (so it can be confirmed
    /// here); else it is about the client in general.
    request_here: bool,
    /// The start of the last customer message, for the table.
    last_in_preview: String,
}

/// Characters of the last customer message the table shows (all of it,
/// up to the store's 120, in the cell's title).
const PREVIEW_CHARS: usize = 60;

fn preview(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars.by_ref().take(PREVIEW_CHARS).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// "1 de diciembre", with the year when it is not this year's.
pub fn end_label(end: NaiveDate, today: NaiveDate, locale: Locale) -> String {
    let date = short_date(end, locale);
    if end.year() == today.year() {
        date
    } else {
        let year = end.year();
        i18n::format(
            locale,
            "cobranza.date_with_year",
            &[("date", &date), ("year", &year)],
        )
    }
}

/// The notice a bulk action left in the address (`?notice=…&n=3`), with
/// its count; `None` for any other notice (the layout shows those).
fn bulk_notice(locale: Locale, query: &ListQuery) -> Option<String> {
    const KEYS: [&str; 4] = [
        "cobranza.notice_renewed",
        "cobranza.notice_reminded",
        "cobranza.notice_cancelled",
        "cobranza.notice_none",
    ];
    let key = KEYS.into_iter().find(|k| *k == query.notice)?;
    let n: u64 = query.n.trim().parse().unwrap_or(0);
    let mut text = i18n::plural(locale, key, n);
    let left_out: u64 = query.omitidas.trim().parse().unwrap_or(0);
    if left_out > 0 {
        text.push_str(" · ");
        text.push_str(&i18n::plural(locale, "cobranza.notice_left_out", left_out));
    }
    Some(text)
}

/// `GET /admin/subscriptions` (and `?format=csv`).
pub async fn list(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(query): Query<ListQuery>,
) -> WebResult {
    let wanted = Collections::parse(&query.filter);
    if query.format.trim() == "csv" {
        return csv(&state, &user, &wanted).await;
    }
    let services = &state.services;
    let locale = services.config.locale;
    let today = local_today(services.clock.as_ref(), services.config.timezone);
    let filter = wanted.filter(today);
    let store = services.store.as_ref();
    let offset = |page: i64| (page - 1).saturating_mul(PAGE_SIZE);
    let mut found = store
        .collection_page(&filter, PAGE_SIZE, offset(wanted.page))
        .await?;
    let pages_count = ((found.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let page = wanted.page.min(pages_count);
    if page != wanted.page {
        found = store
            .collection_page(&filter, PAGE_SIZE, offset(page))
            .await?;
    }
    let lines: Vec<Line<'_>> = found
        .rows
        .iter()
        .map(|row| Line {
            row,
            days: (row.end_date - today).num_days(),
            days_overdue: (today - row.end_date).num_days().max(0),
            tier_after: row.reminder_tier.map_or(0, |t| -i64::from(t.min(0))),
            end_label: end_label(row.end_date, today, locale),
            request_here: row.request_subscription_id == Some(row.id),
            last_in_preview: preview(row.last_in_body.as_deref().unwrap_or("")),
        })
        .collect();
    let shown = Collections {
        page,
        ..wanted.clone()
    };
    let dues: Vec<&str> = Due::ALL.iter().map(|d| d.code()).collect();
    let page_context = context! {
        rows => lines, total => found.total, page => page, pages => pages_count,
        base => wanted.pager_base(), csv => wanted.csv_path(), back => shown.back_path(),
        back_encoded => super::session::encode_component(&shown.back_path()),
        values => wanted.values(), services => store.services_with_counts().await?,
        dues => dues, statuses => STATUSES, sorts => SORTS, months => (1..=12).collect::<Vec<u32>>(),
    };
    let context = match bulk_notice(locale, &query) {
        Some(notice) => minijinja::value::merge_maps([page_context, context! { notice => notice }]),
        None => page_context,
    };
    Ok(pages::render(&state, "collections.html", &user, context))
}

/// `GET /admin/subscriptions.csv`: the same filter and order.
pub async fn csv_download(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(query): Query<CollectionsQuery>,
) -> WebResult {
    csv(&state, &user, &Collections::parse(&query)).await
}

async fn csv(state: &WebState, user: &CurrentUser, wanted: &Collections) -> WebResult {
    let services = &state.services;
    let config = &services.config;
    let today = local_today(services.clock.as_ref(), config.timezone);
    let found = services
        .store
        .collection_page(&wanted.filter(today), CSV_MAX_ROWS, 0)
        .await?;
    let bytes = write_csv(&found.rows, today, config.locale, config.timezone)
        .map_err(|e| WebError::Internal(format!("collections csv: {e}")))?;
    let lines = i18n::plural(config.locale, "cobranza.audit_rows", found.rows.len());
    let detail = format!("{lines} · {}", wanted.list_path());
    audit(state, user, "collections.export", &detail).await;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"avisa-cobranza-{today}.csv\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}

/// The CSV columns' wording keys.
const CSV_COLUMNS: [&str; 14] = [
    "cobranza.col_client",
    "cobranza.col_phone",
    "cobranza.col_service",
    "cobranza.col_end_date",
    "cobranza.col_days",
    "cobranza.col_price",
    "cobranza.col_state",
    "cobranza.col_opted_out",
    "cobranza.col_reminder_tier",
    "cobranza.col_reminder_status",
    "cobranza.col_reminder_at",
    "cobranza.col_last_message",
    "cobranza.col_last_message_at",
    "cobranza.col_request",
];

/// Columns written as they are: end date, days, price, tier, times.
const NUMERIC_CELLS: [usize; 6] = [3, 4, 5, 8, 10, 12];

/// The rows as CSV (UTF-8 with a byte order mark, CRLF), every text cell
/// spreadsheet-safe (`import::spreadsheet_safe`): a name like
/// `=HYPERLINK(…)` stays text.
pub fn write_csv(
    rows: &[CollectionRow],
    today: NaiveDate,
    locale: Locale,
    tz: Tz,
) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer("\u{FEFF}".as_bytes().to_vec());
    let header: Vec<String> = CSV_COLUMNS
        .iter()
        .map(|key| i18n::text(locale, key))
        .collect();
    writer.write_record(&header)?;
    let yes_no = |flag: bool| i18n::text(locale, if flag { "cobranza.yes" } else { "cobranza.no" });
    let at = |time: Option<DateTime<Utc>>| {
        time.map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    };
    for row in rows {
        let price = Money::from_cents(row.price_cents).to_string();
        let cells = [
            row.client_name.clone(),
            row.phone.clone(),
            row.service.clone(),
            row.end_date.format("%Y-%m-%d").to_string(),
            (row.end_date - today).num_days().to_string(),
            price.trim_start_matches('$').to_string(),
            i18n::text(locale, &format!("sub_state_{}", row.status)),
            yes_no(row.opted_out_at.is_some()),
            row.reminder_tier.map(|t| t.to_string()).unwrap_or_default(),
            row.reminder_status
                .as_deref()
                .map(|s| i18n::text(locale, &format!("ops_status_{s}")))
                .unwrap_or_default(),
            at(row.reminder_at),
            row.last_in_body.clone().unwrap_or_default(),
            at(row.last_in_at),
            yes_no(row.request_id.is_some()),
        ];
        // Numbers and dates as they are (`-1` days is a number); text made safe.
        writer.write_record(cells.iter().enumerate().map(|(i, cell)| {
            if NUMERIC_CELLS.contains(&i) {
                cell.clone()
            } else {
                spreadsheet_safe(cell).into_owned()
            }
        }))?;
    }
    writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn row(name: &str) -> CollectionRow {
        CollectionRow {
            id: 1,
            client_id: 1,
            client_name: name.into(),
            phone: "+593991234567".into(),
            opted_out_at: None,
            service_id: 1,
            service: "Netflix".into(),
            end_date: d(2026, 11, 24),
            price_cents: 158_405,
            status: "active".into(),
            reminder_tier: Some(3),
            reminder_status: Some("sent".into()),
            reminder_at: Some(
                DateTime::parse_from_rfc3339("2026-11-21T14:00:00Z")
                    .unwrap()
                    .to_utc(),
            ),
            last_in_body: Some("@SUM(1)".into()),
            last_in_at: None,
            request_id: Some(4),
            request_subscription_id: Some(1),
        }
    }

    #[test]
    fn end_dates_show_the_year_only_when_it_is_not_this_one() {
        let today = d(2026, 11, 25);
        assert_eq!(
            end_label(d(2026, 12, 1), today, Locale::Es),
            "1 de diciembre"
        );
        assert_eq!(
            end_label(d(2027, 1, 10), today, Locale::Es),
            "10 de enero de 2027"
        );
        assert_eq!(
            end_label(d(2027, 1, 10), today, Locale::En),
            "January 10, 2027"
        );
    }

    #[test]
    fn csv_cells_are_spreadsheet_safe_and_in_the_list_order() {
        let tz: Tz = "America/Guayaquil".parse().unwrap();
        let rows = [row("=HYPERLINK(\"http://x\")"), row("José O'Brien <b>")];
        let bytes = write_csv(&rows, d(2026, 11, 25), Locale::Es, tz).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.trim_start_matches('\u{FEFF}').lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("Cliente,"), "{}", lines[0]);
        assert!(lines[1].starts_with("\"'=HYPERLINK(\"\"http://x\"\")\",'+593991234567,Netflix,2026-11-24,-1,1584.05,activa,no,3,Enviado,2026-11-21 09:00,'@SUM(1),,sí"), "{}", lines[1]);
        assert!(lines[2].starts_with("José O'Brien <b>,"), "{}", lines[2]);
    }

    #[test]
    fn a_bulk_notice_counts_with_real_plurals() {
        let query = |notice: &str, n: &str, left: &str| ListQuery {
            notice: notice.into(),
            n: n.into(),
            omitidas: left.into(),
            ..ListQuery::default()
        };
        let es = Locale::Es;
        assert_eq!(
            bulk_notice(es, &query("cobranza.notice_renewed", "3", "")).as_deref(),
            Some("3 suscripciones renovadas")
        );
        assert_eq!(
            bulk_notice(es, &query("cobranza.notice_renewed", "1", "")).as_deref(),
            Some("1 suscripción renovada")
        );
        let reminded = bulk_notice(es, &query("cobranza.notice_reminded", "2", "1")).unwrap();
        assert!(
            reminded.starts_with("2 recordatorios en cola · 1 "),
            "{reminded}"
        );
        assert_eq!(
            bulk_notice(es, &query("notice_client_created", "3", "")),
            None
        );
    }
}
