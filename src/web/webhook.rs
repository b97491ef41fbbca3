//! `POST /webhooks/wasender`, `/webhooks/cloud` and `/webhooks/waha`:
//! check, store, answer 200 fast; the conversation runs later in a job.
//! Never calls the provider. Each route's [`WebhookSource`] checks and
//! parses its provider's deliveries into the same events.

use axum::Json;
use axum::body::Bytes;
use std::collections::HashMap;

use super::whatsapp_state;
use super::{WebError, WebResult, WebState, json_error};
use crate::services::{JobError, Services};
use crate::store::{MessageKind, NewInbound, NewOutbound};
use crate::whatsapp::template::refused_for_closed_window;
use crate::whatsapp::{
    DeliveryStatus, InboundContent, InboundMessage, WebhookAuthError, WebhookEvent, WebhookSource,
};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The route's body limit (`web::router` applies it before the body is
/// read: a larger `Content-Length` is refused at once, a chunked body as
/// soon as it passes the limit).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
const TOO_LARGE: &str = "body over 256 KiB";

/// The limit layer's own 413 (a `Content-Length` over the limit, refused
/// before the handler) answered in JSON like every other refusal.
pub async fn too_large_as_json(response: Response) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        return json_error(StatusCode::PAYLOAD_TOO_LARGE, TOO_LARGE);
    }
    response
}

pub async fn wasender(
    State(state): State<WebState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> WebResult {
    let source = state.services.webhooks.wasender.as_ref();
    receive(&state.services, source, &headers, body).await
}

pub async fn cloud(
    State(state): State<WebState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> WebResult {
    let source = &state.services.webhooks.cloud;
    receive(&state.services, source, &headers, body).await
}

pub async fn waha(
    State(state): State<WebState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> WebResult {
    let source = state.services.webhooks.waha.as_ref();
    receive(&state.services, source, &headers, body).await
}

/// `GET /webhooks/cloud`: Meta's subscription handshake. The challenge is
/// echoed as plain text only for `hub.mode=subscribe` with our verify token.
pub async fn cloud_verify(
    State(state): State<WebState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| query.get(name).map(String::as_str);
    match state.services.webhooks.cloud.verify_subscription(
        field("hub.mode"),
        field("hub.verify_token"),
        field("hub.challenge"),
    ) {
        Ok(challenge) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            challenge,
        )
            .into_response(),
        Err(WebhookAuthError::NotConfigured) => json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "WHATSAPP_VERIFY_TOKEN not configured",
        ),
        Err(_) => json_error(StatusCode::FORBIDDEN, "verification refused"),
    }
}

/// Every provider's webhook, in the documented order: size (the route's
/// limit, before the body is read) → configured (503) → signature (401) →
/// parse (400) → store. Nothing is written before all the checks pass.
async fn receive(
    services: &Services,
    source: &dyn WebhookSource,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> WebResult {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => WebError::PayloadTooLarge(TOO_LARGE),
        _ => WebError::BadRequest(format!("body not read: {rejection}")),
    })?;
    source.verify(headers, &body).map_err(|e| match e {
        WebhookAuthError::NotConfigured => WebError::Unavailable {
            reason: "webhook secret not configured",
            source: None,
        },
        WebhookAuthError::Missing => WebError::Unauthorized("missing signature"),
        WebhookAuthError::Invalid => WebError::Unauthorized("invalid signature"),
    })?;
    let events = source
        .parse(&body)
        .map_err(|e| WebError::BadRequest(format!("invalid payload: {e}")))?;
    for event in events {
        // The provider may retry; nothing was half-written for this event.
        apply(services, event)
            .await
            .map_err(|e| WebError::unavailable("storage unavailable", e))?;
    }
    Ok((StatusCode::OK, Json(serde_json::json!({ "ok": true }))).into_response())
}

async fn apply(services: &Services, event: WebhookEvent) -> Result<(), JobError> {
    let now = services.clock.now();
    match event {
        WebhookEvent::Inbound(message) if message.from_me => {
            crate::chat::takeover::from_phone(services, message).await
        }
        WebhookEvent::Inbound(message) => store_inbound(services, message).await,
        WebhookEvent::StatusUpdate {
            wa_id,
            status,
            error,
        } => {
            // Meta took a text and then refused it for the closed window:
            // it goes once more, as its template.
            if status == DeliveryStatus::Failed
                && refused_for_closed_window(error.as_deref())
                && let Some(id) = services.store.resend_as_template(&wa_id, now).await?
            {
                tracing::info!(
                    message_id = id,
                    "text refused outside the 24-hour window; sending the template"
                );
                services.queue.push_send(id, false, None).await?;
                return Ok(());
            }
            services
                .store
                .set_delivery_status(&wa_id, status.as_str(), error.as_deref(), now)
                .await?;
            Ok(())
        }
        WebhookEvent::SessionStatus { connected, raw } => {
            session_status(services, connected, &raw).await
        }
        WebhookEvent::Ignored { .. } => Ok(()),
    }
}

/// Logs the message (deduplicated by WhatsApp id) and queues its handling,
/// through the ingest writer (`jobs::ingest`).
pub async fn store_inbound(services: &Services, message: InboundMessage) -> Result<(), JobError> {
    let Some(phone) = message.from.phone(services.config.default_region) else {
        tracing::warn!(wa_id = %message.wa_id, "inbound message without a phone number (LID only); ignored");
        return Ok(());
    };
    let (body, media_kind, media_source) = match message.content {
        InboundContent::Text(text) => (text, None, None),
        InboundContent::Media {
            kind,
            caption,
            file_name,
            source,
            ..
        } => {
            let label = caption.or(file_name).unwrap_or_default();
            (label, Some(kind.as_str().to_string()), source)
        }
        InboundContent::Unsupported => (String::new(), Some("unsupported".to_string()), None),
    };
    let inbound = NewInbound {
        kind: crate::chat::inbound_kind(&services.config, &phone, &body),
        phone,
        // The store links the client by phone in the same statement.
        client_id: None,
        body,
        media_kind,
        wa_message_id: Some(message.wa_id),
        media_source,
    };
    // Returns once the row and its handling job are committed (or the
    // WhatsApp id was seen before: a redelivery, acknowledged as is).
    services.ingest.submit(inbound).await?;
    Ok(())
}

/// Records a session state from a webhook or the start-up check: down
/// holds all sending; back up tells staff and sending resumes.
pub async fn session_status(
    services: &Services,
    connected: bool,
    raw: &str,
) -> Result<(), JobError> {
    let now = services.clock.now();
    let was_down = whatsapp_state::record(services.store.as_ref(), connected, raw, now).await?;
    if !connected {
        if !was_down {
            tracing::error!(
                status = raw,
                "WhatsApp session is not connected: all sending is on hold"
            );
        }
        return Ok(());
    }
    if was_down {
        tracing::info!("WhatsApp session connected again: sending resumes");
        let body = services
            .templates
            .render("session_restored.txt", serde_json::json!({}))?;
        for staff in &services.config.staff_phones {
            let notice = NewOutbound {
                phone: staff.clone(),
                client_id: None,
                kind: MessageKind::Notice,
                body: body.clone(),
                template_args: None,
            };
            let id = services.store.queue_outbound(&notice, now).await?;
            services.queue.push_send(id, true, None).await?;
        }
    }
    Ok(())
}
