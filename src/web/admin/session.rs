//! Who is signed in: the signed session cookie, the `CurrentUser`
//! extractor, and the middleware that loads the session and checks the CSRF
//! token of every POST.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{
    ConnectInfo, FromRequest, FromRequestParts, OriginalUri, Query, Request, State,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Duration;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

pub use super::cookies::{cookie, is_https, random_token, set_cookie, sign, token_hash, verify};
use super::pages;
use super::request::REQUEST;
pub use super::request::{CurrentUser, RequestInfo, request_info};
use crate::web::{WebError, WebState, secret_matches};

pub const SESSION_COOKIE: &str = "avisa_session";
/// The pre-session token of the login form (double submit).
pub const LOGIN_CSRF_COOKIE: &str = "avisa_login";
/// A session ends after this long without a request…
pub const IDLE_TIMEOUT: Duration = Duration::hours(12);
/// …and in any case this long after login.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::days(7);
/// Largest urlencoded form the CSRF check buffers.
const MAX_FORM_BYTES: usize = 2 * 1024 * 1024;

/// Set by the middleware: the session it found (or that there is none).
#[derive(Debug, Clone)]
struct LoadedSession(Option<CurrentUser>);

/// The client address for login limits: the peer, or with
/// `AVISA_TRUST_PROXY=true` the proxy's `Fly-Client-IP`, else the first
/// `X-Forwarded-For` entry.
pub fn client_address(
    state: &WebState,
    parts_headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> String {
    if state.services.config.trust_proxy {
        let header_value = |name: &str| {
            parts_headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.split(',').next().unwrap_or("").trim().to_string())
                .filter(|v| !v.is_empty())
        };
        if let Some(ip) = header_value("fly-client-ip").or_else(|| header_value("x-forwarded-for"))
        {
            return ip;
        }
    }
    peer.map(|p| p.ip().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

pub fn peer(parts_extensions: &axum::http::Extensions) -> Option<SocketAddr> {
    parts_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr)
}

/// The signed-in user of a request, if the cookie names a live session.
/// Expired sessions are deleted; `last_seen` moves at most once a minute.
pub async fn load_session(
    state: &WebState,
    headers: &HeaderMap,
) -> Result<Option<CurrentUser>, crate::store::StoreError> {
    let Some(value) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let key = super::secret_key(state).await?;
    let Some(token) = verify(&key, &value) else {
        return Ok(None);
    };
    let hash = token_hash(&token);
    let store = &state.services.store;
    let Some(row) = store.admin_session(&hash).await? else {
        return Ok(None);
    };
    let now = state.services.clock.now();
    if is_expired(row.expires_at, row.last_seen, now) {
        store.delete_admin_session(&hash).await?;
        return Ok(None);
    }
    if now - row.last_seen > Duration::minutes(1) {
        store.touch_admin_session(&hash, now).await?;
    }
    Ok(Some(CurrentUser {
        id: row.user_id,
        email: row.email,
        csrf: row.csrf,
        session: hash,
    }))
}

/// Past its absolute end, or idle for [`IDLE_TIMEOUT`].
pub fn is_expired(
    expires_at: chrono::DateTime<chrono::Utc>,
    last_seen: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    expires_at <= now || last_seen + IDLE_TIMEOUT <= now
}

fn login_redirect(parts: &Parts) -> Response {
    if parts.method == Method::GET {
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map(|u| u.0.clone())
            .unwrap_or_else(|| parts.uri.clone());
        let next = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/admin");
        Redirect::to(&format!("/admin/login?next={}", encode_component(next))).into_response()
    } else {
        Redirect::to("/admin/login").into_response()
    }
}

/// Everything but unreserved characters is percent-encoded (`/` is kept, so
/// a path stays readable in `?next=`).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Percent-encodes a query value (UTF-8 bytes as `%XX`).
pub fn encode_component(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

impl FromRequestParts<WebState> for CurrentUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Response> {
        let session = match parts.extensions.get::<LoadedSession>() {
            Some(LoadedSession(session)) => session.clone(),
            None => load_session(state, &parts.headers)
                .await
                .map_err(|e| WebError::from(e).into_response())?,
        };
        session.ok_or_else(|| login_redirect(parts))
    }
}

/// `Option<CurrentUser>` for pages that work either way (login, logout).
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<CurrentUser>);

