//! The audit log page's reads: entries filtered by user, action and a time
//! range, newest first, and the users that appear in the log.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::backend::{SqlStore, on_pool};
use super::{AuditRow, StoreResult};

/// `None` means "any". `from`/`until` are UTC bounds (`created_at >= from`,
/// `created_at < until`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// The user's email as recorded.
    pub user: Option<String>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

macro_rules! audit_where {
    () => {
        " FROM audit_log WHERE ($1 IS NULL OR user_email = $1) \
         AND ($2 IS NULL OR action = $2) \
         AND ($3 IS NULL OR created_at >= $3) AND ($4 IS NULL OR created_at < $4)"
    };
}
const COUNT: &str = concat!("SELECT COUNT(*)", audit_where!());
const PAGE: &str = concat!(
    "SELECT id, user_id, user_email, action, detail, created_at",
    audit_where!(),
    " ORDER BY id DESC LIMIT $5 OFFSET $6"
);
const USERS: &str = "SELECT DISTINCT user_email FROM audit_log ORDER BY user_email";

#[async_trait]
pub trait AuditLogStore {
    /// Entries matching `filter`, newest first, and how many match in all.
    async fn audit_search(
        &self,
        filter: &AuditFilter,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<AuditRow>, i64)>;
    /// Every user email in the log, sorted.
    async fn audit_users(&self) -> StoreResult<Vec<String>>;
}

#[async_trait]
impl<S: SqlStore> AuditLogStore for S {
    async fn audit_search(
        &self,
        filter: &AuditFilter,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<AuditRow>, i64)> {
        on_pool!(self, |pool| {
            let total: i64 = sqlx::query_scalar(COUNT)
                .bind(&filter.user)
                .bind(&filter.action)
                .bind(filter.from)
                .bind(filter.until)
                .fetch_one(pool)
                .await?;
            let rows = sqlx::query_as(PAGE)
                .bind(&filter.user)
                .bind(&filter.action)
                .bind(filter.from)
                .bind(filter.until)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?;
            Ok((rows, total))
        })
    }

    async fn audit_users(&self) -> StoreResult<Vec<String>> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar(USERS)
            .fetch_all(pool)
            .await?))
    }
}
