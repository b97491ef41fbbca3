//! Outbound messages (the outbox: queued, claimed, sent, retried, failed,
//! delivery statuses) and the messages log.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::backend::{SqlStore, on_pool};
use super::{
    MessageFilter, MessagePage, MessageRow, NewOutbound, PRIORITY_INTERACTIVE, QueuedMessage,
    StoreResult,
};

/// Every column of a [`MessageRow`].
pub(crate) const COLUMNS: &str = "id, direction, phone, client_id, kind, body, media_kind, status, \
     automatic, priority, provider_message_id, wa_message_id, attempts, error, \
     permanent_failure, next_attempt_at, created_at, updated_at, sent_at, rate_limits, media_id, \
     sent_by, template_args, sent_template, outside_window";

/// Queues one reply, notice or staff answer (`NewOutbound`); also run by
/// `apply_inbound` in its transaction.
pub(crate) const INSERT_OUTBOX: &str = "INSERT INTO messages \
     (direction, phone, client_id, kind, body, status, automatic, priority, created_at, \
      updated_at, template_args) \
     VALUES ('out', $1, $2, $3, $4, 'queued', FALSE, $5, $6, $6, $7) RETURNING id";

static BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {COLUMNS} FROM messages WHERE id = $1"));
static CLAIM: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE messages SET status = 'sending', attempts = attempts + 1, updated_at = $2 \
         WHERE id = $1 AND direction = 'out' AND status = 'queued' \
         AND (next_attempt_at IS NULL OR next_attempt_at <= $2) RETURNING {COLUMNS}"
    )
});
static FOR_PHONE: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {COLUMNS} FROM messages WHERE phone = $1 ORDER BY id DESC LIMIT $2")
});

const MARK_SENT: &str = "UPDATE messages SET status = 'sent', provider_message_id = $1, \
     sent_at = $2, updated_at = $2, error = NULL, next_attempt_at = NULL \
     WHERE id = $3 AND status = 'sending'";
const MARK_RETRY: &str = "UPDATE messages SET status = 'queued', next_attempt_at = $1, \
     error = $2, updated_at = $3, \
     attempts = CASE WHEN $5 THEN attempts ELSE attempts - 1 END, \
     rate_limits = rate_limits + CASE WHEN $5 THEN 0 ELSE 1 END WHERE id = $4";
const MARK_FAILED: &str = "UPDATE messages SET status = 'failed', error = $1, \
     permanent_failure = $2, next_attempt_at = NULL, updated_at = $3 WHERE id = $4";
const QUEUED: &str = "SELECT id, automatic, priority, next_attempt_at FROM messages \
     WHERE direction = 'out' AND status = 'queued' ORDER BY priority, id LIMIT $1";
const INTERRUPTED_UNKNOWN: &str = "UPDATE messages SET status = 'unknown', updated_at = $1, \
     next_attempt_at = NULL, \
     error = 'interrupted while sending: WhatsApp may have it; not resent to avoid a duplicate' \
     WHERE direction = 'out' AND status = 'sending' AND updated_at < $2";
const MARK_UNKNOWN: &str = "UPDATE messages SET status = 'unknown', error = $1, \
     next_attempt_at = NULL, updated_at = $2 WHERE id = $3 AND status = 'sending'";
/// Our message with a WhatsApp or provider id (`$1`).
pub(super) const BY_PROVIDER_ID: &str = "SELECT id FROM messages WHERE direction = 'out' \
     AND (wa_message_id = $1 OR provider_message_id = $1) ORDER BY id DESC LIMIT 1";
/// Delivery statuses only move forward (a late "delivered" never undoes
/// "read"): the rank here is [`delivery_rank`]'s. A queued message is
/// waiting to go again (a retry, a resend as the template): what arrives
/// about its earlier attempt is stale and must not keep it from going.
const SET_DELIVERY: &str = "UPDATE messages SET status = $1, updated_at = $2, \
     error = COALESCE($5, error) WHERE id = $3 AND \
     (CASE status WHEN 'queued' THEN 5 WHEN 'sending' THEN 0 WHEN 'sent' THEN 1 \
      WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 ELSE 4 END) < $4";
const REQUEUE_FAILED: &str = "UPDATE messages SET status = 'queued', attempts = 0, error = NULL, \
     permanent_failure = FALSE, next_attempt_at = NULL, updated_at = $1 \
     WHERE id = $2 AND direction = 'out' AND status IN ('failed', 'unknown') \
     AND (kind <> 'reminder' \
          OR EXISTS (SELECT 1 FROM reminders r WHERE r.message_id = messages.id))";

/// The messages log's filter, `$1`…`$6`.
const LOG_FILTER: &str = "WHERE ($1 IS NULL OR phone = $1) AND ($2 IS NULL OR kind = $2) \
     AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR direction = $4) \
     AND ($5 IS NULL OR created_at >= $5) AND ($6 IS NULL OR created_at < $6)";
static LOG_COUNT: LazyLock<String> =
    LazyLock::new(|| format!("SELECT COUNT(*) FROM messages {LOG_FILTER}"));
static LOG_PAGE: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {COLUMNS} FROM messages {LOG_FILTER} ORDER BY id DESC LIMIT $7 OFFSET $8")
});

/// Delivery statuses only move forward (a late "delivered" never undoes
/// "read"). Only these four are a delivery status a row may take; anything
/// else ("pending", a word we do not know) is `None` and changes nothing.
fn delivery_rank(status: &str) -> Option<i32> {
    match status {
        "sent" => Some(1),
        "delivered" => Some(2),
        "read" => Some(3),
        "failed" => Some(4),
        _ => None,
    }
}

