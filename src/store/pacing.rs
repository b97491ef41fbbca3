//! One send pace per WhatsApp number, shared by every process through the
//! `send_pacing` table (see `jobs::pacer`).

use async_trait::async_trait;

use super::backend::{SqlStore, on_pool};
use super::{PaceClaim, StoreResult};

const CLAIM: &str = "UPDATE send_pacing SET holder = $2, lease_until_ms = $3 + $4 \
     WHERE sender = $1 AND next_at_ms <= $3 AND (holder IS NULL OR lease_until_ms <= $3)";
const GET: &str = "SELECT next_at_ms, holder, lease_until_ms FROM send_pacing WHERE sender = $1";
const CREATE: &str = "INSERT INTO send_pacing (sender, next_at_ms, holder, lease_until_ms) \
     VALUES ($1, 0, NULL, 0) ON CONFLICT (sender) DO NOTHING";
const RELEASE: &str = "UPDATE send_pacing SET holder = NULL, lease_until_ms = 0, \
     next_at_ms = CASE WHEN next_at_ms > $3 THEN next_at_ms ELSE $3 END \
     WHERE sender = $1 AND holder = $2";
const DEFER: &str = "UPDATE send_pacing \
     SET next_at_ms = CASE WHEN next_at_ms > $2 THEN next_at_ms ELSE $2 END WHERE sender = $1";

#[async_trait]
pub trait PacingStore {
    /// Takes the send slot of `sender` for `holder` when its pause has
    /// passed and nobody else holds it (a holder's lease ends after
    /// `lease_ms`, should it die mid-send).
    async fn pace_claim(
        &self,
        sender: &str,
        holder: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> StoreResult<PaceClaim>;
    /// Gives the slot back: nobody sends before `next_at_ms` (completion +
    /// interval + jitter).
    async fn pace_release(&self, sender: &str, holder: &str, next_at_ms: i64) -> StoreResult<()>;
    /// Nobody sends before `until_ms` (a 429's `retry_after`).
    async fn pace_defer(&self, sender: &str, until_ms: i64) -> StoreResult<()>;
}

#[async_trait]
impl<S: SqlStore> PacingStore for S {
    async fn pace_claim(
        &self,
        sender: &str,
        holder: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> StoreResult<PaceClaim> {
        on_pool!(self, |pool| {
            let granted = sqlx::query(CLAIM)
                .bind(sender)
                .bind(holder)
                .bind(now_ms)
                .bind(lease_ms)
                .execute(pool)
                .await?
                .rows_affected();
            if granted == 1 {
                return Ok(PaceClaim::Granted);
            }
            let row: Option<(i64, Option<String>, i64)> = sqlx::query_as(GET)
                .bind(sender)
                .fetch_optional(pool)
                .await?;
            match row {
                None => {
                    sqlx::query(CREATE).bind(sender).execute(pool).await?;
                    Ok(PaceClaim::Wait {
                        until_ms: now_ms,
                        in_flight: false,
                    })
                }
                Some((next_at_ms, holder, lease_until_ms)) => {
                    let in_flight = holder.is_some() && lease_until_ms > now_ms;
                    Ok(PaceClaim::Wait {
                        until_ms: next_at_ms,
                        in_flight,
                    })
                }
            }
        })
    }

    async fn pace_release(&self, sender: &str, holder: &str, next_at_ms: i64) -> StoreResult<()> {
        on_pool!(self, |pool| {
            let release = sqlx::query(RELEASE)
                .bind(sender)
                .bind(holder)
                .bind(next_at_ms);
            release.execute(pool).await?;
            Ok(())
        })
    }

    async fn pace_defer(&self, sender: &str, until_ms: i64) -> StoreResult<()> {
        on_pool!(self, |pool| {
            let defer = sqlx::query(DEFER).bind(sender).bind(until_ms);
            defer.execute(pool).await?;
            Ok(())
        })
    }
}
