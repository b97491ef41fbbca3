//! Clients: lookups for the conversation and staff commands, the panel's
//! search (by folded name, stored in `name_folded` from [`fold`]) and edits.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::backend::{SqlStore, begin_write, on_pool, unique_as};
use super::{ClientInput, ClientPage, ClientQuery, ClientRow, StoreError, StoreResult, fold};

const CLIENT_COLUMNS_BY_PHONE: &str =
    "SELECT id, name, phone, email, opted_out_at, notes FROM clients WHERE phone = $1";
const CLIENT_BY_ID: &str =
    "SELECT id, name, phone, email, opted_out_at, notes FROM clients WHERE id = $1";
const CLIENTS_BY_NAME: &str = "SELECT id, name, phone, email, opted_out_at, notes FROM clients \
     WHERE lower(name) LIKE $1 ORDER BY name, id LIMIT 50";
pub(crate) const SET_OPTED_OUT: &str = "UPDATE clients SET opted_out_at = $1 WHERE id = $2";
const COUNT: &str = "SELECT COUNT(*) FROM clients";

/// The clients list: a client with its active subscriptions count and the
/// soonest end date; `$1` folded-name pattern, `$2` exact phone, `$3` phone
/// pattern. By name as people read it: Álvaro with the a's, not after Zoé.
/// The page's ids are picked first, so the counts run for its 50 rows
/// only (PostgreSQL would run them for every row an OFFSET skips).
const SEARCH: &str = "SELECT c.id, c.name, c.phone, c.email, c.opted_out_at, \
     (SELECT COUNT(*) FROM subscriptions s \
      WHERE s.client_id = c.id AND s.status = 'active') AS active_subscriptions, \
     (SELECT MIN(s.end_date) FROM subscriptions s \
      WHERE s.client_id = c.id AND s.status = 'active') AS next_end_date \
     FROM (SELECT id FROM clients \
           WHERE (name_folded LIKE $1 ESCAPE '\\' OR phone = $2 OR phone LIKE $3) \
           ORDER BY name_folded, id LIMIT $4 OFFSET $5) page \
     JOIN clients c ON c.id = page.id \
     ORDER BY c.name_folded, c.id";
const SEARCH_COUNT: &str = "SELECT COUNT(*) FROM clients c \
     WHERE (c.name_folded LIKE $1 ESCAPE '\\' OR c.phone = $2 OR c.phone LIKE $3)";

const CREATE: &str = "INSERT INTO clients \
     (name, name_folded, phone, email, notes, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id";
const UPDATE: &str = "UPDATE clients SET name = $1, name_folded = $2, phone = $3, email = $4, \
     notes = $5, updated_at = $6 WHERE id = $7";

/// Reminders still waiting to go out would name a client that is gone.
const CANCEL_QUEUED_OF_CLIENT: &str = "UPDATE messages SET status = 'cancelled' \
     WHERE client_id = $1 AND direction = 'out' AND status = 'queued'";
const DELETE_CONVERSATION: &str =
    "DELETE FROM conversations WHERE phone IN (SELECT phone FROM clients WHERE id = $1)";
const DELETE: &str = "DELETE FROM clients WHERE id = $1";

/// Clients written before `name_folded` existed (or by hand), a batch at a time.
const UNFOLDED: &str =
    "SELECT id, name FROM clients WHERE name_folded IS NULL ORDER BY id LIMIT $1";
const SET_FOLDED: &str =
    "UPDATE clients SET name_folded = $1 WHERE id = $2 AND name_folded IS NULL";
const FOLD_BATCH: i64 = 1_000;

