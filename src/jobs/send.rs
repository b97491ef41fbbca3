//! Delivering one outbox message: checks, pacing, one provider call, and the
//! row updated with the outcome. Shared by the queue worker and `avisa remind`.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::services::{JobError, Services};
use crate::store::{self, Direction, MessageRow, MessageStatus, PRIORITY_INTERACTIVE};
use crate::whatsapp::{Attachment, AttachmentKind, SendError};

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
    let phone = &message.phone;
    let started = std::time::Instant::now();
    let result = match &attachment {
        Some(file) => s.provider.send_media(phone, &message.body, file).await,
        None => s.provider.send_text(phone, &message.body).await,
    };
    metrics::histogram!("avisa_send_seconds").record(started.elapsed().as_secs_f64());
    // The pause before the next send counts from now, when this one ended.
    if let Err(e) = slot.done().await {
        tracing::warn!(error = %e, "send slot not given back; it frees itself when its lease ends");
    }
    let now = s.clock.now();
    let kind = message.kind.as_str();
    let outcome = match result {
        Ok(sent) => {
            s.store
                .mark_sent(id, sent.provider_id.as_deref(), now)
                .await?;
            Delivery::Sent
        }
        Err(SendError::Unauthorized { message: text }) => {
            let error = format!("API key rejected: {text}");
            s.store.mark_failed(id, &error, false, now).await?;
            tracing::error!(
                message_id = id,
                "WaSender rejected the API key; check WASENDER_API_KEY"
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
