//! `/admin/audit`: who did what, newest first, 50 a page.

use axum::extract::{Query, State};
use minijinja::context;
use serde::Deserialize;

use super::{CurrentUser, pages};
use crate::web::{WebResult, WebState};

pub const PAGE_SIZE: i64 = 50;

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    page: Option<i64>,
}

pub async fn show(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(query): Query<AuditQuery>,
) -> WebResult {
    let store = &state.services.store;
    let total = store.count_audit().await?;
    let pages_count = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let page = query.page.unwrap_or(1).clamp(1, pages_count);
    let rows = store
        .audit_entries(PAGE_SIZE, (page - 1) * PAGE_SIZE)
        .await?;
    Ok(pages::render(
        &state,
        "audit.html",
        &user,
        context! { rows => rows, page => page, pages => pages_count, total => total },
    ))
}
