//! Settings kept in the database (`settings` table: pause, WhatsApp
//! session state, the generated secret key, panel imports waiting).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use super::backend::{SqlStore, on_pool};

const GET: &str = "SELECT value FROM settings WHERE key = $1";
const PUT: &str = "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
const PUT_IF_ABSENT: &str = "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
     ON CONFLICT (key) DO NOTHING";
const DELETE: &str = "DELETE FROM settings WHERE key = $1";

#[async_trait]
pub trait SettingsStore {
    async fn setting(&self, key: &str) -> StoreResult<Option<String>>;
    /// Sets a value, or removes the key with `None`.
    async fn set_setting(
        &self,
        key: &str,
        value: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The value under `key`, writing `value` first if there was none (the
    /// first of several processes to ask wins).
    async fn setting_or_insert(
        &self,
        key: &str,
        value: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<String>;
}

#[async_trait]
impl<S: SqlStore> SettingsStore for S {
    async fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar(GET)
            .bind(key)
            .fetch_optional(pool)
            .await?))
    }

    async fn set_setting(
        &self,
        key: &str,
        value: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        on_pool!(self, |pool| {
            match value {
                Some(value) => {
                    let put = sqlx::query(PUT).bind(key).bind(value).bind(now);
                    put.execute(pool).await?;
                }
                None => {
                    sqlx::query(DELETE).bind(key).execute(pool).await?;
                }
            }
            Ok(())
        })
    }

    async fn setting_or_insert(
        &self,
        key: &str,
        value: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<String> {
        on_pool!(self, |pool| {
            let insert = sqlx::query(PUT_IF_ABSENT).bind(key).bind(value).bind(now);
            insert.execute(pool).await?;
            Ok(sqlx::query_scalar(GET).bind(key).fetch_one(pool).await?)
        })
    }
}
