//! Payment links end to end, on SQLite and PostgreSQL, against a fake
//! Mercado Pago and a fake Stripe: the reminder's link → the checkout →
//! a signed notification → renewed exactly once, with the confirmation at
//! the fake WaSender; staff told about double payments, other amounts and
//! refunds; bad signatures and bad tokens refused with nothing written.

use crate::support;

use avisa::store::SubscriptionStatus;
use support::db::Backend;
use support::payments::{
    ANA, CHECKOUT_URL, Fake, MP_SECRET, PUBLIC_URL, PayApp, STAFF, STRIPE_SECRET, d, start,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

async fn mercadopago_link_renews_once(backend: Backend) {
    let Some(pay) = start(backend, Fake::MercadoPago).await else {
        return;
    };
    // The start-up reminder carries the link.
    let sent = pay.until_sent(1).await;
    assert_eq!(sent[0].0, ANA);
    assert!(
        sent[0]
            .1
            .contains(&format!("Paga en línea aquí: {PUBLIC_URL}/pagar/")),
        "{}",
        sent[0].1
    );
    let token = PayApp::token_in(&sent[0].1);

    // Opening it creates the preference now and redirects there.
    pay.checkout_ok().await;
    let opened = pay
        .http
        .get(pay.app.url(&format!("/pagar/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 303);
    assert_eq!(opened.headers()["location"], CHECKOUT_URL);
    let calls = pay.provider_calls("/checkout/preferences").await;
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].headers["authorization"],
        "Bearer APP_USR-test-token"
    );
    let preference: serde_json::Value = serde_json::from_slice(&calls[0].body).unwrap();
    assert_eq!(preference["external_reference"], token.as_str());
    assert_eq!(preference["items"][0]["unit_price"], 7.5);
    assert_eq!(
        preference["notification_url"],
        format!("{PUBLIC_URL}/webhooks/mercadopago")
    );

    // Approved: renewed, the customer confirmed, staff told.
    pay.mp_payment("111", "approved", 7.5, &token).await;
    assert_eq!(pay.mp_notify("111").await, 200);
    let sent = pay.until_sent(3).await;
    let to = |phone: &str| -> Vec<String> {
        sent.iter()
            .skip(1)
            .filter(|(to, _)| to == phone)
            .map(|(_, t)| t.clone())
            .collect()
    };
    assert_eq!(to(ANA).len(), 1);
    assert!(
        to(ANA)[0].contains("29 de diciembre de 2026"),
        "{:?}",
        to(ANA)
    );
    assert_eq!(to(STAFF).len(), 1);
    assert!(
        to(STAFF)[0].contains("Pago en línea de Ana Pérez"),
        "{:?}",
        to(STAFF)
    );
    assert!(to(STAFF)[0].contains("mercadopago 111"), "{:?}", to(STAFF));
    assert_eq!(pay.ana().await.end_date, d(2026, 12, 29));
    assert_eq!(pay.renewals().await, 1);
    let by = pay
        .count("SELECT COUNT(*) FROM renewals WHERE staff = 'pago:mercadopago:111' AND payment_method = 'en_linea' AND paid_cents = 750")
        .await;
    assert_eq!(by, 1);

    // The same notification five times, then twice at once: once.
    for _ in 0..5 {
        assert_eq!(pay.mp_notify("111").await, 200);
    }
    let (a, b) = tokio::join!(pay.mp_notify("111"), pay.mp_notify("111"));
    assert_eq!((a, b), (reqwest::StatusCode::OK, reqwest::StatusCode::OK));
    pay.until_sent(3).await;
    assert_eq!(pay.renewals().await, 1);
    assert_eq!(pay.payments().await, 1);
    assert_eq!(pay.ana().await.end_date, d(2026, 12, 29));

    // The link now says the subscription is renewed.
    let again = pay
        .http
        .get(pay.app.url(&format!("/pagar/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 410);
    assert!(again.text().await.unwrap().contains("ya fue renovada"));
    pay.app.cleanup().await;
}
both_backends!(mercadopago_once, super::mercadopago_link_renews_once);

async fn after_staff_renewal_and_other_amounts(backend: Backend) {
    let Some(pay) = start(backend, Fake::MercadoPago).await else {
        return;
    };
    let sent = pay.until_sent(1).await;
    let token = PayApp::token_in(&sent[0].1);

    // Another amount: not renewed, staff told.
    pay.mp_payment("333", "approved", 5.0, &token).await;
    assert_eq!(pay.mp_notify("333").await, 200);
    let sent = pay.until_sent(2).await;
    assert_eq!(sent[1].0, STAFF);
    assert!(sent[1].1.contains("Monto distinto"), "{}", sent[1].1);
    assert!(sent[1].1.contains("$5.00 USD") && sent[1].1.contains("$7.50 USD"));
    assert_eq!(pay.renewals().await, 0);

    // Staff renew first; the payment then renews nothing.
    let sub = pay.ana().await;
    avisa::chat::renewal::renew(&pay.app.services, &sub, 1, "web:ana@example.com")
        .await
        .unwrap();
    pay.until_sent(3).await;
    pay.mp_payment("222", "approved", 7.5, &token).await;
    assert_eq!(pay.mp_notify("222").await, 200);
    let sent = pay.until_sent(4).await;
    assert_eq!(sent[3].0, STAFF);
    assert!(sent[3].1.contains("Posible pago doble"), "{}", sent[3].1);
    assert_eq!(pay.renewals().await, 1);
    assert_eq!(pay.ana().await.end_date, d(2026, 12, 29));
    let outcomes = pay
        .count("SELECT COUNT(*) FROM payments WHERE outcome IN ('double', 'amount_mismatch')")
        .await;
    assert_eq!(outcomes, 2);
    pay.app.cleanup().await;
}
both_backends!(
    staff_first_and_amounts,
    super::after_staff_renewal_and_other_amounts
);

async fn refunds_tell_staff_and_change_nothing(backend: Backend) {
    let Some(pay) = start(backend, Fake::MercadoPago).await else {
        return;
    };
    let sent = pay.until_sent(1).await;
    let token = PayApp::token_in(&sent[0].1);
    pay.mp_payment("444", "approved", 7.5, &token).await;
    assert_eq!(pay.mp_notify("444").await, 200);
    pay.until_sent(3).await;
    pay.provider.reset().await;
    pay.mp_payment("444", "refunded", 7.5, &token).await;
    assert_eq!(pay.mp_notify("444").await, 200);
    let sent = pay.until_sent(4).await;
    assert_eq!(sent[3].0, STAFF);
    assert!(sent[3].1.contains("reembolsado"), "{}", sent[3].1);
    // Told once; the subscription keeps its renewal.
    assert_eq!(pay.mp_notify("444").await, 200);
    pay.until_sent(4).await;
    assert_eq!(pay.renewals().await, 1);
    assert_eq!(pay.ana().await.end_date, d(2026, 12, 29));
    let refunded = pay
        .count("SELECT COUNT(*) FROM payments WHERE payment_id = '444' AND status = 'refunded'")
        .await;
    assert_eq!(refunded, 1);
    pay.app.cleanup().await;
}
both_backends!(refunds, super::refunds_tell_staff_and_change_nothing);

async fn bad_signatures_write_nothing(backend: Backend) {
    let Some(pay) = start(backend, Fake::MercadoPago).await else {
        return;
    };
    let sent = pay.until_sent(1).await;
    let token = PayApp::token_in(&sent[0].1);
    pay.mp_payment("555", "approved", 7.5, &token).await;
    assert_eq!(pay.mp_notify_signed("555", "wrong-secret").await, 401);
    let url = pay
        .app
        .url("/webhooks/mercadopago?data.id=555&type=payment");
    let body = serde_json::json!({"type": "payment", "data": {"id": "555"}});
    let unsigned = pay.http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    // Signed for another payment id: refused.
    let ts = "1764082800123";
    let manifest = avisa::payments::signature::mercadopago_manifest(Some("556"), Some("req-1"), ts);
    let v1 = avisa::payments::signature::sign_hex(MP_SECRET.as_bytes(), manifest.as_bytes());
    let altered = pay
        .http
        .post(&url)
        .header("x-signature", format!("ts={ts},v1={v1}"))
        .header("x-request-id", "req-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(altered.status(), 401);
    let malformed = pay
        .http
        .post(pay.app.url("/webhooks/mercadopago"))
        .header("x-signature", format!("ts={ts},v1={v1}"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    // Stripe is not the provider here: its webhook does not exist.
    assert_eq!(
        pay.stripe_send(&body, pay.now_unix(), STRIPE_SECRET).await,
        404
    );
    assert!(pay.provider_calls("/v1/payments/555").await.is_empty());
    assert_eq!((pay.payments().await, pay.renewals().await), (0, 0));
    pay.until_sent(1).await;
    pay.app.cleanup().await;
}
both_backends!(bad_signatures, super::bad_signatures_write_nothing);

async fn unknown_altered_cancelled_and_unreachable(backend: Backend) {
    let Some(pay) = start(backend, Fake::MercadoPago).await else {
        return;
    };
    let sent = pay.until_sent(1).await;
    let token = PayApp::token_in(&sent[0].1);
    let get = |path: String| {
        let request = pay.http.get(pay.app.url(&path));
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }
    };
    let (status, page) = get(format!("/pagar/{}", "A".repeat(22))).await;
    assert_eq!(status, 404);
    assert!(page.contains("no existe"), "{page}");
    let mut altered = token.clone().into_bytes();
    altered[5] = if altered[5] == b'x' { b'y' } else { b'x' };
    let altered = String::from_utf8(altered).unwrap();
    assert_eq!(get(format!("/pagar/{altered}")).await.0, 404);
    assert_eq!(get("/pagar/abc".to_string()).await.0, 404);
    // The provider down: try again in a few minutes.
    Mock::given(method("POST"))
        .and(path("/checkout/preferences"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&pay.provider)
        .await;
    let (status, page) = get(format!("/pagar/{token}")).await;
    assert_eq!(status, 503);
    assert!(page.contains("inténtalo en unos minutos"), "{page}");
    let (status, page) = get(format!("/pagar/{token}/gracias")).await;
    assert_eq!(status, 200);
    assert!(page.contains("Gracias"), "{page}");
    // Cancelled: the link says so.
    let sub = pay.ana().await;
    let store = &pay.app.services.store;
    store
        .set_subscription_status(sub.id, SubscriptionStatus::Cancelled, chrono::Utc::now())
        .await
        .unwrap();
    let (status, page) = get(format!("/pagar/{token}")).await;
    assert_eq!(status, 410);
    assert!(page.contains("cancelada"), "{page}");
    pay.app.cleanup().await;
}
both_backends!(links, super::unknown_altered_cancelled_and_unreachable);

async fn stripe_checkout_and_events(backend: Backend) {
    let Some(pay) = start(backend, Fake::Stripe).await else {
        return;
    };
    let sent = pay.until_sent(1).await;
    let token = PayApp::token_in(&sent[0].1);
    pay.checkout_ok().await;
    let opened = pay
        .http
        .get(pay.app.url(&format!("/pagar/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 303);
    assert_eq!(opened.headers()["location"], CHECKOUT_URL);
    let calls = pay.provider_calls("/v1/checkout/sessions").await;
    assert_eq!(calls.len(), 1);
    assert!(calls[0].headers.contains_key("idempotency-key"));
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .to_string()
    };
    let form: Vec<(String, String)> = String::from_utf8_lossy(&calls[0].body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect();
    let field = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(field("mode").as_deref(), Some("payment"));
    assert_eq!(
        field("line_items[0][price_data][unit_amount]").as_deref(),
        Some("750")
    );
    assert_eq!(
        field("client_reference_id").as_deref(),
        Some(token.as_str())
    );

    let paid = serde_json::json!({"id": "evt_1", "type": "checkout.session.completed",
        "data": {"object": {"id": "cs_test_1", "payment_status": "paid",
        "payment_intent": "pi_1", "amount_total": 750, "currency": "usd",
        "client_reference_id": token}}});
    let now = pay.now_unix();
    // Stale and wrongly signed: refused, nothing written.
    assert_eq!(pay.stripe_send(&paid, now - 400, STRIPE_SECRET).await, 401);
    assert_eq!(pay.stripe_send(&paid, now, "whsec_wrong").await, 401);
    assert_eq!((pay.payments().await, pay.renewals().await), (0, 0));
    assert_eq!(pay.stripe_send(&paid, now, STRIPE_SECRET).await, 200);
    let sent = pay.until_sent(3).await;
    assert!(
        sent.iter()
            .any(|(to, t)| to == ANA && t.contains("29 de diciembre"))
    );
    // Replayed: once.
    assert_eq!(pay.stripe_send(&paid, now, STRIPE_SECRET).await, 200);
    assert_eq!(pay.renewals().await, 1);
    let refund = serde_json::json!({"id": "evt_2", "type": "charge.refunded",
        "data": {"object": {"id": "ch_1", "payment_intent": "pi_1",
        "amount_refunded": 750, "currency": "usd"}}});
    assert_eq!(pay.stripe_send(&refund, now, STRIPE_SECRET).await, 200);
    let sent = pay.until_sent(4).await;
    assert!(sent[3].1.contains("reembolsado"), "{}", sent[3].1);
    let dispute = serde_json::json!({"id": "evt_3", "type": "charge.dispute.created",
        "data": {"object": {"id": "dp_1", "charge": "ch_1", "payment_intent": "pi_1",
        "amount": 750, "currency": "usd"}}});
    assert_eq!(pay.stripe_send(&dispute, now, STRIPE_SECRET).await, 200);
    let sent = pay.until_sent(5).await;
    assert!(sent[4].1.contains("contracargo"), "{}", sent[4].1);
    assert_eq!((pay.payments().await, pay.renewals().await), (1, 1));
    assert_eq!(pay.ana().await.end_date, d(2026, 12, 29));
    pay.app.cleanup().await;
}
both_backends!(stripe, super::stripe_checkout_and_events);