#[async_trait]
pub trait ClientStore {
    async fn client_by_phone(&self, phone: &str) -> StoreResult<Option<ClientRow>>;
    async fn clients_by_name(&self, name: &str) -> StoreResult<Vec<ClientRow>>;
    async fn client(&self, id: i64) -> StoreResult<Option<ClientRow>>;
    async fn set_opted_out(&self, client_id: i64, at: Option<DateTime<Utc>>) -> StoreResult<()>;
    async fn count_clients(&self) -> StoreResult<i64>;
    /// One page of clients matching `query`, by name, and the total count.
    async fn search_clients(
        &self,
        query: &ClientQuery,
        offset: i64,
        limit: i64,
    ) -> StoreResult<ClientPage>;
    /// `Duplicate("phone")` when another client has the number.
    async fn create_client(&self, client: &ClientInput, now: DateTime<Utc>) -> StoreResult<i64>;
    /// `Duplicate("phone")` as above; `NotFound` when there is no such client.
    async fn update_client(
        &self,
        id: i64,
        client: &ClientInput,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Deletes the client with its subscriptions, reminders, requests,
    /// renewals and conversation state; its messages stay in the log.
    async fn delete_client(&self, id: i64) -> StoreResult<bool>;
}

#[async_trait]
impl<S: SqlStore> ClientStore for S {
    async fn client_by_phone(&self, phone: &str) -> StoreResult<Option<ClientRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(CLIENT_COLUMNS_BY_PHONE)
            .bind(phone)
            .fetch_optional(pool)
            .await?))
    }

    async fn clients_by_name(&self, name: &str) -> StoreResult<Vec<ClientRow>> {
        let pattern = format!("%{}%", name.trim().to_lowercase());
        on_pool!(self, |pool| Ok(sqlx::query_as(CLIENTS_BY_NAME)
            .bind(&pattern)
            .fetch_all(pool)
            .await?))
    }

    async fn client(&self, id: i64) -> StoreResult<Option<ClientRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(CLIENT_BY_ID)
            .bind(id)
            .fetch_optional(pool)
            .await?))
    }

    async fn set_opted_out(&self, client_id: i64, at: Option<DateTime<Utc>>) -> StoreResult<()> {
        on_pool!(self, |pool| {
            let update = sqlx::query(SET_OPTED_OUT).bind(at).bind(client_id);
            update.execute(pool).await?;
            Ok(())
        })
    }

    async fn count_clients(&self) -> StoreResult<i64> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar(COUNT)
            .fetch_one(pool)
            .await?))
    }

    async fn search_clients(
        &self,
        query: &ClientQuery,
        offset: i64,
        limit: i64,
    ) -> StoreResult<ClientPage> {
        let phone = query.phone.as_deref().unwrap_or("");
        let digits = query.digits_pattern.as_deref().unwrap_or("");
        on_pool!(self, |pool| {
            let rows = sqlx::query_as(SEARCH)
                .bind(&query.name_pattern)
                .bind(phone)
                .bind(digits)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar(SEARCH_COUNT)
                .bind(&query.name_pattern)
                .bind(phone)
                .bind(digits)
                .fetch_one(pool)
                .await?;
            Ok(ClientPage { rows, total })
        })
    }

    async fn create_client(&self, client: &ClientInput, now: DateTime<Utc>) -> StoreResult<i64> {
        let folded = fold(&client.name);
        on_pool!(self, |pool| sqlx::query_scalar(CREATE)
            .bind(&client.name)
            .bind(&folded)
            .bind(client.phone.as_str())
            .bind(&client.email)
            .bind(&client.notes)
            .bind(now)
            .fetch_one(pool)
            .await
            .map_err(unique_as("phone")))
    }

    async fn update_client(
        &self,
        id: i64,
        client: &ClientInput,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let folded = fold(&client.name);
        let n = on_pool!(self, |pool| sqlx::query(UPDATE)
            .bind(&client.name)
            .bind(&folded)
            .bind(client.phone.as_str())
            .bind(&client.email)
            .bind(&client.notes)
            .bind(now)
            .bind(id)
            .execute(pool)
            .await
            .map_err(unique_as("phone"))?
            .rows_affected());
        if n == 0 {
            return Err(StoreError::NotFound(format!("client {id}")));
        }
        Ok(())
    }

    async fn delete_client(&self, id: i64) -> StoreResult<bool> {
        on_pool!(self, |pool| {
            let mut tx = begin_write(pool).await?;
            let cancel = sqlx::query(CANCEL_QUEUED_OF_CLIENT).bind(id);
            cancel.execute(&mut *tx).await?;
            let forget = sqlx::query(DELETE_CONVERSATION).bind(id);
            forget.execute(&mut *tx).await?;
            let delete = sqlx::query(DELETE).bind(id);
            let n = delete.execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            Ok(n == 1)
        })
    }
}

/// Writes `name_folded` for clients that have none (rows from before
/// migration 0004, or written by hand), in batches; run after migrations.
/// Returns how many were folded.
pub(crate) async fn fill_folded_names<S: SqlStore + ?Sized>(store: &S) -> StoreResult<u64> {
    let mut folded = 0;
    loop {
        let written = on_pool!(store, |pool| {
            let rows: Vec<(i64, String)> = sqlx::query_as(UNFOLDED)
                .bind(FOLD_BATCH)
                .fetch_all(pool)
                .await?;
            let mut tx = begin_write(pool).await?;
            for (id, name) in &rows {
                let update = sqlx::query(SET_FOLDED).bind(fold(name)).bind(id);
                update.execute(&mut *tx).await?;
            }
            tx.commit().await?;
            rows.len() as u64
        });
        folded += written;
        if written < FOLD_BATCH as u64 {
            return Ok(folded);
        }
    }
}
