//! Mercado Pago, pure: the Checkout Pro preference we create and the
//! payment the API returns (`GET /v1/payments/{id}`).

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::decide::{PaymentFacts, PaymentStatus, cents};
use super::{CheckoutRequest, PayError};
use crate::config::PaymentProvider;

/// How long a preference can be paid.
pub const PREFERENCE_HOURS: i64 = 24;

/// `POST /checkout/preferences`: one item at the subscription's price,
/// our token as `external_reference`, our webhook as `notification_url`,
/// the thank-you page as the way back, an expiry.
pub fn preference_body(request: &CheckoutRequest<'_>, now: DateTime<Utc>) -> Value {
    let price = request.price_cents as f64 / 100.0;
    json!({
        "items": [{
            "id": request.token,
            "title": request.title,
            "quantity": 1,
            "unit_price": price,
            "currency_id": request.currency.to_ascii_uppercase(),
        }],
        "external_reference": request.token,
        "notification_url": format!("{}/webhooks/mercadopago", request.public_base),
        "back_urls": {
            "success": request.thanks_url(),
            "pending": request.thanks_url(),
            "failure": request.link_url(),
        },
        "auto_return": "approved",
        "expires": true,
        "expiration_date_from": now.to_rfc3339_opts(SecondsFormat::Millis, true),
        "expiration_date_to": (now + Duration::hours(PREFERENCE_HOURS))
            .to_rfc3339_opts(SecondsFormat::Millis, true),
    })
}

/// The `init_point` of a created preference.
pub fn checkout_url(response: &Value) -> Result<String, PayError> {
    response["init_point"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| PayError::Malformed("preference without init_point".into()))
}

/// A payment as `GET /v1/payments/{id}` returns it.
pub fn parse_payment(body: &Value) -> Result<PaymentFacts, PayError> {
    let id = match &body["id"] {
        Value::Number(n) => n.to_string(),
        Value::String(s) if !s.is_empty() => s.clone(),
        _ => return Err(PayError::Malformed("payment without id".into())),
    };
    let status = match body["status"].as_str() {
        Some("approved") => PaymentStatus::Approved,
        Some("refunded") => PaymentStatus::Refunded,
        Some("charged_back") => PaymentStatus::ChargedBack,
        Some(other) => PaymentStatus::Other(other.to_string()),
        None => return Err(PayError::Malformed("payment without status".into())),
    };
    let amount = body["transaction_amount"]
        .as_f64()
        .and_then(cents)
        .ok_or_else(|| PayError::Malformed("payment without transaction_amount".into()))?;
    Ok(PaymentFacts {
        provider: PaymentProvider::MercadoPago,
        payment_id: id,
        status,
        amount_cents: amount,
        currency: body["currency_id"]
            .as_str()
            .unwrap_or("")
            .to_ascii_uppercase(),
        reference: body["external_reference"]
            .as_str()
            .filter(|r| !r.is_empty())
            .map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preference_names_our_token_webhook_and_expiry() {
        let request = CheckoutRequest {
            token: "abcdefghijklmnopqrstuv",
            title: "Netflix",
            price_cents: 750,
            currency: "usd",
            public_base: "https://avisa.example.com",
            end_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap(),
        };
        let now = DateTime::parse_from_rfc3339("2026-11-25T15:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let body = preference_body(&request, now);
        assert_eq!(body["items"][0]["unit_price"], 7.5);
        assert_eq!(body["items"][0]["currency_id"], "USD");
        assert_eq!(body["external_reference"], "abcdefghijklmnopqrstuv");
        assert_eq!(
            body["notification_url"],
            "https://avisa.example.com/webhooks/mercadopago"
        );
        assert_eq!(
            body["back_urls"]["success"],
            "https://avisa.example.com/pagar/abcdefghijklmnopqrstuv/gracias"
        );
        assert_eq!(body["expiration_date_to"], "2026-11-26T15:00:00.000Z");
        assert_eq!(
            checkout_url(&json!({"init_point": "https://mp/x"})).unwrap(),
            "https://mp/x"
        );
        assert!(checkout_url(&json!({})).is_err());
    }

    #[test]
    fn payments_are_read_from_the_api_answer() {
        let facts = parse_payment(&json!({
            "id": 123456789, "status": "approved", "transaction_amount": 7.5,
            "currency_id": "USD", "external_reference": "tok"
        }))
        .unwrap();
        assert_eq!(facts.payment_id, "123456789");
        assert_eq!(facts.status, PaymentStatus::Approved);
        assert_eq!((facts.amount_cents, facts.currency.as_str()), (750, "USD"));
        assert_eq!(facts.reference.as_deref(), Some("tok"));
        let refunded = parse_payment(&json!({
            "id": "9", "status": "refunded", "transaction_amount": 7.5, "currency_id": "usd"
        }))
        .unwrap();
        assert_eq!(refunded.status, PaymentStatus::Refunded);
        assert_eq!(refunded.reference, None);
        assert!(parse_payment(&json!({"status": "approved"})).is_err());
        assert!(parse_payment(&json!({"id": 1, "transaction_amount": 1})).is_err());
    }
}
