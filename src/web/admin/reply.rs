//! `POST /admin/clients/{id}/reply`: staff answer a customer from the
//! panel, with an optional image or document. The reply goes through the
//! outbox like any answer (interactive priority, paced, retried, logged as
//! `manual` with the staff email) and takes the chat over from the bot, as
//! a reply from the phone does.

use axum::extract::multipart::Field;
use axum::extract::{Multipart, State};

use super::forms::{done, found};
use super::{CurrentUser, audit};
use crate::chat::takeover;
use crate::media::{MAX_BYTES, sniff};
use crate::store::media::NewMedia;
use crate::web::{Id, WebResult, WebState};

/// WhatsApp's own limit for a text message.
pub const MAX_REPLY_CHARS: usize = 4096;
/// The request body limit: the file, the text and the multipart framing.
pub const MAX_UPLOAD_BYTES: usize = MAX_BYTES + 64 * 1024;

/// What the form sent.
#[derive(Debug, Default)]
struct ReplyForm {
    body: String,
    /// (bytes, the name the browser gave), when a file was chosen.
    file: Option<(Vec<u8>, Option<String>)>,
}

/// Why a reply cannot be sent: the notice key shown on the client page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Empty,
    TooLong,
    FileTooLarge,
    Unreadable,
    /// A file needs `AVISA_PUBLIC_URL`: WaSender fetches it from there.
    NoPublicUrl,
}

impl Refusal {
    fn key(self) -> &'static str {
        match self {
            Refusal::Empty => "reply.notice_empty",
            Refusal::TooLong => "reply.notice_too_long",
            Refusal::FileTooLarge => "reply.notice_file_too_large",
            Refusal::Unreadable => "reply.notice_unreadable",
            Refusal::NoPublicUrl => "reply.notice_no_public_url",
        }
    }
}

/// A text or a file is needed; the text fits WhatsApp's limit.
fn check(body: &str, has_file: bool) -> Result<(), Refusal> {
    if body.is_empty() && !has_file {
        Err(Refusal::Empty)
    } else if body.chars().count() > MAX_REPLY_CHARS {
        Err(Refusal::TooLong)
    } else {
        Ok(())
    }
}

/// Reads a field whole, refusing it past `limit` bytes without buffering
/// more than that.
async fn read_limited(mut field: Field<'_>, limit: usize) -> Result<Vec<u8>, Refusal> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|_| Refusal::Unreadable)? {
        if bytes.len() + chunk.len() > limit {
            return Err(Refusal::FileTooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

async fn read_form(mut multipart: Multipart) -> Result<ReplyForm, Refusal> {
    let mut form = ReplyForm::default();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| Refusal::Unreadable)?
    {
        match field.name() {
            Some("body") => {
                let bytes = read_limited(field, MAX_REPLY_CHARS * 4)
                    .await
                    .map_err(|e| {
                        if e == Refusal::FileTooLarge {
                            Refusal::TooLong
                        } else {
                            e
                        }
                    })?;
                form.body = String::from_utf8(bytes).map_err(|_| Refusal::Unreadable)?;
            }
            Some("file") => {
                let name = field.file_name().map(str::to_string);
                let bytes = read_limited(field, MAX_BYTES).await?;
                // An empty file input sends an empty part: no file.
                if !bytes.is_empty() {
                    form.file = Some((bytes, name));
                }
            }
            _ => {}
        }
    }
    Ok(form)
}

pub async fn send(
    State(state): State<WebState>,
    user: CurrentUser,
    Id(id): Id,
    multipart: Multipart,
) -> WebResult {
    let services = &state.services;
    let client = found(services.store.client(id).await)?;
    let page = format!("/admin/clients/{id}");
    let refused = |why: Refusal| done(&format!("{page}#reply"), why.key());
    let form = match read_form(multipart).await {
        Ok(form) => form,
        Err(why) => return Ok(refused(why)),
    };
    let body = form.body.trim().to_string();
    if let Err(why) = check(&body, form.file.is_some()) {
        return Ok(refused(why));
    }
    if form.file.is_some()
        && services.config.public_url.is_none()
        && !services.provider.is_console()
    {
        return Ok(refused(Refusal::NoPublicUrl));
    }
    let file = form.file.map(|(data, name)| {
        let inspected = sniff::inspect(&data);
        NewMedia {
            content_type: inspected.content_type.to_string(),
            file_name: Some(sniff::safe_file_name(
                name.as_deref(),
                inspected.content_type,
            )),
            sha256: inspected.sha256,
            data,
        }
    });
    let attached = file
        .as_ref()
        .map(|f| format!(" + {}", f.content_type))
        .unwrap_or_default();
    let message_id = takeover::reply_from_panel(
        services,
        &client.phone,
        Some(client.id),
        body,
        file,
        &user.email,
    )
    .await?;
    let detail = format!(
        "#{id} {} ({}) → #{message_id}{attached}",
        client.name, client.phone
    );
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
    fn a_reply_needs_text_or_a_file_and_fits_whatsapp() {
        assert_eq!(check("", false), Err(Refusal::Empty));
        assert_eq!(check("", true), Ok(()));
        assert_eq!(check("hola", false), Ok(()));
        assert_eq!(check(&"ñ".repeat(MAX_REPLY_CHARS), false), Ok(()));
        assert_eq!(
            check(&"ñ".repeat(MAX_REPLY_CHARS + 1), true),
            Err(Refusal::TooLong)
        );
    }
}
