//! Payments over HTTP: the customer's link `GET /pagar/{token}` (the
//! provider's checkout created now, for the price now, then a 303 there),
//! its thank-you page, and the providers' webhooks
//! `POST /webhooks/mercadopago` and `POST /webhooks/stripe`: signature
//! first (401, nothing written), then what the provider says is settled
//! by `chat::payment::settle`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use secrecy::ExposeSecret;

use super::{WebState, json_error};
use crate::chat::payment::{SettleOutcome, settle};
use crate::config::PaymentProvider;
use crate::i18n;
use crate::payments::signature::{verify_mercadopago, verify_stripe};
use crate::payments::stripe::{StripeEvent, parse_event};
use crate::payments::token::looks_like_token;
use crate::payments::{CheckoutRequest, PayError, PaymentFacts};

/// Largest webhook body read (providers send a few kilobytes).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// A short page for the customer: the business name and one sentence.
fn page(state: &WebState, status: StatusCode, key: &str) -> Response {
    let config = &state.services.config;
    let locale = config.locale;
    let title = i18n::text(locale, "pay.link.title");
    let heading = if config.business_name.is_empty() {
        title.clone()
    } else {
        config.business_name.clone()
    };
    let html = format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title></head>\
         <body style=\"font-family: system-ui, sans-serif; max-width: 32rem; \
         margin: 3rem auto; padding: 0 1rem; line-height: 1.5\">\
         <h1>{heading}</h1><p>{message}</p></body></html>",
        lang = locale.code(),
        title = escape(&title),
        heading = escape(&heading),
        message = escape(&i18n::text(locale, key)),
    );
    (status, Html(html)).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /pagar/{token}`.
pub async fn pay(State(state): State<WebState>, Path(token): Path<String>) -> Response {
    let services = &state.services;
    let unknown = || page(&state, StatusCode::NOT_FOUND, "pay.link.unknown");
    let public_url = services.config.public_url.as_ref();
    if services.payments.provider().is_none() || public_url.is_none() || !looks_like_token(&token) {
        return unknown();
    }
    let found = async {
        let Some(link) = services.store.payment_link(&token).await? else {
            return Ok(None);
        };
        let sub = services.store.subscription(link.subscription_id).await?;
        Ok::<_, crate::store::StoreError>(sub.map(|s| (link, s)))
    };
    let (link, sub) = match found.await {
        Ok(Some(found)) => found,
        Ok(None) => return unknown(),
        Err(e) => {
            tracing::error!(error = %e, "payment link lookup failed");
            return page(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                "pay.link.unavailable",
            );
        }
    };
    if !sub.is_active() {
        return page(&state, StatusCode::GONE, "pay.link.cancelled");
    }
    if sub.end_date != link.end_date {
        return page(&state, StatusCode::GONE, "pay.link.renewed");
    }
    let base = public_url.map_or("", |u| u.as_str()).trim_end_matches('/');
    let request = CheckoutRequest {
        token: &link.token,
        title: &sub.service,
        price_cents: sub.price_cents,
        currency: &sub.currency,
        public_base: base,
        end_date: link.end_date,
    };
    match services
        .payments
        .checkout(&request, services.clock.now())
        .await
    {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(e) => {
            tracing::error!(subscription = sub.id, error = %e, "cannot create the checkout");
            page(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                "pay.link.unavailable",
            )
        }
    }
}

/// `GET /pagar/{token}/gracias`: where the provider sends the customer back.
pub async fn thanks(State(state): State<WebState>, Path(token): Path<String>) -> Response {
    if !looks_like_token(&token) {
        return page(&state, StatusCode::NOT_FOUND, "pay.link.unknown");
    }
    page(&state, StatusCode::OK, "pay.link.thanks")
}

/// The id Mercado Pago's notification is about: `data.id` in the query
/// (what the signature covers), else `id`, else the body's `data.id`.
fn mercadopago_data_id(
    query: &HashMap<String, String>,
    body: &serde_json::Value,
) -> Option<String> {
    let from_body = match &body["data"]["id"] {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    query
        .get("data.id")
        .or_else(|| query.get("id"))
        .cloned()
        .or(from_body)
        .filter(|id| !id.is_empty() && id.len() <= 64)
}

/// `POST /webhooks/mercadopago`.
pub async fn mercadopago(
    State(state): State<WebState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let services = &state.services;
    let Some(secret) = services
        .payments
        .webhook_secret(PaymentProvider::MercadoPago)
    else {
        return json_error(StatusCode::NOT_FOUND, "not found");
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(signature) = header("x-signature") else {
        return json_error(StatusCode::UNAUTHORIZED, "missing signature");
    };
    let json: serde_json::Value = if body.is_empty() {
        serde_json::Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(json) => json,
            Err(_) => return json_error(StatusCode::BAD_REQUEST, "malformed body"),
        }
    };
    let Some(data_id) = mercadopago_data_id(&query, &json) else {
        return json_error(StatusCode::BAD_REQUEST, "no data.id");
    };
    let checked = verify_mercadopago(
        secret.expose_secret().as_bytes(),
        Some(signature),
        header("x-request-id"),
        Some(&data_id),
    );
    if let Err(e) = checked {
        tracing::warn!(error = %e, "Mercado Pago webhook refused");
        return json_error(StatusCode::UNAUTHORIZED, "bad signature");
    }
    let kind = query
        .get("type")
        .or_else(|| query.get("topic"))
        .map(String::as_str)
        .or_else(|| json["type"].as_str())
        .unwrap_or("");
    if kind != "payment" {
        return (StatusCode::OK, "ignored").into_response();
    }
    // Act on what the API says, not on the notification.
    let facts = match services.payments.mercadopago_payment(&data_id).await {
        Ok(facts) => facts,
        Err(e @ (PayError::Unreachable(_) | PayError::Off)) => {
            tracing::error!(payment = %data_id, error = %e, "cannot read the Mercado Pago payment");
            return json_error(StatusCode::SERVICE_UNAVAILABLE, "try again");
        }
        Err(e) => {
            tracing::warn!(payment = %data_id, error = %e, "Mercado Pago payment unreadable; ignored");
            return (StatusCode::OK, "ignored").into_response();
        }
    };
    settled(&state, &facts).await
}

/// `POST /webhooks/stripe`.
pub async fn stripe(State(state): State<WebState>, headers: HeaderMap, body: Bytes) -> Response {
    let services = &state.services;
    let Some(secret) = services.payments.webhook_secret(PaymentProvider::Stripe) else {
        return json_error(StatusCode::NOT_FOUND, "not found");
    };
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let now = services.clock.now().timestamp();
    if let Err(e) = verify_stripe(secret.expose_secret().as_bytes(), signature, &body, now) {
        tracing::warn!(error = %e, "Stripe webhook refused");
        return json_error(StatusCode::UNAUTHORIZED, "bad signature");
    }
    match parse_event(&body) {
        Err(e) => {
            tracing::warn!(error = %e, "Stripe event unreadable");
            json_error(StatusCode::BAD_REQUEST, "malformed event")
        }
        Ok(StripeEvent::Ignored(kind)) => {
            tracing::debug!(kind, "Stripe event ignored");
            (StatusCode::OK, "ignored").into_response()
        }
        Ok(StripeEvent::Payment(facts)) => settled(&state, &facts).await,
    }
}

async fn settled(state: &WebState, facts: &PaymentFacts) -> Response {
    match settle(&state.services, facts).await {
        Ok(outcome) => {
            let said = match outcome {
                SettleOutcome::Renewed(_) => "renewed",
                SettleOutcome::Told(what) => what,
                SettleOutcome::AlreadyRecorded => "already recorded",
                SettleOutcome::Waiting => "waiting",
            };
            (StatusCode::OK, said).into_response()
        }
        Err(e) => {
            tracing::error!(payment = %facts.payment_id, error = %e, "cannot settle the payment");
            json_error(StatusCode::INTERNAL_SERVER_ERROR, "try again")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_id_wins_and_bad_ids_are_refused() {
        let body = serde_json::json!({"data": {"id": 42}});
        let mut query = HashMap::new();
        assert_eq!(mercadopago_data_id(&query, &body).as_deref(), Some("42"));
        query.insert("data.id".to_string(), "43".to_string());
        assert_eq!(mercadopago_data_id(&query, &body).as_deref(), Some("43"));
        assert_eq!(
            mercadopago_data_id(&HashMap::new(), &serde_json::Value::Null),
            None
        );
        assert_eq!(escape("<a&\">"), "&lt;a&amp;&quot;&gt;");
    }
}
