//! Files in the database (`media`): a customer's receipt fetched from
//! WhatsApp, or a file staff attach to a reply. Kept here rather than in a
//! data folder so every `serve` process (on any machine) can serve them, a
//! backup holds them, and a file, its message and the staff notice commit
//! in one transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::backend::{SqlStore, begin_write, on_pool, push_jobs, query_builder};
use super::{NewOutbound, PRIORITY_INTERACTIVE, SendJobs, StoreResult};

/// Also run by `queue_panel_reply` in its transaction.
pub(crate) const INSERT: &str = "INSERT INTO media (content_type, file_name, size_bytes, sha256, data, \
     created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
const META_COLUMNS: &str = "id, content_type, file_name, size_bytes, sha256, created_at";
const FILE: &str = "SELECT id, content_type, file_name, size_bytes, sha256, created_at, data \
     FROM media WHERE id = $1";
const META: &str =
    "SELECT id, content_type, file_name, size_bytes, sha256, created_at FROM media WHERE id = $1";
const SOURCE: &str = "SELECT media_source FROM messages WHERE id = $1";
/// The fetch job takes the message's file over, once: a second run (a
/// redelivered job, a duplicate) finds the source gone and changes nothing.
const TAKE_SOURCE: &str = "UPDATE messages SET media_source = NULL, updated_at = $1 \
     WHERE id = $2 AND media_source IS NOT NULL";
const LINK: &str = "UPDATE messages SET media_id = $1 WHERE id = $2";
const GIVE_UP: &str = "UPDATE messages SET media_source = NULL, error = $1, updated_at = $2 \
     WHERE id = $3 AND media_source IS NOT NULL";
/// Clients' files whose fetch job was lost: handled a while ago and still
/// pending (index `messages_media_pending`). Each is touched as it is
/// taken, so it is not taken again (by the next sweep, or another
/// process's) while the job queued for it runs; the outer `updated_at`
/// check makes a second process's concurrent update skip it.
const TAKE_STALE: &str = "UPDATE messages SET updated_at = $1 WHERE id IN (\
     SELECT id FROM messages WHERE media_source IS NOT NULL \
     AND direction = 'in' AND status = 'processed' AND client_id IS NOT NULL \
     AND updated_at < $2 ORDER BY updated_at LIMIT $3) \
     AND media_source IS NOT NULL AND updated_at < $2 RETURNING id, media_kind";
/// A notice to staff carrying the file (`media_id`, NULL without one).
const INSERT_NOTICE: &str = "INSERT INTO messages \
     (direction, phone, client_id, kind, body, status, automatic, priority, media_id, \
      created_at, updated_at, template_args) \
     VALUES ('out', $1, $2, $3, $4, 'queued', FALSE, $5, $6, $7, $7, $8) RETURNING id";

/// A file to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMedia {
    /// Sniffed from the bytes (`media::sniff`), never the sender's claim.
    pub content_type: String,
    pub file_name: Option<String>,
    /// Lowercase hex.
    pub sha256: String,
    pub data: Vec<u8>,
}

/// What is known of a stored file without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct MediaMeta {
    pub id: i64,
    pub content_type: String,
    pub file_name: Option<String>,
    pub size_bytes: i64,
    pub sha256: String,
    pub created_at: DateTime<Utc>,
}

/// A stored file with its bytes.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MediaFile {
    #[sqlx(flatten)]
    pub meta: MediaMeta,
    pub data: Vec<u8>,
}

/// The file a message brought or carries.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct MessageMedia {
    pub message_id: i64,
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub meta: MediaMeta,
}

#[async_trait]
pub trait MediaStore {
    /// Stores a file on its own (a file staff attach to a reply).
    async fn insert_media(&self, file: NewMedia, now: DateTime<Utc>) -> StoreResult<i64>;
    /// A file with its bytes.
    async fn media_file(&self, id: i64) -> StoreResult<Option<MediaFile>>;
    /// A file's facts, without its bytes.
    async fn media_meta(&self, id: i64) -> StoreResult<Option<MediaMeta>>;
    /// The files of these messages (those that have one), for the panel.
    async fn media_of_messages(&self, message_ids: &[i64]) -> StoreResult<Vec<MessageMedia>>;
    /// What WaSender needs to fetch an inbound message's file, until it is
    /// fetched or given up.
    async fn media_source(&self, message_id: i64) -> StoreResult<Option<String>>;
    /// Clients' inbound messages handled (or taken by this call) before
    /// `before` whose file is still pending (its fetch job was lost): (id,
    /// media kind). Each is taken at `now`: no call returns it again
    /// until `before` passes `now`.
    async fn stale_media(
        &self,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<(i64, Option<String>)>>;
    /// In one transaction: takes the message's pending file (nothing is
    /// written, `None`, when it was taken before), stores `file`, links it
    /// to the message, and queues `notices` carrying it with their send
    /// jobs. Returns the file's id and the notices' ids.
    async fn attach_fetched_media(
        &self,
        message_id: i64,
        file: NewMedia,
        notices: &[NewOutbound],
        jobs: &SendJobs,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(i64, Vec<i64>)>>;
    /// In one transaction: gives up the message's pending file with `error`
    /// on the message and queues `notices` (without the file); `None` when
    /// it was taken before.
    async fn give_up_media(
        &self,
        message_id: i64,
        error: &str,
        notices: &[NewOutbound],
        jobs: &SendJobs,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Vec<i64>>>;
}

#[async_trait]
impl<S: SqlStore> MediaStore for S {
    async fn insert_media(&self, file: NewMedia, now: DateTime<Utc>) -> StoreResult<i64> {
        let size = i64::try_from(file.data.len()).unwrap_or(i64::MAX);
        on_pool!(self, |pool| Ok(sqlx::query_scalar(INSERT)
            .bind(file.content_type)
            .bind(file.file_name)
            .bind(size)
            .bind(file.sha256)
            // Moved, not copied: a file may be 16 MB.
            .bind(file.data)
            .bind(now)
            .fetch_one(pool)
            .await?))
    }

    async fn media_file(&self, id: i64) -> StoreResult<Option<MediaFile>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(FILE)
            .bind(id)
            .fetch_optional(pool)
            .await?))
    }

