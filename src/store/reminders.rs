//! Reminders: which (subscription, end date, tier) are done, the planner's
//! writes (messages with their reminder rows, exactly once) and counts.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::backend::{SqlStore, begin_write, on_pool, query_builder};
use super::{PRIORITY_BULK, PlannedMessage, ReminderKey, StoreResult, TierStatusCount};

/// Rows per multi-row INSERT when recording a plan: far below the bound
/// parameter limits (SQLite 32,766, PostgreSQL 65,535) at 8 binds per row.
const MESSAGE_ROWS_PER_INSERT: usize = 500;
const REMINDER_ROWS_PER_INSERT: usize = 1_000;

const DONE: &str = "SELECT r.subscription_id, r.end_date, r.tier FROM reminders r \
     LEFT JOIN messages m ON m.id = r.message_id \
     WHERE r.end_date >= $1 AND r.end_date <= $2 \
     AND (m.id IS NULL OR m.status <> 'failed' OR m.permanent_failure = TRUE)";
const COUNTS: &str = "SELECT r.tier AS tier, COALESCE(m.status, 'unknown') AS status, \
     COUNT(*) AS count FROM reminders r LEFT JOIN messages m ON m.id = r.message_id \
     WHERE r.planned_on = $1 GROUP BY r.tier, m.status ORDER BY r.tier DESC, 2";
const QUEUED_PLANNED_ON: &str = "SELECT m.id, r.tier FROM reminders r \
     JOIN messages m ON m.id = r.message_id \
     WHERE r.planned_on = $1 AND m.direction = 'out' AND m.status = 'queued' \
     ORDER BY m.id, r.tier";

const MESSAGE_ROWS: &str = "INSERT INTO messages \
     (direction, phone, client_id, kind, body, status, automatic, priority, created_at, \
      updated_at, template_args) ";
const INSERT_MESSAGE: &str = "INSERT INTO messages \
     (direction, phone, client_id, kind, body, status, automatic, priority, created_at, \
      updated_at, template_args) \
     VALUES ('out', $1, $2, 'reminder', $3, 'queued', $4, $5, $6, $6, $7) RETURNING id";
const REMINDER_ROWS: &str = "INSERT INTO reminders \
     (subscription_id, end_date, tier, days_left, planned_on, message_id, created_at) ";
const REMINDER_ROWS_TAIL: &str = " ON CONFLICT (subscription_id, end_date, tier) DO NOTHING";
const INSERT_REMINDER: &str = "INSERT INTO reminders \
     (subscription_id, end_date, tier, days_left, planned_on, message_id, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (subscription_id, end_date, tier) DO NOTHING";
/// A reminder taken by a transient failure is planned again.
const RETAKE: &str = "UPDATE reminders \
     SET message_id = $1, days_left = $2, planned_on = $3, created_at = $4 \
     WHERE subscription_id = $5 AND end_date = $6 AND tier = $7 \
     AND message_id IN \
         (SELECT id FROM messages WHERE status = 'failed' AND permanent_failure = FALSE)";

