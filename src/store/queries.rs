//! The SQL shared by both backends. `$1`-style placeholders, `RETURNING` and
//! `ON CONFLICT` work on SQLite and PostgreSQL alike, so one macro expands the
//! same `Store` implementation for each concrete driver.

macro_rules! message_columns {
    () => {
        "id, direction, phone, client_id, kind, body, media_kind, status, automatic, priority, \
         provider_message_id, wa_message_id, attempts, error, permanent_failure, next_attempt_at, \
         created_at, updated_at, sent_at, rate_limits"
    };
}

/// Queues one reply, notice or staff answer (`NewOutbound`): the INSERT and
/// its binds, for any executor.
macro_rules! insert_outbox {
    ($message:expr, $now:expr) => {
        sqlx::query_scalar::<_, i64>(
            "INSERT INTO messages (direction, phone, client_id, kind, body, status, automatic, priority, created_at, updated_at) \
             VALUES ('out', $1, $2, $3, $4, 'queued', FALSE, $5, $6, $6) RETURNING id",
        )
        .bind($message.phone.as_str())
        .bind($message.client_id)
        .bind($message.kind.as_str())
        .bind(&$message.body)
        .bind($crate::store::PRIORITY_INTERACTIVE)
        .bind($now)
    };
}

// Statements of `apply_inbound`'s transaction, most of them also run alone
// by a method of their own: one text each, so the two never drift apart.
pub(crate) const MARK_PROCESSED: &str = "UPDATE messages SET status = 'processed', updated_at = $1 \
     WHERE id = $2 AND direction = 'in' AND status = 'received'";
pub(crate) const SAVE_CONVERSATION: &str = "INSERT INTO conversations (phone, state, updated_at) VALUES ($1, $2, $3) \
     ON CONFLICT (phone) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at";
pub(crate) const MARK_ONCE: &str = "INSERT INTO daily_marks (mark, day, created_at) VALUES ($1, $2, $3) ON CONFLICT (mark, day) DO NOTHING";
pub(crate) const SET_OPTED_OUT: &str = "UPDATE clients SET opted_out_at = $1 WHERE id = $2";
pub(crate) const ATTACH_RECEIPT: &str =
    "UPDATE renewal_requests SET receipt_message_id = $1 WHERE id = $2";
pub(crate) const CREATE_RENEWAL_REQUEST: &str = "INSERT INTO renewal_requests (client_id, subscription_id, status, created_at) \
     VALUES ($1, $2, 'open', $3) RETURNING id";

macro_rules! subscription_view {
    () => {
        "SELECT s.id, s.client_id, c.name AS client_name, c.phone, c.opted_out_at, s.service_id, \
         sv.name AS service, s.end_date, s.price_cents, s.currency, s.status \
         FROM subscriptions s JOIN clients c ON c.id = s.client_id \
         JOIN services sv ON sv.id = s.service_id "
    };
}

/// A client's name lowercased without the usual accents, the same on both
/// backends (SQLite's `lower` only folds ASCII): matches
/// `clients_model::fold` for Spanish names.
macro_rules! folded_name {
    () => {
        "lower(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(c.name, 'á', 'a'), 'à', 'a'), 'ä', 'a'), 'Á', 'a'), 'À', 'a'), 'Ä', 'a'), 'é', 'e'), 'è', 'e'), 'ë', 'e'), 'É', 'e'), 'È', 'e'), 'Ë', 'e'), 'í', 'i'), 'ì', 'i'), 'ï', 'i'), 'Í', 'i'), 'Ì', 'i'), 'Ï', 'i'), 'ó', 'o'), 'ò', 'o'), 'ö', 'o'), 'Ó', 'o'), 'Ò', 'o'), 'Ö', 'o'), 'ú', 'u'), 'ù', 'u'), 'ü', 'u'), 'Ú', 'u'), 'Ù', 'u'), 'Ü', 'u'), 'ñ', 'n'), 'Ñ', 'n'), 'ç', 'c'), 'Ç', 'c'))"
    };
}

/// The clients list: a client with its active subscriptions count and the
/// soonest end date; `$1` folded-name pattern, `$2` exact phone, `$3` phone
/// pattern.
macro_rules! client_search {
    () => {
        concat!(
            "FROM clients c WHERE (",
            folded_name!(),
            " LIKE $1 ESCAPE '\\' OR c.phone = $2 OR c.phone LIKE $3) "
        )
    };
}

/// A service with its subscription counts.
macro_rules! service_row {
    () => {
        "SELECT sv.id, sv.name, sv.default_price_cents, \
         (SELECT COUNT(*) FROM subscriptions s WHERE s.service_id = sv.id AND s.status = 'active') AS active_subscriptions, \
         (SELECT COUNT(*) FROM subscriptions s WHERE s.service_id = sv.id) AS subscriptions \
         FROM services sv "
    };
}

/// A unique index violation as `Duplicate(field)`; other errors unchanged.
pub(crate) fn unique_as(field: &'static str) -> impl FnOnce(sqlx::Error) -> super::StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            super::StoreError::Duplicate(field)
        }
        _ => super::StoreError::Database(e),
    }
}

/// Rows per multi-row INSERT when recording a plan: far below the bound
/// parameter limits (SQLite 32,766, PostgreSQL 65,535) at 7 binds per row.
pub(crate) const MESSAGE_ROWS_PER_INSERT: usize = 500;
pub(crate) const REMINDER_ROWS_PER_INSERT: usize = 1_000;

/// Splits `items` into runs of 64, 32, … 1 rows. A multi-row INSERT's text
/// depends on its row count and a new text is parsed and planned again
/// (a 64-row INSERT costs milliseconds to prepare); with these sizes a
/// connection's statement cache holds every shape after the first batches.
pub(crate) fn power_of_two_chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    power_of_two_chunks_of(items, 64)
}

/// [`power_of_two_chunks`] of at most `largest` (a power of two) rows.
pub(crate) fn power_of_two_chunks_of<T>(
    mut items: &[T],
    largest: usize,
) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if items.is_empty() {
            return None;
        }
        let size = if items.len() >= largest {
            largest
        } else {
            1 << items.len().ilog2()
        };
        let (chunk, rest) = items.split_at(size);
        items = rest;
        Some(chunk)
    })
}

/// Delivery statuses only move forward (a late "delivered" never undoes "read").
pub(crate) fn delivery_rank(status: &str) -> i32 {
    match status {
        "queued" | "sending" => 0,
        "sent" => 1,
        "delivered" => 2,
        "read" => 3,
        _ => 4,
    }
}

