//! The Bandeja: conversations waiting for a person (one open entry per
//! phone), and what a person writing to a customer changes — the message
//! logged as `manual`, the bot silenced (takeover) and the entry resolved,
//! together in one transaction.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::backend::{SqlStore, begin_write, on_pool, push_jobs};
use super::media::{self, NewMedia};
use super::outbox::COLUMNS;
use super::{
    InboxReason, MessageRow, NewOutbound, PRIORITY_INTERACTIVE, SendJobs, StoreResult,
    conversations,
};

/// Opens the phone's entry, or updates the reason of the open one (its
/// `waiting_since` stays: the customer has waited since then). Also run by
/// `apply_inbound` in its transaction.
/// The wait starts when the customer's message arrived (`$5`), not when it
/// was handled, so the receipt that opened it is "since" it.
pub(crate) const OPEN: &str = "INSERT INTO inbox (phone, client_id, reason, waiting_since, \
     updated_at) \
     SELECT $1, $2, $3, COALESCE((SELECT created_at FROM messages WHERE id = $5), $4), $4 \
     WHERE TRUE \
     ON CONFLICT (phone) WHERE resolved_at IS NULL DO UPDATE SET reason = excluded.reason, \
     client_id = COALESCE(excluded.client_id, inbox.client_id), updated_at = excluded.updated_at";
const RESOLVE: &str = "UPDATE inbox SET resolved_at = $1, resolved_by = $2 \
     WHERE id = $3 AND resolved_at IS NULL RETURNING phone";
const RESOLVE_PHONE: &str = "UPDATE inbox SET resolved_at = $1, resolved_by = $2 \
     WHERE phone = $3 AND resolved_at IS NULL";
/// A person took the chat back from the bot, or closed it: a handoff or a
/// run of not-understood messages is over. (The state is serde's JSON with
/// its tag first: `{"state":"handoff",…}`.)
const END_WAITING_STATE: &str = "UPDATE conversations SET state = '{\"state\":\"idle\"}', \
     updated_at = $1 WHERE phone = $2 AND (state LIKE '{\"state\":\"handoff\"%' \
     OR state LIKE '{\"state\":\"not_understood\"%')";
/// The newest image or document the customer sent while waiting (`i`).
macro_rules! receipt_of {
    ($column:literal) => {
        concat!(
            "(SELECT r.",
            $column,
            " FROM messages r WHERE r.phone = i.phone AND r.direction = 'in' \
             AND r.media_kind IN ('image', 'document') AND r.created_at >= i.waiting_since \
             ORDER BY r.id DESC LIMIT 1)"
        )
    };
}
macro_rules! entries {
    ($filter:literal) => {
        concat!(
            "SELECT i.id, i.phone, i.client_id, c.name AS client_name, i.reason, \
             i.waiting_since, i.updated_at, ",
            receipt_of!("id"),
            " AS receipt_id, ",
            receipt_of!("media_id"),
            " AS receipt_media_id, ",
            receipt_of!("media_kind"),
            " AS receipt_kind FROM inbox i LEFT JOIN clients c ON c.id = i.client_id \
             WHERE i.resolved_at IS NULL ",
            $filter
        )
    };
}
const LIST: &str = entries!("ORDER BY i.waiting_since, i.id LIMIT $1");
const BY_ID: &str = entries!("AND i.id = $1");
const COUNT: &str = "SELECT COUNT(*) FROM inbox WHERE resolved_at IS NULL";
/// The last `$1` messages of each of the first `$2` open entries' phones,
/// by phone, oldest first: one query for the whole page.
static RECENT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {COLUMNS} FROM (SELECT m.*, ROW_NUMBER() OVER (PARTITION BY m.phone \
         ORDER BY m.id DESC) AS recent FROM messages m WHERE m.phone IN (SELECT phone \
         FROM inbox WHERE resolved_at IS NULL ORDER BY waiting_since, id LIMIT $2)) t \
         WHERE recent <= $1 ORDER BY phone, id"
    )
});

/// One of our own sends, echoed back by WaSender (`fromMe`): by id, or —
/// when the echo comes before the provider's answer, or carries WhatsApp's
/// id rather than WaSender's — by the same text to the same phone lately.
const OWN_BY_ID: &str = "SELECT id FROM messages WHERE direction = 'out' \
     AND (wa_message_id = $1 OR provider_message_id = $1) LIMIT 1";
