//! `/admin/import` and `/admin/export.csv`: the customers CSV in and out.
//!
//! Import is two steps, like `avisa import --dry-run` then `avisa import`:
//! the upload is checked with the same parser (`import::parse_csv`) and the
//! counts of what would change are shown (`Store::preview_subscriptions`);
//! the file is kept server-side in the settings table under
//! `admin_import:<user id>` with a random token (one pending upload per
//! user, replaced by the next, deleted on confirm), and confirming writes
//! every row in one transaction (`Store::upsert_subscriptions`) or nothing.

use axum::extract::{Multipart, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::session::random_token;
use super::{CurrentUser, audit, i18n, pages};
use crate::domain::Locale;
use crate::domain::clock::local_today;
use crate::import::{ParsedImport, parse_csv, write_csv};
use crate::store::{NewSubscription, UpsertSummary};
use crate::web::{WebError, WebResult, WebState};

/// Largest upload accepted (the route's body limit).
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;

fn pending_key(user: &CurrentUser) -> String {
    format!("admin_import:{}", user.id)
}

/// `?done=1&rows=…` after a confirmed import (the summary survives the
/// redirect in the URL; it is display only).
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct DoneQuery {
    done: Option<u8>,
    #[serde(default)]
    rows: u64,
    #[serde(default)]
    clients_created: u64,
    #[serde(default)]
    clients_updated: u64,
    #[serde(default)]
    subscriptions_created: u64,
    #[serde(default)]
    subscriptions_updated: u64,
}

#[derive(Debug, Serialize)]
struct ErrorLine {
    line: usize,
    column: String,
    reason: String,
}

fn import_page(
    state: &WebState,
    user: &CurrentUser,
    status: StatusCode,
    context: Value,
) -> Response {
    // minijinja's merge_maps: the last map that has a key wins.
    let defaults = context! { stage => "form", fatal => Value::from(()), done => Value::from(()) };
    pages::render_status(
        state,
        status,
        "import.html",
        Some(user),
        minijinja::value::merge_maps([defaults, context]),
    )
}

pub async fn show(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(done): Query<DoneQuery>,
) -> Response {
    let done = done.done.is_some().then_some(&done);
    import_page(&state, &user, StatusCode::OK, context! { done => done })
}

/// Reads the `file` field of the upload.
async fn read_upload(mut multipart: Multipart) -> Result<Option<Vec<u8>>, String> {
    while let Some(field) = multipart.next_field().await.map_err(|e| e.to_string())? {
        if field.name() == Some("file") {
            let bytes = field.bytes().await.map_err(|e| e.to_string())?;
            return Ok(Some(bytes.to_vec()));
        }
    }
    Ok(None)
}

/// The page for a file that could not be read at all (header, encoding).
fn fatal(state: &WebState, user: &CurrentUser, message: String) -> WebResult {
    Ok(import_page(
        state,
        user,
        StatusCode::UNPROCESSABLE_ENTITY,
        context! { stage => "form", fatal => message },
    ))
}

fn rows_of(parsed: &ParsedImport) -> Vec<NewSubscription> {
    parsed
        .rows
        .iter()
        .map(crate::import::ImportRow::to_subscription)
        .collect()
}

/// The dry run: every error by line, or the counts and a confirm form.
pub async fn upload(
    State(state): State<WebState>,
    user: CurrentUser,
    multipart: Multipart,
) -> WebResult {
    let services = &state.services;
    let locale = services.config.locale;
    let bytes = match read_upload(multipart).await {
        Ok(Some(bytes)) if !bytes.is_empty() => bytes,
        Ok(_) => {
            return fatal(&state, &user, i18n::text(locale, "ops_import_no_file"));
        }
        Err(e) => return fatal(&state, &user, e),
    };
    let parsed = match parse_csv(&bytes, services.config.default_region) {
        Ok(parsed) => parsed,
        Err(e) => return fatal(&state, &user, e.render(locale)),
    };
    if parsed.has_no_data() {
        return fatal(&state, &user, i18n::text(locale, "ops_import_no_rows"));
    }
    if !parsed.is_clean() {
        let errors: Vec<ErrorLine> = parsed
            .errors
            .iter()
            .map(|e| ErrorLine {
                line: e.line,
                column: e.column(locale),
                reason: e.reason(locale),
            })
            .collect();
        return Ok(import_page(
            &state,
            &user,
            StatusCode::UNPROCESSABLE_ENTITY,
            context! {
                stage => "errors",
                valid => parsed.rows.len(),
                invalid => parsed.invalid_lines().len(),
                errors => errors,
            },
        ));
    }
    let rows = rows_of(&parsed);
    let preview = services.store.preview_subscriptions(&rows).await?;
    // Valid UTF-8: parse_csv rejects anything else.
    let text = String::from_utf8_lossy(&bytes);
    let token = random_token(16);
    let stored = format!("{token}\n{text}");
    services
        .store
        .set_setting(&pending_key(&user), Some(&stored), services.clock.now())
        .await?;
    Ok(import_page(
        &state,
        &user,
        StatusCode::OK,
        context! { stage => "preview", valid => rows.len(), summary => preview, token => token },
    ))
}

#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    token: String,
}