    async fn media_meta(&self, id: i64) -> StoreResult<Option<MediaMeta>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(META)
            .bind(id)
            .fetch_optional(pool)
            .await?))
    }

    async fn media_of_messages(&self, message_ids: &[i64]) -> StoreResult<Vec<MessageMedia>> {
        if message_ids.is_empty() {
            return Ok(Vec::new());
        }
        let head = format!(
            "SELECT m.id AS message_id, {} FROM messages m JOIN media f ON f.id = m.media_id \
             WHERE m.id IN (",
            META_COLUMNS
                .split(", ")
                .map(|c| format!("f.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        on_pool!(self, |pool| {
            let mut query = query_builder(pool, &head);
            let mut ids = query.separated(", ");
            for id in message_ids {
                ids.push_bind(*id);
            }
            query.push(")");
            Ok(query.build_query_as().fetch_all(pool).await?)
        })
    }

    async fn media_source(&self, message_id: i64) -> StoreResult<Option<String>> {
        let source: Option<Option<String>> = on_pool!(self, |pool| sqlx::query_scalar(SOURCE)
            .bind(message_id)
            .fetch_optional(pool)
            .await?);
        Ok(source.flatten())
    }

    async fn stale_media(
        &self,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<(i64, Option<String>)>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(TAKE_STALE)
            .bind(now)
            .bind(before)
            .bind(limit)
            .fetch_all(pool)
            .await?))
    }

    async fn attach_fetched_media(
        &self,
        message_id: i64,
        file: NewMedia,
        notices: &[NewOutbound],
        jobs: &SendJobs,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(i64, Vec<i64>)>> {
        let size = i64::try_from(file.data.len()).unwrap_or(i64::MAX);
        on_pool!(self, |pool| {
            let mut tx = begin_write(pool).await?;
            let taken = sqlx::query(TAKE_SOURCE)
                .bind(now)
                .bind(message_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if taken != 1 {
                return Ok(None);
            }
            let media_id: i64 = sqlx::query_scalar(INSERT)
                .bind(file.content_type)
                .bind(file.file_name)
                .bind(size)
                .bind(file.sha256)
                .bind(file.data)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            let link = sqlx::query(LINK).bind(media_id).bind(message_id);
            link.execute(&mut *tx).await?;
            let mut ids = Vec::with_capacity(notices.len());
            for notice in notices {
                let id: i64 = sqlx::query_scalar(INSERT_NOTICE)
                    .bind(notice.phone.as_str())
                    .bind(notice.client_id)
                    .bind(notice.kind.as_str())
                    .bind(&notice.body)
                    .bind(PRIORITY_INTERACTIVE)
                    .bind(Some(media_id))
                    .bind(now)
                    .bind(&notice.template_args)
                    .fetch_one(&mut *tx)
                    .await?;
                ids.push(id);
            }
            if !ids.is_empty() {
                let tasks = ids.iter().map(|id| (jobs.task)(*id)).collect();
                push_jobs(&mut tx, jobs.queue, tasks).await?;
            }
            tx.commit().await?;
            Ok(Some((media_id, ids)))
        })
    }

    async fn give_up_media(
        &self,
        message_id: i64,
        error: &str,
        notices: &[NewOutbound],
        jobs: &SendJobs,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Vec<i64>>> {
        on_pool!(self, |pool| {
            let mut tx = begin_write(pool).await?;
            let taken = sqlx::query(GIVE_UP)
                .bind(error)
                .bind(now)
                .bind(message_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if taken != 1 {
                return Ok(None);
            }
            let mut ids = Vec::with_capacity(notices.len());
            for notice in notices {
                let id: i64 = sqlx::query_scalar(INSERT_NOTICE)
                    .bind(notice.phone.as_str())
                    .bind(notice.client_id)
                    .bind(notice.kind.as_str())
                    .bind(&notice.body)
                    .bind(PRIORITY_INTERACTIVE)
                    .bind(None::<i64>)
                    .bind(now)
                    .bind(&notice.template_args)
                    .fetch_one(&mut *tx)
                    .await?;
                ids.push(id);
            }
            if !ids.is_empty() {
                let tasks = ids.iter().map(|id| (jobs.task)(*id)).collect();
                push_jobs(&mut tx, jobs.queue, tasks).await?;
            }
            tx.commit().await?;
            Ok(Some(ids))
        })
    }
}
