//! Persistence. One `Store` trait; `sqlite.rs` and `postgres.rs` implement it
//! with the same SQL (see `queries.rs`), each with its own migrations.

pub mod backend;
pub mod backup;
mod clients_model;
mod collections;
pub(crate) mod import;
mod model;
mod model_admin;
mod ops;
pub mod postgres;
mod queries;
mod settings;
pub mod sqlite;
mod text_enum;

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

pub use clients_model::*;
pub use collections::{
    CollectionCounts, CollectionFilter, CollectionPage, CollectionRow, CollectionSort,
    CollectionsStore,
};
pub use import::{Committed, ImportSession};
pub use model::*;
pub use model_admin::*;
pub use ops::*;
pub use settings::SettingsStore;

/// The area traits, for callers of `Store` methods declared by an area.
pub mod prelude {
    pub use super::{CollectionsStore, SettingsStore, Store};
}

use crate::config::DatabaseUrl;
use crate::domain::Money;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// In the database's own words (see [`describe_sqlx`]). Not a
    /// `#[source]`: printing the error chain would repeat it, with the noise.
    #[error("database error: {}", describe_sqlx(.0))]
    Database(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot open the database: {0}")]
    Open(String),
    #[error("{0}")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("job queue: {0}")]
    Jobs(String),
    /// A unique field (`phone`, `service`, `name`) already taken.
    #[error("already exists: {0}")]
    Duplicate(&'static str),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::Database(error)
    }
}

/// A sqlx error for people: a server's error is its message alone, without
/// sqlx's `error returned from database:` and the ` at line 948` it appends
/// (a line of PostgreSQL's C source, not of anything we sent).
pub fn describe_sqlx(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(db) => db.message().to_string(),
        other => other.to_string(),
    }
}

/// The pools' `after_release` check: a connection handed back while still
/// in a transaction (its rollback queued by a dropped `Transaction`) is
/// flushed first; if the rollback failed (a full disk, or SQLite already
/// rolled back by itself) it is closed, never pooled: otherwise every later
/// `begin` on it fails with "non-zero transaction depth".
pub(crate) async fn reusable<C: sqlx::Connection>(connection: &mut C) -> Result<bool, sqlx::Error> {
    if !connection.is_in_transaction() {
        return Ok(true);
    }
    // Commands run in order: the ping waits for the queued ROLLBACK.
    connection.ping().await?;
    let clean = !connection.is_in_transaction();
    if !clean {
        tracing::warn!("closing a pooled connection whose transaction could not be rolled back");
    }
    Ok(clean)
}

/// The answer to [`Store::pace_claim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaceClaim {
    Granted,
    /// Not yet: the pause lasts until `until_ms`; `in_flight` when another
    /// send holds the slot (its completion starts the next pause).
    Wait {
        until_ms: i64,
        in_flight: bool,
    },
}

/// The pools behind a store, for the job queue (which keeps its own tables in
/// the same database).
#[derive(Debug, Clone)]
pub enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// An apalis task whose arguments are already encoded, to be written into
/// the job tables (same database) inside one of our transactions.
pub type EncodedTask = apalis::prelude::Task<Vec<u8>>;

/// The job queued with each batch of new inbound rows: its apalis queue and
/// how to build the task for their ids, in order (see
/// `jobs::queue::INBOUND_JOBS`).
#[derive(Debug, Clone, Copy)]
pub struct InboundJobs {
    pub queue: &'static str,
    pub task: fn(&[i64]) -> EncodedTask,
}

/// Settings keys kept in the `settings` table.
pub const SETTING_PAUSED: &str = "reminders_paused";
pub const SETTING_SESSION_DOWN: &str = "session_disconnected";
/// When the WhatsApp session went down (RFC 3339), beside `SETTING_SESSION_DOWN`.
pub const SETTING_SESSION_DOWN_SINCE: &str = "session_disconnected_since";
/// The last `session.status` event that said connected (RFC 3339).
pub const SETTING_SESSION_CONNECTED_AT: &str = "session_connected_at";

#[async_trait]
pub trait Store: SettingsStore + CollectionsStore + Send + Sync + std::fmt::Debug {
    fn backend_name(&self) -> &'static str;
    fn pool(&self) -> Pool;
    /// The store's own background tasks (SQLite's checkpoints), for
    /// `/healthz`.
    fn background_tasks(&self) -> Vec<crate::health::TaskReport>;