/// The audit detail of an import: "15 filas: clientes 14 nuevos, 0
/// actualizados; suscripciones 15 nuevas, 0 actualizadas".
fn summary_detail(locale: Locale, rows: usize, s: &UpsertSummary) -> String {
    i18n::format(
        locale,
        "audit.import_detail",
        &[
            ("rows", &i18n::plural(locale, "ops_import_rows", rows)),
            (
                "clients_created",
                &i18n::plural(locale, "ops_import_created_m", s.clients_created),
            ),
            (
                "clients_updated",
                &i18n::plural(locale, "ops_import_updated_m", s.clients_updated),
            ),
            (
                "subscriptions_created",
                &i18n::plural(locale, "ops_import_created_f", s.subscriptions_created),
            ),
            (
                "subscriptions_updated",
                &i18n::plural(locale, "ops_import_updated_f", s.subscriptions_updated),
            ),
        ],
    )
}

/// Imports the file shown in the dry run: all rows or none.
pub async fn confirm(
    State(state): State<WebState>,
    user: CurrentUser,
    axum::Form(form): axum::Form<ConfirmForm>,
) -> WebResult {
    let services = &state.services;
    let locale = services.config.locale;
    let key = pending_key(&user);
    let stored = services.store.setting(&key).await?;
    let text = match stored.as_deref().and_then(|s| s.split_once('\n')) {
        Some((token, text))
            if crate::web::secret_matches(token.as_bytes(), form.token.as_bytes()) =>
        {
            text.to_string()
        }
        _ => {
            return fatal(&state, &user, i18n::text(locale, "ops_import_expired"));
        }
    };
    let parsed = match parse_csv(text.as_bytes(), services.config.default_region) {
        Ok(parsed) => parsed,
        Err(e) => return fatal(&state, &user, e.render(locale)),
    };
    let rows = match parsed.into_result() {
        Ok(rows) => rows,
        Err(e) => return fatal(&state, &user, e.render(locale)),
    };
    let subscriptions: Vec<NewSubscription> = rows
        .iter()
        .map(crate::import::ImportRow::to_subscription)
        .collect();
    let summary = services
        .store
        .upsert_subscriptions(&subscriptions, services.clock.now())
        .await?;
    if let Err(e) = services
        .store
        .set_setting(&key, None, services.clock.now())
        .await
    {
        tracing::warn!(error = %e, "could not drop the confirmed upload");
    }
    audit(
        &state,
        &user,
        "import",
        &summary_detail(locale, rows.len(), &summary),
    )
    .await;
    Ok(Redirect::to(&format!(
        "/admin/import?done=1&rows={}&clients_created={}&clients_updated={}\
         &subscriptions_created={}&subscriptions_updated={}&notice=ops_notice_imported",
        rows.len(),
        summary.clients_created,
        summary.clients_updated,
        summary.subscriptions_created,
        summary.subscriptions_updated
    ))
    .into_response())
}

/// Every active subscription in the importer's format (see `import::export`).
pub async fn export(State(state): State<WebState>, user: CurrentUser) -> WebResult {
    let services = &state.services;
    let rows = services.store.export_rows().await?;
    let export = write_csv(&rows).map_err(|e| WebError::Internal(format!("export: {e}")))?;
    let today = local_today(services.clock.as_ref(), services.config.timezone);
    let locale = services.config.locale;
    let lines = i18n::plural(locale, "audit.export_lines", export.lines);
    let left_out = i18n::plural(locale, "audit.export_left_out", export.clients_left_out);
    let detail = i18n::format(
        locale,
        "audit.export_detail",
        &[("lines", &lines), ("left_out", &left_out)],
    );
    audit(&state, &user, "export", &detail).await;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"avisa-clientes-{today}.csv\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        export.bytes,
    )
        .into_response())
}
