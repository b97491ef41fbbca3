//! Payments in the panel and in WhatsApp, on SQLite and PostgreSQL: Pagos
//! with its filters, the client page's links and payments, the dashboard's
//! money collected by link, staff `/pagos`; and a payment naming no link of
//! ours (200, recorded, staff told, nothing renewed).

use crate::support;

use support::db::Backend;
use support::payments::{Fake, PayApp, STAFF, start};

async fn panel_and_staff_list(backend: Backend) {
    let Some(pay) = start(backend, Fake::MercadoPago).await else {
        return;
    };
    let sent = pay.until_sent(1).await;
    let token = PayApp::token_in(&sent[0].1);
    pay.mp_payment("777", "approved", 7.5, &token).await;
    assert_eq!(pay.mp_notify("777").await, 200);
    pay.until_sent(3).await;

    let store = pay.app.services.store.as_ref();
    support::admin::create_user(store, "staff@example.com", support::admin::PASSWORD).await;
    let admin =
        support::admin::AdminClient::login(&pay.app, "staff@example.com", support::admin::PASSWORD)
            .await;
    let (status, html) = admin.get_text("/admin/payments").await;
    assert_eq!(status, 200);
    for expected in [
        "Ana Pérez",
        "Netflix",
        "mercadopago",
        "777",
        "Renovó",
        "aprobado",
    ] {
        assert!(html.contains(expected), "{expected} in {html}");
    }
    let (status, html) = admin.get_text("/admin").await;
    assert_eq!(status, 200);
    assert!(html.contains("cobrado por enlace este mes"), "{html}");
    assert!(html.contains("$7,50"), "{html}");
    let (status, html) = admin.get_text("/admin/payments?provider=stripe").await;
    assert_eq!(status, 200);
    assert!(html.contains("No hay pagos con estos filtros."));
    let (status, _) = admin.get_text("/admin/payments?provider=paypal").await;
    assert_eq!(status, 422);
    let client = pay.ana().await.client_id;
    let (status, html) = admin.get_text(&format!("/admin/clients/{client}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Pagos en línea y enlaces"), "{html}");
    assert!(html.contains(&token), "{html}");

    pay.staff_says("/pagos").await;
    let sent = pay.until_sent(4).await;
    assert_eq!(sent[3].0, STAFF);
    assert!(
        sent[3].1.starts_with("Pagos en línea de hoy: 1"),
        "{}",
        sent[3].1
    );
    assert!(
        sent[3].1.contains("Ana Pérez: $7.50 USD (Netflix)"),
        "{}",
        sent[3].1
    );
    pay.app.cleanup().await;
}
both_backends!(panel_and_pagos, super::panel_and_staff_list);

async fn unknown_reference_is_told(backend: Backend) {
    let Some(pay) = start(backend, Fake::MercadoPago).await else {
        return;
    };
    pay.until_sent(1).await;
    pay.mp_payment("888", "approved", 7.5, "not-one-of-ours")
        .await;
    assert_eq!(pay.mp_notify("888").await, 200);
    let sent = pay.until_sent(2).await;
    assert_eq!(sent[1].0, STAFF);
    assert!(sent[1].1.contains("sin un enlace nuestro"), "{}", sent[1].1);
    assert_eq!(pay.mp_notify("888").await, 200);
    pay.until_sent(2).await;
    assert_eq!((pay.payments().await, pay.renewals().await), (1, 0));
    pay.app.cleanup().await;
}
both_backends!(unknown_reference, super::unknown_reference_is_told);
