//! Payment links and the payments providers reported (migration 0010):
//! links get-or-created per (subscription, end date); a payment settled in
//! one transaction with its renewal, the customer's confirmation and the
//! staff notices (the transactional outbox, like `apply_inbound`); refunds
//! and chargebacks recorded once; the panel's lists.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::backend::{SqlStore, begin_write, on_pool, push_jobs};
use super::renewals_payment::{NewPayment, renew_in_tx};
use super::{
    NewOutbound, NewRenewal, PRIORITY_INTERACTIVE, RenewalRow, SendJobs, StoreResult,
    conversations, outbox,
};

/// A payment link: its token for one subscription and end date.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct PaymentLink {
    pub id: i64,
    pub token: String,
    pub subscription_id: i64,
    pub end_date: NaiveDate,
    pub created_at: DateTime<Utc>,
}

/// What a payment was, as stored (`payments.outcome`).
pub mod outcome {
    pub const RENEWED: &str = "renewed";
    /// The subscription was already renewed for that period.
    pub const DOUBLE: &str = "double";
    pub const AMOUNT_MISMATCH: &str = "amount_mismatch";
    /// Paid for a cancelled subscription: not renewed.
    pub const CANCELLED: &str = "cancelled";
    pub const UNKNOWN_REFERENCE: &str = "unknown_reference";
    /// Only its refund or chargeback was seen.
    pub const REVERSAL_ONLY: &str = "reversal_only";
}

/// A payment to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPaymentRecord {
    pub provider: String,
    pub payment_id: String,
    pub link_id: Option<i64>,
    pub subscription_id: Option<i64>,
    pub client_id: Option<i64>,
    pub amount_cents: i64,
    pub currency: String,
    pub status: String,
    pub outcome: &'static str,
}

/// Everything one payment changes, written in one transaction.
#[derive(Debug, Clone)]
pub struct PaymentSettlement {
    pub payment: NewPaymentRecord,
    /// The renewal it pays for, with what was paid.
    pub renewal: Option<(NewRenewal, NewPayment)>,
    /// The customer's conversation to reset: (phone, state JSON).
    pub conversation: Option<(String, String)>,
    /// The confirmation and the staff notices.
    pub outbox: Vec<NewOutbound>,
}

/// What [`PaymentStore::settle_payment`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Recorded (and renewed if asked); the outbox ids, in order.
    Recorded {
        renewal: Option<RenewalRow>,
        outbox: Vec<i64>,
    },
    /// This (provider, payment id) was recorded before: nothing written.
    AlreadyRecorded,
    /// The subscription's end date changed since it was read: nothing
    /// written; decide again.
    EndDateMoved,
}

/// A payment for the panel and `/pagos`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct PaymentRow {
    pub id: i64,
    pub provider: String,
    pub payment_id: String,
    pub client_id: Option<i64>,
    pub client_name: Option<String>,
    pub subscription_id: Option<i64>,
    pub service: Option<String>,
    pub amount_cents: i64,
    pub currency: String,
    pub status: String,
    pub outcome: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The panel's filter: every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentFilter {
    pub provider: Option<String>,
    pub status: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub client_id: Option<i64>,
}

const INSERT_LINK: &str = "INSERT INTO payment_links (token, subscription_id, end_date, created_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (subscription_id, end_date) DO NOTHING";
const LINK_TOKEN: &str =
    "SELECT token FROM payment_links WHERE subscription_id = $1 AND end_date = $2";
macro_rules! link_columns {
    () => {
        "SELECT id, token, subscription_id, end_date, created_at FROM payment_links "
    };
}
const LINK_BY_TOKEN: &str = concat!(link_columns!(), "WHERE token = $1");
const LINKS_OF_CLIENT: &str = concat!(
    link_columns!(),
    "WHERE subscription_id IN (SELECT id FROM subscriptions WHERE client_id = $1) \
     ORDER BY id DESC LIMIT 50"
);
const INSERT_PAYMENT: &str = "INSERT INTO payments (provider, payment_id, link_id, \
     subscription_id, client_id, amount_cents, currency, status, outcome, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
     ON CONFLICT (provider, payment_id) DO NOTHING RETURNING id";