    async fn migrate(&self) -> StoreResult<()>;
    async fn ping(&self) -> StoreResult<()>;

    // --- clients and subscriptions
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
    async fn client_by_phone(&self, phone: &str) -> StoreResult<Option<ClientRow>>;
    async fn clients_by_name(&self, name: &str) -> StoreResult<Vec<ClientRow>>;
    async fn subscriptions_of_client(&self, client_id: i64) -> StoreResult<Vec<SubscriptionView>>;
    async fn subscription(&self, id: i64) -> StoreResult<Option<SubscriptionView>>;
    /// Active subscriptions whose end date lies in `from..=to`, by client.
    async fn active_subscriptions_ending(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<SubscriptionView>>;
    async fn set_opted_out(&self, client_id: i64, at: Option<DateTime<Utc>>) -> StoreResult<()>;
    async fn set_subscription_status(
        &self,
        subscription_id: i64,
        status: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn count_clients(&self) -> StoreResult<i64>;

    // --- admin: clients, subscriptions, services (staff panel)
    /// One page of clients matching `query`, by name, and the total count.
    async fn search_clients(
        &self,
        query: &ClientQuery,
        offset: i64,
        limit: i64,
    ) -> StoreResult<ClientPage>;
    async fn client(&self, id: i64) -> StoreResult<Option<ClientRow>>;
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
    /// Renewals of the client's subscriptions, newest first.
    async fn renewals_of_client(
        &self,
        client_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<RenewalHistoryRow>>;

    // --- reminders
    /// Keys already done for end dates in `from..=to`: sent, in flight, or
    /// failed permanently. Transient failures are not done and are re-planned.
    async fn reminders_done(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<HashSet<ReminderKey>>;
    /// Writes each planned message with its reminder rows, one transaction
    /// for the batch. A message whose reminders already exist (another
    /// planner won) is left out; returns the new message ids in order.
    async fn record_reminders(
        &self,
        planned: &[PlannedMessage],
        planned_on: NaiveDate,
        automatic: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Option<i64>>>;
    async fn reminder_counts(&self, planned_on: NaiveDate) -> StoreResult<Vec<TierStatusCount>>;

    // --- messages (outbox and log)
    async fn queue_outbound(&self, message: &NewOutbound, now: DateTime<Utc>) -> StoreResult<i64>;
    /// Logs an inbound message; `None` when its WhatsApp id was seen before.
    async fn insert_inbound(
        &self,
        message: &NewInbound,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<i64>>;
    /// Logs several inbound messages in one transaction (webhook ingest
    /// commits them in groups): per message its new id, or `None` when its
    /// WhatsApp id was seen before, earlier in the batch included. A message
    /// without `client_id` gets the client with its phone number, looked up
    /// in the same statement.
    ///
    /// One handling job (`jobs`) for all the new rows is written into the
    /// job queue's tables in the same transaction: a row without its job, or
    /// a job without its rows, never exists. (One job per batch, not per
    /// row: apalis' job table has fifteen indexes, and writing them per row
    /// was most of a batch's pages and of the log a checkpoint copies.)
    async fn insert_inbound_batch(
        &self,
        messages: &[NewInbound],
        jobs: &InboundJobs,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Option<i64>>>;
    async fn message(&self, id: i64) -> StoreResult<Option<MessageRow>>;
    /// Writes everything one inbound message changed in one transaction:
    /// the processed mark, conversation state, effects, and the outbox rows
    /// with their send jobs. `None` (nothing written) when the message was
    /// not `received` any more; else the new outbox ids, in order.
    async fn apply_inbound(
        &self,
        outcome: &InboundOutcome,
        jobs: &SendJobs,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Vec<i64>>>;
    /// Whether `mark` was taken for `day` (by `apply_inbound`'s `daily_mark`).
    async fn daily_mark_taken(&self, mark: &str, day: NaiveDate) -> StoreResult<bool>;
    /// Inbound messages still `received` since before `before`: their job
    /// was lost (it gave up during an outage); the sweeper queues them again.
    async fn stale_inbound(&self, before: DateTime<Utc>, limit: i64) -> StoreResult<Vec<i64>>;
    /// Moves a queued, due message to `sending`; `None` if it is not queued
    /// or not yet due (another worker has it, or it was already sent).
    async fn claim_message(&self, id: i64, now: DateTime<Utc>) -> StoreResult<Option<MessageRow>>;
    async fn mark_sent(
        &self,
        id: i64,
        provider_message_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn mark_retry(
        &self,
        id: i64,
        next_attempt_at: DateTime<Utc>,
        error: &str,
        // false for a 429: the attempt is handed back, `rate_limits` counts it
        attempt_counts: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn mark_failed(
        &self,
        id: i64,
        error: &str,
        permanent: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Queued outbound messages, interactive first, oldest first.
    async fn queued_messages(&self, limit: i64) -> StoreResult<Vec<QueuedMessage>>;
    /// Reminder messages planned on `date` still waiting to be sent, with
    /// each reminder's tier: what `avisa remind` resumes.
    async fn queued_reminders_planned_on(&self, date: NaiveDate) -> StoreResult<Vec<(i64, i32)>>;
    /// Messages left in `sending` by a crash: whether WhatsApp got them is
    /// unknown, so they become `unknown` (never resent automatically; a
    /// reminder's tier counts as done; staff may retry by hand).
    async fn mark_interrupted_sends_unknown(
        &self,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// A send whose request may have reached the provider (timed out after
    /// it was written): `sending` → `unknown`.
    async fn mark_unknown(&self, id: i64, error: &str, now: DateTime<Utc>) -> StoreResult<()>;

    // --- one send pace per WhatsApp number, shared by every process
    /// Takes the send slot of `sender` for `holder` when its pause has
    /// passed and nobody else holds it (a holder's lease ends after
    /// `lease_ms`, should it die mid-send).
    async fn pace_claim(
        &self,
        sender: &str,
        holder: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> StoreResult<PaceClaim>;
    /// Gives the slot back: nobody sends before `next_at_ms` (completion +
    /// interval + jitter).
    async fn pace_release(&self, sender: &str, holder: &str, next_at_ms: i64) -> StoreResult<()>;
    /// Nobody sends before `until_ms` (a 429's `retry_after`).
    async fn pace_defer(&self, sender: &str, until_ms: i64) -> StoreResult<()>;
    async fn set_delivery_status(
        &self,
        wa_or_provider_id: &str,
        status: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    async fn message_counts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<KindStatusCount>>;
    async fn messages_for_phone(&self, phone: &str, limit: i64) -> StoreResult<Vec<MessageRow>>;

    // --- admin: ops (messages log, retry, export, import preview)
    /// Messages matching `filter`, newest first, `limit` from `offset`, with
    /// the total number that match.
    async fn message_log(
        &self,
        filter: &MessageFilter,
        limit: i64,
        offset: i64,
    ) -> StoreResult<MessagePage>;
    /// Puts a `failed` outbound message back to `queued` for a fresh try:
    /// attempts reset to 0 (a full retry budget), error, permanent flag and
    /// retry time cleared. False when it is not failed (a second click), or
    /// when it is a reminder whose reminders were planned again in another
    /// message since (retrying it would send them twice). The caller pushes
    /// the send job.
    async fn requeue_failed(&self, id: i64, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Every client with each of its subscriptions (one row per
    /// subscription; one row with no subscription fields for a client
    /// without any), in creation order.
    async fn export_rows(&self) -> StoreResult<Vec<ExportRow>>;
    /// The counts `upsert_subscriptions` would report for `rows`, without
    /// writing anything.
    async fn preview_subscriptions(&self, rows: &[NewSubscription]) -> StoreResult<UpsertSummary>;

    // --- settings and once-a-day marks
    // --- conversation and staff
    /// Marks an inbound message handled; false if it was not `received`.
    async fn mark_inbound_processed(&self, id: i64, now: DateTime<Utc>) -> StoreResult<bool>;
    async fn conversation(&self, phone: &str) -> StoreResult<Option<ConversationRow>>;
    async fn save_conversation(
        &self,
        phone: &str,
        state: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The client's newest open renewal request.
    async fn open_request_for_client(
        &self,
        client_id: i64,
    ) -> StoreResult<Option<RenewalRequestRow>>;
    async fn create_renewal_request(
        &self,
        client_id: i64,
        subscription_id: Option<i64>,
        now: DateTime<Utc>,
    ) -> StoreResult<i64>;
    /// Open requests, oldest first, with client and service.
    async fn open_requests(&self) -> StoreResult<Vec<PendingRequestView>>;
    /// In one transaction: moves the end date (only if it is still
    /// `old_end_date`, else `Conflict`), writes the audit row, closes the
    /// subscription's open requests and cancels still-queued reminders for
    /// the old end date.
    async fn renew_subscription(
        &self,
        renewal: &NewRenewal,
        now: DateTime<Utc>,
    ) -> StoreResult<RenewalRow>;
    /// This staff member's newest renewal since `since` that is not undone.
    async fn last_renewal_by(
        &self,
        staff: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Option<RenewalRow>>;
    /// Restores the old end date (if the subscription still has the new one)
    /// and marks the renewal undone; false if it was already undone or the
    /// date has changed since.
    async fn undo_renewal(&self, renewal_id: i64, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Active subscriptions whose end date is in `from..=to`, soonest first.
    async fn subscriptions_ending_by_date(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<SubscriptionView>>;
    async fn count_open_requests(&self) -> StoreResult<i64>;
    /// Sum of prices of active subscriptions ending in `from..=to`, in cents.
    async fn revenue_due(&self, from: NaiveDate, to: NaiveDate) -> StoreResult<i64>;

    // --- admin: auth (users, sessions, audit, login limits, dashboard facts)
    async fn count_users(&self) -> StoreResult<i64>;
    /// `Conflict` when the email (any case) is taken.
    async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<i64>;
    async fn users(&self) -> StoreResult<Vec<UserRow>>;
    /// The user with this email, compared without case.
    async fn user_credentials(&self, email: &str) -> StoreResult<Option<UserCredentials>>;
    async fn set_user_password(&self, user_id: i64, password_hash: &str) -> StoreResult<()>;
    async fn record_user_login(&self, user_id: i64, now: DateTime<Utc>) -> StoreResult<()>;
    async fn create_admin_session(&self, session: &NewAdminSession) -> StoreResult<()>;
    async fn admin_session(&self, token_hash: &str) -> StoreResult<Option<AdminSessionRow>>;
    async fn touch_admin_session(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<()>;
    async fn delete_admin_session(&self, token_hash: &str) -> StoreResult<()>;
    async fn delete_user_sessions(&self, user_id: i64) -> StoreResult<u64>;
    /// Deletes sessions past `expires_at` or not seen since `idle_before`.
    async fn delete_expired_admin_sessions(
        &self,
        idle_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    async fn record_login_failure(
        &self,
        email: &str,
        address: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn login_failures_since(
        &self,
        email: &str,
        address: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<LoginFailures>;
    /// Forgets this account's failures, and everyone's older than `before`.
    async fn clear_login_failures(&self, email: &str, before: DateTime<Utc>) -> StoreResult<()>;
    async fn insert_audit(&self, entry: &NewAudit, now: DateTime<Utc>) -> StoreResult<i64>;
    /// Newest first.
    async fn audit_entries(&self, limit: i64, offset: i64) -> StoreResult<Vec<AuditRow>>;
    async fn count_audit(&self) -> StoreResult<i64>;
    /// The stored value of `key`, writing `value` first if there is none
    /// (two processes starting together agree on one value).
    async fn count_active_subscriptions(&self) -> StoreResult<i64>;
    /// Active subscriptions ending on each day of `from..=to` (days with none left out).
    async fn expirations_by_day(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<DayCount>>;
    /// Renewals not undone whose old end date is in `from..=to`.
    async fn renewals_of_end_dates(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<RenewalRow>>;
    /// Subscriptions (any status) whose current end date is in `from..=to`.
    async fn subscriptions_due(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<DueSubscription>>;
}

/// Opens the database named by `url`, creating a SQLite file if needed, and
/// runs migrations.
pub async fn connect(url: &DatabaseUrl) -> StoreResult<Arc<dyn Store>> {
    let store: Arc<dyn Store> = match url {
        DatabaseUrl::Sqlite { path } => Arc::new(sqlite::SqliteStore::open(path).await?),
        DatabaseUrl::Postgres { url } => Arc::new(postgres::PostgresStore::open(url).await?),
    };
    store.migrate().await?;
    Ok(store)
}

pub async fn is_paused(store: &dyn Store) -> StoreResult<bool> {
    Ok(store.setting(SETTING_PAUSED).await?.is_some())
}
