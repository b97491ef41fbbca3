//! Persistence, by area: each area module (`clients.rs`, `outbox.rs`, …)
//! holds its SQL as constants, one trait, and its implementation for both
//! backends (`backend.rs`: what differs between SQLite and PostgreSQL).
//! `Store` gathers the areas; `sqlite.rs` and `postgres.rs` open the
//! databases, each with its own migrations.

mod admin;
pub mod audit_log;
pub mod backend;
pub mod backup;
mod clients;
mod clients_model;
mod collections;
mod conversations;
pub(crate) mod import;
mod inbound;
pub mod inbox;
pub mod media;
pub mod message_log;
mod model;
mod model_admin;
mod ops;
mod outbox;
mod pacing;
pub mod payments;
mod phone_column;
pub mod postgres;
mod reminders;
mod renewals;
pub mod renewals_payment;
mod services;
mod settings;
pub mod sqlite;
mod stats;
mod subscriptions;
mod text_enum;
mod transfer;
mod window;

use std::sync::Arc;

use async_trait::async_trait;

pub use admin::AdminStore;
pub use audit_log::{AuditFilter, AuditLogStore};
pub use clients::ClientStore;
pub use clients_model::*;
pub use collections::{
    CollectionCounts, CollectionFilter, CollectionPage, CollectionRow, CollectionSort,
    CollectionsStore,
};
pub use conversations::ConversationStore;
pub use import::{Committed, ImportSession};
pub use inbound::InboundStore;
pub use inbox::{InboxRow, InboxStore, PanelReply, PhoneMessage};
pub use media::{MediaFile, MediaMeta, MediaStore, MessageMedia, NewMedia};
pub use message_log::{MessageLogPage, MessageLogRow, MessageLogStore, MessageSearch};
pub use model::*;
pub use model_admin::*;
pub use ops::*;
pub use outbox::OutboxStore;
pub use pacing::PacingStore;
pub use payments::{
    NewPaymentRecord, PaymentFilter, PaymentLink, PaymentRow, PaymentSettlement, PaymentStore,
    Settled,
};
pub use reminders::ReminderStore;
pub use renewals::RenewalStore;
pub use renewals_payment::{
    MAX_PAYMENT_REFERENCE, NewPayment, PAYMENT_METHODS, RenewalEntry, RenewalPaymentStore,
};
pub use services::ServiceStore;
pub use settings::SettingsStore;
pub use stats::StatsStore;
pub use subscriptions::SubscriptionStore;
pub use transfer::TransferStore;
pub use window::WindowStore;

/// The area traits, for callers of `Store` methods declared by an area
/// on a concrete or generic store (a `dyn Store` needs no import).
pub mod prelude {
    pub use super::{
        AdminStore, AuditLogStore, ClientStore, CollectionsStore, ConversationStore, InboundStore,
        InboxStore, MediaStore, MessageLogStore, OutboxStore, PacingStore, PaymentStore,
        ReminderStore, RenewalPaymentStore, RenewalStore, ServiceStore, SettingsStore, StatsStore,
        Store, SubscriptionStore, TransferStore, WindowStore,
    };
}

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
/// The last Cloud API send to a customer outside the 24-hour window
/// (JSON: `at`, `message_id`, `kind`, `template` or null, `ok`).
pub const SETTING_LAST_OUTSIDE_WINDOW: &str = "cloud_last_outside_window";

/// The whole store: every area's trait, and what concerns the database as
/// a whole. `SqliteStore` and `PostgresStore` implement it; the areas are
/// implemented once for both (`impl<S: SqlStore>` in each area module).
#[async_trait]
pub trait Store:
    AdminStore
    + AuditLogStore
    + ClientStore
    + CollectionsStore
    + ConversationStore
    + InboundStore
    + InboxStore
    + MediaStore
    + MessageLogStore
    + OutboxStore
    + PacingStore
    + PaymentStore
    + ReminderStore
    + RenewalPaymentStore
    + RenewalStore
    + ServiceStore
    + SettingsStore
    + StatsStore
    + SubscriptionStore
    + TransferStore
    + WindowStore
    + Send
    + Sync
    + std::fmt::Debug
{
    fn backend_name(&self) -> &'static str;
    fn pool(&self) -> Pool;
    /// The store's own background tasks (SQLite's checkpoints), for
    /// `/healthz`.
    fn background_tasks(&self) -> Vec<crate::health::TaskReport>;

    /// Runs the migrations, then fills what they leave to the application
    /// (the folded names of clients written before `name_folded`).
    async fn migrate(&self) -> StoreResult<()>;
    async fn ping(&self) -> StoreResult<()>;
}

/// Where the database is: a SQLite file or a PostgreSQL server's URL
/// (`config::DatabaseUrl` converts into it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location<'a> {
    Sqlite(&'a std::path::Path),
    Postgres(&'a str),
}

/// Opens the database at `location`, creating a SQLite file if needed, and
/// runs migrations.
pub async fn connect<'a>(location: impl Into<Location<'a>>) -> StoreResult<Arc<dyn Store>> {
    let store: Arc<dyn Store> = match location.into() {
        Location::Sqlite(path) => Arc::new(sqlite::SqliteStore::open(path).await?),
        Location::Postgres(url) => Arc::new(postgres::PostgresStore::open(url).await?),
    };
    store.migrate().await?;
    Ok(store)
}

pub async fn is_paused(store: &dyn Store) -> StoreResult<bool> {
    Ok(store.setting(SETTING_PAUSED).await?.is_some())
}
