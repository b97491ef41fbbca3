//! Applying the conversation to stored inbound messages.

use crate::jobs::{JobError, Services};

/// Processes inbound message `message_id` once.
pub async fn handle_inbound(services: &Services, message_id: i64) -> Result<(), JobError> {
    let _ = (services, message_id);
    Ok(())
}
