//! Renewing from the panel with what was paid, on SQLite and PostgreSQL:
//! amount, method and reference kept and shown; bad forms are 422 with
//! field errors and write nothing; undo within 10 minutes (the injected
//! clock moves); an open request shown and confirmed from the client page.

use crate::support;

use avisa::domain::FixedClock;
use avisa::domain::clock::local_to_utc;
use chrono::{Duration, NaiveTime};
use support::admin::{AdminClient, PASSWORD, create_user, location};
use support::app::{API_KEY, Options, TestApp};
use support::db::Backend;
use support::panel::{EMAIL, audit_actions, date, field_error, field_value, seed, start, store};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

fn renew_path(id: i64) -> String {
    format!("/admin/subscriptions/{id}/renew")
}

fn notice(response: &reqwest::Response) -> String {
    let at = location(response);
    at.split("notice=").nth(1).unwrap_or_default().to_string()
}

async fn renewal_keeps_what_was_paid(backend: Backend) {
    let Some((app, admin)) = start(backend).await else {
        return;
    };
    let sub = seed(&app, "Ana Pérez", "0991234567", "Netflix").await;
    let page_path = format!("/admin/clients/{}", sub.client_id);
    let (_, page) = admin.get_text(&page_path).await;
    assert!(page.contains("class=\"renew-form") && page.contains("name=\"method\""));
    assert!(page.contains(">Transferencia<") && page.contains(">Efectivo<"));

    let paid = [
        ("months", "3"),
        ("amount", "20,00"),
        ("method", "transferencia"),
        ("reference", " TRX-<b>9</b> O'Neil "),
    ];
    let response = admin.post_form(&renew_path(sub.id), &paid).await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        location(&response),
        format!("{page_path}?notice=notice_subscription_renewed")
    );
    let view = store(&app).subscription(sub.id).await.unwrap().unwrap();
    assert_eq!(view.end_date, date(2027, 3, 1));
    let history = store(&app)
        .renewal_history(sub.client_id, 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    let r = &history[0];
    assert_eq!(
        (
            r.months,
            r.amount_cents,
            r.paid_cents,
            r.payment_method.as_deref(),
            r.payment_reference.as_deref()
        ),
        (
            3,
            2250,
            Some(2000),
            Some("transferencia"),
            Some("TRX-<b>9</b> O'Neil")
        )
    );
    assert_eq!(r.staff, format!("web:{EMAIL}"));

    // Shown in the history, escaped, with its undo button.
    let (_, page) = admin.get_text(&page_path).await;
    let row = &page[page.find(&format!("id=\"renewal-{}\"", r.id)).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains("$20,00") && row.contains("Transferencia"),
        "{row}"
    );
    assert!(
        row.contains("TRX-&lt;b&gt;9&lt;&#x2f;b&gt; O&#x27;Neil"),
        "{row}"
    );
    assert!(row.contains("class=\"secondary undo\""), "{row}");

    // An empty amount is months × price.
    let cash = [("months", "2"), ("amount", ""), ("method", "efectivo")];
    let response = admin.post_form(&renew_path(sub.id), &cash).await;
    assert_eq!(response.status(), 303);
    let history = store(&app)
        .renewal_history(sub.client_id, 10)
        .await
        .unwrap();
    assert_eq!(history[0].paid_cents, Some(1500));
    assert_eq!(history[0].payment_reference, None);
    assert_eq!(
        audit_actions(&app).await,
        ["subscription.renew", "subscription.renew"]
    );
    let entries = store(&app).audit_entries(10, 0).await.unwrap();
    let renewed = entries
        .iter()
        .find(|e| e.detail.contains("$20.00"))
        .unwrap();
    assert!(
        renewed.detail.contains("Transferencia") && renewed.detail.contains("TRX-"),
        "{}",
        renewed.detail
    );
    app.cleanup().await;
}
both_backends!(renewal_with_payment, super::renewal_keeps_what_was_paid);

