//! Delivering one outbox message: checks, pacing, one provider call, and the
//! row updated with the outcome. Shared by the queue worker and `avisa remind`.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::services::{JobError, Services};
use crate::store::{self, Direction, MessageKind, MessageRow, MessageStatus, PRIORITY_INTERACTIVE};
use crate::whatsapp::template::{in_window, one_line};
use crate::whatsapp::{
    Attachment, AttachmentKind, Outgoing, SendError, Sent, TemplateArgs, TemplateKind,
};

/// Who asked for the send: the background worker honours pause and quiet
/// hours for automatic reminders; an operator's `avisa remind` does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Worker,
    Operator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// WhatsApp session not connected: nothing is sent.
    SessionDown,
    /// Automatic reminders paused by staff.
    Paused,
    /// Automatic reminders wait for the sending window.
    QuietHours,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    Failed {
        permanent: bool,
    },
    /// A transient failure; the row is queued again for this moment.
    RetryAt(DateTime<Utc>),
    /// The request may have reached the provider (timeout, connection lost
    /// mid-request): recorded as `unknown`, never resent automatically.
    Unknown,
    Held(Hold),
    /// Not queued (already sent, failed, or taken by another worker) or not due.
    NotPending,
    /// The provider rejected the API key: the row is failed, sending should stop.
    AuthRejected(String),
}

/// Why a message may not go out now, if anything.
pub async fn hold_reason(
    s: &Services,
    message: &MessageRow,
    mode: Mode,
) -> Result<Option<Hold>, JobError> {
    if s.store
        .setting(store::SETTING_SESSION_DOWN)
        .await?
        .is_some()
    {
        return Ok(Some(Hold::SessionDown));
    }
    if !message.automatic || mode == Mode::Operator {
        return Ok(None);
    }
    if store::is_paused(s.store.as_ref()).await? {
        return Ok(Some(Hold::Paused));
    }
    if let Some(quiet) = s.config.quiet_hours {
        let local = s.clock.now().with_timezone(&s.config.timezone).time();
        if quiet.contains(local) {
            return Ok(Some(Hold::QuietHours));
        }
    }
    Ok(None)
}

/// Exponential back-off for transient failures: base, 2×, 4×… capped at 10 min.
pub fn backoff(base: Duration, attempts: i32) -> Duration {
    let exp = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(16);
    base.saturating_mul(2u32.saturating_pow(exp))
        .min(Duration::from_secs(600))
}

/// A 429 does not use up the message's attempts budget, but a provider that
/// keeps saying 429 cannot keep a message in the queue forever.
const MAX_RATE_LIMITS: i32 = 50;

pub async fn deliver(s: &Services, id: i64, mode: Mode) -> Result<Delivery, JobError> {
    let Some(message) = s.store.message(id).await? else {
        return Ok(Delivery::NotPending);
    };
    let now = s.clock.now();
    if message.direction != Direction::Out || message.status != MessageStatus::Queued {
        return Ok(Delivery::NotPending);
    }
    if let Some(at) = message.next_attempt_at
        && at > now
    {
        return Ok(Delivery::RetryAt(at));
    }
    if let Some(hold) = hold_reason(s, &message, mode).await? {
        return Ok(Delivery::Held(hold));
    }
    // Only the Cloud API needs to know (its 24-hour window). A text Meta
    // refused for the closed window goes as the template: as if the
    // customer had never written.
    let last_inbound = if s.provider.uses_window() && !message.outside_window {
        s.store.last_inbound_at(message.phone.as_str()).await?
    } else {
        None
    };
    let slot = s
        .pacer
        .acquire(message.priority == PRIORITY_INTERACTIVE)
        .await?;
    // Signed now, when WhatsApp is about to fetch it (the link lives an hour).
    let attachment = match attachment(s, &message).await {
        Ok(attachment) => attachment,
        Err(e) => {
            slot.unused().await?;
            return Err(e);
        }
    };
    let Some(message) = s.store.claim_message(id, s.clock.now()).await? else {
        slot.unused().await?;
        return Ok(Delivery::NotPending);
    };
    // From here until the outcome is recorded, a shutdown that cannot wait
    // marks this row `unknown` (see `JobQueue::sending`).
    let _sending = s.queue.sending(id);
    let template = template_args(&message);
    let outgoing = Outgoing {
        to: &message.phone,
        text: &message.body,
        attachment: attachment.as_ref(),
        template: template.as_ref(),
        last_inbound,
        now: s.clock.now(),
    };
    let started = std::time::Instant::now();
    let result = s.provider.send(&outgoing).await;
    metrics::histogram!("avisa_send_seconds").record(started.elapsed().as_secs_f64());
    // The pause before the next send counts from now, when this one ended.
    if let Err(e) = slot.done().await {
        tracing::warn!(error = %e, "send slot not given back; it frees itself when its lease ends");
    }
    let now = s.clock.now();
    let kind = message.kind.as_str();
    if s.provider.uses_window() {
        // Only shown in Operaciones: failing to record it must not keep the
        // send's own outcome from being written (the row would stay
        // `sending`, then `unknown`, and a retry could send it twice).
        if let Err(e) = record_window_use(s, &message, &outgoing, &result).await {
            tracing::warn!(message_id = message.id, error = %e, "last send outside the window not recorded");
        }
    }
    let outcome = match result {
        Ok(sent) => {
            s.store
                .mark_sent(id, sent.provider_id.as_deref(), now)
                .await?;
            if let Some(name) = &sent.template {
                s.store.mark_sent_template(id, name).await?;
            }
            Delivery::Sent
        }
        Err(SendError::Unauthorized { message: text }) => {
            let error = format!("API key rejected: {text}");
            s.store.mark_failed(id, &error, false, now).await?;
            tracing::error!(
                message_id = id,
                provider = s.provider.kind().code(),
                "the WhatsApp provider rejected its credentials; check its settings"
            );
            Delivery::AuthRejected(error)
        }
        Err(SendError::Rejected {
            status,
            message: text,
        }) => {
            let error = format!("HTTP {status}: {text}");
            s.store.mark_failed(id, &error, true, now).await?;
            tracing::warn!(message_id = id, %error, "provider refused the message");
            Delivery::Failed { permanent: true }
        }
        Err(SendError::RateLimited {
            retry_after,
            message: text,
        }) => {
            s.pacer.defer(retry_after).await;
            let error = format!("rate limited: {text}");
            if message.rate_limits + 1 >= MAX_RATE_LIMITS {
                s.store.mark_failed(id, &error, false, now).await?;
                Delivery::Failed { permanent: false }
            } else {
                // Hand the attempt back: the provider's limit is not the message's fault.
                let at = now + chrono::Duration::from_std(retry_after).unwrap_or_default();
                s.store.mark_retry(id, at, &error, false, now).await?;
                tracing::info!(
                    message_id = id,
                    wait_s = retry_after.as_secs(),
                    "rate limited; waiting"
                );
                Delivery::RetryAt(at)
            }
        }
        Err(SendError::Unknown { message: text }) => {
            s.store.mark_unknown(id, &text, now).await?;
            tracing::warn!(
                message_id = id,
                error = %text,
                "send outcome unknown; not resent automatically (staff may retry it)"
            );
            Delivery::Unknown
        }
        Err(SendError::Transient { message: text }) => {
            let max = i32::try_from(s.config.send_max_attempts).unwrap_or(i32::MAX);
            if message.attempts >= max {
                let error = format!("gave up after {} attempts: {text}", message.attempts);
                s.store.mark_failed(id, &error, false, now).await?;
                tracing::warn!(message_id = id, %error, "send failed");
                Delivery::Failed { permanent: false }
            } else {
                let wait = backoff(s.config.send_retry_base, message.attempts);
                let at = now + chrono::Duration::from_std(wait).unwrap_or_default();
                s.store.mark_retry(id, at, &text, true, now).await?;
                tracing::info!(
                    message_id = id,
                    attempt = message.attempts,
                    wait_ms = wait.as_millis() as u64,
                    "transient failure; will retry"
                );
                Delivery::RetryAt(at)
            }
        }
    };
    let status = match &outcome {
        Delivery::Sent => "sent",
        Delivery::RetryAt(_) => "retry",
        Delivery::Unknown => "unknown",
        _ => "failed",
    };
    metrics::counter!("avisa_messages_total", "kind" => kind, "status" => status).increment(1);
    Ok(outcome)
}

