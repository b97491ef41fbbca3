//! `POST /admin/clients/{id}/reply`: staff answer a customer from the
//! panel. The reply goes through the outbox like any answer (interactive
//! priority, paced, retried, logged as `manual` with the staff email) and
//! takes the chat over from the bot, as a reply from the phone does.

use axum::Form;
use axum::extract::State;
use serde::Deserialize;

use super::forms::{done, found};
use super::{CurrentUser, audit};
use crate::chat::takeover;
use crate::web::{Id, WebResult, WebState};

/// WhatsApp's own limit for a text message.
pub const MAX_REPLY_CHARS: usize = 4096;

#[derive(Debug, Deserialize)]
pub struct ReplyForm {
    #[serde(default)]
    body: String,
}

/// Why a reply cannot be sent, as the notice key shown on the client page.
fn refusal(body: &str) -> Option<&'static str> {
    if body.is_empty() {
        Some("reply.notice_empty")
    } else if body.chars().count() > MAX_REPLY_CHARS {
        Some("reply.notice_too_long")
    } else {
        None
    }
}

pub async fn send(
    State(state): State<WebState>,
    user: CurrentUser,
    Id(id): Id,
    Form(form): Form<ReplyForm>,
) -> WebResult {
    let services = &state.services;
    let client = found(services.store.client(id).await)?;
    let page = format!("/admin/clients/{id}");
    let body = form.body.trim().to_string();
    if let Some(key) = refusal(&body) {
        return Ok(done(&format!("{page}#reply"), key));
    }
    let message_id = takeover::reply_from_panel(
        services,
        &client.phone,
        Some(client.id),
        body,
        None,
        &user.email,
    )
    .await?;
    let detail = format!("#{id} {} ({}) → #{message_id}", client.name, client.phone);
    audit(&state, &user, "message.manual", &detail).await;
    Ok(done(
        &format!("{page}#conversation-title"),
        "reply.notice_queued",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_overlong_replies_are_refused() {
        assert_eq!(refusal(""), Some("reply.notice_empty"));
        assert_eq!(refusal("hola"), None);
        assert_eq!(refusal(&"ñ".repeat(MAX_REPLY_CHARS)), None);
        assert_eq!(
            refusal(&"ñ".repeat(MAX_REPLY_CHARS + 1)),
            Some("reply.notice_too_long")
        );
    }
}
