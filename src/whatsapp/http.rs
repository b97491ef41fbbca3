//! HTTP pieces every provider client shares: the API client, bounded reads
//! of replies, the classification of transport failures, and streamed
//! downloads of inbound files with a hard cap.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::CONTENT_LENGTH;
use reqwest::{StatusCode, Url};

use super::{MediaError, SendError, Sent};
use crate::domain::Phone;

/// How much of a reply body is read, and how much of a message is kept.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
const MAX_MESSAGE_CHARS: usize = 500;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a whole download may take (16 MB on a slow link).
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// The client for API calls: every request bounded by `timeout`, and no
/// redirects (a redirected POST turns into a GET and loses its body).
pub fn api_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(CONNECT_TIMEOUT))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("avisa/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The client that downloads files: a few redirects (storage links may
/// move), and room for the transfer itself.
pub fn download_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(DOWNLOAD_TIMEOUT.max(timeout))
        .connect_timeout(timeout.min(CONNECT_TIMEOUT))
        .redirect(reqwest::redirect::Policy::limited(3))
        .user_agent(concat!("avisa/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Whether `url` can be an API root: http(s) with a host.
pub fn is_http_url(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https") && url.host().is_some()
}

/// `base` with `path` appended to its path (query and fragment dropped).
pub fn endpoint(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!(
        "{}/{}",
        url.path().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    url.set_path(&joined);
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// Reads at most [`MAX_BODY_BYTES`] of the body.
pub async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_BODY_BYTES.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_BODY_BYTES {
            break;
        }
    }
    Ok(body)
}

/// A send that failed before the provider had it (connect refused, DNS,
/// connect timeout) is safe to retry; one that failed after it was written
/// (timeout, connection lost) may have been sent.
pub fn transport_error(provider: &str, timeout: Duration, error: &reqwest::Error) -> SendError {
    let message = if error.is_timeout() && !error.is_connect() {
        format!("no answer from {provider} within {timeout:?}")
    } else {
        let mut text = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    };
    let message = truncate(&message);
    if error.is_connect() || error.is_builder() {
        SendError::Transient { message }
    } else {
        SendError::Unknown { message }
    }
}

/// A provider's answer to one request: its status, headers and (at most
/// [`MAX_BODY_BYTES` of) body.
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

/// Sends one request of a send to `to` and reads the answer, as
/// [`query`]; a transport failure is also logged with the recipient.
pub async fn exchange(
    provider: &str,
    timeout: Duration,
    to: &Phone,
    request: reqwest::RequestBuilder,
) -> Result<Reply, SendError> {
    query(provider, timeout, request)
        .await
        .inspect_err(|error| {
            tracing::warn!(to = %to, provider, error = %error, "provider request failed");
        })
}

/// Sends one request and reads the answer. A transport failure is
/// classified by [`transport_error`]; a body that cannot be read is empty
/// (logged), leaving the status to decide (a send's 2xx is still sent:
/// retrying could deliver the message twice).
pub async fn query(
    provider: &str,
    timeout: Duration,
    request: reqwest::RequestBuilder,
) -> Result<Reply, SendError> {
    let response = request
        .send()
        .await
        .map_err(|e| transport_error(provider, timeout, &e))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = read_limited(response).await.unwrap_or_else(|e| {
        tracing::warn!(
            provider,
            status = status.as_u16(),
            error = %e,
            "the provider's reply could not be read"
        );
        Vec::new()
    });
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// Logs the provider's answer to one send: accepted (debug, with its id)
/// or refused (warn, with the status and the classified error).
pub fn log_send(
    provider: &str,
    to: &Phone,
    status: StatusCode,
    outcome: Result<&Sent, &SendError>,
) {
    match outcome {
        Ok(sent) => tracing::debug!(
            to = %to,
            provider,
            provider_id = ?sent.provider_id,
            "the provider accepted the message"
        ),
        Err(error) => tracing::warn!(
            to = %to,
            provider,
            status = status.as_u16(),
            error = %error,
            "the provider refused the message"
        ),
    }
}

/// The file link a provider's answer gave (`link`), when it is http(s);
/// otherwise the file is gone, with `missing` and the answer as the reason.
pub fn file_link(link: Option<&str>, missing: &str, body: &[u8]) -> Result<String, MediaError> {
    match link.map(str::trim) {
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
            Ok(url.to_string())
        }
        _ => Err(MediaError::Gone {
            message: truncate(&format!(
                "{missing}: {}",
                String::from_utf8_lossy(body).trim()
            )),
        }),
    }
}

/// A failed file request: one that never got an answer is worth trying
/// again (fetching has no side effects).
pub fn media_transport(error: &reqwest::Error) -> MediaError {
    MediaError::Transient {
        message: truncate(&error.to_string()),
    }
}

/// The error for a file answer that is not a success: 408, 429 and 5xx may
/// pass; anything else (an expired link's 403/404/410, a refused request)
/// will not.
pub fn media_refused(what: &str, status: StatusCode, body: &[u8]) -> MediaError {
    let said = String::from_utf8_lossy(body);
    let message = truncate(&format!("{what}: HTTP {} {}", status.as_u16(), said.trim()));
    match status.as_u16() {
        408 | 429 | 500..=599 => MediaError::Transient { message },
        _ => MediaError::Gone { message },
    }
}

/// Sends `request` and reads the file, at most `limit` bytes: a larger one
/// (by its `Content-Length`, or once more bytes arrive) is dropped at once.
pub async fn download_limited(
    request: reqwest::RequestBuilder,
    limit: usize,
) -> Result<Vec<u8>, MediaError> {
    let mut response = request.send().await.map_err(|e| media_transport(&e))?;
    let status = response.status();
    if !status.is_success() {
        let body = read_limited(response).await.unwrap_or_default();
        return Err(media_refused("download", status, &body));
    }
    let announced = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(MediaError::TooLarge { limit });
    }
    let mut bytes = Vec::with_capacity(announced.map_or(64 * 1024, |n| n as usize));
    while let Some(chunk) = response.chunk().await.map_err(|e| media_transport(&e))? {
        if bytes.len() + chunk.len() > limit {
            return Err(MediaError::TooLarge { limit });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// At most 500 characters, with an ellipsis when cut.
pub fn truncate(text: &str) -> String {
    if text.chars().count() <= MAX_MESSAGE_CHARS {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(MAX_MESSAGE_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// The URL without any user name or password in it.
pub fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    // Both fail only for URLs that cannot carry credentials anyway.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// Seconds to wait from a `Retry-After` header given in seconds.
pub fn retry_after_seconds(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| v.ceil() as u64)
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_join_paths() {
        let base = Url::parse("http://127.0.0.1:3000/api/?x=1").unwrap();
        assert_eq!(
            endpoint(&base, "/sendText").as_str(),
            "http://127.0.0.1:3000/api/sendText"
        );
        let bare = Url::parse("https://graph.facebook.com").unwrap();
        assert_eq!(
            endpoint(&bare, "v24.0/123/messages").as_str(),
            "https://graph.facebook.com/v24.0/123/messages"
        );
    }

    #[test]
    fn long_messages_are_cut() {
        let long = "é".repeat(600);
        let cut = truncate(&long);
        assert_eq!(cut.chars().count(), 500);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate("corto"), "corto");
    }
}
