//! Inbound messages: logged as they arrive (alone, or in the webhook
//! ingest's batches with their handling job), and everything handling one
//! changed written in one transaction (`apply_inbound`).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::backend::{
    SqlStore, begin_write, on_pool, power_of_two_chunks, push_jobs, query_builder,
};
use super::{
    InboundJobs, InboundOutcome, NewInbound, PRIORITY_INTERACTIVE, SendJobs, StoreResult, clients,
    conversations, inbox, outbox, renewals,
};

const INSERT: &str = "INSERT INTO messages \
     (direction, phone, client_id, kind, body, media_kind, status, wa_message_id, created_at, \
      updated_at, media_source) \
     VALUES ('in', $1, $2, $3, $4, $5, 'received', $6, $7, $7, $8) \
     ON CONFLICT (wa_message_id) DO NOTHING RETURNING id";
/// [`INSERT`] finding the client by phone when none is given.
const INSERT_FINDING_CLIENT: &str = "INSERT INTO messages \
     (direction, phone, client_id, kind, body, media_kind, status, wa_message_id, created_at, \
      updated_at, media_source) \
     VALUES ('in', $1, COALESCE($2, (SELECT id FROM clients WHERE phone = $1)), $3, $4, $5, \
             'received', $6, $7, $7, $8) \
     ON CONFLICT (wa_message_id) DO NOTHING RETURNING id";
/// The head of a multi-row [`INSERT_FINDING_CLIENT`]; its rows follow.
const INSERT_ROWS: &str = "INSERT INTO messages \
     (direction, phone, client_id, kind, body, media_kind, status, wa_message_id, created_at, \
      updated_at, media_source) ";
const INSERT_ROWS_TAIL: &str =
    " ON CONFLICT (wa_message_id) DO NOTHING RETURNING id, wa_message_id";

/// Also run by `apply_inbound`, first in its transaction.
const MARK_PROCESSED: &str = "UPDATE messages SET status = 'processed', updated_at = $1 \
     WHERE id = $2 AND direction = 'in' AND status = 'received'";
const MARK_ONCE: &str = "INSERT INTO daily_marks (mark, day, created_at) VALUES ($1, $2, $3) \
     ON CONFLICT (mark, day) DO NOTHING";
const MARK_TAKEN: &str = "SELECT COUNT(*) FROM daily_marks WHERE mark = $1 AND day = $2";
const STALE: &str = "SELECT id FROM messages \
     WHERE direction = 'in' AND status = 'received' AND updated_at < $1 ORDER BY id LIMIT $2";

#[async_trait]
pub trait InboundStore {
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
    /// Marks an inbound message handled; false if it was not `received`.
    async fn mark_inbound_processed(&self, id: i64, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Whether `mark` was taken for `day` (by `apply_inbound`'s `daily_mark`).
    async fn daily_mark_taken(&self, mark: &str, day: NaiveDate) -> StoreResult<bool>;
    /// Inbound messages still `received` since before `before`: their job
    /// was lost (it gave up during an outage); the sweeper queues them again.
    async fn stale_inbound(&self, before: DateTime<Utc>, limit: i64) -> StoreResult<Vec<i64>>;
}

#[async_trait]
impl<S: SqlStore> InboundStore for S {
    async fn insert_inbound(
        &self,
        message: &NewInbound,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<i64>> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar(INSERT)
            .bind(&message.phone)
            .bind(message.client_id)
            .bind(message.kind.as_str())
            .bind(&message.body)
            .bind(&message.media_kind)
            .bind(&message.wa_message_id)
            .bind(now)
            .bind(&message.media_source)
            .fetch_optional(pool)
            .await?))
    }

    async fn insert_inbound_batch(
        &self,
        messages: &[NewInbound],
        jobs: &InboundJobs,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Option<i64>>> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        // One multi-row INSERT: the rows that were new come back with
        // their WhatsApp ids, which say which message each id is for.
        // Without a WhatsApp id that mapping is impossible: row by row.
        let by_wa_id = messages.iter().all(|m| m.wa_message_id.is_some());
        on_pool!(self, |pool| {
            let mut tx = begin_write(pool).await?;
            let mut ids = Vec::with_capacity(messages.len());
            if by_wa_id {
                let mut new: HashMap<String, i64> = HashMap::with_capacity(messages.len());
                for chunk in power_of_two_chunks(messages) {
                    let mut insert = query_builder(pool, INSERT_ROWS);
                    insert.push_values(chunk, |mut row, message| {
                        row.push("'in'")
                            .push_bind(&message.phone)
                            .push_unseparated(", COALESCE(")
                            .push_bind_unseparated(message.client_id)
                            .push_unseparated(", (SELECT id FROM clients WHERE phone = ")
                            .push_bind_unseparated(&message.phone)
                            .push_unseparated("))")
                            .push_bind(message.kind.as_str())
                            .push_bind(&message.body)
                            .push_bind(&message.media_kind)
                            .push("'received'")
                            .push_bind(&message.wa_message_id)
                            .push_bind(now)
                            .push_bind(now)
                            .push_bind(&message.media_source);
                    });
                    insert.push(INSERT_ROWS_TAIL);
                    let inserted: Vec<(i64, Option<String>)> =
                        insert.build_query_as().fetch_all(&mut *tx).await?;
                    new.extend(
                        inserted
                            .into_iter()
                            .filter_map(|(id, wa)| wa.map(|wa| (wa, id))),
                    );
                }
                // A WhatsApp id twice in the batch: the first gets the row.
                for message in messages {
                    ids.push(message.wa_message_id.as_ref().and_then(|wa| new.remove(wa)));
                }
            } else {
                for message in messages {
                    let id = sqlx::query_scalar(INSERT_FINDING_CLIENT)
                        .bind(&message.phone)
                        .bind(message.client_id)
                        .bind(message.kind.as_str())
                        .bind(&message.body)
                        .bind(&message.media_kind)
                        .bind(&message.wa_message_id)
                        .bind(now)
                        .bind(&message.media_source)
                        .fetch_optional(&mut *tx)
                        .await?;
                    ids.push(id);
                }
            }
            let new: Vec<i64> = ids.iter().flatten().copied().collect();
            if !new.is_empty() {
                push_jobs(&mut tx, jobs.queue, vec![(jobs.task)(&new)]).await?;
            }
            tx.commit().await?;
            Ok(ids)
        })
    }

