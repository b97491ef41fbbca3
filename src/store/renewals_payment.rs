//! Renewals with a receipt of what was paid (the staff panel's renewal
//! form): the renewal transaction that also keeps the amount received, the
//! method and a reference; the client page's history with them; and the
//! panel's undo, which only takes a subscription's newest renewal within a
//! time window.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::backend::{Backend, SqlStore, on_pool};
use super::{NewRenewal, RenewalRow, StoreError, StoreResult};

/// How a renewal was paid: the codes stored in `renewals.payment_method`,
/// in the order the form offers them.
pub const PAYMENT_METHODS: [&str; 4] = ["efectivo", "transferencia", "tarjeta", "otro"];

/// Longest payment reference kept (characters).
pub const MAX_PAYMENT_REFERENCE: usize = 100;

/// What staff received for a renewal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    pub paid_cents: i64,
    /// One of [`PAYMENT_METHODS`].
    pub method: String,
    pub reference: Option<String>,
}

/// One renewal of a client's subscriptions, with the service and what was
/// paid (`None` for renewals that recorded no payment, e.g. `/renovar`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct RenewalEntry {
    pub id: i64,
    pub subscription_id: i64,
    pub client_id: i64,
    pub service: String,
    pub staff: String,
    pub old_end_date: NaiveDate,
    pub new_end_date: NaiveDate,
    pub months: i32,
    pub amount_cents: i64,
    pub paid_cents: Option<i64>,
    pub payment_method: Option<String>,
    pub payment_reference: Option<String>,
    pub created_at: DateTime<Utc>,
    pub undone_at: Option<DateTime<Utc>>,
}

pub(crate) const MOVE_END_DATE: &str = "UPDATE subscriptions SET end_date = $1, status = 'active', \
     updated_at = $2 WHERE id = $3 AND end_date = $4";
pub(crate) const INSERT_RENEWAL: &str = "INSERT INTO renewals (subscription_id, staff, old_end_date, \
     new_end_date, months, amount_cents, paid_cents, payment_method, payment_reference, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
     RETURNING id, subscription_id, staff, old_end_date, new_end_date, months, amount_cents, \
     created_at, undone_at";
pub(crate) const CLOSE_REQUESTS: &str = "UPDATE renewal_requests SET status = 'closed', closed_at = $1 \
     WHERE subscription_id = $2 AND status = 'open'";
/// A queued reminder about the old date is now wrong; one that also covers
/// other subscriptions is left alone.
pub(crate) const CANCEL_OLD_REMINDERS: &str = "UPDATE messages SET status = 'cancelled', updated_at = $1 \
     WHERE status = 'queued' AND direction = 'out' AND id IN \
     (SELECT message_id FROM reminders WHERE subscription_id = $2 AND end_date = $3) \
     AND NOT EXISTS (SELECT 1 FROM reminders o WHERE o.message_id = messages.id \
     AND o.subscription_id <> $2)";

macro_rules! entry_select {
    () => {
        "SELECT r.id, r.subscription_id, s.client_id, sv.name AS service, \
         r.staff, r.old_end_date, r.new_end_date, r.months, r.amount_cents, r.paid_cents, \
         r.payment_method, r.payment_reference, r.created_at, r.undone_at \
         FROM renewals r JOIN subscriptions s ON s.id = r.subscription_id \
         JOIN services sv ON sv.id = s.service_id "
    };
}
const HISTORY: &str = concat!(
    entry_select!(),
    "WHERE s.client_id = $1 ORDER BY r.id DESC LIMIT $2"
);
const ENTRY: &str = concat!(entry_select!(), "WHERE r.id = $1");
const NEWEST_OPEN: &str =
    "SELECT MAX(id) FROM renewals WHERE subscription_id = $1 AND undone_at IS NULL";
/// Marks the renewal undone only if it is still its subscription's newest
/// renewal not undone and was made at or after `$3`.
const MARK_UNDONE: &str = "UPDATE renewals SET undone_at = $1 \
     WHERE id = $2 AND undone_at IS NULL AND created_at >= $3 \
     AND id = (SELECT MAX(o.id) FROM renewals o \
     WHERE o.subscription_id = renewals.subscription_id AND o.undone_at IS NULL) \
     RETURNING subscription_id, old_end_date, new_end_date";
const RESTORE_END_DATE: &str =
    "UPDATE subscriptions SET end_date = $1, updated_at = $2 WHERE id = $3 AND end_date = $4";