macro_rules! impl_store {
    ($store:ty, $db:ty, $name:literal) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn backend_name(&self) -> &'static str {
                $name
            }

            fn pool(&self) -> $crate::store::Pool {
                self.pool_handle()
            }

            fn background_tasks(&self) -> Vec<$crate::health::TaskReport> {
                self.background_reports()
            }

            async fn migrate(&self) -> $crate::store::StoreResult<()> {
                self.run_migrations().await
            }

            async fn ping(&self) -> $crate::store::StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn upsert_subscriptions(
                &self,
                rows: &[$crate::store::NewSubscription],
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<$crate::store::UpsertSummary> {
                let mut import = self.open_import().await?;
                import.stage(rows).await?;
                Ok(import.commit(now).await?.summary)
            }

            async fn begin_import(
                &self,
            ) -> $crate::store::StoreResult<Box<dyn $crate::store::ImportSession>> {
                self.open_import().await
            }

            async fn client_by_phone(&self, phone: &str) -> $crate::store::StoreResult<Option<$crate::store::ClientRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, name, phone, email, opted_out_at, notes FROM clients WHERE phone = $1",
                )
                .bind(phone)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn clients_by_name(&self, name: &str) -> $crate::store::StoreResult<Vec<$crate::store::ClientRow>> {
                let pattern = format!("%{}%", name.trim().to_lowercase());
                Ok(sqlx::query_as(
                    "SELECT id, name, phone, email, opted_out_at, notes FROM clients \
                     WHERE lower(name) LIKE $1 ORDER BY name, id LIMIT 50",
                )
                .bind(pattern)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn subscriptions_of_client(&self, client_id: i64) -> $crate::store::StoreResult<Vec<$crate::store::SubscriptionView>> {
                Ok(sqlx::query_as(concat!(subscription_view!(), "WHERE s.client_id = $1 ORDER BY s.end_date, s.id"))
                    .bind(client_id)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn subscription(&self, id: i64) -> $crate::store::StoreResult<Option<$crate::store::SubscriptionView>> {
                Ok(sqlx::query_as(concat!(subscription_view!(), "WHERE s.id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn active_subscriptions_ending(
                &self,
                from: chrono::NaiveDate,
                to: chrono::NaiveDate,
            ) -> $crate::store::StoreResult<Vec<$crate::store::SubscriptionView>> {
                Ok(sqlx::query_as(concat!(
                    subscription_view!(),
                    "WHERE s.status = 'active' AND s.end_date >= $1 AND s.end_date <= $2 \
                     ORDER BY s.client_id, s.end_date, s.id"
                ))
                .bind(from)
                .bind(to)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn set_opted_out(&self, client_id: i64, at: Option<chrono::DateTime<chrono::Utc>>) -> $crate::store::StoreResult<()> {
                sqlx::query($crate::store::queries::SET_OPTED_OUT)
                    .bind(at)
                    .bind(client_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn set_subscription_status(&self, subscription_id: i64, status: $crate::store::SubscriptionStatus, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<()> {
                sqlx::query("UPDATE subscriptions SET status = $1, updated_at = $2 WHERE id = $3")
                    .bind(status)
                    .bind(now)
                    .bind(subscription_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn count_clients(&self) -> $crate::store::StoreResult<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM clients").fetch_one(&self.pool).await?)
            }

            // --- admin: clients, subscriptions, services (staff panel)

            async fn search_clients(
                &self,
                query: &$crate::store::ClientQuery,
                offset: i64,
                limit: i64,
            ) -> $crate::store::StoreResult<$crate::store::ClientPage> {
                let phone = query.phone.as_deref().unwrap_or("");
                let digits = query.digits_pattern.as_deref().unwrap_or("");
                let rows = sqlx::query_as(concat!(
                    "SELECT c.id, c.name, c.phone, c.email, c.opted_out_at, \
                     (SELECT COUNT(*) FROM subscriptions s WHERE s.client_id = c.id AND s.status = 'active') AS active_subscriptions, \
                     (SELECT MIN(s.end_date) FROM subscriptions s WHERE s.client_id = c.id AND s.status = 'active') AS next_end_date ",
                    client_search!(),
                    // By name as people read it: Álvaro with the a's, not after Zoé.
                    "ORDER BY ", folded_name!(), ", c.id LIMIT $4 OFFSET $5"
                ))
                .bind(&query.name_pattern)
                .bind(phone)
                .bind(digits)
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await?;
                let total: i64 = sqlx::query_scalar(concat!("SELECT COUNT(*) ", client_search!()))
                    .bind(&query.name_pattern)
                    .bind(phone)
                    .bind(digits)
                    .fetch_one(&self.pool)
                    .await?;
                Ok($crate::store::ClientPage { rows, total })
            }

            async fn client(&self, id: i64) -> $crate::store::StoreResult<Option<$crate::store::ClientRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, name, phone, email, opted_out_at, notes FROM clients WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn create_client(&self, client: &$crate::store::ClientInput, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<i64> {
                sqlx::query_scalar(
                    "INSERT INTO clients (name, phone, email, notes, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
                )
                .bind(&client.name)
                .bind(client.phone.as_str())
                .bind(&client.email)
                .bind(&client.notes)
                .bind(now)
                .fetch_one(&self.pool)
                .await
                .map_err($crate::store::queries::unique_as("phone"))
            }

            async fn update_client(&self, id: i64, client: &$crate::store::ClientInput, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<()> {
                let n = sqlx::query(
                    "UPDATE clients SET name = $1, phone = $2, email = $3, notes = $4, updated_at = $5 WHERE id = $6",
                )
                .bind(&client.name)
                .bind(client.phone.as_str())
                .bind(&client.email)
                .bind(&client.notes)
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err($crate::store::queries::unique_as("phone"))?
                .rows_affected();
                if n == 0 {
                    return Err($crate::store::StoreError::NotFound(format!("client {id}")));
                }
                Ok(())
            }

            async fn delete_client(&self, id: i64) -> $crate::store::StoreResult<bool> {
                let mut tx = self.begin_write().await?;
                // Reminders still waiting to go out would name a client that is gone.
                sqlx::query(
                    "UPDATE messages SET status = 'cancelled' \
                     WHERE client_id = $1 AND direction = 'out' AND status = 'queued'",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM conversations WHERE phone IN (SELECT phone FROM clients WHERE id = $1)")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let n = sqlx::query("DELETE FROM clients WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(n == 1)
            }

            async fn create_subscription(&self, client_id: i64, subscription: &$crate::store::SubscriptionInput, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<i64> {
                sqlx::query_scalar(
                    "INSERT INTO subscriptions (client_id, service_id, end_date, price_cents, currency, status, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 'USD', 'active', $5, $5) RETURNING id",
                )
                .bind(client_id)
                .bind(subscription.service_id)
                .bind(subscription.end_date)
                .bind(subscription.price.cents())
                .bind(now)
                .fetch_one(&self.pool)
                .await
                .map_err($crate::store::queries::unique_as("service"))
            }

            async fn update_subscription(&self, id: i64, subscription: &$crate::store::SubscriptionInput, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<()> {
                let mut tx = self.begin_write().await?;
                let n = sqlx::query(
                    "UPDATE subscriptions SET service_id = $1, end_date = $2, price_cents = $3, updated_at = $4 WHERE id = $5",
                )
                .bind(subscription.service_id)
                .bind(subscription.end_date)
                .bind(subscription.price.cents())
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err($crate::store::queries::unique_as("service"))?
                .rows_affected();
                if n == 0 {
                    return Err($crate::store::StoreError::NotFound(format!("subscription {id}")));
                }
                // Queued reminders about another end date are now wrong.
                sqlx::query(
                    "UPDATE messages SET status = 'cancelled', updated_at = $1 \
                     WHERE status = 'queued' AND direction = 'out' AND id IN \
                     (SELECT message_id FROM reminders WHERE subscription_id = $2 AND end_date <> $3) \
                     AND NOT EXISTS (SELECT 1 FROM reminders o WHERE o.message_id = messages.id AND o.subscription_id <> $2)",
                )
                .bind(now)
                .bind(id)
                .bind(subscription.end_date)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn delete_subscription(&self, id: i64) -> $crate::store::StoreResult<bool> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "UPDATE messages SET status = 'cancelled' \
                     WHERE status = 'queued' AND direction = 'out' AND id IN \
                     (SELECT message_id FROM reminders WHERE subscription_id = $1) \
                     AND NOT EXISTS (SELECT 1 FROM reminders o WHERE o.message_id = messages.id AND o.subscription_id <> $1)",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
                let n = sqlx::query("DELETE FROM subscriptions WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(n == 1)
            }

            async fn services_with_counts(&self) -> $crate::store::StoreResult<Vec<$crate::store::ServiceRow>> {
                Ok(sqlx::query_as(concat!(service_row!(), "ORDER BY lower(sv.name), sv.id"))
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn service(&self, id: i64) -> $crate::store::StoreResult<Option<$crate::store::ServiceRow>> {
                Ok(sqlx::query_as(concat!(service_row!(), "WHERE sv.id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn service_by_name(&self, name: &str) -> $crate::store::StoreResult<Option<$crate::store::ServiceRow>> {
                Ok(sqlx::query_as(concat!(service_row!(), "WHERE lower(sv.name) = lower($1)"))
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn create_service(&self, name: &str, default_price: Option<$crate::domain::Money>, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<i64> {
                sqlx::query_scalar(
                    "INSERT INTO services (name, default_price_cents, created_at) VALUES ($1, $2, $3) RETURNING id",
                )
                .bind(name)
                .bind(default_price.map($crate::domain::Money::cents))
                .bind(now)
                .fetch_one(&self.pool)
                .await
                .map_err($crate::store::queries::unique_as("name"))
            }

            async fn update_service(&self, id: i64, name: &str, default_price: Option<$crate::domain::Money>) -> $crate::store::StoreResult<()> {
                let n = sqlx::query("UPDATE services SET name = $1, default_price_cents = $2 WHERE id = $3")
                    .bind(name)
                    .bind(default_price.map($crate::domain::Money::cents))
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::store::queries::unique_as("name"))?
                    .rows_affected();
                if n == 0 {
                    return Err($crate::store::StoreError::NotFound(format!("service {id}")));
                }
                Ok(())
            }

            async fn renewals_of_client(&self, client_id: i64, limit: i64) -> $crate::store::StoreResult<Vec<$crate::store::RenewalHistoryRow>> {
                Ok(sqlx::query_as(
                    "SELECT r.id, r.subscription_id, sv.name AS service, r.staff, r.old_end_date, r.new_end_date, \
                     r.months, r.amount_cents, r.created_at, r.undone_at \
                     FROM renewals r JOIN subscriptions s ON s.id = r.subscription_id \
                     JOIN services sv ON sv.id = s.service_id \
                     WHERE s.client_id = $1 ORDER BY r.id DESC LIMIT $2",
                )
                .bind(client_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn reminders_done(
                &self,
                from: chrono::NaiveDate,
                to: chrono::NaiveDate,
            ) -> $crate::store::StoreResult<std::collections::HashSet<$crate::store::ReminderKey>> {
                let rows: Vec<(i64, chrono::NaiveDate, i32)> = sqlx::query_as(
                    "SELECT r.subscription_id, r.end_date, r.tier FROM reminders r \
                     LEFT JOIN messages m ON m.id = r.message_id \
                     WHERE r.end_date >= $1 AND r.end_date <= $2 \
                     AND (m.id IS NULL OR m.status <> 'failed' OR m.permanent_failure = TRUE)",
                )
                .bind(from)
                .bind(to)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(subscription_id, end_date, tier)| $crate::store::ReminderKey { subscription_id, end_date, tier })
                    .collect())
            }

            async fn record_reminders(
                &self,
                planned: &[$crate::store::PlannedMessage],
                planned_on: chrono::NaiveDate,
                automatic: bool,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Vec<Option<i64>>> {
                let mut tx = self.begin_write().await?;
                // Fast path: the whole batch in a few multi-row INSERTs under
                // one savepoint. If any reminder row already exists (another
                // planner won, or a transient failure is planned again) it is
                // undone and the batch goes message by message instead.
                let mut sp = sqlx::Acquire::begin(&mut *tx).await?;
                let ids = match Self::record_batch(&mut sp, planned, planned_on, automatic, now).await? {
                    Some(ids) => {
                        sp.commit().await?;
                        ids.into_iter().map(Some).collect()
                    }
                    None => {
                        sp.rollback().await?;
                        Self::record_each(&mut tx, planned, planned_on, automatic, now).await?
                    }
                };
                tx.commit().await?;
                Ok(ids)
            }

            async fn reminder_counts(&self, planned_on: chrono::NaiveDate) -> $crate::store::StoreResult<Vec<$crate::store::TierStatusCount>> {
                Ok(sqlx::query_as(
                    "SELECT r.tier AS tier, COALESCE(m.status, 'unknown') AS status, COUNT(*) AS count \
                     FROM reminders r LEFT JOIN messages m ON m.id = r.message_id \
                     WHERE r.planned_on = $1 GROUP BY r.tier, m.status ORDER BY r.tier DESC, 2",
                )
                .bind(planned_on)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn queue_outbound(&self, message: &$crate::store::NewOutbound, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<i64> {
                Ok(insert_outbox!(message, now).fetch_one(&self.pool).await?)
            }

            async fn insert_inbound(&self, message: &$crate::store::NewInbound, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<Option<i64>> {
                Ok(sqlx::query_scalar(
                    "INSERT INTO messages (direction, phone, client_id, kind, body, media_kind, status, wa_message_id, created_at, updated_at) \
                     VALUES ('in', $1, $2, $3, $4, $5, 'received', $6, $7, $7) \
                     ON CONFLICT (wa_message_id) DO NOTHING RETURNING id",
                )
                .bind(&message.phone)
                .bind(message.client_id)
                .bind(message.kind.as_str())
                .bind(&message.body)
                .bind(&message.media_kind)
                .bind(&message.wa_message_id)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn insert_inbound_batch(&self, messages: &[$crate::store::NewInbound], jobs: &$crate::store::InboundJobs, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<Vec<Option<i64>>> {
                if messages.is_empty() {
                    return Ok(Vec::new());
                }
                // One multi-row INSERT: the rows that were new come back with
                // their WhatsApp ids, which say which message each id is for.
                // Without a WhatsApp id that mapping is impossible: row by row.
                let by_wa_id = messages.iter().all(|m| m.wa_message_id.is_some());
                let mut tx = self.begin_write().await?;
                let mut ids = Vec::with_capacity(messages.len());
                if by_wa_id {
                    let mut new: std::collections::HashMap<String, i64> =
                        std::collections::HashMap::with_capacity(messages.len());
                    for chunk in $crate::store::queries::power_of_two_chunks(messages) {
                        let mut insert = sqlx::QueryBuilder::<$db>::new(
                            "INSERT INTO messages (direction, phone, client_id, kind, body, media_kind, status, wa_message_id, created_at, updated_at) ",
                        );
                        insert.push_values(chunk, |mut row, message| {
                            row.push("'in'")
                                .push_bind(&message.phone)
                                .push_unseparated(", COALESCE(")
                                .push_bind_unseparated(message.client_id)
                                .push_unseparated(", (SELECT id FROM clients WHERE phone = ")
                                .push_bind_unseparated(&message.phone)
                                .push_unseparated("))")
                                .push_bind(message.kind.as_str())
                                .push_bind(&message.body)
                                .push_bind(&message.media_kind)
                                .push("'received'")
                                .push_bind(&message.wa_message_id)
                                .push_bind(now)
                                .push_bind(now);
                        });
                        insert.push(" ON CONFLICT (wa_message_id) DO NOTHING RETURNING id, wa_message_id");
                        let inserted: Vec<(i64, Option<String>)> =
                            insert.build_query_as().fetch_all(&mut *tx).await?;
                        new.extend(inserted.into_iter().filter_map(|(id, wa)| wa.map(|wa| (wa, id))));
                    }
                    // A WhatsApp id twice in the batch: the first gets the row.
                    for message in messages {
                        ids.push(message.wa_message_id.as_ref().and_then(|wa| new.remove(wa)));
                    }
                } else {
                    for message in messages {
                        ids.push(
                            sqlx::query_scalar(
                                "INSERT INTO messages (direction, phone, client_id, kind, body, media_kind, status, wa_message_id, created_at, updated_at) \
                                 VALUES ('in', $1, COALESCE($2, (SELECT id FROM clients WHERE phone = $1)), $3, $4, $5, 'received', $6, $7, $7) \
                                 ON CONFLICT (wa_message_id) DO NOTHING RETURNING id",
                            )
                            .bind(&message.phone)
                            .bind(message.client_id)
                            .bind(message.kind.as_str())
                            .bind(&message.body)
                            .bind(&message.media_kind)
                            .bind(&message.wa_message_id)
                            .bind(now)
                            .fetch_optional(&mut *tx)
                            .await?,
                        );
                    }
                }
                let new: Vec<i64> = ids.iter().flatten().copied().collect();
                if !new.is_empty() {
                    Self::push_jobs(&mut tx, jobs.queue, vec![(jobs.task)(&new)]).await?;
                }
                tx.commit().await?;
                Ok(ids)
            }

            async fn apply_inbound(
                &self,
                outcome: &$crate::store::InboundOutcome,
                jobs: &$crate::store::SendJobs,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Option<Vec<i64>>> {
                let mut tx = self.begin_write().await?;
                // First, so a message another worker handled meanwhile
                // changes nothing (the transaction is dropped, rolled back).
                let claimed = sqlx::query(
                    $crate::store::queries::MARK_PROCESSED,
                )
                .bind(now)
                .bind(outcome.message_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if claimed != 1 {
                    return Ok(None);
                }
                if let Some((phone, state)) = &outcome.conversation {
                    sqlx::query(
                        $crate::store::queries::SAVE_CONVERSATION,
                    )
                    .bind(phone)
                    .bind(state)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                if let Some((mark, day)) = &outcome.daily_mark {
                    sqlx::query(
                        $crate::store::queries::MARK_ONCE,
                    )
                    .bind(mark)
                    .bind(day)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                if let Some((client_id, at)) = outcome.opt_out {
                    sqlx::query($crate::store::queries::SET_OPTED_OUT)
                        .bind(at)
                        .bind(client_id)
                        .execute(&mut *tx)
                        .await?;
                }
                if let Some((client_id, subscription_id)) = outcome.renewal_request {
                    let _: i64 = sqlx::query_scalar($crate::store::queries::CREATE_RENEWAL_REQUEST)
                        .bind(client_id)
                        .bind(subscription_id)
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await?;
                }
                if let Some(request_id) = outcome.receipt_for_request {
                    sqlx::query($crate::store::queries::ATTACH_RECEIPT)
                        .bind(outcome.message_id)
                        .bind(request_id)
                        .execute(&mut *tx)
                        .await?;
                }
                let mut ids = Vec::with_capacity(outcome.outbox.len());
                for message in &outcome.outbox {
                    let id: i64 = insert_outbox!(message, now).fetch_one(&mut *tx).await?;
                    ids.push(id);
                }
                if !ids.is_empty() {
                    let tasks = ids.iter().map(|id| (jobs.task)(*id)).collect();
                    Self::push_jobs(&mut tx, jobs.queue, tasks).await?;
                }
                tx.commit().await?;
                Ok(Some(ids))
            }

            async fn daily_mark_taken(&self, mark: &str, day: chrono::NaiveDate) -> $crate::store::StoreResult<bool> {
                let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM daily_marks WHERE mark = $1 AND day = $2")
                    .bind(mark)
                    .bind(day)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(found > 0)
            }

            async fn stale_inbound(&self, before: chrono::DateTime<chrono::Utc>, limit: i64) -> $crate::store::StoreResult<Vec<i64>> {
                Ok(sqlx::query_scalar(
                    "SELECT id FROM messages WHERE direction = 'in' AND status = 'received' AND updated_at < $1 \
                     ORDER BY id LIMIT $2",
                )
                .bind(before)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn message(&self, id: i64) -> $crate::store::StoreResult<Option<$crate::store::MessageRow>> {
                Ok(sqlx::query_as(concat!("SELECT ", message_columns!(), " FROM messages WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn claim_message(&self, id: i64, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<Option<$crate::store::MessageRow>> {
                Ok(sqlx::query_as(concat!(
                    "UPDATE messages SET status = 'sending', attempts = attempts + 1, updated_at = $2 \
                     WHERE id = $1 AND direction = 'out' AND status = 'queued' \
                     AND (next_attempt_at IS NULL OR next_attempt_at <= $2) RETURNING ",
                    message_columns!()
                ))
                .bind(id)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn mark_sent(&self, id: i64, provider_message_id: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "UPDATE messages SET status = 'sent', provider_message_id = $1, sent_at = $2, updated_at = $2, \
                     error = NULL, next_attempt_at = NULL WHERE id = $3 AND status = 'sending'",
                )
                .bind(provider_message_id)
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn mark_retry(&self, id: i64, next_attempt_at: chrono::DateTime<chrono::Utc>, error: &str, attempt_counts: bool, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "UPDATE messages SET status = 'queued', next_attempt_at = $1, error = $2, updated_at = $3, \
                     attempts = CASE WHEN $5 THEN attempts ELSE attempts - 1 END, \
                     rate_limits = rate_limits + CASE WHEN $5 THEN 0 ELSE 1 END WHERE id = $4",
                )
                .bind(next_attempt_at)
                .bind(error)
                .bind(now)
                .bind(id)
                .bind(attempt_counts)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn mark_failed(&self, id: i64, error: &str, permanent: bool, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "UPDATE messages SET status = 'failed', error = $1, permanent_failure = $2, next_attempt_at = NULL, updated_at = $3 WHERE id = $4",
                )
                .bind(error)
                .bind(permanent)
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn queued_messages(&self, limit: i64) -> $crate::store::StoreResult<Vec<$crate::store::QueuedMessage>> {
                Ok(sqlx::query_as(
                    "SELECT id, automatic, priority, next_attempt_at FROM messages \
                     WHERE direction = 'out' AND status = 'queued' ORDER BY priority, id LIMIT $1",
                )
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn queued_reminders_planned_on(&self, date: chrono::NaiveDate) -> $crate::store::StoreResult<Vec<(i64, i32)>> {
                Ok(sqlx::query_as(
                    "SELECT m.id, r.tier FROM reminders r JOIN messages m ON m.id = r.message_id \
                     WHERE r.planned_on = $1 AND m.direction = 'out' AND m.status = 'queued' \
                     ORDER BY m.id, r.tier",
                )
                .bind(date)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn mark_interrupted_sends_unknown(&self, before: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<u64> {
                Ok(sqlx::query(
                    "UPDATE messages SET status = 'unknown', updated_at = $1, next_attempt_at = NULL, \
                     error = 'interrupted while sending: WhatsApp may have it; not resent to avoid a duplicate' \
                     WHERE direction = 'out' AND status = 'sending' AND updated_at < $2",
                )
                .bind(now)
                .bind(before)
                .execute(&self.pool)
                .await?
                .rows_affected())
            }

            async fn mark_unknown(&self, id: i64, error: &str, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "UPDATE messages SET status = 'unknown', error = $1, next_attempt_at = NULL, updated_at = $2 \
                     WHERE id = $3 AND status = 'sending'",
                )
                .bind(error)
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn set_delivery_status(&self, id: &str, status: &str, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<bool> {
                let rank = $crate::store::queries::delivery_rank(status);
                let found: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM messages WHERE direction = 'out' AND (wa_message_id = $1 OR provider_message_id = $1) ORDER BY id DESC LIMIT 1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                let Some(message_id) = found else { return Ok(false) };
                sqlx::query(
                    "UPDATE messages SET status = $1, updated_at = $2 WHERE id = $3 AND \
                     (CASE status WHEN 'queued' THEN 0 WHEN 'sending' THEN 0 WHEN 'sent' THEN 1 \
                      WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 ELSE 4 END) < $4",
                )
                .bind(status)
                .bind(now)
                .bind(message_id)
                .bind(rank)
                .execute(&self.pool)
                .await?;
                Ok(true)
            }

            async fn message_counts(&self, from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<Vec<$crate::store::KindStatusCount>> {
                Ok(sqlx::query_as(
                    "SELECT kind, status, COUNT(*) AS count FROM messages \
                     WHERE direction = 'out' AND created_at >= $1 AND created_at < $2 \
                     GROUP BY kind, status ORDER BY kind, status",
                )
                .bind(from)
                .bind(to)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn messages_for_phone(&self, phone: &str, limit: i64) -> $crate::store::StoreResult<Vec<$crate::store::MessageRow>> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ", message_columns!(), " FROM messages WHERE phone = $1 ORDER BY id DESC LIMIT $2"
                ))
                .bind(phone)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            // --- admin: ops (messages log, retry, export, import preview)

            async fn message_log(
                &self,
                filter: &$crate::store::MessageFilter,
                limit: i64,
                offset: i64,
            ) -> $crate::store::StoreResult<$crate::store::MessagePage> {
                let total: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM messages \
                     WHERE ($1 IS NULL OR phone = $1) AND ($2 IS NULL OR kind = $2) \
                     AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR direction = $4) \
                     AND ($5 IS NULL OR created_at >= $5) AND ($6 IS NULL OR created_at < $6)",
                )
                .bind(&filter.phone)
                .bind(&filter.kind)
                .bind(&filter.status)
                .bind(&filter.direction)
                .bind(filter.from)
                .bind(filter.until)
                .fetch_one(&self.pool)
                .await?;
                let rows = sqlx::query_as(concat!(
                    "SELECT ", message_columns!(), " FROM messages \
                     WHERE ($1 IS NULL OR phone = $1) AND ($2 IS NULL OR kind = $2) \
                     AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR direction = $4) \
                     AND ($5 IS NULL OR created_at >= $5) AND ($6 IS NULL OR created_at < $6) \
                     ORDER BY id DESC LIMIT $7 OFFSET $8"
                ))
                .bind(&filter.phone)
                .bind(&filter.kind)
                .bind(&filter.status)
                .bind(&filter.direction)
                .bind(filter.from)
                .bind(filter.until)
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await?;
                Ok($crate::store::MessagePage { rows, total })
            }

            async fn requeue_failed(&self, id: i64, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<bool> {
                let n = sqlx::query(
                    "UPDATE messages SET status = 'queued', attempts = 0, error = NULL, \
                     permanent_failure = FALSE, next_attempt_at = NULL, updated_at = $1 \
                     WHERE id = $2 AND direction = 'out' AND status IN ('failed', 'unknown') \
                     AND (kind <> 'reminder' OR EXISTS (SELECT 1 FROM reminders r WHERE r.message_id = messages.id))",
                )
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(n == 1)
            }

            async fn export_rows(&self) -> $crate::store::StoreResult<Vec<$crate::store::ExportRow>> {
                Ok(sqlx::query_as(
                    "SELECT c.id AS client_id, c.name, c.phone, c.email, sv.name AS service, \
                     s.end_date, s.price_cents, s.status \
                     FROM clients c LEFT JOIN subscriptions s ON s.client_id = c.id \
                     LEFT JOIN services sv ON sv.id = s.service_id ORDER BY c.id, s.id",
                )
                .fetch_all(&self.pool)
                .await?)
            }

            async fn preview_subscriptions(
                &self,
                rows: &[$crate::store::NewSubscription],
            ) -> $crate::store::StoreResult<$crate::store::UpsertSummary> {
                let clients = sqlx::query_as("SELECT phone, name, email FROM clients")
                    .fetch_all(&self.pool)
                    .await?;
                let subscriptions = sqlx::query_as(
                    "SELECT c.phone, sv.name, s.end_date, s.price_cents, s.status FROM subscriptions s \
                     JOIN clients c ON c.id = s.client_id JOIN services sv ON sv.id = s.service_id",
                )
                .fetch_all(&self.pool)
                .await?;
                let snapshot = $crate::store::ImportSnapshot { clients, subscriptions };
                Ok($crate::store::preview_upsert(&snapshot, rows))
            }

            async fn pace_claim(&self, sender: &str, holder: &str, now_ms: i64, lease_ms: i64) -> $crate::store::StoreResult<$crate::store::PaceClaim> {
                let granted = sqlx::query(
                    "UPDATE send_pacing SET holder = $2, lease_until_ms = $3 + $4 \
                     WHERE sender = $1 AND next_at_ms <= $3 AND (holder IS NULL OR lease_until_ms <= $3)",
                )
                .bind(sender)
                .bind(holder)
                .bind(now_ms)
                .bind(lease_ms)
                .execute(&self.pool)
                .await?
                .rows_affected();
                if granted == 1 {
                    return Ok($crate::store::PaceClaim::Granted);
                }
                let row: Option<(i64, Option<String>, i64)> = sqlx::query_as(
                    "SELECT next_at_ms, holder, lease_until_ms FROM send_pacing WHERE sender = $1",
                )
                .bind(sender)
                .fetch_optional(&self.pool)
                .await?;
                match row {
                    None => {
                        sqlx::query(
                            "INSERT INTO send_pacing (sender, next_at_ms, holder, lease_until_ms) \
                             VALUES ($1, 0, NULL, 0) ON CONFLICT (sender) DO NOTHING",
                        )
                        .bind(sender)
                        .execute(&self.pool)
                        .await?;
                        Ok($crate::store::PaceClaim::Wait { until_ms: now_ms, in_flight: false })
                    }
                    Some((next_at_ms, holder, lease_until_ms)) => {
                        let in_flight = holder.is_some() && lease_until_ms > now_ms;
                        Ok($crate::store::PaceClaim::Wait { until_ms: next_at_ms, in_flight })
                    }
                }
            }

            async fn pace_release(&self, sender: &str, holder: &str, next_at_ms: i64) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "UPDATE send_pacing SET holder = NULL, lease_until_ms = 0, \
                     next_at_ms = CASE WHEN next_at_ms > $3 THEN next_at_ms ELSE $3 END \
                     WHERE sender = $1 AND holder = $2",
                )
                .bind(sender)
                .bind(holder)
                .bind(next_at_ms)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn pace_defer(&self, sender: &str, until_ms: i64) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "UPDATE send_pacing SET next_at_ms = CASE WHEN next_at_ms > $2 THEN next_at_ms ELSE $2 END \
                     WHERE sender = $1",
                )
                .bind(sender)
                .bind(until_ms)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            // --- conversation and staff

            async fn mark_inbound_processed(&self, id: i64, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<bool> {
                let n = sqlx::query(
                    $crate::store::queries::MARK_PROCESSED,
                )
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(n == 1)
            }

            async fn conversation(&self, phone: &str) -> $crate::store::StoreResult<Option<$crate::store::ConversationRow>> {
                Ok(sqlx::query_as("SELECT state, updated_at FROM conversations WHERE phone = $1")
                    .bind(phone)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn save_conversation(&self, phone: &str, state: &str, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    $crate::store::queries::SAVE_CONVERSATION,
                )
                .bind(phone)
                .bind(state)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn open_request_for_client(&self, client_id: i64) -> $crate::store::StoreResult<Option<$crate::store::RenewalRequestRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, client_id, subscription_id, status, receipt_message_id, created_at, closed_at \
                     FROM renewal_requests WHERE client_id = $1 AND status = 'open' ORDER BY id DESC LIMIT 1",
                )
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn create_renewal_request(&self, client_id: i64, subscription_id: Option<i64>, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<i64> {
                Ok(sqlx::query_scalar(
                    $crate::store::queries::CREATE_RENEWAL_REQUEST,
                )
                .bind(client_id)
                .bind(subscription_id)
                .bind(now)
                .fetch_one(&self.pool)
                .await?)
            }

            async fn open_requests(&self) -> $crate::store::StoreResult<Vec<$crate::store::PendingRequestView>> {
                Ok(sqlx::query_as(
                    "SELECT r.id, r.client_id, c.name AS client_name, c.phone, r.subscription_id, \
                     sv.name AS service, s.end_date, s.price_cents, r.receipt_message_id, r.created_at \
                     FROM renewal_requests r JOIN clients c ON c.id = r.client_id \
                     LEFT JOIN subscriptions s ON s.id = r.subscription_id \
                     LEFT JOIN services sv ON sv.id = s.service_id \
                     WHERE r.status = 'open' ORDER BY r.created_at, r.id",
                )
                .fetch_all(&self.pool)
                .await?)
            }

            async fn renew_subscription(&self, renewal: &$crate::store::NewRenewal, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<$crate::store::RenewalRow> {
                let mut tx = self.pool.begin().await?;
                let moved = sqlx::query(
                    "UPDATE subscriptions SET end_date = $1, status = 'active', updated_at = $2 WHERE id = $3 AND end_date = $4",
                )
                .bind(renewal.new_end_date)
                .bind(now)
                .bind(renewal.subscription_id)
                .bind(renewal.old_end_date)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if moved != 1 {
                    return Err($crate::store::StoreError::Conflict(format!(
                        "subscription {} no longer ends on {}",
                        renewal.subscription_id, renewal.old_end_date
                    )));
                }
                let row: $crate::store::RenewalRow = sqlx::query_as(
                    "INSERT INTO renewals (subscription_id, staff, old_end_date, new_end_date, months, amount_cents, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     RETURNING id, subscription_id, staff, old_end_date, new_end_date, months, amount_cents, created_at, undone_at",
                )
                .bind(renewal.subscription_id)
                .bind(&renewal.staff)
                .bind(renewal.old_end_date)
                .bind(renewal.new_end_date)
                .bind(renewal.months)
                .bind(renewal.amount_cents)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE renewal_requests SET status = 'closed', closed_at = $1 \
                     WHERE subscription_id = $2 AND status = 'open'",
                )
                .bind(now)
                .bind(renewal.subscription_id)
                .execute(&mut *tx)
                .await?;
                // A queued reminder about the old date is now wrong; one that
                // also covers other subscriptions is left alone.
                sqlx::query(
                    "UPDATE messages SET status = 'cancelled', updated_at = $1 \
                     WHERE status = 'queued' AND direction = 'out' AND id IN \
                     (SELECT message_id FROM reminders WHERE subscription_id = $2 AND end_date = $3) \
                     AND NOT EXISTS (SELECT 1 FROM reminders o WHERE o.message_id = messages.id AND o.subscription_id <> $2)",
                )
                .bind(now)
                .bind(renewal.subscription_id)
                .bind(renewal.old_end_date)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn last_renewal_by(&self, staff: &str, since: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<Option<$crate::store::RenewalRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, subscription_id, staff, old_end_date, new_end_date, months, amount_cents, created_at, undone_at \
                     FROM renewals WHERE staff = $1 AND created_at >= $2 AND undone_at IS NULL ORDER BY id DESC LIMIT 1",
                )
                .bind(staff)
                .bind(since)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn undo_renewal(&self, renewal_id: i64, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<bool> {
                let mut tx = self.pool.begin().await?;
                let found: Option<(i64, chrono::NaiveDate, chrono::NaiveDate)> = sqlx::query_as(
                    "UPDATE renewals SET undone_at = $1 WHERE id = $2 AND undone_at IS NULL \
                     RETURNING subscription_id, old_end_date, new_end_date",
                )
                .bind(now)
                .bind(renewal_id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((subscription_id, old_end, new_end)) = found else {
                    return Ok(false);
                };
                let restored = sqlx::query(
                    "UPDATE subscriptions SET end_date = $1, updated_at = $2 WHERE id = $3 AND end_date = $4",
                )
                .bind(old_end)
                .bind(now)
                .bind(subscription_id)
                .bind(new_end)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if restored != 1 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn subscriptions_ending_by_date(&self, from: chrono::NaiveDate, to: chrono::NaiveDate) -> $crate::store::StoreResult<Vec<$crate::store::SubscriptionView>> {
                Ok(sqlx::query_as(concat!(
                    subscription_view!(),
                    "WHERE s.status = 'active' AND s.end_date >= $1 AND s.end_date <= $2 \
                     ORDER BY s.end_date, c.name, s.id"
                ))
                .bind(from)
                .bind(to)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn count_open_requests(&self) -> $crate::store::StoreResult<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM renewal_requests WHERE status = 'open'")
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn revenue_due(&self, from: chrono::NaiveDate, to: chrono::NaiveDate) -> $crate::store::StoreResult<i64> {
                Ok(sqlx::query_scalar(
                    "SELECT CAST(COALESCE(SUM(price_cents), 0) AS BIGINT) FROM subscriptions \
                     WHERE status = 'active' AND end_date >= $1 AND end_date <= $2",
                )
                .bind(from)
                .bind(to)
                .fetch_one(&self.pool)
                .await?)
            }

            // --- admin: auth (users, sessions, audit, login limits, dashboard facts)

            async fn count_users(&self) -> $crate::store::StoreResult<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await?)
            }

            async fn create_user(
                &self,
                email: &str,
                password_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<i64> {
                let mut tx = self.begin_write().await?;
                let taken: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM users WHERE lower(email) = lower($1)")
                        .bind(email)
                        .fetch_optional(&mut *tx)
                        .await?;
                if taken.is_some() {
                    return Err($crate::store::StoreError::Conflict(format!(
                        "a user with email {email} already exists"
                    )));
                }
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO users (email, password_hash, created_at) VALUES ($1, $2, $3) RETURNING id",
                )
                .bind(email)
                .bind(password_hash)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn users(&self) -> $crate::store::StoreResult<Vec<$crate::store::UserRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, email, created_at, last_login_at FROM users ORDER BY lower(email)",
                )
                .fetch_all(&self.pool)
                .await?)
            }

            async fn user_credentials(
                &self,
                email: &str,
            ) -> $crate::store::StoreResult<Option<$crate::store::UserCredentials>> {
                Ok(sqlx::query_as(
                    "SELECT id, email, password_hash FROM users WHERE lower(email) = lower($1)",
                )
                .bind(email.trim())
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn set_user_password(&self, user_id: i64, password_hash: &str) -> $crate::store::StoreResult<()> {
                let n = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                    .bind(password_hash)
                    .bind(user_id)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                if n != 1 {
                    return Err($crate::store::StoreError::NotFound(format!("user {user_id}")));
                }
                Ok(())
            }

            async fn record_user_login(&self, user_id: i64, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<()> {
                sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(user_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn create_admin_session(&self, session: &$crate::store::NewAdminSession) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO admin_sessions (token_hash, user_id, csrf, created_at, expires_at, last_seen) \
                     VALUES ($1, $2, $3, $4, $5, $4)",
                )
                .bind(&session.token_hash)
                .bind(session.user_id)
                .bind(&session.csrf)
                .bind(session.created_at)
                .bind(session.expires_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn admin_session(&self, token_hash: &str) -> $crate::store::StoreResult<Option<$crate::store::AdminSessionRow>> {
                Ok(sqlx::query_as(
                    "SELECT s.token_hash, s.user_id, u.email, s.csrf, s.created_at, s.expires_at, s.last_seen \
                     FROM admin_sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn touch_admin_session(&self, token_hash: &str, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<()> {
                sqlx::query("UPDATE admin_sessions SET last_seen = $1 WHERE token_hash = $2")
                    .bind(now)
                    .bind(token_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn delete_admin_session(&self, token_hash: &str) -> $crate::store::StoreResult<()> {
                sqlx::query("DELETE FROM admin_sessions WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn delete_user_sessions(&self, user_id: i64) -> $crate::store::StoreResult<u64> {
                Ok(sqlx::query("DELETE FROM admin_sessions WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn delete_expired_admin_sessions(
                &self,
                idle_before: chrono::DateTime<chrono::Utc>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<u64> {
                Ok(sqlx::query("DELETE FROM admin_sessions WHERE expires_at <= $1 OR last_seen < $2")
                    .bind(now)
                    .bind(idle_before)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn record_login_failure(
                &self,
                email: &str,
                address: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query("INSERT INTO login_attempts (email, address, created_at) VALUES (lower($1), $2, $3)")
                    .bind(email.trim())
                    .bind(address)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn login_failures_since(
                &self,
                email: &str,
                address: &str,
                since: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<$crate::store::LoginFailures> {
                // Per account *and* address: a stranger's guesses never lock
                // the owner out from their own phone.
                let by_account_at_address: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM login_attempts WHERE email = lower($1) AND created_at >= $2 AND address = $3",
                )
                .bind(email.trim())
                .bind(since)
                .bind(address)
                .fetch_one(&self.pool)
                .await?;
                let by_address: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM login_attempts WHERE address = $1 AND created_at >= $2",
                )
                .bind(address)
                .bind(since)
                .fetch_one(&self.pool)
                .await?;
                Ok($crate::store::LoginFailures { by_account_at_address, by_address })
            }

            async fn clear_login_failures(&self, email: &str, before: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<()> {
                sqlx::query("DELETE FROM login_attempts WHERE email = lower($1) OR created_at < $2")
                    .bind(email.trim())
                    .bind(before)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn insert_audit(&self, entry: &$crate::store::NewAudit, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<i64> {
                Ok(sqlx::query_scalar(
                    "INSERT INTO audit_log (user_id, user_email, action, detail, created_at) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(entry.user_id)
                .bind(&entry.user_email)
                .bind(&entry.action)
                .bind(&entry.detail)
                .bind(now)
                .fetch_one(&self.pool)
                .await?)
            }

            async fn audit_entries(&self, limit: i64, offset: i64) -> $crate::store::StoreResult<Vec<$crate::store::AuditRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, user_id, user_email, action, detail, created_at FROM audit_log \
                     ORDER BY id DESC LIMIT $1 OFFSET $2",
                )
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn count_audit(&self) -> $crate::store::StoreResult<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(&self.pool).await?)
            }

            async fn count_active_subscriptions(&self) -> $crate::store::StoreResult<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM subscriptions WHERE status = 'active'")
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn expirations_by_day(&self, from: chrono::NaiveDate, to: chrono::NaiveDate) -> $crate::store::StoreResult<Vec<$crate::store::DayCount>> {
                Ok(sqlx::query_as(
                    "SELECT end_date AS day, COUNT(*) AS count FROM subscriptions \
                     WHERE status = 'active' AND end_date >= $1 AND end_date <= $2 \
                     GROUP BY end_date ORDER BY end_date",
                )
                .bind(from)
                .bind(to)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn renewals_of_end_dates(&self, from: chrono::NaiveDate, to: chrono::NaiveDate) -> $crate::store::StoreResult<Vec<$crate::store::RenewalRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, subscription_id, staff, old_end_date, new_end_date, months, amount_cents, created_at, undone_at \
                     FROM renewals WHERE undone_at IS NULL AND old_end_date >= $1 AND old_end_date <= $2 ORDER BY id",
                )
                .bind(from)
                .bind(to)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn subscriptions_due(&self, from: chrono::NaiveDate, to: chrono::NaiveDate) -> $crate::store::StoreResult<Vec<$crate::store::DueSubscription>> {
                Ok(sqlx::query_as(
                    "SELECT id, end_date, status FROM subscriptions WHERE end_date >= $1 AND end_date <= $2 ORDER BY id",
                )
                .bind(from)
                .bind(to)
                .fetch_all(&self.pool)
                .await?)
            }
        }

        impl $store {
            /// `record_reminders` without a conflict: messages, then their
            /// reminder rows, each in multi-row INSERTs. `None` (the caller
            /// rolls back) as soon as one reminder row was already there.
            async fn record_batch(
                conn: &mut <$db as sqlx::Database>::Connection,
                planned: &[$crate::store::PlannedMessage],
                planned_on: chrono::NaiveDate,
                automatic: bool,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Option<Vec<i64>>> {
                use $crate::store::queries::{MESSAGE_ROWS_PER_INSERT, REMINDER_ROWS_PER_INSERT};
                // RETURNING promises no row order: new ids are matched to the
                // input by client, so each client must appear once.
                let mut position = std::collections::HashMap::with_capacity(planned.len());
                for (i, message) in planned.iter().enumerate() {
                    if position.insert(message.client_id, i).is_some() {
                        return Ok(None);
                    }
                }
                let mut ids: Vec<Option<i64>> = vec![None; planned.len()];
                for chunk in planned.chunks(MESSAGE_ROWS_PER_INSERT) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO messages (direction, phone, client_id, kind, body, status, automatic, priority, created_at, updated_at) ",
                    );
                    insert.push_values(chunk, |mut row, message| {
                        row.push("'out'")
                            .push_bind(message.phone.as_str())
                            .push_bind(message.client_id)
                            .push("'reminder'")
                            .push_bind(message.body.as_str())
                            .push("'queued'")
                            .push_bind(automatic)
                            .push_bind($crate::store::PRIORITY_BULK)
                            .push_bind(now)
                            .push_bind(now);
                    });
                    insert.push(" RETURNING id, client_id");
                    let rows: Vec<(i64, i64)> = insert.build_query_as().fetch_all(&mut *conn).await?;
                    for (id, client_id) in rows {
                        match position.get(&client_id) {
                            Some(&i) if ids[i].is_none() => ids[i] = Some(id),
                            _ => return Ok(None),
                        }
                    }
                }
                let Some(ids) = ids.into_iter().collect::<Option<Vec<i64>>>() else {
                    return Ok(None);
                };
                let rows: Vec<(&$crate::store::ReminderKey, i32, i64)> = planned
                    .iter()
                    .zip(&ids)
                    .flat_map(|(message, id)| {
                        message.reminders.iter().map(move |(key, days_left)| {
                            (key, i32::try_from(*days_left).unwrap_or(i32::MAX), *id)
                        })
                    })
                    .collect();
                for chunk in rows.chunks(REMINDER_ROWS_PER_INSERT) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO reminders (subscription_id, end_date, tier, days_left, planned_on, message_id, created_at) ",
                    );
                    insert.push_values(chunk, |mut row, (key, days_left, id)| {
                        row.push_bind(key.subscription_id)
                            .push_bind(key.end_date)
                            .push_bind(key.tier)
                            .push_bind(*days_left)
                            .push_bind(planned_on)
                            .push_bind(*id)
                            .push_bind(now);
                    });
                    insert.push(" ON CONFLICT (subscription_id, end_date, tier) DO NOTHING");
                    let inserted = insert.build().execute(&mut *conn).await?.rows_affected();
                    if inserted != chunk.len() as u64 {
                        return Ok(None);
                    }
                }
                Ok(Some(ids))
            }

            /// `record_reminders` the careful way: a savepoint per message,
            /// so losing a race for one client does not undo the others.
            async fn record_each(
                conn: &mut <$db as sqlx::Database>::Connection,
                planned: &[$crate::store::PlannedMessage],
                planned_on: chrono::NaiveDate,
                automatic: bool,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Vec<Option<i64>>> {
                let mut ids = Vec::with_capacity(planned.len());
                for message in planned {
                    // A savepoint per message: losing a race for one client
                    // must not undo the others.
                    let mut sp = sqlx::Acquire::begin(&mut *conn).await?;
                    let message_id: i64 = sqlx::query_scalar(
                        "INSERT INTO messages (direction, phone, client_id, kind, body, status, automatic, priority, created_at, updated_at) \
                         VALUES ('out', $1, $2, 'reminder', $3, 'queued', $4, $5, $6, $6) RETURNING id",
                    )
                    .bind(message.phone.as_str())
                    .bind(message.client_id)
                    .bind(&message.body)
                    .bind(automatic)
                    .bind($crate::store::PRIORITY_BULK)
                    .bind(now)
                    .fetch_one(&mut *sp)
                    .await?;
                    let mut won = true;
                    for (key, days_left) in &message.reminders {
                        let days_left = i32::try_from(*days_left).unwrap_or(i32::MAX);
                        let inserted = sqlx::query(
                            "INSERT INTO reminders (subscription_id, end_date, tier, days_left, planned_on, message_id, created_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7) \
                             ON CONFLICT (subscription_id, end_date, tier) DO NOTHING",
                        )
                        .bind(key.subscription_id)
                        .bind(key.end_date)
                        .bind(key.tier)
                        .bind(days_left)
                        .bind(planned_on)
                        .bind(message_id)
                        .bind(now)
                        .execute(&mut *sp)
                        .await?
                        .rows_affected();
                        if inserted == 1 {
                            continue;
                        }
                        // Taken: only a transient failure may be planned again.
                        let retaken = sqlx::query(
                            "UPDATE reminders SET message_id = $1, days_left = $2, planned_on = $3, created_at = $4 \
                             WHERE subscription_id = $5 AND end_date = $6 AND tier = $7 \
                             AND message_id IN (SELECT id FROM messages WHERE status = 'failed' AND permanent_failure = FALSE)",
                        )
                        .bind(message_id)
                        .bind(days_left)
                        .bind(planned_on)
                        .bind(now)
                        .bind(key.subscription_id)
                        .bind(key.end_date)
                        .bind(key.tier)
                        .execute(&mut *sp)
                        .await?
                        .rows_affected();
                        if retaken == 0 {
                            won = false;
                            break;
                        }
                    }
                    if won {
                        sp.commit().await?;
                        ids.push(Some(message_id));
                    } else {
                        sp.rollback().await?;
                        ids.push(None);
                    }
                }
                Ok(ids)
            }
        }
    };
}

pub(crate) use {
    client_search, folded_name, impl_store, insert_outbox, message_columns, service_row,
    subscription_view,
};

#[cfg(test)]
mod tests {
    use super::power_of_two_chunks;

    fn sizes(n: usize) -> Vec<usize> {
        let items: Vec<usize> = (0..n).collect();
        power_of_two_chunks(&items).map(<[usize]>::len).collect()
    }

    #[test]
    fn chunks_are_powers_of_two_of_at_most_64_in_order() {
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), vec![1]);
        assert_eq!(sizes(37), vec![32, 4, 1]);
        assert_eq!(sizes(64), vec![64]);
        assert_eq!(sizes(200), vec![64, 64, 64, 8]);
        for n in 0..300 {
            let items: Vec<usize> = (0..n).collect();
            let joined: Vec<usize> = power_of_two_chunks(&items).flatten().copied().collect();
            assert_eq!(joined, items, "n = {n}");
            assert!(sizes(n).iter().all(|s| s.is_power_of_two() && *s <= 64));
        }
    }
}
