//! Stripe, pure: the Checkout Session form we post and the events we act
//! on (`checkout.session.completed` paid, `…async_payment_succeeded`,
//! `charge.refunded`, `charge.dispute.created`).

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::decide::{PaymentFacts, PaymentStatus};
use super::{CheckoutRequest, PayError};
use crate::config::PaymentProvider;

/// How long a session can be paid (Stripe allows 30 minutes to 24 hours).
pub const SESSION_HOURS: i64 = 23;

/// `POST /v1/checkout/sessions`, form-encoded.
pub fn session_form(request: &CheckoutRequest<'_>, now: DateTime<Utc>) -> Vec<(String, String)> {
    let expires = (now + Duration::hours(SESSION_HOURS)).timestamp();
    [
        ("mode", "payment".to_string()),
        ("line_items[0][quantity]", "1".to_string()),
        (
            "line_items[0][price_data][currency]",
            request.currency.to_ascii_lowercase(),
        ),
        (
            "line_items[0][price_data][unit_amount]",
            request.price_cents.to_string(),
        ),
        (
            "line_items[0][price_data][product_data][name]",
            request.title.to_string(),
        ),
        ("client_reference_id", request.token.to_string()),
        ("metadata[token]", request.token.to_string()),
        ("metadata[end_date]", request.end_date.to_string()),
        (
            "payment_intent_data[metadata][token]",
            request.token.to_string(),
        ),
        ("success_url", request.thanks_url()),
        ("cancel_url", request.link_url()),
        ("expires_at", expires.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The same link opened again within the hour at the same price gets the
/// same session back; a new hour or a new price, a new one.
pub fn idempotency_key(request: &CheckoutRequest<'_>, now: DateTime<Utc>) -> String {
    format!(
        "avisa-{}-{}-{}-{}-{}",
        request.token,
        request.end_date,
        request.price_cents,
        request.currency.to_ascii_lowercase(),
        now.timestamp() / 3600
    )
}

/// The `url` of a created session.
pub fn checkout_url(response: &Value) -> Result<String, PayError> {
    response["url"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| PayError::Malformed("session without url".into()))
}

/// What an event asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StripeEvent {
    /// A paid session, a refunded charge or a dispute, as payment facts.
    Payment(PaymentFacts),
    /// Anything else (an unpaid session, other types): acknowledged.
    Ignored(String),
}

/// Reads a verified event body.
pub fn parse_event(body: &[u8]) -> Result<StripeEvent, PayError> {
    let event: Value =
        serde_json::from_slice(body).map_err(|e| PayError::Malformed(e.to_string()))?;
    let kind = event["type"]
        .as_str()
        .ok_or_else(|| PayError::Malformed("event without type".into()))?;
    let object = &event["data"]["object"];
    if !object.is_object() {
        return Err(PayError::Malformed("event without data.object".into()));
    }
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let facts = |id: Option<String>, status, amount: &Value, reference| {
        let payment_id = id.ok_or_else(|| PayError::Malformed("no payment id".into()))?;
        Ok::<_, PayError>(StripeEvent::Payment(PaymentFacts {
            provider: PaymentProvider::Stripe,
            payment_id,
            status,
            amount_cents: amount.as_i64().unwrap_or(0),
            currency: object["currency"]
                .as_str()
                .unwrap_or("")
                .to_ascii_uppercase(),
            reference,
        }))
    };
    match kind {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            if object["payment_status"].as_str() != Some("paid") {
                return Ok(StripeEvent::Ignored(format!("{kind} (not paid yet)")));
            }
            // The payment intent names the payment in later charge events.
            let id = text(&object["payment_intent"]).or_else(|| text(&object["id"]));
            let reference =
                text(&object["client_reference_id"]).or_else(|| text(&object["metadata"]["token"]));
            facts(
                id,
                PaymentStatus::Approved,
                &object["amount_total"],
                reference,
            )
        }
        "charge.refunded" => {
            let id = text(&object["payment_intent"]).or_else(|| text(&object["id"]));
            let reference = text(&object["metadata"]["token"]);
            facts(
                id,
                PaymentStatus::Refunded,
                &object["amount_refunded"],
                reference,
            )
        }
        "charge.dispute.created" => {
            let id = text(&object["payment_intent"]).or_else(|| text(&object["charge"]));
            facts(id, PaymentStatus::ChargedBack, &object["amount"], None)
        }
        other => Ok(StripeEvent::Ignored(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request() -> CheckoutRequest<'static> {
        CheckoutRequest {
            token: "abcdefghijklmnopqrstuv",
            title: "Netflix",
            price_cents: 750,
            currency: "USD",
            public_base: "https://avisa.example.com",
            end_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap(),
        }
    }

    #[test]
    fn session_form_has_the_price_in_cents_and_our_pages() {
        let now = Utc::now();
        let form = session_form(&request(), now);
        let get = |k: &str| {
            form.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("mode"), Some("payment"));
        assert_eq!(get("line_items[0][price_data][unit_amount]"), Some("750"));
        assert_eq!(get("line_items[0][price_data][currency]"), Some("usd"));
        assert_eq!(get("client_reference_id"), Some("abcdefghijklmnopqrstuv"));
        assert_eq!(
            get("success_url"),
            Some("https://avisa.example.com/pagar/abcdefghijklmnopqrstuv/gracias")
        );
        assert_eq!(
            idempotency_key(&request(), now),
            idempotency_key(&request(), now)
        );
        let mut dearer = request();
        dearer.price_cents = 800;
        assert_ne!(
            idempotency_key(&dearer, now),
            idempotency_key(&request(), now)
        );
    }

    #[test]
    fn events_become_payment_facts() {
        let paid = json!({"type": "checkout.session.completed", "data": {"object": {
            "id": "cs_1", "payment_status": "paid", "payment_intent": "pi_1",
            "amount_total": 750, "currency": "usd", "client_reference_id": "tok"}}});
        let StripeEvent::Payment(facts) = parse_event(paid.to_string().as_bytes()).unwrap() else {
            panic!("paid session")
        };
        assert_eq!(facts.payment_id, "pi_1");
        assert_eq!(facts.status, PaymentStatus::Approved);
        assert_eq!((facts.amount_cents, facts.currency.as_str()), (750, "USD"));
        assert_eq!(facts.reference.as_deref(), Some("tok"));
        let unpaid = json!({"type": "checkout.session.completed", "data": {"object": {
            "id": "cs_2", "payment_status": "unpaid"}}});
        assert!(matches!(
            parse_event(unpaid.to_string().as_bytes()).unwrap(),
            StripeEvent::Ignored(_)
        ));
        let refund = json!({"type": "charge.refunded", "data": {"object": {
            "id": "ch_1", "payment_intent": "pi_1", "amount_refunded": 750, "currency": "usd"}}});
        let StripeEvent::Payment(facts) = parse_event(refund.to_string().as_bytes()).unwrap()
        else {
            panic!("refund")
        };
        assert_eq!(
            (facts.payment_id.as_str(), facts.status),
            ("pi_1", PaymentStatus::Refunded)
        );
        let dispute = json!({"type": "charge.dispute.created", "data": {"object": {
            "id": "dp_1", "charge": "ch_1", "payment_intent": "pi_1", "amount": 750,
            "currency": "usd"}}});
        let StripeEvent::Payment(facts) = parse_event(dispute.to_string().as_bytes()).unwrap()
        else {
            panic!("dispute")
        };
        assert_eq!(facts.status, PaymentStatus::ChargedBack);
        assert!(parse_event(b"not json").is_err());
        assert!(parse_event(br#"{"type":"charge.refunded"}"#).is_err());
    }
}