#[async_trait]
pub trait OutboxStore {
    async fn queue_outbound(&self, message: &NewOutbound, now: DateTime<Utc>) -> StoreResult<i64>;
    async fn message(&self, id: i64) -> StoreResult<Option<MessageRow>>;
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
    /// Moves our message with that WhatsApp or provider id forward to
    /// `status` (`sent`, `delivered`, `read` or `failed`; never backwards).
    /// Any other status changes nothing. True when the message was found.
    async fn set_delivery_status(
        &self,
        wa_or_provider_id: &str,
        status: &str,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    async fn messages_for_phone(&self, phone: &str, limit: i64) -> StoreResult<Vec<MessageRow>>;
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
}

#[async_trait]
impl<S: SqlStore> OutboxStore for S {
    async fn queue_outbound(&self, message: &NewOutbound, now: DateTime<Utc>) -> StoreResult<i64> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar(INSERT_OUTBOX)
            .bind(message.phone.as_str())
            .bind(message.client_id)
            .bind(message.kind.as_str())
            .bind(&message.body)
            .bind(PRIORITY_INTERACTIVE)
            .bind(now)
            .bind(&message.template_args)
            .fetch_one(pool)
            .await?))
    }

    async fn message(&self, id: i64) -> StoreResult<Option<MessageRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(BY_ID.as_str())
            .bind(id)
            .fetch_optional(pool)
            .await?))
    }

    async fn claim_message(&self, id: i64, now: DateTime<Utc>) -> StoreResult<Option<MessageRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(CLAIM.as_str())
            .bind(id)
            .bind(now)
            .fetch_optional(pool)
            .await?))
    }

    async fn mark_sent(
        &self,
        id: i64,
        provider_message_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        on_pool!(self, |pool| {
            let mark = sqlx::query(MARK_SENT)
                .bind(provider_message_id)
                .bind(now)
                .bind(id);
            mark.execute(pool).await?;
            Ok(())
        })
    }

    async fn mark_retry(
        &self,
        id: i64,
        next_attempt_at: DateTime<Utc>,
        error: &str,
        attempt_counts: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(MARK_RETRY)
                .bind(next_attempt_at)
                .bind(error)
                .bind(now)
                .bind(id)
                .bind(attempt_counts)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    async fn mark_failed(
        &self,
        id: i64,
        error: &str,
        permanent: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(MARK_FAILED)
                .bind(error)
                .bind(permanent)
                .bind(now)
                .bind(id)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    async fn queued_messages(&self, limit: i64) -> StoreResult<Vec<QueuedMessage>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(QUEUED)
            .bind(limit)
            .fetch_all(pool)
            .await?))
    }

    async fn mark_interrupted_sends_unknown(
        &self,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        on_pool!(self, |pool| Ok(sqlx::query(INTERRUPTED_UNKNOWN)
            .bind(now)
            .bind(before)
            .execute(pool)
            .await?
            .rows_affected()))
    }

    async fn mark_unknown(&self, id: i64, error: &str, now: DateTime<Utc>) -> StoreResult<()> {
        on_pool!(self, |pool| {
            let mark = sqlx::query(MARK_UNKNOWN).bind(error).bind(now).bind(id);
            mark.execute(pool).await?;
            Ok(())
        })
    }

    async fn set_delivery_status(
        &self,
        id: &str,
        status: &str,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let Some(rank) = delivery_rank(status) else {
            return Ok(false);
        };
        on_pool!(self, |pool| {
            let found: Option<i64> = sqlx::query_scalar(BY_PROVIDER_ID)
                .bind(id)
                .fetch_optional(pool)
                .await?;
            let Some(message_id) = found else {
                return Ok(false);
            };
            sqlx::query(SET_DELIVERY)
                .bind(status)
                .bind(now)
                .bind(message_id)
                .bind(rank)
                .bind(error)
                .execute(pool)
                .await?;
            Ok(true)
        })
    }

    async fn messages_for_phone(&self, phone: &str, limit: i64) -> StoreResult<Vec<MessageRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(FOR_PHONE.as_str())
            .bind(phone)
            .bind(limit)
            .fetch_all(pool)
            .await?))
    }

    async fn message_log(
        &self,
        filter: &MessageFilter,
        limit: i64,
        offset: i64,
    ) -> StoreResult<MessagePage> {
        on_pool!(self, |pool| {
            let total: i64 = sqlx::query_scalar(LOG_COUNT.as_str())
                .bind(&filter.phone)
                .bind(filter.kind)
                .bind(filter.status)
                .bind(filter.direction)
                .bind(filter.from)
                .bind(filter.until)
                .fetch_one(pool)
                .await?;
            let rows = sqlx::query_as(LOG_PAGE.as_str())
                .bind(&filter.phone)
                .bind(filter.kind)
                .bind(filter.status)
                .bind(filter.direction)
                .bind(filter.from)
                .bind(filter.until)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?;
            Ok(MessagePage { rows, total })
        })
    }

    async fn requeue_failed(&self, id: i64, now: DateTime<Utc>) -> StoreResult<bool> {
        on_pool!(self, |pool| {
            let requeue = sqlx::query(REQUEUE_FAILED).bind(now).bind(id);
            Ok(requeue.execute(pool).await?.rows_affected() == 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::delivery_rank;

    #[test]
    fn only_delivery_statuses_have_a_rank_and_they_only_go_forward() {
        let ranks: Vec<_> = ["sent", "delivered", "read", "failed"]
            .into_iter()
            .map(delivery_rank)
            .collect();
        assert_eq!(ranks, [Some(1), Some(2), Some(3), Some(4)]);
        // Not a status a message row may take (the table's CHECK refuses them).
        for status in ["pending", "other", "queued", "sending", "", "READ"] {
            assert_eq!(delivery_rank(status), None, "{status}");
        }
    }
}