impl FromRequestParts<WebState> for MaybeUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Response> {
        match parts.extensions.get::<LoadedSession>() {
            Some(LoadedSession(session)) => Ok(MaybeUser(session.clone())),
            None => load_session(state, &parts.headers)
                .await
                .map(MaybeUser)
                .map_err(|e| WebError::from(e).into_response()),
        }
    }
}

#[derive(Debug, Deserialize)]
struct CsrfField {
    csrf: Option<String>,
    notice: Option<String>,
}

/// Middleware on the whole panel: loads the session once, remembers the
/// path and `?notice=`, and rejects (403) a POST whose `csrf` field (or
/// `?csrf=` for multipart forms) is not the session's token. The login form
/// is checked against its pre-session cookie instead. A POST without a
/// session passes through: its handler redirects to the login page.
pub async fn guard(State(state): State<WebState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let session = match load_session(&state, &parts.headers).await {
        Ok(session) => session,
        Err(e) => return pages::error_page(&state, None, WebError::from(e).into_response()),
    };
    let query = Query::<CsrfField>::try_from_uri(&parts.uri)
        .ok()
        .map(|q| q.0);
    let path = parts
        .extensions
        .get::<OriginalUri>()
        .map(|u| u.0.path().to_string())
        .unwrap_or_else(|| parts.uri.path().to_string());
    let info = RequestInfo {
        path: path.clone(),
        notice: query.as_ref().and_then(|q| q.notice.clone()),
    };
    let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    let body = if safe {
        body
    } else {
        let is_login = path.ends_with("/login");
        let expected = if is_login {
            cookie(&parts.headers, LOGIN_CSRF_COOKIE)
        } else {
            session.as_ref().map(|u| u.csrf.clone())
        };
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let (presented, body) = if content_type.starts_with("application/x-www-form-urlencoded") {
            let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
                Ok(bytes) => bytes,
                Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
            };
            let probe = Request::builder()
                .method(Method::POST)
                .header(header::CONTENT_TYPE, content_type.as_str())
                .body(Body::from(bytes.clone()));
            let field = match probe {
                Ok(probe) => axum::Form::<CsrfField>::from_request(probe, &())
                    .await
                    .ok()
                    .and_then(|f| f.0.csrf),
                Err(_) => None,
            };
            (field, Body::from(bytes))
        } else {
            (query.as_ref().and_then(|q| q.csrf.clone()), body)
        };
        match expected {
            // Not signed in: the handler's CurrentUser redirects to login.
            None if !is_login => {}
            None => return forbidden(&state),
            Some(expected) => {
                let ok =
                    presented.is_some_and(|p| secret_matches(p.as_bytes(), expected.as_bytes()));
                if !ok {
                    tracing::warn!(path = %path, "admin POST with a missing or wrong CSRF token");
                    return forbidden(&state);
                }
            }
        }
        body
    };
    parts.extensions.insert(LoadedSession(session.clone()));
    let request = Request::from_parts(parts, body);
    REQUEST
        .scope(info, async {
            let response = next.run(request).await;
            // A WebError's response becomes the panel's page.
            pages::error_page(&state, session.as_ref(), response)
        })
        .await
}

fn forbidden(state: &WebState) -> Response {
    pages::message(
        state,
        StatusCode::FORBIDDEN,
        None,
        "error_title",
        "error_csrf",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_end_when_idle_or_old() {
        let login = chrono::Utc::now();
        let expires = login + ABSOLUTE_TIMEOUT;
        let hours = Duration::hours;
        assert!(!is_expired(expires, login, login + hours(11)));
        assert!(is_expired(expires, login, login + hours(12)));
        // Used every hour: still ends 7 days after login.
        let almost = login + Duration::days(7) - hours(1);
        assert!(!is_expired(
            expires,
            almost,
            almost + hours(1) - Duration::seconds(1)
        ));
        assert!(is_expired(expires, almost, login + Duration::days(7)));
    }

    #[test]
    fn next_paths_are_percent_encoded() {
        assert_eq!(
            encode_component("/admin/clients?q=a b"),
            "/admin/clients%3Fq%3Da%20b"
        );
        assert_eq!(encode_component("Ñandú~x_y-z.1"), "%C3%91and%C3%BA~x_y-z.1");
    }
}
