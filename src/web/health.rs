use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::WebState;

/// 200 with the database status, 503 when the database cannot be reached.
pub async fn healthz(State(state): State<WebState>) -> Response {
    let store = &state.services.store;
    let check = tokio::time::timeout(std::time::Duration::from_secs(3), store.ping()).await;
    let (status, db) = match check {
        Ok(Ok(())) => (StatusCode::OK, "ok"),
        Ok(Err(_)) | Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "unreachable"),
    };
    let body = serde_json::json!({
        "status": if status == StatusCode::OK { "ok" } else { "degraded" },
        "database": { "backend": store.backend_name(), "status": db },
        "provider": if state.services.provider.is_console() { "console" } else { "wasender" },
    });
    (status, Json(body)).into_response()
}

pub async fn metrics(State(state): State<WebState>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    )
        .into_response()
}
