//! `POST /cron/notifications`: an external scheduler (cron-job.org) may
//! trigger today's planning; calling it twice sends nothing twice.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;

use super::{WebState, json_error, secret_matches};
use crate::domain::clock::local_today;
use crate::jobs::plan::plan_and_queue;

pub async fn notifications(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let services = &state.services;
    let Some(token) = services.config.cron_token.as_ref() else {
        return json_error(StatusCode::NOT_FOUND, "not found");
    };
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !secret_matches(
        presented.trim().as_bytes(),
        token.expose_secret().as_bytes(),
    ) {
        return json_error(StatusCode::UNAUTHORIZED, "invalid token");
    }
    let today = local_today(services.clock.as_ref(), services.config.timezone);
    match plan_and_queue(services, today, true).await {
        Ok(report) => (StatusCode::ACCEPTED, Json(report)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cron trigger failed");
            json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "planning failed; see the server log",
            )
        }
    }
}
