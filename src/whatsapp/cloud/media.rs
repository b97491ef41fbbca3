//! Inbound files: the webhook gives a media id; `GET {base}/{version}/{id}`
//! answers a short-lived `url` (on lookaside.fbsbx.com) with the file's
//! size, and that URL is downloaded with the same Bearer token.

use reqwest::header::AUTHORIZATION;
use serde_json::Value;

use super::CloudProvider;
use crate::whatsapp::MediaError;
use crate::whatsapp::http::{
    download_limited, endpoint, file_link, media_refused as refused, media_transport as transport,
    read_limited, truncate,
};

/// Media ids are numeric; anything else would be a different Graph path.
fn is_media_id(source: &str) -> bool {
    !source.is_empty()
        && source.len() <= 64
        && source
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl CloudProvider {
    fn media_auth(&self) -> Result<reqwest::header::HeaderValue, MediaError> {
        self.auth_header().map_err(|e| MediaError::Gone {
            message: e.to_string(),
        })
    }

    /// The file's download URL, after checking its announced size against
    /// `limit` (a larger file is refused without downloading it).
    pub(super) async fn media_url(&self, source: &str, limit: usize) -> Result<String, MediaError> {
        let id = source.trim();
        if !is_media_id(id) {
            return Err(MediaError::Gone {
                message: truncate(&format!("`{id}` is not a WhatsApp media id")),
            });
        }
        let response = self
            .client
            .get(endpoint(&self.version_url, id))
            .header(AUTHORIZATION, self.media_auth()?)
            .send()
            .await
            .map_err(|e| transport(&e))?;
        let status = response.status();
        let body = read_limited(response).await.map_err(|e| transport(&e))?;
        if !status.is_success() {
            return Err(refused("media metadata", status, &body));
        }
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let size = json.get("file_size").and_then(|v| match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        });
        if size.is_some_and(|n| n > limit as u64) {
            return Err(MediaError::TooLarge { limit });
        }
        let url = json.get("url").and_then(Value::as_str);
        file_link(url, "media metadata without a url", &body)
    }

    /// Reads the file at `url`, at most `limit` bytes. Meta requires the
    /// token here too; reqwest drops it if a redirect leaves the host.
    pub(super) async fn download(&self, url: &str, limit: usize) -> Result<Vec<u8>, MediaError> {
        let request = self
            .download
            .get(url)
            .header(AUTHORIZATION, self.media_auth()?);
        download_limited(request, limit).await
    }
}