/// What a message offers a Cloud API template: what was stored when it
/// was queued (reminders, renewal confirmations), or for a notice to staff
/// its whole text as `text`.
fn template_args(message: &MessageRow) -> Option<TemplateArgs> {
    if let Some(json) = &message.template_args {
        return TemplateArgs::from_json(json);
    }
    (message.kind == MessageKind::Notice).then(|| TemplateArgs {
        kind: TemplateKind::Notice,
        vars: [("text".to_string(), one_line(&message.body))].into(),
    })
}

/// Remembers the last send outside the 24-hour window (or one that fell
/// back to a template), for Operaciones: whether it went as a template.
async fn record_window_use(
    s: &Services,
    message: &MessageRow,
    outgoing: &Outgoing<'_>,
    result: &Result<Sent, SendError>,
) -> Result<(), JobError> {
    let template = result.as_ref().ok().and_then(|sent| sent.template.clone());
    if in_window(outgoing.last_inbound, outgoing.now) && template.is_none() {
        return Ok(());
    }
    let kind = outgoing
        .template
        .map_or(message.kind.as_str(), |args| args.kind.code());
    let record = serde_json::json!({
        "at": outgoing.now.to_rfc3339(),
        "message_id": message.id,
        "kind": kind,
        "template": template,
        "ok": result.is_ok(),
    });
    s.store
        .set_setting(
            store::SETTING_LAST_OUTSIDE_WINDOW,
            Some(&record.to_string()),
            outgoing.now,
        )
        .await?;
    Ok(())
}

/// The file a message carries, as the provider sends it: a signed link
/// under `AVISA_PUBLIC_URL`. Without one WhatsApp cannot fetch it, so the
/// text goes alone (it says to see the panel) — except on the console,
/// which prints the file's panel path.
async fn attachment(s: &Services, message: &MessageRow) -> Result<Option<Attachment>, JobError> {
    let Some(media_id) = message.media_id else {
        return Ok(None);
    };
    let url = match &s.config.public_url {
        Some(public) => {
            let key = s.secret_key().await?;
            let now = s.clock.now().timestamp();
            crate::media::signed_link(public.as_str(), &key, media_id, now)
        }
        None if s.provider.is_console() => format!("/admin/media/{media_id}"),
        None => return Ok(None),
    };
    let Some(meta) = s.store.media_meta(media_id).await? else {
        return Ok(None);
    };
    Ok(Some(Attachment {
        url,
        kind: AttachmentKind::for_content_type(&meta.content_type),
        file_name: crate::media::sniff::safe_file_name(
            meta.file_name.as_deref(),
            &meta.content_type,
        ),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::from_secs(2);
        assert_eq!(backoff(base, 1), Duration::from_secs(2));
        assert_eq!(backoff(base, 2), Duration::from_secs(4));
        assert_eq!(backoff(base, 4), Duration::from_secs(16));
        assert_eq!(backoff(base, 30), Duration::from_secs(600));
    }
}