const OWN_BY_TEXT: &str = "SELECT id FROM messages WHERE direction = 'out' AND phone = $1 \
     AND body = $2 AND created_at >= $3 AND wa_message_id IS NULL \
     AND status IN ('queued', 'sending', 'sent', 'delivered', 'read', 'unknown') \
     ORDER BY id DESC LIMIT 1";
const SET_WA_ID: &str = "UPDATE messages SET wa_message_id = $1 WHERE id = $2 \
     AND wa_message_id IS NULL";
/// A person's message from the business phone itself, logged as sent.
/// (`WHERE TRUE`: SQLite's documented way to keep `ON CONFLICT` from
/// reading as part of the `SELECT`.)
const INSERT_FROM_PHONE: &str = "INSERT INTO messages (direction, phone, client_id, kind, body, \
     media_kind, status, wa_message_id, created_at, updated_at, sent_at) \
     SELECT 'out', $1, (SELECT id FROM clients WHERE phone = $1), 'manual', $2, $3, 'sent', \
     $4, $5, $5, $5 WHERE TRUE \
     ON CONFLICT (wa_message_id) DO NOTHING RETURNING id";
/// A staff member's reply from the panel, queued like any other answer.
const INSERT_PANEL_REPLY: &str = "INSERT INTO messages (direction, phone, client_id, kind, body, \
     status, automatic, priority, media_id, media_kind, sent_by, created_at, updated_at) \
     VALUES ('out', $1, $2, 'manual', $3, 'queued', FALSE, $4, $5, $6, $7, $8, $8) RETURNING id";

/// An open Bandeja entry.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct InboxRow {
    pub id: i64,
    pub phone: crate::domain::Phone,
    pub client_id: Option<i64>,
    pub client_name: Option<String>,
    pub reason: InboxReason,
    pub waiting_since: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The newest image or document the customer sent while waiting.
    pub receipt_id: Option<i64>,
    /// Its stored file, once fetched.
    pub receipt_media_id: Option<i64>,
    pub receipt_kind: Option<String>,
}

/// A person's message from the business phone (`fromMe`, not one of ours).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneMessage {
    pub phone: String,
    pub body: String,
    pub media_kind: Option<String>,
    pub wa_id: String,
}

/// A staff member's reply from the panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanelReply {
    pub message: NewOutbound,
    /// An attached image or document, stored with the message.
    pub file: Option<NewMedia>,
    /// `image` or `document`, with a file.
    pub media_kind: Option<String>,
    /// The staff member's email.
    pub sent_by: String,
}

#[async_trait]
pub trait InboxStore {
    /// Open entries, the longest waiting first.
    async fn inbox(&self, limit: i64) -> StoreResult<Vec<InboxRow>>;
    async fn inbox_entry(&self, id: i64) -> StoreResult<Option<InboxRow>>;
    async fn count_inbox(&self) -> StoreResult<i64>;
    /// The last `per_entry` messages of each of the first `entries` open
    /// entries' phones, by phone, oldest first.
    async fn inbox_messages(&self, per_entry: i64, entries: i64) -> StoreResult<Vec<MessageRow>>;
    /// Closes entry `id` ("Resuelto") and ends the bot's silence with that
    /// customer. `None` when it was not open.
    async fn resolve_inbox(
        &self,
        id: i64,
        by: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<String>>;
    /// Whether a `fromMe` message with WhatsApp id `wa_id` is one avisa
    /// sent (see [`OWN_BY_ID`]); the matching row learns the id.
    async fn is_own_send(
        &self,
        wa_id: &str,
        phone: &str,
        body: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Logs a person's message from the business phone, saves the
    /// takeover state (`state`, JSON) and resolves the phone's entry, in one
    /// transaction. `None`: the WhatsApp id was logged before.
    async fn record_phone_message(
        &self,
        message: &PhoneMessage,
        state: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<i64>>;
    /// Queues a panel reply with its send job, saves the takeover state and
    /// resolves the phone's entry, in one transaction.
    async fn queue_panel_reply(
        &self,
        reply: PanelReply,
        state: &str,
        jobs: &SendJobs,
        now: DateTime<Utc>,
    ) -> StoreResult<i64>;
}

/// `resolved_by` of an entry closed by a message from the business phone.
pub const PHONE_SENDER: &str = "phone";

/// Saves the takeover state and resolves the phone's open entry (a person
/// answered), inside the caller's transaction.
macro_rules! take_over {
    ($tx:expr, $phone:expr, $state:expr, $by:expr, $now:expr) => {{
        sqlx::query(conversations::SAVE)
            .bind($phone)
            .bind($state)
            .bind($now)
            .execute(&mut *$tx)
            .await?;
        sqlx::query(RESOLVE_PHONE)
            .bind($now)
            .bind($by)
            .bind($phone)
            .execute(&mut *$tx)
            .await?;
    }};
}

#[async_trait]
impl<S: SqlStore> InboxStore for S {
    async fn inbox(&self, limit: i64) -> StoreResult<Vec<InboxRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(LIST)
            .bind(limit)
            .fetch_all(pool)
            .await?))
    }

