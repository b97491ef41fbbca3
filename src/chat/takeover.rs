//! A person answering a customer — from the business phone itself (a
//! `fromMe` message avisa did not send) or from the panel. Either way the
//! message is logged as `manual`, the bot stays quiet with that customer
//! for `AVISA_HANDOFF_HOURS` (as when they ask for a person; reminders
//! still go out) and their Bandeja entry is resolved, in one transaction.

use chrono::{DateTime, Duration, Utc};

use crate::conversation::ConversationState;
use crate::domain::Phone;
use crate::jobs::queue::SEND_JOBS;
use crate::services::{JobError, Services};
use crate::store::media::NewMedia;
use crate::store::{MessageKind, NewOutbound, PanelReply, PhoneMessage};
use crate::whatsapp::{InboundContent, InboundMessage};

/// An echo of one of our sends may come before the provider's answer, or
/// after a slow send: text matches are looked for this far back.
const ECHO_WINDOW_MINUTES: i64 = 30;

/// The takeover state, as stored.
fn takeover_state(services: &Services, now: DateTime<Utc>) -> Result<String, JobError> {
    let until = now + Duration::hours(i64::from(services.config.handoff_hours));
    serde_json::to_string(&ConversationState::Handoff { until })
        .map_err(|e| JobError::State(e.to_string()))
}

/// The text a `fromMe` message shows in the log: its text, caption or
/// file name.
fn logged_text(content: &InboundContent) -> (String, Option<String>) {
    match content {
        InboundContent::Text(text) => (text.clone(), None),
        InboundContent::Media {
            kind,
            caption,
            file_name,
            ..
        } => (
            caption
                .clone()
                .or_else(|| file_name.clone())
                .unwrap_or_default(),
            Some(kind.as_str().to_string()),
        ),
        InboundContent::Unsupported => (String::new(), Some("unsupported".to_string())),
    }
}

/// A `fromMe` webhook message: ignored when it is one of our own sends
/// echoed back; otherwise a person wrote from the phone, which takes the
/// chat over.
pub async fn from_phone(services: &Services, message: InboundMessage) -> Result<(), JobError> {
    let Some(phone) = message.from.phone(services.config.default_region) else {
        // A LID-only chat: no number to tie it to a customer.
        return Ok(());
    };
    let now = services.clock.now();
    let (body, media_kind) = logged_text(&message.content);
    let since = now - Duration::minutes(ECHO_WINDOW_MINUTES);
    let store = &services.store;
    if store
        .is_own_send(&message.wa_id, phone.as_str(), &body, since)
        .await?
    {
        return Ok(());
    }
    let state = takeover_state(services, now)?;
    let logged = PhoneMessage {
        phone: phone.as_str().to_string(),
        body,
        media_kind,
        wa_id: message.wa_id,
    };
    if store
        .record_phone_message(&logged, &state, now)
        .await?
        .is_some()
    {
        tracing::info!(phone = %phone, hours = services.config.handoff_hours,
            "a person wrote from the business phone: the bot stays quiet with this customer");
    }
    Ok(())
}

/// A reply typed in the panel, with an optional file: queued through the
/// outbox (interactive priority, paced, retried, logged as `manual` with
/// the staff email), the file stored with it, and the chat taken over, in
/// one transaction. Returns the message id.
pub async fn reply_from_panel(
    services: &Services,
    phone: &Phone,
    client_id: Option<i64>,
    body: String,
    file: Option<NewMedia>,
    staff_email: &str,
) -> Result<i64, JobError> {
    let now = services.clock.now();
    let state = takeover_state(services, now)?;
    let media_kind = file.as_ref().map(|f| {
        if f.content_type.starts_with("image/") {
            "image".to_string()
        } else {
            "document".to_string()
        }
    });
    let reply = PanelReply {
        message: NewOutbound {
            phone: phone.clone(),
            client_id,
            kind: MessageKind::Manual,
            body,
            template_args: None,
        },
        file,
        media_kind,
        sent_by: staff_email.to_string(),
    };
    let id = services
        .store
        .queue_panel_reply(reply, &state, &SEND_JOBS, now)
        .await?;
    services.queue.pushed_in_store(&[id]);
    Ok(id)
}