#[async_trait]
pub trait RenewalPaymentStore {
    /// In one transaction: moves the end date (only if it is still
    /// `old_end_date`, else `Conflict`), writes the renewal row with what was
    /// paid (`None`: nothing recorded), closes the subscription's open
    /// requests and cancels still-queued reminders for the old end date.
    async fn renew_with_payment(
        &self,
        renewal: &NewRenewal,
        payment: Option<&NewPayment>,
        now: DateTime<Utc>,
    ) -> StoreResult<RenewalRow>;
    /// Renewals of the client's subscriptions with what was paid, newest first.
    async fn renewal_history(&self, client_id: i64, limit: i64) -> StoreResult<Vec<RenewalEntry>>;
    async fn renewal_entry(&self, id: i64) -> StoreResult<Option<RenewalEntry>>;
    /// The id of the subscription's newest renewal that is not undone.
    async fn newest_open_renewal(&self, subscription_id: i64) -> StoreResult<Option<i64>>;
    /// Restores the old end date and marks the renewal undone, only if it
    /// was made at or after `since`, is still its subscription's newest
    /// renewal not undone, and the subscription still ends on its new date.
    /// False (nothing changed) otherwise.
    async fn undo_recent_renewal(
        &self,
        id: i64,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
}

/// The renewal's writes inside the caller's transaction `$tx`: the end
/// date moves only if it is still `old_end_date` (else `None`, nothing
/// written), then the renewal row with what was paid (`$payment`:
/// `Option<&NewPayment>`), open requests closed and the old period's
/// queued reminders cancelled. Shared by the panel/staff renewal and a
/// settled online payment.
macro_rules! renew_in_tx {
    ($tx:expr, $renewal:expr, $payment:expr, $now:expr) => {{
        let renewal = $renewal;
        let payment: Option<&$crate::store::NewPayment> = $payment;
        let moved = sqlx::query($crate::store::renewals_payment::MOVE_END_DATE)
            .bind(renewal.new_end_date)
            .bind($now)
            .bind(renewal.subscription_id)
            .bind(renewal.old_end_date)
            .execute(&mut *$tx)
            .await?
            .rows_affected();
        if moved == 1 {
            let row: $crate::store::RenewalRow =
                sqlx::query_as($crate::store::renewals_payment::INSERT_RENEWAL)
                    .bind(renewal.subscription_id)
                    .bind(&renewal.staff)
                    .bind(renewal.old_end_date)
                    .bind(renewal.new_end_date)
                    .bind(renewal.months)
                    .bind(renewal.amount_cents)
                    .bind(payment.map(|p| p.paid_cents))
                    .bind(payment.map(|p| p.method.as_str()))
                    .bind(payment.and_then(|p| p.reference.as_deref()))
                    .bind($now)
                    .fetch_one(&mut *$tx)
                    .await?;
            sqlx::query($crate::store::renewals_payment::CLOSE_REQUESTS)
                .bind($now)
                .bind(renewal.subscription_id)
                .execute(&mut *$tx)
                .await?;
            sqlx::query($crate::store::renewals_payment::CANCEL_OLD_REMINDERS)
                .bind($now)
                .bind(renewal.subscription_id)
                .bind(renewal.old_end_date)
                .execute(&mut *$tx)
                .await?;
            Some(row)
        } else {
            None
        }
    }};
}
pub(crate) use renew_in_tx;

#[async_trait]
impl<S: SqlStore> RenewalPaymentStore for S {
    async fn renew_with_payment(
        &self,
        renewal: &NewRenewal,
        payment: Option<&NewPayment>,
        now: DateTime<Utc>,
    ) -> StoreResult<RenewalRow> {
        on_pool!(self, |pool| {
            let mut tx = Backend::begin_write(pool).await?;
            let Some(row) = renew_in_tx!(tx, renewal, payment, now) else {
                return Err(StoreError::Conflict(format!(
                    "subscription {} no longer ends on {}",
                    renewal.subscription_id, renewal.old_end_date
                )));
            };
            tx.commit().await?;
            Ok(row)
        })
    }

    async fn renewal_history(&self, client_id: i64, limit: i64) -> StoreResult<Vec<RenewalEntry>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(HISTORY)
            .bind(client_id)
            .bind(limit)
            .fetch_all(pool)
            .await?))
    }

    async fn renewal_entry(&self, id: i64) -> StoreResult<Option<RenewalEntry>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(ENTRY)
            .bind(id)
            .fetch_optional(pool)
            .await?))
    }

    async fn newest_open_renewal(&self, subscription_id: i64) -> StoreResult<Option<i64>> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar(NEWEST_OPEN)
            .bind(subscription_id)
            .fetch_one(pool)
            .await?))
    }

    async fn undo_recent_renewal(
        &self,
        id: i64,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        on_pool!(self, |pool| {
            let mut tx = Backend::begin_write(pool).await?;
            let marked: Option<(i64, NaiveDate, NaiveDate)> = sqlx::query_as(MARK_UNDONE)
                .bind(now)
                .bind(id)
                .bind(since)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((subscription_id, old_end, new_end)) = marked else {
                return Ok(false);
            };
            let restored = sqlx::query(RESTORE_END_DATE)
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
        })
    }
}