#[async_trait]
pub trait ReminderStore {
    /// Keys already done for end dates in `from..=to`: sent, in flight, or
    /// failed permanently. Transient failures are not done and are re-planned.
    async fn reminders_done(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<HashSet<ReminderKey>>;
    /// Writes each planned message with its reminder rows, one transaction
    /// for the batch. A message whose reminders already exist (another
    /// planner won) is left out; returns the new message ids in order.
    async fn record_reminders(
        &self,
        planned: &[PlannedMessage],
        planned_on: NaiveDate,
        automatic: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Option<i64>>>;
    async fn reminder_counts(&self, planned_on: NaiveDate) -> StoreResult<Vec<TierStatusCount>>;
    /// Reminder messages planned on `date` still waiting to be sent, with
    /// each reminder's tier: what `avisa remind` resumes.
    async fn queued_reminders_planned_on(&self, date: NaiveDate) -> StoreResult<Vec<(i64, i32)>>;
}

/// Where each client's message is in the batch; `None` when a client has
/// two (RETURNING promises no row order: new ids are matched to the input
/// by client, so each client must appear once).
fn positions(planned: &[PlannedMessage]) -> Option<HashMap<i64, usize>> {
    let mut position = HashMap::with_capacity(planned.len());
    for (i, message) in planned.iter().enumerate() {
        if position.insert(message.client_id, i).is_some() {
            return None;
        }
    }
    Some(position)
}

/// The reminder rows of a batch whose messages got `ids`: (key, days left, message).
fn reminder_rows<'a>(
    planned: &'a [PlannedMessage],
    ids: &[i64],
) -> Vec<(&'a ReminderKey, i32, i64)> {
    planned
        .iter()
        .zip(ids)
        .flat_map(|(message, id)| {
            message
                .reminders
                .iter()
                .map(move |(key, days_left)| (key, days(*days_left), *id))
        })
        .collect()
}

fn days(days_left: i64) -> i32 {
    i32::try_from(days_left).unwrap_or(i32::MAX)
}

#[async_trait]
impl<S: SqlStore> ReminderStore for S {
    async fn reminders_done(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<HashSet<ReminderKey>> {
        let rows: Vec<(i64, NaiveDate, i32)> = on_pool!(self, |pool| sqlx::query_as(DONE)
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(|(subscription_id, end_date, tier)| ReminderKey {
                subscription_id,
                end_date,
                tier,
            })
            .collect())
    }

    async fn record_reminders(
        &self,
        planned: &[PlannedMessage],
        planned_on: NaiveDate,
        automatic: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Option<i64>>> {
        on_pool!(self, |pool| {
            let mut tx = begin_write(pool).await?;
            // Fast path: the whole batch in a few multi-row INSERTs under
            // one savepoint: messages, then their reminder rows. If any
            // reminder row already exists (another planner won, or a
            // transient failure is planned again) it is undone and the
            // batch goes message by message instead.
            let mut sp = sqlx::Acquire::begin(&mut *tx).await?;
            let batch: Option<Vec<i64>> = 'batch: {
                let Some(position) = positions(planned) else {
                    break 'batch None;
                };
                let mut ids: Vec<Option<i64>> = vec![None; planned.len()];
                for chunk in planned.chunks(MESSAGE_ROWS_PER_INSERT) {
                    let mut insert = query_builder(pool, MESSAGE_ROWS);
                    insert.push_values(chunk, |mut row, message| {
                        row.push("'out'")
                            .push_bind(message.phone.as_str())
                            .push_bind(message.client_id)
                            .push("'reminder'")
                            .push_bind(message.body.as_str())
                            .push("'queued'")
                            .push_bind(automatic)
                            .push_bind(PRIORITY_BULK)
                            .push_bind(now)
                            .push_bind(now)
                            .push_bind(message.template_args.as_deref());
                    });
                    insert.push(" RETURNING id, client_id");
                    let rows: Vec<(i64, i64)> = insert.build_query_as().fetch_all(&mut *sp).await?;
                    for (id, client_id) in rows {
                        match position.get(&client_id) {
                            Some(&i) if ids[i].is_none() => ids[i] = Some(id),
                            _ => break 'batch None,
                        }
                    }
                }
                let Some(ids) = ids.into_iter().collect::<Option<Vec<i64>>>() else {
                    break 'batch None;
                };
                let rows = reminder_rows(planned, &ids);
                for chunk in rows.chunks(REMINDER_ROWS_PER_INSERT) {
                    let mut insert = query_builder(pool, REMINDER_ROWS);
                    insert.push_values(chunk, |mut row, (key, days_left, id)| {
                        row.push_bind(key.subscription_id)
                            .push_bind(key.end_date)
                            .push_bind(key.tier)
                            .push_bind(*days_left)
                            .push_bind(planned_on)
                            .push_bind(*id)
                            .push_bind(now);
                    });
                    insert.push(REMINDER_ROWS_TAIL);
                    let inserted = insert.build().execute(&mut *sp).await?.rows_affected();
                    if inserted != chunk.len() as u64 {
                        break 'batch None;
                    }
                }
                Some(ids)
            };
            let ids = match batch {
                Some(ids) => {
                    sp.commit().await?;
                    ids.into_iter().map(Some).collect()
                }
                None => {
                    sp.rollback().await?;
                    // The careful way: a savepoint per message, so losing a
                    // race for one client does not undo the others.
                    let mut ids = Vec::with_capacity(planned.len());
                    for message in planned {
                        let mut sp = sqlx::Acquire::begin(&mut *tx).await?;
                        let message_id: i64 = sqlx::query_scalar(INSERT_MESSAGE)
                            .bind(message.phone.as_str())
                            .bind(message.client_id)
                            .bind(&message.body)
                            .bind(automatic)
                            .bind(PRIORITY_BULK)
                            .bind(now)
                            .bind(&message.template_args)
                            .fetch_one(&mut *sp)
                            .await?;
                        let mut won = true;
                        for (key, days_left) in &message.reminders {
                            let days_left = days(*days_left);
                            let inserted = sqlx::query(INSERT_REMINDER)
                                .bind(key.subscription_id)
                                .bind(key.end_date)
                                .bind(key.tier)
                                .bind(days_left)
                                .bind(planned_on)
                                .bind(message_id)
                                .bind(now)
                                .execute(&mut *sp)
                                .await?
                                .rows_affected();
                            if inserted == 1 {
                                continue;
                            }
                            // Taken: only a transient failure may be planned again.
                            let retaken = sqlx::query(RETAKE)
                                .bind(message_id)
                                .bind(days_left)
                                .bind(planned_on)
                                .bind(now)
                                .bind(key.subscription_id)
                                .bind(key.end_date)
                                .bind(key.tier)
                                .execute(&mut *sp)
                                .await?
                                .rows_affected();
                            if retaken == 0 {
                                won = false;
                                break;
                            }
                        }
                        if won {
                            sp.commit().await?;
                            ids.push(Some(message_id));
                        } else {
                            sp.rollback().await?;
                            ids.push(None);
                        }
                    }
                    ids
                }
            };
            tx.commit().await?;
            Ok(ids)
        })
    }

    async fn reminder_counts(&self, planned_on: NaiveDate) -> StoreResult<Vec<TierStatusCount>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(COUNTS)
            .bind(planned_on)
            .fetch_all(pool)
            .await?))
    }

    async fn queued_reminders_planned_on(&self, date: NaiveDate) -> StoreResult<Vec<(i64, i32)>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(QUEUED_PLANNED_ON)
            .bind(date)
            .fetch_all(pool)
            .await?))
    }
}
