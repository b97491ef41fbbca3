use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::WebState;
use super::whatsapp_state::WhatsAppState;

/// 200 when the database answers and every background task runs; 503
/// when the database cannot be reached or a task is down or restarting
/// (its last error is shown). `whatsapp` is the session state
/// ([`WhatsAppState`]); it never changes the status.
pub async fn healthz(State(state): State<WebState>) -> Response {
    let store = &state.services.store;
    let check = tokio::time::timeout(std::time::Duration::from_secs(3), store.ping()).await;
    let db_ok = matches!(check, Ok(Ok(())));
    let mut tasks = state.services.health.report();
    tasks.extend(store.background_tasks());
    let tasks_ok = tasks.iter().all(|t| t.healthy);
    let status = if db_ok && tasks_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    // An unreadable state is not known: the database check above says why.
    let whatsapp = WhatsAppState::read(&state.services)
        .await
        .unwrap_or(WhatsAppState::Unknown);
    let body = serde_json::json!({
        "status": if status == StatusCode::OK { "ok" } else { "degraded" },
        "database": { "backend": store.backend_name(), "status": if db_ok { "ok" } else { "unreachable" } },
        "tasks": tasks,
        "provider": state.services.provider.kind().code(),
        "whatsapp": whatsapp.json(),
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
