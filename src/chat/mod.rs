//! Applying the conversation to stored inbound messages: loads the facts,
//! runs the pure state machine or staff command, stores the effects and
//! queues every answer through the outbox.

mod customer;
pub mod inbox;
pub mod media;
pub mod notice_context;
pub mod payment;
pub mod render;
pub mod renewal;
mod staff;
mod staff_views;
pub mod takeover;

use crate::conversation::ConversationState;
use crate::domain::{Phone, clock::local_today};
use crate::services::{JobError, Services};
use crate::store::{Direction, MessageKind, MessageStatus, NewOutbound};

pub use notice_context::{CustomerCtx, FileNote, NoticeExtra};
pub use render::ReplyTexts;

/// How an inbound message is logged and routed: a `/…` from a staff number is
/// a staff command; everything else goes through the customer conversation.
pub fn inbound_kind(config: &crate::config::Config, phone: &Phone, body: &str) -> MessageKind {
    if config.is_staff(phone) && body.trim_start().starts_with('/') {
        MessageKind::Staff
    } else {
        MessageKind::Reply
    }
}

/// Processes inbound message `message_id` once: a message that is not
/// `received` any more (already handled) is skipped.
pub async fn handle_inbound(services: &Services, message_id: i64) -> Result<(), JobError> {
    let store = &services.store;
    let Some(row) = store.message(message_id).await? else {
        tracing::warn!(message_id, "inbound message not found; ignored");
        return Ok(());
    };
    if row.direction != Direction::In || row.status != MessageStatus::Received {
        return Ok(());
    }
    // Decoded once from the row (and parsed once, from the webhook).
    let phone = &row.phone;
    let config = &services.config;
    // Routed by the kind decided when it arrived (`inbound_kind`).
    if row.kind == MessageKind::Staff {
        // At most once: a command that renews, adds or cancels must never
        // run twice because its answer failed to queue. The message is
        // taken first; if the command then fails, staff are told to check
        // and retry (and `/deshacer` undoes a renewal).
        if !store
            .mark_inbound_processed(message_id, services.clock.now())
            .await?
        {
            return Ok(());
        }
        if let Err(e) = staff::handle(services, phone, &row.body).await {
            tracing::error!(message_id, error = %e, "staff command failed");
            let answer = staff::failed(config.locale);
            if let Err(e) = queue(services, phone, None, MessageKind::Staff, answer, None).await {
                tracing::error!(message_id, error = %e, "cannot tell staff that their command failed");
            }
        }
    } else {
        // One transaction: state, effects, replies, their jobs and the
        // processed mark commit together.
        customer::handle(services, &services.flows, phone, &row).await?;
    }
    Ok(())
}

/// Staff acting on a customer ends any handoff (DESIGN.md "Handoff").
pub(crate) async fn end_handoff(services: &Services, phone: &Phone) -> Result<(), JobError> {
    let Some(saved) = services.store.conversation(phone.as_str()).await? else {
        return Ok(());
    };
    let in_handoff = matches!(
        serde_json::from_str::<ConversationState>(&saved.state),
        Ok(ConversationState::Handoff { .. })
    );
    if in_handoff {
        save_state(services, phone, &ConversationState::Idle).await?;
    }
    Ok(())
}

pub(crate) fn texts(services: &Services) -> ReplyTexts<'_> {
    let config = &services.config;
    ReplyTexts {
        templates: &services.templates,
        locale: config.locale,
        business_name: &config.business_name,
        payment_instructions: &config.payment_instructions,
        handoff_hours: config.handoff_hours,
    }
}

/// The customer as staff notices show them: services, open request, panel
/// link (when `AVISA_PUBLIC_URL` is set).
pub(crate) fn customer_context(
    services: &Services,
    client_id: i64,
    subscriptions: &[crate::store::SubscriptionView],
    open_request: Option<&crate::store::RenewalRequestRow>,
) -> CustomerCtx {
    let config = &services.config;
    CustomerCtx::new(
        client_id,
        subscriptions,
        open_request,
        today(services),
        config.locale,
        config.timezone,
        config.public_url.as_ref().map(|u| u.as_str()),
    )
}

pub(crate) fn today(services: &Services) -> chrono::NaiveDate {
    local_today(services.clock.as_ref(), services.config.timezone)
}

/// Writes an outbox row and queues its send job (interactive priority).
pub(crate) async fn queue(
    services: &Services,
    phone: &Phone,
    client_id: Option<i64>,
    kind: MessageKind,
    body: String,
    template_args: Option<String>,
) -> Result<i64, JobError> {
    let message = NewOutbound {
        phone: phone.clone(),
        client_id,
        kind,
        body,
        template_args,
    };
    let id = services
        .store
        .queue_outbound(&message, services.clock.now())
        .await?;
    services.queue.push_send(id, true, None).await?;
    Ok(id)
}

/// Saves a conversation state for `phone`.
pub(crate) async fn save_state(
    services: &Services,
    phone: &Phone,
    state: &ConversationState,
) -> Result<(), JobError> {
    let json = serde_json::to_string(state).map_err(|e| JobError::State(e.to_string()))?;
    services
        .store
        .save_conversation(phone.as_str(), &json, services.clock.now())
        .await?;
    Ok(())
}
