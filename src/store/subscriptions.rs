//! Subscriptions: a client's, the ones ending soon, and the panel's edits
//! (which cancel queued reminders that no longer hold).

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::backend::{SqlStore, begin_write, on_pool, unique_as};
use super::{StoreError, StoreResult, SubscriptionInput, SubscriptionStatus, SubscriptionView};

/// A subscription joined with its client and service; a `WHERE` follows.
const VIEW: &str = "SELECT s.id, s.client_id, c.name AS client_name, c.phone, c.opted_out_at, \
     s.service_id, sv.name AS service, s.end_date, s.price_cents, s.currency, s.status \
     FROM subscriptions s JOIN clients c ON c.id = s.client_id \
     JOIN services sv ON sv.id = s.service_id ";

static OF_CLIENT: LazyLock<String> =
    LazyLock::new(|| format!("{VIEW}WHERE s.client_id = $1 ORDER BY s.end_date, s.id"));
static BY_ID: LazyLock<String> = LazyLock::new(|| format!("{VIEW}WHERE s.id = $1"));
static ACTIVE_ENDING_BY_CLIENT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{VIEW}WHERE s.status = 'active' AND s.end_date >= $1 AND s.end_date <= $2 \
         ORDER BY s.client_id, s.end_date, s.id"
    )
});
static ACTIVE_ENDING_BY_DATE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{VIEW}WHERE s.status = 'active' AND s.end_date >= $1 AND s.end_date <= $2 \
         ORDER BY s.end_date, c.name, s.id"
    )
});

const SET_STATUS: &str = "UPDATE subscriptions SET status = $1, updated_at = $2 WHERE id = $3";
const CREATE: &str = "INSERT INTO subscriptions \
     (client_id, service_id, end_date, price_cents, currency, status, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, 'USD', 'active', $5, $5) RETURNING id";
const UPDATE: &str = "UPDATE subscriptions SET service_id = $1, end_date = $2, price_cents = $3, \
     updated_at = $4 WHERE id = $5";
/// Queued reminders about another end date are now wrong (one that also
/// covers other subscriptions is left alone).
const CANCEL_OTHER_END_DATES: &str = "UPDATE messages SET status = 'cancelled', updated_at = $1 \
     WHERE status = 'queued' AND direction = 'out' AND id IN \
     (SELECT message_id FROM reminders WHERE subscription_id = $2 AND end_date <> $3) \
     AND NOT EXISTS (SELECT 1 FROM reminders o \
                     WHERE o.message_id = messages.id AND o.subscription_id <> $2)";
const CANCEL_ALL_OF: &str = "UPDATE messages SET status = 'cancelled' \
     WHERE status = 'queued' AND direction = 'out' AND id IN \
     (SELECT message_id FROM reminders WHERE subscription_id = $1) \
     AND NOT EXISTS (SELECT 1 FROM reminders o \
                     WHERE o.message_id = messages.id AND o.subscription_id <> $1)";
const DELETE: &str = "DELETE FROM subscriptions WHERE id = $1";

#[async_trait]
pub trait SubscriptionStore {
    async fn subscriptions_of_client(&self, client_id: i64) -> StoreResult<Vec<SubscriptionView>>;
    async fn subscription(&self, id: i64) -> StoreResult<Option<SubscriptionView>>;
    /// Active subscriptions whose end date lies in `from..=to`, by client.
    async fn active_subscriptions_ending(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<SubscriptionView>>;
    /// Active subscriptions whose end date is in `from..=to`, soonest first.
    async fn subscriptions_ending_by_date(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<SubscriptionView>>;
    async fn set_subscription_status(
        &self,
        subscription_id: i64,
        status: SubscriptionStatus,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// `Duplicate("service")` when the client already has that service.
    async fn create_subscription(
        &self,
        client_id: i64,
        subscription: &SubscriptionInput,
        now: DateTime<Utc>,
    ) -> StoreResult<i64>;
    /// `Duplicate("service")` as above; `NotFound` when there is none.
    async fn update_subscription(
        &self,
        id: i64,
        subscription: &SubscriptionInput,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn delete_subscription(&self, id: i64) -> StoreResult<bool>;
}

#[async_trait]
impl<S: SqlStore> SubscriptionStore for S {
    async fn subscriptions_of_client(&self, client_id: i64) -> StoreResult<Vec<SubscriptionView>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(OF_CLIENT.as_str())
            .bind(client_id)
            .fetch_all(pool)
            .await?))
    }

    async fn subscription(&self, id: i64) -> StoreResult<Option<SubscriptionView>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(BY_ID.as_str())
            .bind(id)
            .fetch_optional(pool)
            .await?))
    }

    async fn active_subscriptions_ending(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<SubscriptionView>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(
            ACTIVE_ENDING_BY_CLIENT.as_str()
        )
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?))
    }

    async fn subscriptions_ending_by_date(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<SubscriptionView>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(
            ACTIVE_ENDING_BY_DATE.as_str()
        )
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?))
    }

    async fn set_subscription_status(
        &self,
        subscription_id: i64,
        status: SubscriptionStatus,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        on_pool!(self, |pool| {
            let update = sqlx::query(SET_STATUS)
                .bind(status)
                .bind(now)
                .bind(subscription_id);
            update.execute(pool).await?;
            Ok(())
        })
    }

    async fn create_subscription(
        &self,
        client_id: i64,
        subscription: &SubscriptionInput,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        on_pool!(self, |pool| sqlx::query_scalar(CREATE)
            .bind(client_id)
            .bind(subscription.service_id)
            .bind(subscription.end_date)
            .bind(subscription.price.cents())
            .bind(now)
            .fetch_one(pool)
            .await
            .map_err(unique_as("service")))
    }

    async fn update_subscription(
        &self,
        id: i64,
        subscription: &SubscriptionInput,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        on_pool!(self, |pool| {
            let mut tx = begin_write(pool).await?;
            let n = sqlx::query(UPDATE)
                .bind(subscription.service_id)
                .bind(subscription.end_date)
                .bind(subscription.price.cents())
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(unique_as("service"))?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound(format!("subscription {id}")));
            }
            sqlx::query(CANCEL_OTHER_END_DATES)
                .bind(now)
                .bind(id)
                .bind(subscription.end_date)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    async fn delete_subscription(&self, id: i64) -> StoreResult<bool> {
        on_pool!(self, |pool| {
            let mut tx = begin_write(pool).await?;
            let cancel = sqlx::query(CANCEL_ALL_OF).bind(id);
            cancel.execute(&mut *tx).await?;
            let delete = sqlx::query(DELETE).bind(id);
            let n = delete.execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            Ok(n == 1)
        })
    }
}