async fn bad_forms_write_nothing(backend: Backend) {
    let Some((app, admin)) = start(backend).await else {
        return;
    };
    let sub = seed(&app, "Ana Pérez", "0991234567", "Netflix").await;
    let long = "x".repeat(101);
    let bad = [
        ("months", "13"),
        ("amount", "doce"),
        ("method", "bitcoin"),
        ("reference", long.as_str()),
    ];
    let response = admin.post_form(&renew_path(sub.id), &bad).await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert_eq!(
        field_error(&page, "months").as_deref(),
        Some("Elige entre 1 y 12 meses.")
    );
    assert!(
        field_error(&page, "amount")
            .unwrap()
            .contains("No es un monto")
    );
    assert!(
        field_error(&page, "method")
            .unwrap()
            .contains("forma de pago")
    );
    assert!(field_error(&page, "reference").unwrap().contains("100"));
    assert_eq!(
        field_value(&page, "amount"),
        "doce",
        "what was typed is kept"
    );

    for fields in [
        &[("months", "0"), ("method", "efectivo")][..],
        &[("months", "1"), ("amount", "-5"), ("method", "efectivo")][..],
        &[("months", "1"), ("method", "")][..],
        &[("months", "uno"), ("method", "tarjeta")][..],
    ] {
        let response = admin.post_form(&renew_path(sub.id), fields).await;
        assert_eq!(response.status(), 422, "{fields:?}");
    }
    let view = store(&app).subscription(sub.id).await.unwrap().unwrap();
    assert_eq!(view.end_date, date(2026, 12, 1), "nothing renewed");
    let history = store(&app)
        .renewal_history(sub.client_id, 10)
        .await
        .unwrap();
    assert!(history.is_empty());
    assert!(audit_actions(&app).await.is_empty());
    // Unknown subscription: the 404 page.
    let response = admin
        .post_form(&renew_path(999_999), &[("method", "efectivo")])
        .await;
    assert_eq!(response.status(), 404);
    app.cleanup().await;
}
both_backends!(renewal_form_errors, super::bad_forms_write_nothing);

