//! HTTP: the providers' webhooks, payments, the cron trigger, health and
//! metrics, and the staff web panel under `/admin`.

pub mod admin;
mod cron;
mod error;
mod health;
pub mod media;
pub mod payments;
pub mod serve;
mod webhook;
pub mod whatsapp_state;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use subtle::ConstantTimeEq;

use crate::services::Services;

pub use error::{ErrorPage, Id, WebError, WebResult};
pub use webhook::session_status;

/// Longest a client may take to send a request body (10 MB CSV uploads
/// included).
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct WebState {
    pub services: Arc<Services>,
    pub metrics: PrometheusHandle,
    pub admin: admin::AdminState,
}

pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .route("/cron/notifications", post(cron::notifications))
        .route("/cron/notifications/", post(cron::notifications))
        .route("/webhooks/wasender", limited(post(webhook::wasender)))
        .route(
            "/webhooks/cloud",
            limited(post(webhook::cloud)).get(webhook::cloud_verify),
        )
        .route("/webhooks/waha", limited(post(webhook::waha)))
        .route("/media/{id}", get(media::signed))
        .route("/pagar/{token}", get(payments::pay))
        .route("/pagar/{token}/gracias", get(payments::thanks))
        .route(
            "/webhooks/mercadopago",
            post(payments::mercadopago).layer(tower_http::limit::RequestBodyLimitLayer::new(
                payments::MAX_BODY_BYTES,
            )),
        )
        .route(
            "/webhooks/stripe",
            post(payments::stripe).layer(tower_http::limit::RequestBodyLimitLayer::new(
                payments::MAX_BODY_BYTES,
            )),
        )
        // `/admin` is the dashboard; with the slash too.
        .route("/admin/", get(|| async { Redirect::to("/admin") }))
        .nest("/admin", admin::nested(&state))
        // A client that stops sending its body mid-way is cut off.
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            BODY_TIMEOUT,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// A provider webhook route: bodies over the limit are refused before they
/// are read (the handler checks nothing of its own size), in JSON.
fn limited(route: MethodRouter<WebState>) -> MethodRouter<WebState> {
    route
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            webhook::MAX_BODY_BYTES,
        ))
        .layer(axum::middleware::map_response(webhook::too_large_as_json))
}

/// A short JSON error body: `{"error": "..."}`.
pub fn json_error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// Compares a presented secret with the configured one in constant time.
pub fn secret_matches(presented: &[u8], expected: &[u8]) -> bool {
    // Lengths may differ; ct_eq then returns false without early exit on content.
    presented.ct_eq(expected).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_exactly() {
        assert!(secret_matches(b"abc", b"abc"));
        assert!(!secret_matches(b"abd", b"abc"));
        assert!(!secret_matches(b"ab", b"abc"));
        assert!(!secret_matches(b"", b"abc"));
    }
}
