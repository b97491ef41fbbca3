//! Imports of any size (`Store::begin_import`): the rows are staged in
//! temporary tables of one connection (the database holds them, not this
//! process), matched against clients, services and subscriptions without
//! the write lock, and then written by a few `INSERT … SELECT` statements in
//! one transaction: all or nothing, and as short as the database can make
//! it. `Store::upsert_subscriptions` is the same thing for rows at hand.
//!
//! The counts follow the row-by-row rules of `ops::preview_upsert`: a client
//! by phone (created, or updated once when a row's name differs from the
//! one it has then, or a row brings another email; a missing email never
//! clears one), a subscription by client and service, the service by name
//! without case (the database's `lower`); end date, price or a cancelled
//! status make an update. For a client the rows' order only matters for
//! what is written (the last name, the last email given): a client is
//! updated when any row's name differs from the stored one or any row gives
//! another email, so per phone the staging keeps the last name and email
//! and whether the rows disagreed among themselves.
//!
//! They are counted against the database as it was just before the write
//! transaction. If another process changed those rows in between, what the
//! transaction writes is still right (the writes are upserts), or, on
//! SQLite, a phone added meanwhile fails the unique index and the whole
//! import is rolled back: never half written.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use sqlx::pool::PoolConnection;
use sqlx::{AssertSqlSafe, Connection};

use super::backend::{Backend, power_of_two_chunks_of, query_builder_for};
use super::{NewSubscription, StoreResult, UpsertSummary, fold};

/// An import in progress. Dropping it writes nothing.
#[async_trait]
pub trait ImportSession: Send {
    /// Adds rows after those staged before; later rows win, as later lines
    /// of a file do.
    async fn stage(&mut self, rows: &[NewSubscription]) -> StoreResult<()>;
    /// Rows staged so far.
    fn staged(&self) -> u64;
    /// What [`ImportSession::commit`] would report now; writes nothing.
    async fn preview(&mut self) -> StoreResult<UpsertSummary>;
    /// Writes every staged row in one transaction.
    async fn commit(self: Box<Self>, now: DateTime<Utc>) -> StoreResult<Committed>;
}

/// What an import wrote, and how long its transaction held the write lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    pub summary: UpsertSummary,
    pub write_time: Duration,
}

/// How an import runs on one backend ([`Backend::IMPORT`]): the statements
/// are [`sql`]'s, these are the differences.
///
/// [`Backend::IMPORT`]: super::backend::Backend::IMPORT
#[derive(Debug)]
pub struct ImportPlan {
    /// The staging tables' row-order key (SQLite's `INTEGER PRIMARY KEY` is
    /// the table's own row order).
    pub key: &'static str,
    /// Run first on the connection.
    pub setup: &'static [&'static str],
    /// Run after the clients are matched (PostgreSQL plans temporary
    /// tables blind without `ANALYZE`).
    pub after_match: &'static [&'static str],
    /// Run before the write transaction.
    pub before_write: &'static [&'static str],
    /// The write transaction's first statement.
    pub begin: &'static str,
    /// The write transaction's statements (`$1` now, `$2` the largest
    /// client id).
    pub write: &'static [&'static str],
}

/// The connection an import's staging tables live on.
pub(crate) enum Staging {
    Sqlite(PoolConnection<sqlx::Sqlite>),
    Postgres(PoolConnection<sqlx::Postgres>),
}

impl From<PoolConnection<sqlx::Sqlite>> for Staging {
    fn from(connection: PoolConnection<sqlx::Sqlite>) -> Staging {
        Staging::Sqlite(connection)
    }
}

impl From<PoolConnection<sqlx::Postgres>> for Staging {
    fn from(connection: PoolConnection<sqlx::Postgres>) -> Staging {
        Staging::Postgres(connection)
    }
}

/// Runs `$body` with `$connection` bound to the staging connection
/// (`&mut PoolConnection<Sqlite>` or `<Postgres>`) and `$plan` to its
/// backend's [`ImportPlan`], like `on_pool!` for a store.
macro_rules! on_staging {
    ($staging:expr, |$connection:ident, $plan:ident| $body:expr) => {
        match $staging {
            Staging::Sqlite($connection) => {
                let $plan = &<sqlx::Sqlite as Backend>::IMPORT;
                $body
            }
            Staging::Postgres($connection) => {
                let $plan = &<sqlx::Postgres as Backend>::IMPORT;
                $body
            }
        }
    };
}

