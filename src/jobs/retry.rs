//! Retrying a failed outbound message by hand (the staff panel's
//! "Reintentar"): back to `queued`, then a send job through the usual queue,
//! so it is paced, held and logged like any other message.

use crate::services::{JobError, Services};
use crate::store::PRIORITY_INTERACTIVE;

/// Queues message `id` again if it is `failed`; false (nothing done) when it
/// is not, e.g. on a second click. See `Store::requeue_failed`.
pub async fn retry_failed(services: &Services, id: i64) -> Result<bool, JobError> {
    if !services
        .store
        .requeue_failed(id, services.clock.now())
        .await?
    {
        return Ok(false);
    }
    let interactive = services
        .store
        .message(id)
        .await?
        .is_some_and(|m| m.priority == PRIORITY_INTERACTIVE);
    services.queue.push_send(id, interactive, None).await?;
    Ok(true)
}
