//! Aggregates for the dashboard and staff commands: counts, sums and
//! per-day figures.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::backend::{SqlStore, on_pool};
use super::{DayCount, DueSubscription, KindStatusCount, StoreResult};

const COUNT_ACTIVE: &str = "SELECT COUNT(*) FROM subscriptions WHERE status = 'active'";
const REVENUE_DUE: &str = "SELECT CAST(COALESCE(SUM(price_cents), 0) AS BIGINT) \
     FROM subscriptions WHERE status = 'active' AND end_date >= $1 AND end_date <= $2";
const EXPIRATIONS_BY_DAY: &str = "SELECT end_date AS day, COUNT(*) AS count FROM subscriptions \
     WHERE status = 'active' AND end_date >= $1 AND end_date <= $2 \
     GROUP BY end_date ORDER BY end_date";
const DUE: &str = "SELECT id, end_date, status FROM subscriptions \
     WHERE end_date >= $1 AND end_date <= $2 ORDER BY id";
const MESSAGE_COUNTS: &str = "SELECT kind, status, COUNT(*) AS count FROM messages \
     WHERE direction = 'out' AND created_at >= $1 AND created_at < $2 \
     GROUP BY kind, status ORDER BY kind, status";

#[async_trait]
pub trait StatsStore {
    async fn count_active_subscriptions(&self) -> StoreResult<i64>;
    /// Sum of prices of active subscriptions ending in `from..=to`, in cents.
    async fn revenue_due(&self, from: NaiveDate, to: NaiveDate) -> StoreResult<i64>;
    /// Active subscriptions ending on each day of `from..=to` (days with none left out).
    async fn expirations_by_day(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<DayCount>>;
    /// Subscriptions (any status) whose current end date is in `from..=to`.
    async fn subscriptions_due(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<DueSubscription>>;
    /// Outbound messages created in `from..to`, by kind and status.
    async fn message_counts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<KindStatusCount>>;
}

#[async_trait]
impl<S: SqlStore> StatsStore for S {
    async fn count_active_subscriptions(&self) -> StoreResult<i64> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar(COUNT_ACTIVE)
            .fetch_one(pool)
            .await?))
    }

    async fn revenue_due(&self, from: NaiveDate, to: NaiveDate) -> StoreResult<i64> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar(REVENUE_DUE)
            .bind(from)
            .bind(to)
            .fetch_one(pool)
            .await?))
    }

    async fn expirations_by_day(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<DayCount>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(EXPIRATIONS_BY_DAY)
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?))
    }

    async fn subscriptions_due(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<DueSubscription>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(DUE)
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?))
    }

    async fn message_counts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<KindStatusCount>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(MESSAGE_COUNTS)
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?))
    }
}