/// One connection's staged import (its temporary tables live and die with
/// the connection, which is closed afterwards rather than pooled again).
pub(crate) struct Staged {
    staging: Staging,
    /// Rows staged so far; the next row's order is this + 1.
    rows: i64,
    /// Each service name as written → its first row.
    services: HashMap<String, i64>,
    /// The counts, once matched against the database, until more rows come.
    summary: Option<UpsertSummary>,
}

/// Rows per staging INSERT: a chunk's bound values stay far below both
/// backends' limits, and power-of-two chunks keep the statement shapes few.
/// Small enough, too, that a statement is one write on the socket: sqlx
/// does not set TCP_NODELAY, and a message of more than about 16 KB went
/// out in two parts, the second held back by Nagle's algorithm until
/// PostgreSQL's delayed ACK, 40 ms later (256 rows of clients: 44 ms a
/// statement; 128 rows: 0.5 ms).
pub(crate) const STAGE_ROWS_PER_INSERT: usize = 128;

/// A batch's rows of one phone folded in order: the last name and email
/// given, and whether they disagreed among themselves.
pub(crate) struct ClientFold<'a> {
    pub(crate) first_row: i64,
    pub(crate) phone: &'a str,
    pub(crate) name: &'a str,
    pub(crate) email: Option<&'a str>,
    pub(crate) names_vary: bool,
    pub(crate) emails_vary: bool,
}

/// Folds `rows` (the first numbered `first_row`) by phone, in order of
/// first appearance.
pub(crate) fn fold_clients(rows: &[NewSubscription], first_row: i64) -> Vec<ClientFold<'_>> {
    let mut folds: Vec<ClientFold<'_>> = Vec::new();
    let mut by_phone: HashMap<&str, usize> = HashMap::new();
    for (offset, row) in (0i64..).zip(rows) {
        let email = row.email.as_deref();
        match by_phone.get(row.phone.as_str()) {
            None => {
                by_phone.insert(row.phone.as_str(), folds.len());
                folds.push(ClientFold {
                    first_row: first_row + offset,
                    phone: row.phone.as_str(),
                    name: &row.name,
                    email,
                    names_vary: false,
                    emails_vary: false,
                });
            }
            Some(index) => {
                let fold = &mut folds[*index];
                fold.names_vary |= fold.name != row.name;
                fold.name = &row.name;
                if let Some(email) = email {
                    fold.emails_vary |= fold.email.is_some_and(|e| e != email);
                    fold.email = Some(email);
                }
            }
        }
    }
    folds
}

/// The statements, the same on both backends (the differences are each
/// backend's [`ImportPlan`]).
pub(crate) mod sql {
    /// The clients, one row per phone, from the batches' folds: the first
    /// row, the last name, the last email given, and whether names (or
    /// given emails) disagreed within a batch or between batches.
    pub const CLIENTS: &str = "INSERT INTO import_clients \
         (first_row, phone, name, name_folded, email, names_vary, emails_vary) \
         SELECT MIN(first_row), phone, MAX(last_name), MAX(last_name_folded), MAX(last_email), \
             (MAX(CASE WHEN names_vary THEN 1 ELSE 0 END) = 1 OR MIN(name) <> MAX(name)), \
             (MAX(CASE WHEN emails_vary THEN 1 ELSE 0 END) = 1 \
              OR COALESCE(MIN(email) <> MAX(email), FALSE)) \
         FROM (SELECT f.first_row, f.phone, f.name, f.email, f.names_vary, f.emails_vary, \
                   FIRST_VALUE(f.name) OVER (PARTITION BY f.phone ORDER BY f.first_row DESC) \
                       AS last_name, \
                   FIRST_VALUE(f.name_folded) OVER (PARTITION BY f.phone \
                       ORDER BY f.first_row DESC) AS last_name_folded, \
                   FIRST_VALUE(f.email) OVER (PARTITION BY f.phone \
                       ORDER BY f.email IS NULL, f.first_row DESC) AS last_email \
               FROM import_folds f) folds \
         GROUP BY phone";

