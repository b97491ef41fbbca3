//! Renewal requests (a customer asked to renew, maybe with a receipt) and
//! renewals (staff moved an end date: the audit rows, and their undo).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::backend::{SqlStore, on_pool};
use super::{PendingRequestView, RenewalHistoryRow, RenewalRequestRow, RenewalRow, StoreResult};

pub(crate) const CREATE_REQUEST: &str = "INSERT INTO renewal_requests \
     (client_id, subscription_id, status, created_at) VALUES ($1, $2, 'open', $3) RETURNING id";
pub(crate) const ATTACH_RECEIPT: &str =
    "UPDATE renewal_requests SET receipt_message_id = $1 WHERE id = $2";
const OPEN_REQUEST_OF_CLIENT: &str = "SELECT id, client_id, subscription_id, status, \
     receipt_message_id, created_at, closed_at FROM renewal_requests \
     WHERE client_id = $1 AND status = 'open' ORDER BY id DESC LIMIT 1";
const OPEN_REQUESTS: &str = "SELECT r.id, r.client_id, c.name AS client_name, c.phone, \
     r.subscription_id, sv.name AS service, s.end_date, s.price_cents, r.receipt_message_id, \
     r.created_at \
     FROM renewal_requests r JOIN clients c ON c.id = r.client_id \
     LEFT JOIN subscriptions s ON s.id = r.subscription_id \
     LEFT JOIN services sv ON sv.id = s.service_id \
     WHERE r.status = 'open' ORDER BY r.created_at, r.id";
const COUNT_OPEN: &str = "SELECT COUNT(*) FROM renewal_requests WHERE status = 'open'";

const LAST_BY: &str = "SELECT id, subscription_id, staff, old_end_date, new_end_date, months, \
     amount_cents, created_at, undone_at FROM renewals \
     WHERE staff = $1 AND created_at >= $2 AND undone_at IS NULL ORDER BY id DESC LIMIT 1";
const MARK_UNDONE: &str = "UPDATE renewals SET undone_at = $1 WHERE id = $2 AND undone_at IS NULL \
     RETURNING subscription_id, old_end_date, new_end_date";
const RESTORE_END_DATE: &str =
    "UPDATE subscriptions SET end_date = $1, updated_at = $2 WHERE id = $3 AND end_date = $4";
const OF_CLIENT: &str = "SELECT r.id, r.subscription_id, sv.name AS service, r.staff, \
     r.old_end_date, r.new_end_date, r.months, r.amount_cents, r.created_at, r.undone_at \
     FROM renewals r JOIN subscriptions s ON s.id = r.subscription_id \
     JOIN services sv ON sv.id = s.service_id \
     WHERE s.client_id = $1 ORDER BY r.id DESC LIMIT $2";
const OF_END_DATES: &str = "SELECT id, subscription_id, staff, old_end_date, new_end_date, \
     months, amount_cents, created_at, undone_at FROM renewals \
     WHERE undone_at IS NULL AND old_end_date >= $1 AND old_end_date <= $2 ORDER BY id";

#[async_trait]
pub trait RenewalStore {
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
    async fn count_open_requests(&self) -> StoreResult<i64>;
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
    /// Renewals of the client's subscriptions, newest first.
    async fn renewals_of_client(
        &self,
        client_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<RenewalHistoryRow>>;
    /// Renewals not undone whose old end date is in `from..=to`.
    async fn renewals_of_end_dates(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<RenewalRow>>;
}

#[async_trait]
impl<S: SqlStore> RenewalStore for S {
    async fn open_request_for_client(
        &self,
        client_id: i64,
    ) -> StoreResult<Option<RenewalRequestRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(OPEN_REQUEST_OF_CLIENT)
            .bind(client_id)
            .fetch_optional(pool)
            .await?))
    }

    async fn create_renewal_request(
        &self,
        client_id: i64,
        subscription_id: Option<i64>,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar(CREATE_REQUEST)
            .bind(client_id)
            .bind(subscription_id)
            .bind(now)
            .fetch_one(pool)
            .await?))
    }

    async fn open_requests(&self) -> StoreResult<Vec<PendingRequestView>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(OPEN_REQUESTS)
            .fetch_all(pool)
            .await?))
    }

    async fn count_open_requests(&self) -> StoreResult<i64> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar(COUNT_OPEN)
            .fetch_one(pool)
            .await?))
    }

    async fn last_renewal_by(
        &self,
        staff: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Option<RenewalRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(LAST_BY)
            .bind(staff)
            .bind(since)
            .fetch_optional(pool)
            .await?))
    }

    async fn undo_renewal(&self, renewal_id: i64, now: DateTime<Utc>) -> StoreResult<bool> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let found: Option<(i64, NaiveDate, NaiveDate)> = sqlx::query_as(MARK_UNDONE)
                .bind(now)
                .bind(renewal_id)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((subscription_id, old_end, new_end)) = found else {
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

    async fn renewals_of_client(
        &self,
        client_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<RenewalHistoryRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(OF_CLIENT)
            .bind(client_id)
            .bind(limit)
            .fetch_all(pool)
            .await?))
    }

    async fn renewals_of_end_dates(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<RenewalRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(OF_END_DATES)
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?))
    }
}