const LINK_RENEWAL: &str = "UPDATE payments SET renewal_id = $1 WHERE id = $2";
/// A refund or chargeback: the status changes once.
const SET_STATUS: &str = "UPDATE payments SET status = $1, updated_at = $2 \
     WHERE provider = $3 AND payment_id = $4 AND status <> $1 RETURNING id";
/// Money that renewed a subscription since `$1` (refunded ones excluded).
const COLLECTED: &str = "SELECT CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT) FROM payments \
     WHERE outcome = 'renewed' AND status = 'approved' AND created_at >= $1";
const ROWS: &str = "SELECT p.id, p.provider, p.payment_id, p.client_id, c.name AS client_name, \
     p.subscription_id, sv.name AS service, p.amount_cents, p.currency, p.status, p.outcome, \
     p.created_at, p.updated_at FROM payments p \
     LEFT JOIN clients c ON c.id = p.client_id \
     LEFT JOIN subscriptions s ON s.id = p.subscription_id \
     LEFT JOIN services sv ON sv.id = s.service_id \
     WHERE ($1 IS NULL OR p.provider = $1) AND ($2 IS NULL OR p.status = $2) \
     AND ($3 IS NULL OR p.created_at >= $3) AND ($4 IS NULL OR p.created_at < $4) \
     AND ($5 IS NULL OR p.client_id = $5) ORDER BY p.id DESC LIMIT $6";

/// Outbox rows and their send jobs, inside `$tx` (a macro: the body is
/// compiled per backend, inside `on_pool!`).
macro_rules! queue_all {
    ($tx:ident, $messages:expr, $jobs:expr, $now:expr) => {{
        let mut ids = Vec::with_capacity($messages.len());
        for message in $messages.iter() {
            let id: i64 = sqlx::query_scalar(outbox::INSERT_OUTBOX)
                .bind(message.phone.as_str())
                .bind(message.client_id)
                .bind(message.kind.as_str())
                .bind(&message.body)
                .bind(PRIORITY_INTERACTIVE)
                .bind($now)
                .bind(&message.template_args)
                .fetch_one(&mut *$tx)
                .await?;
            ids.push(id);
        }
        if !ids.is_empty() {
            let tasks = ids.iter().map(|id| ($jobs.task)(*id)).collect();
            push_jobs(&mut $tx, $jobs.queue, tasks).await?;
        }
        ids
    }};
}

#[async_trait]
pub trait PaymentStore {
    /// The token of each (subscription, end date): the stored one, else
    /// the candidate given, stored now. In order.
    async fn payment_link_tokens(
        &self,
        links: &[(i64, NaiveDate, String)],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<String>>;
    async fn payment_link(&self, token: &str) -> StoreResult<Option<PaymentLink>>;
    /// The links of a client's subscriptions, newest first.
    async fn payment_links_of_client(&self, client_id: i64) -> StoreResult<Vec<PaymentLink>>;
    /// In one transaction: the payment row (unique on provider and payment
    /// id: a second time changes nothing), the renewal (only if the end
    /// date is still the one read), the conversation reset, the outbox
    /// rows and their send jobs.
    async fn settle_payment(
        &self,
        settlement: &PaymentSettlement,
        jobs: &SendJobs,
        now: DateTime<Utc>,
    ) -> StoreResult<Settled>;
    /// A refund or chargeback: the payment's status becomes `status` (a
    /// payment never seen is recorded with it) and the notices are queued,
    /// once; `None` when it already had that status.
    async fn reverse_payment(
        &self,
        payment: &NewPaymentRecord,
        outbox: &[NewOutbound],
        jobs: &SendJobs,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Vec<i64>>>;
    /// Cents collected by link (payments that renewed, not reversed) since
    /// `since`, whatever their currency.
    async fn collected_since(&self, since: DateTime<Utc>) -> StoreResult<i64>;
    /// Payments matching `filter`, newest first.
    async fn payments(&self, filter: &PaymentFilter, limit: i64) -> StoreResult<Vec<PaymentRow>>;
}

#[async_trait]
impl<S: SqlStore> PaymentStore for S {
    async fn payment_link_tokens(
        &self,
        links: &[(i64, NaiveDate, String)],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<String>> {
        if links.is_empty() {
            return Ok(Vec::new());
        }
        on_pool!(self, |pool| {
            let mut tx = begin_write(pool).await?;
            let mut tokens = Vec::with_capacity(links.len());
            for (subscription_id, end_date, candidate) in links {
                let insert = sqlx::query(INSERT_LINK)
                    .bind(candidate)
                    .bind(subscription_id)
                    .bind(end_date)
                    .bind(now);
                insert.execute(&mut *tx).await?;
                let token: String = sqlx::query_scalar(LINK_TOKEN)
                    .bind(subscription_id)
                    .bind(end_date)
                    .fetch_one(&mut *tx)
                    .await?;
                tokens.push(token);
            }
            tx.commit().await?;
            Ok(tokens)
        })
    }

    async fn payment_link(&self, token: &str) -> StoreResult<Option<PaymentLink>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(LINK_BY_TOKEN)
            .bind(token)
            .fetch_optional(pool)
            .await?))
    }