    /// Matching, without the write lock: the services by name without case,
    /// the clients by phone (updated when a row's name differs, or a row
    /// gives an email the client does not have), the subscriptions by both.
    pub const MATCH: [&str; 2] = [
        "UPDATE import_services SET service_id = \
         (SELECT s.id FROM services s WHERE lower(s.name) = lower(import_services.name))",
        "UPDATE import_clients SET client_id = c.id, changed = \
         (import_clients.names_vary OR import_clients.name <> c.name \
          OR (import_clients.email IS NOT NULL \
              AND (import_clients.emails_vary OR c.email IS NULL \
                   OR import_clients.email <> c.email))) \
         FROM clients c WHERE c.phone = import_clients.phone",
    ];

    /// After [`MATCH`] (whose ids it joins on).
    pub const MATCH_SUBSCRIPTIONS: &str = "UPDATE import_rows SET subscription_id = s.id, \
         changed = (s.end_date <> import_rows.end_date OR s.price_cents <> import_rows.price_cents \
          OR s.status <> 'active') \
         FROM import_clients ic, import_services sv, subscriptions s \
         WHERE ic.phone = import_rows.phone AND sv.name = import_rows.service \
           AND s.client_id = ic.client_id AND s.service_id = sv.service_id";

    /// SQLite, after [`MATCH`]: new clients numbered in file order, and each
    /// row tied to its client's staging row, so that the write gives ids
    /// itself (the largest id + the number: nobody else writes while the
    /// transaction holds the lock) instead of looking each phone up again.
    pub const NUMBER_NEW_CLIENTS: [&str; 2] = [
        "UPDATE import_clients SET new_number = n.number \
         FROM (SELECT first_row, ROW_NUMBER() OVER (ORDER BY first_row) AS number \
               FROM import_clients WHERE client_id IS NULL) n \
         WHERE n.first_row = import_clients.first_row",
        "UPDATE import_rows SET client_row = ic.first_row \
         FROM import_clients ic WHERE ic.phone = import_rows.phone",
    ];

    /// The largest client id, in the write transaction (`$2` of
    /// [`WRITE_NUMBERED`]).
    pub const LAST_CLIENT: &str = "SELECT COALESCE(MAX(id), 0) FROM clients";

    pub const COUNT: &str = "SELECT \
         (SELECT COUNT(*) FROM import_clients WHERE client_id IS NULL), \
         (SELECT COUNT(*) FROM import_clients WHERE changed), \
         (SELECT COUNT(*) FROM import_rows WHERE subscription_id IS NULL), \
         (SELECT COUNT(*) FROM import_rows WHERE changed)";

    /// The write, `$1` = now. A new service is created with its first
    /// spelling in the file; new clients and subscriptions get their ids in
    /// file order, as row-by-row inserts gave them.
    pub const WRITE: [&str; 4] = [
        "INSERT INTO services (name, created_at) \
         SELECT i.name, $1 FROM import_services i \
         WHERE i.service_id IS NULL AND NOT EXISTS (SELECT 1 FROM import_services j \
             WHERE lower(j.name) = lower(i.name) AND j.first_row < i.first_row) \
         ORDER BY i.first_row \
         ON CONFLICT DO NOTHING",
        "UPDATE import_services SET service_id = \
         (SELECT s.id FROM services s WHERE lower(s.name) = lower(import_services.name)) \
         WHERE service_id IS NULL",
        "INSERT INTO clients (name, name_folded, phone, email, notes, created_at, updated_at) \
         SELECT name, name_folded, phone, email, '', $1, $1 FROM import_clients \
         WHERE client_id IS NULL OR changed \
         ORDER BY first_row \
         ON CONFLICT (phone) DO UPDATE SET name = excluded.name, \
             name_folded = excluded.name_folded, \
             email = COALESCE(excluded.email, clients.email), updated_at = excluded.updated_at",
        "INSERT INTO subscriptions \
             (client_id, service_id, end_date, price_cents, currency, status, created_at, \
              updated_at) \
         SELECT c.id, sv.service_id, r.end_date, r.price_cents, 'USD', 'active', $1, $1 \
         FROM import_rows r JOIN clients c ON c.phone = r.phone \
         JOIN import_services sv ON sv.name = r.service \
         WHERE r.subscription_id IS NULL OR r.changed \
         ORDER BY r.row_number \
         ON CONFLICT (client_id, service_id) DO UPDATE SET end_date = excluded.end_date, \
             price_cents = excluded.price_cents, status = 'active', \
             updated_at = excluded.updated_at",
    ];

