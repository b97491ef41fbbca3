//! The fetch-media job: an inbound file from a client is brought into the
//! database (WaSender's `decrypt-media` → a one-hour link → a streamed
//! download of at most 16 MB), its type sniffed from the bytes, and — for
//! a receipt — staff told with the file attached, all in one transaction
//! (`MediaStore::attach_fetched_media`). A file that cannot be had (too
//! large, expired, refused, a console provider, transient failures past
//! the send attempts) is given up the same way: the message says why and
//! staff get the notice without it. Either way the message itself was
//! handled already (replies, state): the file never holds it up.

use std::time::Duration;

use crate::conversation::{MediaKind, StaffNotice};
use crate::jobs::queue::{FetchMedia, SEND_JOBS};
use crate::jobs::send::backoff;
use crate::services::{JobError, Services};
use crate::store::{MessageKind, MessageRow, NewMedia, NewOutbound};
use crate::whatsapp::MediaError;

use super::notice_context::{FileNote, NoticeExtra};

/// Files fetched at once per process: each is held in memory (up to
/// 16 MB, and a copy on its way into the database) until it is stored, so
/// 20 files arriving together stay well under 200 MB.
pub const FETCHES_AT_ONCE: usize = 2;

/// What one run of the job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The file is stored (and its notices queued).
    Stored { media_id: i64 },
    /// Not stored, for good; the message says why (and staff were told).
    GaveUp { error: MediaError },
    /// A transient failure: try again after this wait.
    RetryAfter(Duration),
    /// Nothing to do: fetched or given up already (a redelivered job).
    NotPending,
}

/// Runs job `job` once; see the module's documentation.
pub async fn fetch(services: &Services, job: FetchMedia) -> Result<Fetched, JobError> {
    let store = &services.store;
    let Some(source) = store.media_source(job.message_id).await? else {
        return Ok(Fetched::NotPending);
    };
    let Some(row) = store.message(job.message_id).await? else {
        return Ok(Fetched::NotPending);
    };
    // The slot is held until the file is stored: its bytes are in memory.
    let _slot = services
        .media_slots
        .acquire()
        .await
        .map_err(|_| JobError::Queue("media slots closed".into()))?;
    let started = std::time::Instant::now();
    let result = services
        .provider
        .fetch_media(&source, crate::media::MAX_BYTES)
        .await;
    metrics::histogram!("avisa_media_fetch_seconds").record(started.elapsed().as_secs_f64());
    let error = match result {
        Ok(bytes) => return store_file(services, &row, job, &source, bytes).await,
        Err(error) => error,
    };
    let max = services.config.send_max_attempts;
    if let MediaError::Transient { message } = &error
        && job.attempt + 1 < max
    {
        let attempts = i32::try_from(job.attempt + 1).unwrap_or(i32::MAX);
        let wait = backoff(services.config.send_retry_base, attempts);
        tracing::info!(message_id = row.id, attempt = job.attempt + 1, error = %message,
            wait_ms = wait.as_millis() as u64, "file not fetched yet; will retry");
        return Ok(Fetched::RetryAfter(wait));
    }
    give_up(services, &row, job, error).await
}

async fn store_file(
    services: &Services,
    row: &MessageRow,
    job: FetchMedia,
    source: &str,
    bytes: Vec<u8>,
) -> Result<Fetched, JobError> {
    let facts = crate::media::inspect(&bytes);
    let file = NewMedia {
        content_type: facts.content_type.to_string(),
        file_name: crate::media::source_file_name(source),
        sha256: facts.sha256,
        data: bytes,
    };
    let note = if services.config.public_url.is_some() {
        FileNote::Attached
    } else {
        FileNote::InPanel
    };
    let notices = receipt_notices(services, row, job, note).await?;
    let now = services.clock.now();
    let stored = services
        .store
        .attach_fetched_media(row.id, file, &notices, &SEND_JOBS, now)
        .await?;
    let Some((media_id, queued)) = stored else {
        return Ok(Fetched::NotPending);
    };
    services.queue.pushed_in_store(&queued);
    metrics::counter!("avisa_media_total", "outcome" => "stored").increment(1);
    tracing::info!(
        message_id = row.id,
        media_id,
        content_type = facts.content_type,
        size = facts.size,
        "file stored"
    );
    Ok(Fetched::Stored { media_id })
}

