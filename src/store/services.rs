//! Services (Netflix, IPTV, …): names unique without case, a default
//! price, and how many subscriptions use each.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::backend::{SqlStore, on_pool, unique_as};
use super::{ServiceRow, StoreError, StoreResult};
use crate::domain::Money;

/// A service with its subscription counts; a `WHERE` or `ORDER BY` follows.
const ROW: &str = "SELECT sv.id, sv.name, sv.default_price_cents, \
     (SELECT COUNT(*) FROM subscriptions s \
      WHERE s.service_id = sv.id AND s.status = 'active') AS active_subscriptions, \
     (SELECT COUNT(*) FROM subscriptions s WHERE s.service_id = sv.id) AS subscriptions \
     FROM services sv ";

static ALL: LazyLock<String> = LazyLock::new(|| format!("{ROW}ORDER BY lower(sv.name), sv.id"));
static BY_ID: LazyLock<String> = LazyLock::new(|| format!("{ROW}WHERE sv.id = $1"));
static BY_NAME: LazyLock<String> =
    LazyLock::new(|| format!("{ROW}WHERE lower(sv.name) = lower($1)"));

const CREATE: &str = "INSERT INTO services (name, default_price_cents, created_at) \
     VALUES ($1, $2, $3) RETURNING id";
const UPDATE: &str = "UPDATE services SET name = $1, default_price_cents = $2 WHERE id = $3";

#[async_trait]
pub trait ServiceStore {
    /// Every service by name, with subscription counts.
    async fn services_with_counts(&self) -> StoreResult<Vec<ServiceRow>>;
    async fn service(&self, id: i64) -> StoreResult<Option<ServiceRow>>;
    /// Case-insensitive.
    async fn service_by_name(&self, name: &str) -> StoreResult<Option<ServiceRow>>;
    /// `Duplicate("name")` when the name is taken (case-insensitive).
    async fn create_service(
        &self,
        name: &str,
        default_price: Option<Money>,
        now: DateTime<Utc>,
    ) -> StoreResult<i64>;
    /// Renames and sets the default price; `Duplicate("name")`, `NotFound`.
    async fn update_service(
        &self,
        id: i64,
        name: &str,
        default_price: Option<Money>,
    ) -> StoreResult<()>;
}

#[async_trait]
impl<S: SqlStore> ServiceStore for S {
    async fn services_with_counts(&self) -> StoreResult<Vec<ServiceRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(ALL.as_str())
            .fetch_all(pool)
            .await?))
    }

    async fn service(&self, id: i64) -> StoreResult<Option<ServiceRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(BY_ID.as_str())
            .bind(id)
            .fetch_optional(pool)
            .await?))
    }

    async fn service_by_name(&self, name: &str) -> StoreResult<Option<ServiceRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(BY_NAME.as_str())
            .bind(name)
            .fetch_optional(pool)
            .await?))
    }

    async fn create_service(
        &self,
        name: &str,
        default_price: Option<Money>,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        on_pool!(self, |pool| sqlx::query_scalar(CREATE)
            .bind(name)
            .bind(default_price.map(Money::cents))
            .bind(now)
            .fetch_one(pool)
            .await
            .map_err(unique_as("name")))
    }

    async fn update_service(
        &self,
        id: i64,
        name: &str,
        default_price: Option<Money>,
    ) -> StoreResult<()> {
        let n = on_pool!(self, |pool| sqlx::query(UPDATE)
            .bind(name)
            .bind(default_price.map(Money::cents))
            .bind(id)
            .execute(pool)
            .await
            .map_err(unique_as("name"))?
            .rows_affected());
        if n == 0 {
            return Err(StoreError::NotFound(format!("service {id}")));
        }
        Ok(())
    }
}