    /// [`WRITE`] with the new clients' ids given (SQLite, after
    /// [`NUMBER_NEW_CLIENTS`]; `$2` = [`LAST_CLIENT`]). A phone that another
    /// process added since the matching fails the unique index: the whole
    /// import is rolled back, never half written.
    pub const WRITE_NUMBERED: [&str; 5] = [
        WRITE[0],
        WRITE[1],
        "INSERT INTO clients (created_at, updated_at, id, name, name_folded, phone, email, notes) \
         SELECT $1, $1, $2 + new_number, name, name_folded, phone, email, '' FROM import_clients \
         WHERE client_id IS NULL ORDER BY first_row",
        "INSERT INTO clients (created_at, updated_at, id, name, name_folded, phone, email, notes) \
         SELECT $1, $1, client_id, name, name_folded, phone, email, '' FROM import_clients \
         WHERE changed ORDER BY first_row \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
             name_folded = excluded.name_folded, \
             email = COALESCE(excluded.email, clients.email), updated_at = excluded.updated_at",
        "INSERT INTO subscriptions \
             (created_at, updated_at, client_id, service_id, end_date, price_cents, currency, \
              status) \
         SELECT $1, $1, COALESCE(ic.client_id, $2 + ic.new_number), sv.service_id, \
             r.end_date, r.price_cents, 'USD', 'active' \
         FROM import_rows r JOIN import_clients ic ON ic.first_row = r.client_row \
         JOIN import_services sv ON sv.name = r.service \
         WHERE r.subscription_id IS NULL OR r.changed \
         ORDER BY r.row_number \
         ON CONFLICT (client_id, service_id) DO UPDATE SET end_date = excluded.end_date, \
             price_cents = excluded.price_cents, status = 'active', \
             updated_at = excluded.updated_at",
    ];
}

/// The staging tables; `{key}` is the plan's row-order key.
const CREATE_TABLES: [&str; 4] = [
    "CREATE TEMP TABLE import_rows (row_number {key}, \
     phone TEXT NOT NULL, service TEXT NOT NULL, end_date DATE NOT NULL, \
     price_cents BIGINT NOT NULL, subscription_id BIGINT, client_row BIGINT, \
     changed BOOLEAN NOT NULL DEFAULT FALSE)",
    "CREATE TEMP TABLE import_folds (first_row {key}, \
     phone TEXT NOT NULL, name TEXT NOT NULL, name_folded TEXT NOT NULL, email TEXT, \
     names_vary BOOLEAN NOT NULL, emails_vary BOOLEAN NOT NULL)",
    "CREATE TEMP TABLE import_clients (first_row {key}, \
     phone TEXT NOT NULL UNIQUE, name TEXT NOT NULL, name_folded TEXT NOT NULL, email TEXT, \
     names_vary BOOLEAN NOT NULL, emails_vary BOOLEAN NOT NULL, \
     client_id BIGINT, changed BOOLEAN NOT NULL DEFAULT FALSE, new_number BIGINT)",
    "CREATE TEMP TABLE import_services (first_row {key}, \
     name TEXT NOT NULL UNIQUE, service_id BIGINT)",
];
const STAGE_SERVICES: &str = "INSERT INTO import_services (first_row, name) ";
const STAGE_ROWS: &str =
    "INSERT INTO import_rows (row_number, phone, service, end_date, price_cents) ";
const STAGE_FOLDS: &str = "INSERT INTO import_folds \
     (first_row, phone, name, name_folded, email, names_vary, emails_vary) ";
const CLEAR_CLIENTS: &str = "DELETE FROM import_clients";

impl Staged {
    /// Creates the staging tables on `staging`, a connection of its own.
    pub(crate) async fn open(mut staging: Staging) -> StoreResult<Box<dyn ImportSession>> {
        on_staging!(&mut staging, |connection, plan| {
            // Its temporary tables and settings end with it.
            connection.close_on_drop();
            let create = CREATE_TABLES.map(|sql| sql.replace("{key}", plan.key));
            for statement in plan.setup.iter().map(|s| s.to_string()).chain(create) {
                let statement = sqlx::query(AssertSqlSafe(statement));
                statement.execute(&mut **connection).await?;
            }
        });
        Ok(Box::new(Staged {
            staging,
            rows: 0,
            services: HashMap::new(),
            summary: None,
        }))
    }

