//! Stored files over HTTP: `GET /media/{id}?exp=…&sig=…` (a signed link
//! that lives an hour, for WhatsApp to fetch a file staff are sent) and
//! the panel's `GET /admin/media/{id}` (behind login). Both answer with the
//! stored (sniffed) content type, `nosniff`, a safe `Content-Disposition`
//! (inline for images and PDFs) and a private cache; anything expired,
//! altered, malformed or unknown is a plain 404.

use std::collections::{BTreeMap, HashMap};

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::admin::CurrentUser;
use super::{Id, WebError, WebResult, WebState};
use crate::services::Services;
use crate::store::{MediaFile, StoreError};

/// How long the panel's browser may keep a file.
const PANEL_MAX_AGE: i64 = 3600;

pub async fn signed(
    State(state): State<WebState>,
    Path(id): Path<String>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> WebResult {
    let Ok(Query(query)) = query else {
        return Err(WebError::NotFound);
    };
    let id: i64 = id.parse().map_err(|_| WebError::NotFound)?;
    let exp: i64 = query
        .get("exp")
        .and_then(|v| v.parse().ok())
        .ok_or(WebError::NotFound)?;
    let sig = query.get("sig").ok_or(WebError::NotFound)?;
    let services = &state.services;
    let key = services.secret_key().await?;
    let now = services.clock.now().timestamp();
    if !crate::media::verify(&key, id, exp, sig, now) {
        return Err(WebError::NotFound);
    }
    let file = services
        .store
        .media_file(id)
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(respond(file, exp - now))
}

pub async fn panel(State(state): State<WebState>, _user: CurrentUser, Id(id): Id) -> WebResult {
    let file = state
        .services
        .store
        .media_file(id)
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(respond(file, PANEL_MAX_AGE))
}

/// A stored file as a panel page shows it: a thumbnail for a photo, a
/// link with its name and size for anything else.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileView {
    pub id: i64,
    pub file_name: Option<String>,
    pub size: String,
    /// A photo the browser shows (JPEG, PNG, GIF, WebP).
    pub image: bool,
}

/// The files of these messages, by message id (a page's `media`).
pub async fn files_of(
    services: &Services,
    message_ids: &[i64],
) -> Result<BTreeMap<i64, FileView>, StoreError> {
    let locale = services.config.locale;
    let found = services.store.media_of_messages(message_ids).await?;
    Ok(found
        .into_iter()
        .map(|m| {
            let image = matches!(
                m.meta.content_type.as_str(),
                "image/jpeg" | "image/png" | "image/gif" | "image/webp"
            );
            let view = FileView {
                id: m.meta.id,
                file_name: m.meta.file_name,
                size: crate::media::size_text(m.meta.size_bytes, locale),
                image,
            };
            (m.message_id, view)
        })
        .collect())
}

fn respond(file: MediaFile, max_age: i64) -> Response {
    let meta = &file.meta;
    let disposition =
        crate::media::content_disposition(&meta.content_type, meta.file_name.as_deref());
    let header_value = |text: &str| {
        HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static("application/octet-stream"))
    };
    let mut response = Body::from(file.data).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, header_value(&meta.content_type));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header_value(&format!("private, max-age={}", max_age.max(0))),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'"),
    );
    response
}
