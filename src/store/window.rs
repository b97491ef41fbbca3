//! The Cloud API's 24-hour window: when a customer last wrote, the template
//! a message went as, and a text Meta refused after accepting it.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use super::backend::{SqlStore, on_pool};
use super::outbox::BY_PROVIDER_ID;

/// The newest inbound row of a phone (index `messages_phone`).
const LAST_INBOUND: &str = "SELECT created_at FROM messages \
     WHERE phone = $1 AND direction = 'in' ORDER BY created_at DESC LIMIT 1";
const MARK_SENT_TEMPLATE: &str = "UPDATE messages SET sent_template = $1 WHERE id = $2";
/// Our message with that WhatsApp or provider id ([`BY_PROVIDER_ID`]), when
/// it offers a template, did not go as one and was not sent again this way
/// before: queued again, outside the window.
static RESEND_AS_TEMPLATE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE messages SET status = 'queued', outside_window = TRUE, attempts = 0, \
         error = NULL, next_attempt_at = NULL, updated_at = $2 WHERE id = ({BY_PROVIDER_ID}) \
         AND template_args IS NOT NULL AND sent_template IS NULL AND outside_window = FALSE \
         AND status IN ('sent', 'delivered', 'failed') RETURNING id"
    )
});

#[async_trait]
pub trait WindowStore {
    /// When `phone` last wrote to us.
    async fn last_inbound_at(&self, phone: &str) -> StoreResult<Option<DateTime<Utc>>>;
    /// Records the approved template a sent message went as.
    async fn mark_sent_template(&self, id: i64, template: &str) -> StoreResult<()>;
    /// Meta reported our text with that id refused for the closed window
    /// (131047 in a `failed` status): when it offers a template and did not
    /// go as one, it is queued again to go as the template, once. Its id;
    /// `None` when nothing was queued (the caller records the failure).
    async fn resend_as_template(
        &self,
        wa_or_provider_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<i64>>;
}

#[async_trait]
impl<S: SqlStore> WindowStore for S {
    async fn last_inbound_at(&self, phone: &str) -> StoreResult<Option<DateTime<Utc>>> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar(LAST_INBOUND)
            .bind(phone)
            .fetch_optional(pool)
            .await?))
    }

    async fn mark_sent_template(&self, id: i64, template: &str) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(MARK_SENT_TEMPLATE)
                .bind(template)
                .bind(id)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    async fn resend_as_template(
        &self,
        wa_or_provider_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<i64>> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar(
            RESEND_AS_TEMPLATE.as_str()
        )
        .bind(wa_or_provider_id)
        .bind(now)
        .fetch_optional(pool)
        .await?))
    }
}
