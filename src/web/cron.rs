//! `POST /cron/notifications`: an external scheduler (cron-job.org) may
//! trigger today's planning; calling it twice sends nothing twice.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use secrecy::ExposeSecret;

use super::{WebError, WebResult, WebState, secret_matches};
use crate::domain::clock::local_today;
use crate::jobs::plan::plan_and_queue;

pub async fn notifications(State(state): State<WebState>, headers: HeaderMap) -> WebResult {
    let services = &state.services;
    let Some(token) = services.config.cron_token.as_ref() else {
        return Err(WebError::NotFound);
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
        return Err(WebError::Unauthorized("invalid token"));
    }
    let today = local_today(services.clock.as_ref(), services.config.timezone);
    let report = plan_and_queue(services, today, true)
        .await
        .map_err(|e| WebError::unavailable("planning failed; see the server log", e))?;
    Ok((StatusCode::ACCEPTED, Json(report)).into_response())
}