    async fn inbox_entry(&self, id: i64) -> StoreResult<Option<InboxRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(BY_ID)
            .bind(id)
            .fetch_optional(pool)
            .await?))
    }

    async fn count_inbox(&self) -> StoreResult<i64> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar(COUNT)
            .fetch_one(pool)
            .await?))
    }

    async fn inbox_messages(&self, per_entry: i64, entries: i64) -> StoreResult<Vec<MessageRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(RECENT.as_str())
            .bind(per_entry)
            .bind(entries)
            .fetch_all(pool)
            .await?))
    }

    async fn resolve_inbox(
        &self,
        id: i64,
        by: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<String>> {
        on_pool!(self, |pool| {
            let mut tx = begin_write(pool).await?;
            let phone: Option<String> = sqlx::query_scalar(RESOLVE)
                .bind(now)
                .bind(by)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(phone) = &phone {
                let end = sqlx::query(END_WAITING_STATE).bind(now).bind(phone);
                end.execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(phone)
        })
    }

    async fn is_own_send(
        &self,
        wa_id: &str,
        phone: &str,
        body: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<bool> {
        on_pool!(self, |pool| {
            let by_id: Option<i64> = sqlx::query_scalar(OWN_BY_ID)
                .bind(wa_id)
                .fetch_optional(pool)
                .await?;
            if by_id.is_some() {
                return Ok(true);
            }
            let by_text: Option<i64> = sqlx::query_scalar(OWN_BY_TEXT)
                .bind(phone)
                .bind(body)
                .bind(since)
                .fetch_optional(pool)
                .await?;
            let Some(id) = by_text else {
                return Ok(false);
            };
            // Later echoes and status updates find it by id. Another
            // process may have set it meanwhile (a duplicate echo): either
            // way the message is ours.
            let learn = sqlx::query(SET_WA_ID).bind(wa_id).bind(id);
            if let Err(e) = learn.execute(pool).await {
                tracing::debug!(error = %e, "echo id not recorded");
            }
            Ok(true)
        })
    }

    async fn record_phone_message(
        &self,
        message: &PhoneMessage,
        state: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<i64>> {
        on_pool!(self, |pool| {
            let mut tx = begin_write(pool).await?;
            let id: Option<i64> = sqlx::query_scalar(INSERT_FROM_PHONE)
                .bind(&message.phone)
                .bind(&message.body)
                .bind(&message.media_kind)
                .bind(&message.wa_id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            if id.is_none() {
                return Ok(None);
            }
            take_over!(tx, &message.phone, state, PHONE_SENDER, now);
            tx.commit().await?;
            Ok(id)
        })
    }

    async fn queue_panel_reply(
        &self,
        reply: PanelReply,
        state: &str,
        jobs: &SendJobs,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        let PanelReply {
            message,
            file,
            media_kind,
            sent_by,
        } = reply;
        on_pool!(self, |pool| {
            let mut tx = begin_write(pool).await?;
            let media_id: Option<i64> = match file {
                Some(file) => {
                    let size = i64::try_from(file.data.len()).unwrap_or(i64::MAX);
                    Some(
                        sqlx::query_scalar(media::INSERT)
                            .bind(file.content_type)
                            .bind(file.file_name)
                            .bind(size)
                            .bind(file.sha256)
                            .bind(file.data)
                            .bind(now)
                            .fetch_one(&mut *tx)
                            .await?,
                    )
                }
                None => None,
            };
            let id: i64 = sqlx::query_scalar(INSERT_PANEL_REPLY)
                .bind(message.phone.as_str())
                .bind(message.client_id)
                .bind(&message.body)
                .bind(PRIORITY_INTERACTIVE)
                .bind(media_id)
                .bind(&media_kind)
                .bind(&sent_by)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            take_over!(tx, message.phone.as_str(), state, &sent_by, now);
            push_jobs(&mut tx, jobs.queue, vec![(jobs.task)(id)]).await?;
            tx.commit().await?;
            Ok(id)
        })
    }
}