    async fn payment_links_of_client(&self, client_id: i64) -> StoreResult<Vec<PaymentLink>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(LINKS_OF_CLIENT)
            .bind(client_id)
            .fetch_all(pool)
            .await?))
    }

    async fn settle_payment(
        &self,
        settlement: &PaymentSettlement,
        jobs: &SendJobs,
        now: DateTime<Utc>,
    ) -> StoreResult<Settled> {
        let p = &settlement.payment;
        on_pool!(self, |pool| {
            let mut tx = begin_write(pool).await?;
            // First: a payment recorded before (or by a concurrent
            // notification, which this waits for) changes nothing.
            let id: Option<i64> = sqlx::query_scalar(INSERT_PAYMENT)
                .bind(&p.provider)
                .bind(&p.payment_id)
                .bind(p.link_id)
                .bind(p.subscription_id)
                .bind(p.client_id)
                .bind(p.amount_cents)
                .bind(&p.currency)
                .bind(&p.status)
                .bind(p.outcome)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(id) = id else {
                return Ok(Settled::AlreadyRecorded);
            };
            let mut renewed = None;
            if let Some((renewal, paid)) = &settlement.renewal {
                let Some(row) = renew_in_tx!(tx, renewal, Some(paid), now) else {
                    return Ok(Settled::EndDateMoved);
                };
                let link = sqlx::query(LINK_RENEWAL).bind(row.id).bind(id);
                link.execute(&mut *tx).await?;
                renewed = Some(row);
            }
            if let Some((phone, state)) = &settlement.conversation {
                let save = sqlx::query(conversations::SAVE)
                    .bind(phone)
                    .bind(state)
                    .bind(now);
                save.execute(&mut *tx).await?;
            }
            let ids = queue_all!(tx, settlement.outbox, jobs, now);
            tx.commit().await?;
            Ok(Settled::Recorded {
                renewal: renewed,
                outbox: ids,
            })
        })
    }

    async fn reverse_payment(
        &self,
        payment: &NewPaymentRecord,
        outbox: &[NewOutbound],
        jobs: &SendJobs,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Vec<i64>>> {
        let p = payment;
        on_pool!(self, |pool| {
            let mut tx = begin_write(pool).await?;
            let changed: Option<i64> = sqlx::query_scalar(SET_STATUS)
                .bind(&p.status)
                .bind(now)
                .bind(&p.provider)
                .bind(&p.payment_id)
                .fetch_optional(&mut *tx)
                .await?;
            if changed.is_none() {
                let inserted: Option<i64> = sqlx::query_scalar(INSERT_PAYMENT)
                    .bind(&p.provider)
                    .bind(&p.payment_id)
                    .bind(p.link_id)
                    .bind(p.subscription_id)
                    .bind(p.client_id)
                    .bind(p.amount_cents)
                    .bind(&p.currency)
                    .bind(&p.status)
                    .bind(p.outcome)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
                if inserted.is_none() {
                    return Ok(None);
                }
            }
            let ids = queue_all!(tx, outbox, jobs, now);
            tx.commit().await?;
            Ok(Some(ids))
        })
    }

    async fn collected_since(&self, since: DateTime<Utc>) -> StoreResult<i64> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar(COLLECTED)
            .bind(since)
            .fetch_one(pool)
            .await?))
    }

    async fn payments(&self, filter: &PaymentFilter, limit: i64) -> StoreResult<Vec<PaymentRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(ROWS)
            .bind(filter.provider.as_deref())
            .bind(filter.status.as_deref())
            .bind(filter.from)
            .bind(filter.to)
            .bind(filter.client_id)
            .bind(limit)
            .fetch_all(pool)
            .await?))
    }
}
