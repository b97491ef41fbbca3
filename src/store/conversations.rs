//! Each customer's conversation state (by phone number).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::backend::{SqlStore, on_pool};
use super::{ConversationRow, StoreResult};

const GET: &str = "SELECT state, updated_at FROM conversations WHERE phone = $1";
/// Also run by `apply_inbound` in its transaction.
pub(crate) const SAVE: &str = "INSERT INTO conversations (phone, state, updated_at) \
     VALUES ($1, $2, $3) \
     ON CONFLICT (phone) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at";

#[async_trait]
pub trait ConversationStore {
    async fn conversation(&self, phone: &str) -> StoreResult<Option<ConversationRow>>;
    async fn save_conversation(
        &self,
        phone: &str,
        state: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
}

#[async_trait]
impl<S: SqlStore> ConversationStore for S {
    async fn conversation(&self, phone: &str) -> StoreResult<Option<ConversationRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(GET)
            .bind(phone)
            .fetch_optional(pool)
            .await?))
    }

    async fn save_conversation(
        &self,
        phone: &str,
        state: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        on_pool!(self, |pool| {
            let save = sqlx::query(SAVE).bind(phone).bind(state).bind(now);
            save.execute(pool).await?;
            Ok(())
        })
    }
}
