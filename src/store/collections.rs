//! Cobranza (`/admin/subscriptions`): every subscription with what staff
//! need to chase it — filtered and paged in SQL, each page's rows with the
//! last reminder, the client's last own message and an open renewal
//! request — and the dashboard's counts that link into it.
//!
//! A page is chosen by the inner `SELECT s.id … ORDER BY … LIMIT` (the end
//! date order walks `subscriptions_end_date`); only its rows look up their
//! reminder, message and request, each by an indexed column
//! (`reminders (subscription_id, …)`, `messages_inbound_phone` from
//! migration 0006, `renewal_requests_open`).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::StoreResult;
use super::backend::{SqlStore, on_pool};

/// Which subscriptions the list shows. Every bound is optional; `None`
/// everywhere is every subscription.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectionFilter {
    /// End date on or after.
    pub from: Option<NaiveDate>,
    /// End date on or before.
    pub to: Option<NaiveDate>,
    pub service_id: Option<i64>,
    /// `active` or `cancelled`.
    pub status: Option<String>,
    /// Only clients who opted out of reminders.
    pub opted_out: bool,
    pub sort: CollectionSort,
}

/// The list's order; ties by end date, then id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CollectionSort {
    /// Soonest (most overdue) first.
    #[default]
    EndDate,
    /// By name as people read it (case and accents aside).
    Name,
    /// Highest price first.
    Price,
}

/// One line of the collections list.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct CollectionRow {
    pub id: i64,
    pub client_id: i64,
    pub client_name: String,
    pub phone: String,
    pub opted_out_at: Option<DateTime<Utc>>,
    pub service_id: i64,
    pub service: String,
    pub end_date: NaiveDate,
    pub price_cents: i64,
    pub status: String,
    /// The newest reminder about this subscription: its tier, its message's
    /// status and when it was sent (or queued).
    pub reminder_tier: Option<i32>,
    pub reminder_status: Option<String>,
    pub reminder_at: Option<DateTime<Utc>>,
    /// The start of the client's newest own message, and when it came.
    pub last_in_body: Option<String>,
    pub last_in_at: Option<DateTime<Utc>>,
    /// The client's newest open renewal request about this subscription
    /// (or about none in particular).
    pub request_id: Option<i64>,
    pub request_subscription_id: Option<i64>,
}

/// One page of the list and how many subscriptions match in all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CollectionPage {
    pub rows: Vec<CollectionRow>,
    pub total: i64,
}

/// Active subscriptions by how soon they end, for the dashboard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct CollectionCounts {
    /// Ended before today.
    pub expired: i64,
    pub today: i64,
    /// Today and the next 6 days.
    pub next_7: i64,
    /// Today and the next 29 days.
    pub next_30: i64,
}

/// The filters: `$1` from, `$2` to, `$3` service, `$4` status, `$5` opted out only.
macro_rules! collection_where {
    () => {
        "FROM subscriptions s JOIN clients c ON c.id = s.client_id \
         WHERE ($1 IS NULL OR s.end_date >= $1) AND ($2 IS NULL OR s.end_date <= $2) \
         AND ($3 IS NULL OR s.service_id = $3) AND ($4 IS NULL OR s.status = $4) \
         AND (NOT $5 OR c.opted_out_at IS NOT NULL) "
    };
}

/// A client's name without case or accents (`clients.name_folded`, written
/// from `store::fold`): the clients list's order.
macro_rules! collection_folded_name {
    () => {
        "c.name_folded"
    };
}