async fn give_up(
    services: &Services,
    row: &MessageRow,
    job: FetchMedia,
    error: MediaError,
) -> Result<Fetched, JobError> {
    let locale = services.config.locale;
    let (key, note) = match &error {
        MediaError::TooLarge { .. } => ("media.too_large", FileNote::TooLarge),
        _ => ("media.not_fetched", FileNote::NotFetched),
    };
    let text = crate::i18n::text(locale, key);
    match &error {
        MediaError::TooLarge { limit } => {
            tracing::warn!(
                message_id = row.id,
                limit,
                "archivo demasiado grande: file not kept"
            )
        }
        other => tracing::warn!(message_id = row.id, error = %other, "file not fetched; given up"),
    }
    let notices = receipt_notices(services, row, job, note).await?;
    let now = services.clock.now();
    let given_up = services
        .store
        .give_up_media(row.id, &text, &notices, &SEND_JOBS, now)
        .await?;
    let Some(queued) = given_up else {
        return Ok(Fetched::NotPending);
    };
    services.queue.pushed_in_store(&queued);
    metrics::counter!("avisa_media_total", "outcome" => "given_up").increment(1);
    Ok(Fetched::GaveUp { error })
}

/// The receipt's notice to each staff phone (none unless the job was
/// queued for a receipt), with what staff see about the customer now.
async fn receipt_notices(
    services: &Services,
    row: &MessageRow,
    job: FetchMedia,
    note: FileNote,
) -> Result<Vec<NewOutbound>, JobError> {
    let staff = &services.config.staff_phones;
    if !job.notify || staff.is_empty() {
        return Ok(Vec::new());
    }
    let store = &services.store;
    let client = match row.client_id {
        Some(id) => store.client(id).await?,
        None => store.client_by_phone(row.phone.as_str()).await?,
    };
    let (notice, customer) = match &client {
        Some(client) => {
            let subscriptions = store.subscriptions_of_client(client.id).await?;
            let request = store.open_request_for_client(client.id).await?;
            let pending = request.as_ref().and_then(|r| r.subscription_id);
            let service = pending.and_then(|id| {
                subscriptions
                    .iter()
                    .find(|s| s.id == id)
                    .map(|s| s.service.clone())
            });
            let customer =
                super::customer_context(services, client.id, &subscriptions, request.as_ref());
            let notice = receipt(row, client.id, client.name.clone(), pending, service);
            (notice, Some(customer))
        }
        // The client was deleted meanwhile: the notice still goes.
        None => (
            receipt(row, 0, row.phone.as_str().to_string(), None, None),
            None,
        ),
    };
    let extra = NoticeExtra {
        customer,
        file: Some(note),
    };
    let body = super::texts(services).notice(&notice, row.phone.as_str(), &extra)?;
    Ok(staff
        .iter()
        .map(|phone| NewOutbound {
            phone: phone.clone(),
            client_id: None,
            kind: MessageKind::Notice,
            body: body.clone(),
            template_args: None,
        })
        .collect())
}

fn receipt(
    row: &MessageRow,
    client_id: i64,
    client_name: String,
    pending_request: Option<i64>,
    service: Option<String>,
) -> StaffNotice {
    let kind = match row.media_kind.as_deref() {
        Some("document") => MediaKind::Document,
        Some("image") => MediaKind::Image,
        _ => MediaKind::Other,
    };
    StaffNotice::ReceiptReceived {
        client_id,
        client_name,
        kind,
        caption: Some(row.body.trim())
            .filter(|c| !c.is_empty())
            .map(str::to_string),
        pending_request,
        service,
    }
}

/// A client's file still pending this long after its message was handled
/// has lost its fetch job (retries take a minute or two at the default
/// back-off): queue it again. A job that is merely slow does no harm: the
/// file and its notice are written once.
const MEDIA_STALE_AFTER: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

pub async fn requeue_lost(services: &Services) -> Result<usize, JobError> {
    let now = services.clock.now();
    // Taken as they are read: the next sweep leaves them to this job.
    let stale = services
        .store
        .stale_media(now - MEDIA_STALE_AFTER, now, 100)
        .await?;
    for (message_id, kind) in &stale {
        // What the conversation does: an image or document from a client
        // is a receipt, and staff are told.
        let notify = matches!(kind.as_deref(), Some("image" | "document"));
        let job = FetchMedia {
            message_id: *message_id,
            notify,
            attempt: 0,
        };
        services.queue.push_fetch(job, None).await?;
    }
    if !stale.is_empty() {
        tracing::warn!(
            count = stale.len(),
            "files whose fetch job was lost queued again"
        );
    }
    Ok(stale.len())
}