    /// Matches the staged rows against the database (no write lock: only
    /// the temporary tables change) and counts.
    async fn matched(&mut self) -> StoreResult<UpsertSummary> {
        if let Some(summary) = self.summary {
            return Ok(summary);
        }
        let mut services: Vec<(&String, &i64)> = self.services.iter().collect();
        services.sort_by_key(|(_, first)| **first);
        let counts: (i64, i64, i64, i64) = on_staging!(&mut self.staging, |connection, plan| {
            for chunk in power_of_two_chunks_of(&services, STAGE_ROWS_PER_INSERT) {
                let mut insert = query_builder_for(connection, STAGE_SERVICES);
                insert.push_values(chunk, |mut row, (name, first)| {
                    row.push_bind(**first).push_bind(name.as_str());
                });
                insert.push(" ON CONFLICT DO NOTHING");
                insert.build().execute(&mut **connection).await?;
            }
            let statements = [CLEAR_CLIENTS, sql::CLIENTS]
                .into_iter()
                .chain(sql::MATCH)
                .chain(plan.after_match.iter().copied())
                .chain([sql::MATCH_SUBSCRIPTIONS]);
            for statement in statements {
                sqlx::query(statement).execute(&mut **connection).await?;
            }
            sqlx::query_as(sql::COUNT)
                .fetch_one(&mut **connection)
                .await?
        });
        let (created, updated, subs_created, subs_updated) = counts;
        let count = |n: i64| u64::try_from(n).unwrap_or_default();
        let summary = UpsertSummary {
            clients_created: count(created),
            clients_updated: count(updated),
            subscriptions_created: count(subs_created),
            subscriptions_updated: count(subs_updated),
        };
        self.summary = Some(summary);
        Ok(summary)
    }
}

#[async_trait]
impl ImportSession for Staged {
    async fn stage(&mut self, rows: &[NewSubscription]) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.summary = None;
        let first = self.rows + 1;
        let numbered: Vec<(i64, &NewSubscription)> = (first..).zip(rows).collect();
        let folds = fold_clients(rows, first);
        on_staging!(&mut self.staging, |connection, _plan| {
            for chunk in power_of_two_chunks_of(&numbered, STAGE_ROWS_PER_INSERT) {
                let mut insert = query_builder_for(connection, STAGE_ROWS);
                insert.push_values(chunk, |mut values, (number, row)| {
                    values
                        .push_bind(*number)
                        .push_bind(row.phone.as_str())
                        .push_bind(row.service.as_str())
                        .push_bind(row.end_date)
                        .push_bind(row.price.cents());
                });
                insert.build().execute(&mut **connection).await?;
            }
            for chunk in power_of_two_chunks_of(&folds, STAGE_ROWS_PER_INSERT) {
                let mut insert = query_builder_for(connection, STAGE_FOLDS);
                insert.push_values(chunk, |mut values, client| {
                    values
                        .push_bind(client.first_row)
                        .push_bind(client.phone)
                        .push_bind(client.name)
                        .push_bind(fold(client.name))
                        .push_bind(client.email)
                        .push_bind(client.names_vary)
                        .push_bind(client.emails_vary);
                });
                insert.build().execute(&mut **connection).await?;
            }
        });
        for (number, row) in &numbered {
            if !self.services.contains_key(&row.service) {
                self.services.insert(row.service.clone(), *number);
            }
        }
        self.rows = first - 1 + rows.len() as i64;
        Ok(())
    }

    fn staged(&self) -> u64 {
        u64::try_from(self.rows).unwrap_or_default()
    }

    async fn preview(&mut self) -> StoreResult<UpsertSummary> {
        self.matched().await
    }

    async fn commit(mut self: Box<Self>, now: DateTime<Utc>) -> StoreResult<Committed> {
        let summary = self.matched().await?;
        let write_time = on_staging!(&mut self.staging, |connection, plan| {
            for statement in plan.before_write.iter().copied() {
                sqlx::query(statement).execute(&mut **connection).await?;
            }
            let started = std::time::Instant::now();
            let mut tx = connection.begin_with(plan.begin).await?;
            let last_client: i64 = sqlx::query_scalar(sql::LAST_CLIENT)
                .fetch_one(&mut *tx)
                .await?;
            for statement in plan.write.iter().copied() {
                let mut query = sqlx::query(statement);
                if statement.contains("$1") {
                    query = query.bind(now);
                }
                if statement.contains("$2") {
                    query = query.bind(last_client);
                }
                query.execute(&mut *tx).await?;
            }
            tx.commit().await?;
            started.elapsed()
        });
        Ok(Committed {
            summary,
            write_time,
        })
    }
}