/// One page in `$order` (`$6` limit, `$7` offset), then each row's facts.
macro_rules! collection_page {
    ($order:expr) => {
        concat!(
            "SELECT s.id, s.client_id, c.name AS client_name, c.phone, c.opted_out_at, \
             s.service_id, sv.name AS service, s.end_date, s.price_cents, s.status, \
             r.tier AS reminder_tier, rm.status AS reminder_status, \
             COALESCE(rm.sent_at, rm.created_at, r.created_at) AS reminder_at, \
             substr(mi.body, 1, 120) AS last_in_body, mi.created_at AS last_in_at, \
             rq.id AS request_id, rq.subscription_id AS request_subscription_id \
             FROM (SELECT s.id ",
            collection_where!(),
            "ORDER BY ",
            $order,
            " LIMIT $6 OFFSET $7) page \
             JOIN subscriptions s ON s.id = page.id \
             JOIN clients c ON c.id = s.client_id \
             JOIN services sv ON sv.id = s.service_id \
             LEFT JOIN reminders r ON r.id = \
               (SELECT MAX(r2.id) FROM reminders r2 WHERE r2.subscription_id = s.id) \
             LEFT JOIN messages rm ON rm.id = r.message_id \
             LEFT JOIN messages mi ON mi.id = \
               (SELECT MAX(m2.id) FROM messages m2 WHERE m2.phone = c.phone AND m2.direction = 'in') \
             LEFT JOIN renewal_requests rq ON rq.id = \
               (SELECT MAX(q.id) FROM renewal_requests q WHERE q.status = 'open' \
                AND q.client_id = s.client_id \
                AND (q.subscription_id = s.id OR q.subscription_id IS NULL)) \
             ORDER BY ",
            $order
        )
    };
}

const PAGE_BY_END_DATE: &str = collection_page!("s.end_date, s.id");
const PAGE_BY_NAME: &str =
    collection_page!(concat!(collection_folded_name!(), ", s.end_date, s.id"));
const PAGE_BY_PRICE: &str = collection_page!("s.price_cents DESC, s.end_date, s.id");
const COUNT: &str = concat!("SELECT COUNT(*) ", collection_where!());
/// `$1` today, `$2` today + 6, `$3` today + 29.
const COUNTS: &str = "SELECT \
     COUNT(CASE WHEN end_date < $1 THEN 1 END) AS expired, \
     COUNT(CASE WHEN end_date = $1 THEN 1 END) AS today, \
     COUNT(CASE WHEN end_date >= $1 AND end_date <= $2 THEN 1 END) AS next_7, \
     COUNT(CASE WHEN end_date >= $1 THEN 1 END) AS next_30 \
     FROM subscriptions WHERE status = 'active' AND end_date <= $3";

#[async_trait]
pub trait CollectionsStore {
    /// Subscriptions matching `filter` in its order, `limit` from `offset`,
    /// with the total number that match.
    async fn collection_page(
        &self,
        filter: &CollectionFilter,
        limit: i64,
        offset: i64,
    ) -> StoreResult<CollectionPage>;
    /// Active subscriptions expired, ending today, in 7 and in 30 days.
    async fn collection_counts(&self, today: NaiveDate) -> StoreResult<CollectionCounts>;
}

#[async_trait]
impl<S: SqlStore> CollectionsStore for S {
    async fn collection_page(
        &self,
        filter: &CollectionFilter,
        limit: i64,
        offset: i64,
    ) -> StoreResult<CollectionPage> {
        let sql = match filter.sort {
            CollectionSort::EndDate => PAGE_BY_END_DATE,
            CollectionSort::Name => PAGE_BY_NAME,
            CollectionSort::Price => PAGE_BY_PRICE,
        };
        let status = filter.status.as_deref();
        on_pool!(self, |pool| {
            let rows = sqlx::query_as(sql)
                .bind(filter.from)
                .bind(filter.to)
                .bind(filter.service_id)
                .bind(status)
                .bind(filter.opted_out)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?;
            let total = sqlx::query_scalar(COUNT)
                .bind(filter.from)
                .bind(filter.to)
                .bind(filter.service_id)
                .bind(status)
                .bind(filter.opted_out)
                .fetch_one(pool)
                .await?;
            Ok(CollectionPage { rows, total })
        })
    }

    async fn collection_counts(&self, today: NaiveDate) -> StoreResult<CollectionCounts> {
        let week = today + chrono::Duration::days(6);
        let month = today + chrono::Duration::days(29);
        on_pool!(self, |pool| Ok(sqlx::query_as(COUNTS)
            .bind(today)
            .bind(week)
            .bind(month)
            .fetch_one(pool)
            .await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_keeps_its_order_outside_and_in() {
        assert_eq!(PAGE_BY_NAME.matches("ORDER BY c.name_folded, ").count(), 2);
        assert!(PAGE_BY_PRICE.ends_with("ORDER BY s.price_cents DESC, s.end_date, s.id"));
        // A row carries the first 120 characters of the last customer message.
        assert!(PAGE_BY_END_DATE.contains("substr(mi.body, 1, 120)"));
        assert!(COUNT.starts_with("SELECT COUNT(*) FROM subscriptions s JOIN clients c"));
    }
}