/// An app whose clock the test moves.
async fn start_with_clock(backend: Backend) -> Option<(TestApp, AdminClient, FixedClock)> {
    let tz: chrono_tz::Tz = "America/Guayaquil".parse().unwrap();
    let clock = FixedClock::new(local_to_utc(
        tz,
        date(2026, 11, 25),
        NaiveTime::from_hms_opt(10, 0, 0).unwrap(),
    ));
    let options = Options::on(date(2026, 11, 25))
        .var("AVISA_REMINDER_TIME", "23:59")
        .with_clock(clock.clone())
        .http();
    let app = TestApp::spawn(backend, options).await?;
    let ok = serde_json::json!({"success": true, "data": {"msgId": 1, "jid": "x", "status": "in_progress"}});
    Mock::given(method("POST"))
        .and(path("/api/send-message"))
        .and(header(
            "authorization",
            format!("Bearer {API_KEY}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok))
        .mount(&app.wasender)
        .await;
    create_user(app.services.store.as_ref(), EMAIL, PASSWORD).await;
    let admin = AdminClient::login(&app, EMAIL, PASSWORD).await;
    Some((app, admin, clock))
}

async fn undo_within_ten_minutes(backend: Backend) {
    let Some((app, admin, clock)) = start_with_clock(backend).await else {
        return;
    };
    let sub = seed(&app, "Ana Pérez", "0991234567", "Netflix").await;
    let page_path = format!("/admin/clients/{}", sub.client_id);
    let cash = [("months", "1"), ("method", "efectivo")];
    for _ in 0..2 {
        let response = admin.post_form(&renew_path(sub.id), &cash).await;
        assert_eq!(response.status(), 303);
        clock.advance(Duration::minutes(1));
    }
    let sub_id = sub.id;
    let end = |app: &TestApp| {
        let store = app.services.store.clone();
        async move { store.subscription(sub_id).await.unwrap().unwrap().end_date }
    };
    assert_eq!(end(&app).await, date(2027, 2, 1));
    let history = store(&app)
        .renewal_history(sub.client_id, 10)
        .await
        .unwrap();
    let (newest, older) = (history[0].id, history[1].id);
    let (_, page) = admin.get_text(&page_path).await;
    assert_eq!(page.matches("class=\"secondary undo\"").count(), 1);

    // Only the newest renewal may be undone.
    let undo = |id: i64| format!("/admin/renewals/{id}/undo");
    let response = admin.post_form(&undo(older), &[]).await;
    assert_eq!(notice(&response), "notice_renewal_undo_not_last");
    assert_eq!(end(&app).await, date(2027, 2, 1));

    // Nine minutes after it: undone, back to the previous end date, audited.
    clock.advance(Duration::minutes(8));
    let response = admin.post_form(&undo(newest), &[]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        location(&response),
        format!("{page_path}?notice=notice_renewal_undone")
    );
    assert_eq!(end(&app).await, date(2027, 1, 1));
    let actions = audit_actions(&app).await;
    assert_eq!(actions.last().map(String::as_str), Some("renewal.undo"));
    let (_, page) = admin
        .get_text(&format!("{page_path}?notice=notice_renewal_undone"))
        .await;
    assert!(page.contains("Renovación deshecha"), "notice shown");
    let response = admin.post_form(&undo(newest), &[]).await;
    assert_eq!(notice(&response), "notice_renewal_undo_failed", "only once");

    // The older one is now the newest, but 11 minutes old: no button, refused.
    clock.advance(Duration::minutes(1));
    let (_, page) = admin.get_text(&page_path).await;
    assert!(
        !page.contains("class=\"secondary undo\""),
        "no undo after 10 min"
    );
    let response = admin.post_form(&undo(older), &[]).await;
    assert_eq!(notice(&response), "notice_renewal_undo_too_late");
    assert_eq!(end(&app).await, date(2027, 1, 1));
    let (_, page) = admin
        .get_text(&format!("{page_path}?notice=notice_renewal_undo_too_late"))
        .await;
    assert!(page.contains("pasaron más de 10 minutos"), "clear message");
    assert_eq!(
        audit_actions(&app)
            .await
            .iter()
            .filter(|a| *a == "renewal.undo")
            .count(),
        1
    );
    app.cleanup().await;
}
both_backends!(renewal_undo, super::undo_within_ten_minutes);

async fn open_request_confirmed_from_client_page(backend: Backend) {
    let Some((app, admin)) = start(backend).await else {
        return;
    };
    let sub = seed(&app, "Ana Pérez", "0991234567", "Netflix").await;
    let now = app.services.clock.now();
    let request = store(&app)
        .create_renewal_request(sub.client_id, Some(sub.id), now)
        .await
        .unwrap();
    let page_path = format!("/admin/clients/{}", sub.client_id);
    let (_, page) = admin.get_text(&page_path).await;
    let card = &page[page
        .find("id=\"open-request\"")
        .expect("open request shown")..];
    let confirm = format!("/admin/requests/{request}/confirm");
    assert!(
        card.contains(&confirm) && card.contains("Netflix"),
        "{card}"
    );

    let (status, form) = admin.get_text(&confirm).await;
    assert_eq!(status, 200);
    assert!(form.contains("id=\"renew-request\"") && form.contains("name=\"amount\""));
    let response = admin.post_form(&confirm, &[("months", "2")]).await;
    assert_eq!(response.status(), 422, "the method is asked for");
    let paid = [("months", "2"), ("amount", "15"), ("method", "tarjeta")];
    let response = admin.post_form(&confirm, &paid).await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        location(&response),
        format!("{page_path}?notice=ops_notice_request_confirmed")
    );
    let view = store(&app).subscription(sub.id).await.unwrap().unwrap();
    assert_eq!(view.end_date, date(2027, 2, 1));
    let history = store(&app)
        .renewal_history(sub.client_id, 10)
        .await
        .unwrap();
    assert_eq!(history[0].paid_cents, Some(1500));
    assert_eq!(history[0].payment_method.as_deref(), Some("tarjeta"));
    assert!(store(&app).open_requests().await.unwrap().is_empty());
    assert_eq!(audit_actions(&app).await, ["request.confirm"]);
    let (_, page) = admin.get_text(&page_path).await;
    assert!(!page.contains("id=\"open-request\""), "request closed");
    // A second try finds no open request.
    let response = admin.post_form(&confirm, &paid).await;
    assert_eq!(notice(&response), "ops_notice_request_gone");
    app.cleanup().await;
}
both_backends!(
    renewal_request_on_client_page,
    super::open_request_confirmed_from_client_page
);
