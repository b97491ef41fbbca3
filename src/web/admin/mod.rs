//! The staff web panel under `/admin`: server-rendered pages (minijinja),
//! plain forms, a signed session cookie, CSRF tokens on every POST.
//!
//! Each area has its own file: `auth` (login, logout), `session`
//! (`CurrentUser`, CSRF middleware), `dashboard` + `charts` (pure SVG),
//! `cookies` (signing), `audit` (the audit log page), `pages` (templates + `render`); wording comes from
//! `crate::i18n`, re-exported here as `i18n`.

// --- admin: auth
pub mod audit;
pub mod auth;
pub mod charts;
pub mod cookies;
pub mod dashboard;
pub use crate::i18n;
pub mod pages;
pub mod password;
mod request;
pub mod session;
// --- admin: pages (clients, subscriptions, services)
pub mod client_page;
pub mod clients;
pub mod collection_filter;
pub mod collections;
pub mod collections_bulk;
pub mod forms;
pub mod inbox;
pub mod payments;
pub mod renewals;
pub mod reply;
pub mod services;
pub mod subscriptions;
// (end of pages)
// --- admin: ops (messages, import, operations)
pub mod config_view;
pub mod message_filter;
pub mod messages;
pub mod messages_csv;
pub mod operations;
pub mod provider_view;
pub mod transfer;
// (end of ops)

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use session::CurrentUser;

use crate::store::{NewAudit, StoreError};
use crate::web::{WebError, WebState};

/// Settings-table key of the generated cookie-signing key (when
/// `AVISA_SECRET_KEY` is unset).
pub use crate::services::SETTING_SECRET_KEY;

/// Panel state shared by requests: the dashboard's counts of past days.
#[derive(Debug, Clone, Default)]
pub struct AdminState {
    past_days: dashboard::PastDays,
}

/// Every panel route. `web::router` nests it at `/admin` behind
/// [`session::guard`] (session + CSRF).
pub fn router() -> Router<WebState> {
    Router::new()
        // --- admin: auth
        .route("/", get(dashboard::show))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/assets/panel.js", get(panel_script))
        .route("/logout", post(auth::logout))
        .route("/audit", get(audit::show))
        .route("/payments", get(payments::show))
        // --- admin: pages (clients, subscriptions, services)
        .route("/clients", get(clients::list).post(clients::create))
        .route("/clients/new", get(clients::new))
        .route(
            "/clients/{id}",
            get(client_page::show).post(clients::update),
        )
        .route("/clients/{id}/edit", get(clients::edit))
        .route("/clients/{id}/delete", post(clients::delete))
        .route("/clients/{id}/opt-out", post(clients::opt_out))
        .route("/clients/{id}/opt-in", post(clients::opt_in))
        .route("/clients/{id}/subscriptions", post(subscriptions::add))
        .route(
            "/clients/{id}/reply",
            post(reply::send).layer(DefaultBodyLimit::max(reply::MAX_UPLOAD_BYTES)),
        )
        .route("/inbox", get(inbox::show))
        .route("/inbox/{id}/resolve", post(inbox::resolve))
        .route("/subscriptions", get(collections::list))
        .route("/subscriptions.csv", get(collections::csv_download))
        .route("/subscriptions/bulk", post(collections_bulk::bulk))
        .route("/subscriptions/{id}", post(subscriptions::update))
        .route("/subscriptions/{id}/edit", get(subscriptions::edit))
        .route(
            "/subscriptions/{id}/renew",
            get(renewals::renew_page).post(renewals::renew),
        )
        .route("/renewals/{id}/undo", post(renewals::undo))
        .route("/subscriptions/{id}/cancel", post(subscriptions::cancel))
        .route("/subscriptions/{id}/delete", post(subscriptions::delete))
        .route("/services", get(services::list).post(services::create))
        .route("/services/{id}", post(services::update))
        // (end of pages)
        // --- admin: ops (messages, import, operations)
        .route("/messages", get(messages::show))
        .route("/messages.csv", get(messages_csv::export))
        .route("/messages/{id}/retry", post(messages::retry))
        .route("/media/{id}", get(crate::web::media::panel))
        .route(
            "/import",
            get(transfer::show)
                .post(transfer::upload)
                .layer(DefaultBodyLimit::max(transfer::MAX_UPLOAD_BYTES)),
        )
        .route("/import/confirm", post(transfer::confirm))
        .route("/export.csv", get(transfer::export))
        .route("/operations", get(operations::show))
        .route("/operations/pause", post(operations::pause))
        .route("/operations/resume", post(operations::resume))
        .route("/operations/run", post(operations::run))
        .route(
            "/requests/{id}/confirm",
            get(renewals::request_page).post(renewals::confirm_request),
        )
        // (end of ops)
        // Any other address under /admin: the 404 page.
        .fallback(|| async { WebError::NotFound })
}

/// The panel with its middleware, ready to nest at `/admin`.
pub fn nested(state: &WebState) -> Router<WebState> {
    router()
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::guard,
        ))
        .layer(axum::middleware::map_response(security_headers))
}

/// The panel's script: confirmations for forms with `data-confirm`.
async fn panel_script() -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/javascript; charset=utf-8",
        )],
        include_str!("../../../templates/admin/panel.js"),
    )
}

/// No inline script and no framing; nothing a shared or back-button cache
/// could show after logout; no guessing of content types.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

async fn security_headers(mut response: axum::response::Response) -> axum::response::Response {
    use axum::http::HeaderValue;
    use axum::http::header;
    let headers = response.headers_mut();
    // A stored file (`/admin/media/{id}`) sets its own private cache and policy.
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// The key that signs session cookies (and media links):
/// [`crate::services::Services::secret_key`].
pub async fn secret_key(state: &WebState) -> Result<Vec<u8>, StoreError> {
    state.services.secret_key().await
}

/// Writes an audit-log row for a staff action. A failure is logged, not
/// returned: the action itself already happened.
pub async fn audit(state: &WebState, user: &CurrentUser, action: &str, detail: &str) {
    audit_as(state, Some(user.id), &user.email, action, detail).await;
}

/// An audit row for someone who is not (yet) signed in, e.g. a failed login.
pub async fn audit_as(
    state: &WebState,
    user_id: Option<i64>,
    email: &str,
    action: &str,
    detail: &str,
) {
    let entry = NewAudit {
        user_id,
        user_email: email.to_string(),
        action: action.to_string(),
        detail: detail.to_string(),
    };
    let now = state.services.clock.now();
    if let Err(e) = state.services.store.insert_audit(&entry, now).await {
        tracing::error!(error = %e, action, "cannot write the audit log");
    }
}
