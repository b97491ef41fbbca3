//! Imports and exports: subscriptions upserted from a file (staged by the
//! database, see `import.rs`), the import preview and the CSV export rows.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::backend::{SqlStore, on_pool};
use super::import::{Staged, Staging};
use super::{
    ExportRow, ImportSession, ImportSnapshot, NewSubscription, StoreResult, UpsertSummary,
    preview_upsert,
};

const EXPORT: &str = "SELECT c.id AS client_id, c.name, c.phone, c.email, sv.name AS service, \
     s.end_date, s.price_cents, s.status \
     FROM clients c LEFT JOIN subscriptions s ON s.client_id = c.id \
     LEFT JOIN services sv ON sv.id = s.service_id ORDER BY c.id, s.id";
const SNAPSHOT_CLIENTS: &str = "SELECT phone, name, email FROM clients";
const SNAPSHOT_SUBSCRIPTIONS: &str = "SELECT c.phone, sv.name, s.end_date, s.price_cents, \
     s.status FROM subscriptions s \
     JOIN clients c ON c.id = s.client_id JOIN services sv ON sv.id = s.service_id";

#[async_trait]
pub trait TransferStore {
    /// Creates or updates clients and subscriptions (by phone + service) in
    /// one transaction: all or nothing. Later rows win over earlier ones.
    async fn upsert_subscriptions(
        &self,
        rows: &[NewSubscription],
        now: DateTime<Utc>,
    ) -> StoreResult<UpsertSummary>;
    /// The same for rows that come in batches (a big file): staged by the
    /// database as they come, written by [`ImportSession::commit`] in one
    /// short transaction (see `store/import.rs`).
    async fn begin_import(&self) -> StoreResult<Box<dyn ImportSession>>;
    /// The counts `upsert_subscriptions` would report for `rows`, without
    /// writing anything.
    async fn preview_subscriptions(&self, rows: &[NewSubscription]) -> StoreResult<UpsertSummary>;
    /// Every client with each of its subscriptions (one row per
    /// subscription; one row with no subscription fields for a client
    /// without any), in creation order.
    async fn export_rows(&self) -> StoreResult<Vec<ExportRow>>;
}

#[async_trait]
impl<S: SqlStore> TransferStore for S {
    async fn upsert_subscriptions(
        &self,
        rows: &[NewSubscription],
        now: DateTime<Utc>,
    ) -> StoreResult<UpsertSummary> {
        let mut import = self.begin_import().await?;
        import.stage(rows).await?;
        Ok(import.commit(now).await?.summary)
    }

    async fn begin_import(&self) -> StoreResult<Box<dyn ImportSession>> {
        let staging = on_pool!(self, |pool| Staging::from(pool.acquire().await?));
        Staged::open(staging).await
    }

    async fn preview_subscriptions(&self, rows: &[NewSubscription]) -> StoreResult<UpsertSummary> {
        let snapshot = on_pool!(self, |pool| ImportSnapshot {
            clients: sqlx::query_as(SNAPSHOT_CLIENTS).fetch_all(pool).await?,
            subscriptions: sqlx::query_as(SNAPSHOT_SUBSCRIPTIONS)
                .fetch_all(pool)
                .await?,
        });
        Ok(preview_upsert(&snapshot, rows))
    }

    async fn export_rows(&self) -> StoreResult<Vec<ExportRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(EXPORT)
            .fetch_all(pool)
            .await?))
    }
}