    async fn apply_inbound(
        &self,
        outcome: &InboundOutcome,
        jobs: &SendJobs,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Vec<i64>>> {
        on_pool!(self, |pool| {
            let mut tx = begin_write(pool).await?;
            // First, so a message another worker handled meanwhile
            // changes nothing (the transaction is dropped, rolled back).
            let claimed = sqlx::query(MARK_PROCESSED)
                .bind(now)
                .bind(outcome.message_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if claimed != 1 {
                return Ok(None);
            }
            if let Some((phone, state)) = &outcome.conversation {
                let save = sqlx::query(conversations::SAVE)
                    .bind(phone)
                    .bind(state)
                    .bind(now);
                save.execute(&mut *tx).await?;
            }
            if let Some((mark, day)) = &outcome.daily_mark {
                let take = sqlx::query(MARK_ONCE).bind(mark).bind(day).bind(now);
                take.execute(&mut *tx).await?;
            }
            if let Some((client_id, at)) = outcome.opt_out {
                let opt_out = sqlx::query(clients::SET_OPTED_OUT).bind(at).bind(client_id);
                opt_out.execute(&mut *tx).await?;
            }
            if let Some((client_id, subscription_id)) = outcome.renewal_request {
                let _: i64 = sqlx::query_scalar(renewals::CREATE_REQUEST)
                    .bind(client_id)
                    .bind(subscription_id)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
            }
            if let Some(request_id) = outcome.receipt_for_request {
                let attach = sqlx::query(renewals::ATTACH_RECEIPT)
                    .bind(outcome.message_id)
                    .bind(request_id);
                attach.execute(&mut *tx).await?;
            }
            if let Some((phone, client_id, reason)) = &outcome.inbox {
                let wait = sqlx::query(inbox::OPEN)
                    .bind(phone)
                    .bind(client_id)
                    .bind(reason)
                    .bind(now)
                    .bind(outcome.message_id);
                wait.execute(&mut *tx).await?;
            }
            let mut ids = Vec::with_capacity(outcome.outbox.len());
            for message in &outcome.outbox {
                let id: i64 = sqlx::query_scalar(outbox::INSERT_OUTBOX)
                    .bind(message.phone.as_str())
                    .bind(message.client_id)
                    .bind(message.kind.as_str())
                    .bind(&message.body)
                    .bind(PRIORITY_INTERACTIVE)
                    .bind(now)
                    .bind(&message.template_args)
                    .fetch_one(&mut *tx)
                    .await?;
                ids.push(id);
            }
            if !ids.is_empty() {
                let tasks = ids.iter().map(|id| (jobs.task)(*id)).collect();
                push_jobs(&mut tx, jobs.queue, tasks).await?;
            }
            if let Some(job) = &outcome.media_job {
                push_jobs(&mut tx, job.queue, vec![job.task.clone()]).await?;
            }
            tx.commit().await?;
            Ok(Some(ids))
        })
    }

    async fn mark_inbound_processed(&self, id: i64, now: DateTime<Utc>) -> StoreResult<bool> {
        on_pool!(self, |pool| {
            let mark = sqlx::query(MARK_PROCESSED).bind(now).bind(id);
            Ok(mark.execute(pool).await?.rows_affected() == 1)
        })
    }

    async fn daily_mark_taken(&self, mark: &str, day: NaiveDate) -> StoreResult<bool> {
        let found: i64 = on_pool!(self, |pool| sqlx::query_scalar(MARK_TAKEN)
            .bind(mark)
            .bind(day)
            .fetch_one(pool)
            .await?);
        Ok(found > 0)
    }

    async fn stale_inbound(&self, before: DateTime<Utc>, limit: i64) -> StoreResult<Vec<i64>> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar(STALE)
            .bind(before)
            .bind(limit)
            .fetch_all(pool)
            .await?))
    }
}
