//! Staff panel subscriptions and services over HTTP on SQLite and
//! PostgreSQL: add, edit, cancel, delete; renewing from the web exactly as
//! the staff chat's `/renovar` does; services create, rename, default price.

use crate::support;

use avisa::domain::Money;
use avisa::store::*;
use support::admin::location;
use support::db::Backend;
use support::panel::*;

async fn subscription_actions(backend: Backend) {
    let Some((app, admin)) = start(backend).await else {
        return;
    };
    let netflix = seed(&app, "Ana Pérez", "0991234567", "Netflix").await;
    let hbo = store(&app)
        .create_service(
            "HBO Max",
            Some(Money::from_cents(599)),
            app.services.clock.now(),
        )
        .await
        .unwrap();
    let client_path = format!("/admin/clients/{}", netflix.client_id);
    let add = format!("{client_path}/subscriptions");
    // The client has Netflix already.
    let service = netflix.service_id.to_string();
    let twice = [
        ("service_id", service.as_str()),
        ("end_date", "2027-01-01"),
        ("price", "8"),
    ];
    let response = admin.post_form(&add, &twice).await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert_eq!(
        field_error(&page, "service_id").as_deref(),
        Some("El cliente ya tiene ese servicio.")
    );
    assert_eq!(field_value(&page, "end_date"), "2027-01-01");
    // Empty price: the service's default price.
    let hbo_id = hbo.to_string();
    let fields = [("service_id", hbo_id.as_str()), ("end_date", "15/01/2027")];
    let response = admin.post_form(&add, &fields).await;
    assert_eq!(response.status(), 303);
    let subs = store(&app)
        .subscriptions_of_client(netflix.client_id)
        .await
        .unwrap();
    let added = subs.iter().find(|s| s.service == "HBO Max").unwrap();
    assert_eq!(
        (added.end_date, added.price_cents),
        (date(2027, 1, 15), 599)
    );

    let edit = format!("/admin/subscriptions/{}", netflix.id);
    let (status, form) = admin.get_text(&format!("{edit}/edit")).await;
    assert_eq!(status, 200);
    assert_eq!(field_value(&form, "end_date"), "2026-12-01");
    let bad = [
        ("service_id", service.as_str()),
        ("end_date", "mañana"),
        ("price", "7.5055"),
    ];
    let response = admin.post_form(&edit, &bad).await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert_eq!(
        field_error(&page, "end_date").as_deref(),
        Some("No es una fecha: usa DD/MM/AAAA o AAAA-MM-DD.")
    );
    assert_eq!(
        field_error(&page, "price").as_deref(),
        Some("El precio tiene más de dos decimales.")
    );
    assert_eq!(field_value(&page, "end_date"), "mañana");
    let good = [
        ("service_id", service.as_str()),
        ("end_date", "20/12/2026"),
        ("price", "8,25"),
    ];
    let response = admin.post_form(&edit, &good).await;
    assert_eq!(response.status(), 303);
    let view = store(&app).subscription(netflix.id).await.unwrap().unwrap();
    assert_eq!((view.end_date, view.price_cents), (date(2026, 12, 20), 825));

    let response = admin.post_form(&format!("{edit}/cancel"), &[]).await;
    assert_eq!(response.status(), 303);
    let view = store(&app).subscription(netflix.id).await.unwrap().unwrap();
    assert_eq!(view.status, "cancelled");
    let response = admin
        .post_form(
            &format!("{edit}/renew"),
            &[("months", "13"), ("method", "efectivo")],
        )
        .await;
    assert_eq!(response.status(), 422);
    let response = admin.post_form(&format!("{edit}/delete"), &[]).await;
    assert_eq!(response.status(), 303);
    assert!(
        store(&app)
            .subscription(netflix.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        audit_actions(&app).await,
        [
            "subscription.create",
            "subscription.update",
            "subscription.cancel",
            "subscription.delete"
        ]
    );
    app.cleanup().await;
}
both_backends!(subscriptions, super::subscription_actions);

async fn renew_from_web_is_renew_from_chat(backend: Backend) {
    let Some((app, admin)) = start(backend).await else {
        return;
    };
    // Two identical customers: one renewed in the panel, one by /renovar.
    let web = seed(&app, "Ana Pérez", "0991234567", "Netflix").await;
    let chat = seed(&app, "Ana Pérez", "0987654321", "Netflix").await;
    let now = app.services.clock.now();
    for sub in [&web, &chat] {
        store(&app)
            .create_renewal_request(sub.client_id, Some(sub.id), now)
            .await
            .unwrap();
    }
    let (_, page) = admin
        .get_text(&format!("/admin/clients/{}", web.client_id))
        .await;
    assert!(page.contains("class=\"renew-form") && page.contains("name=\"months\""));
    let response = admin
        .post_form(
            &format!("/admin/subscriptions/{}/renew", web.id),
            &[("months", "1"), ("method", "efectivo")],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        location(&response),
        format!(
            "/admin/clients/{}?notice=notice_subscription_renewed",
            web.client_id
        )
    );
    let inbound = NewInbound {
        phone: avisa::domain::Phone::from_e164(STAFF.into()).unwrap(),
        client_id: None,
        kind: MessageKind::Staff,
        body: "/renovar 0987654321".into(),
        media_kind: None,
        wa_message_id: None,
        media_source: None,
    };
    let id = store(&app)
        .insert_inbound(&inbound, now)
        .await
        .unwrap()
        .unwrap();
    avisa::chat::handle_inbound(&app.services, id)
        .await
        .unwrap();

    // Same rows.
    for (sub, by) in [(&web, format!("web:{EMAIL}")), (&chat, STAFF.to_string())] {
        let view = store(&app).subscription(sub.id).await.unwrap().unwrap();
        assert_eq!(view.end_date, date(2027, 1, 1));
        let history = store(&app)
            .renewals_of_client(sub.client_id, 10)
            .await
            .unwrap();
        assert_eq!(history.len(), 1);
        let r = &history[0];
        assert_eq!(
            (
                r.staff.as_str(),
                r.old_end_date,
                r.new_end_date,
                r.months,
                r.amount_cents
            ),
            (by.as_str(), date(2026, 12, 1), date(2027, 1, 1), 1, 750)
        );
        let open = store(&app)
            .open_request_for_client(sub.client_id)
            .await
            .unwrap();
        assert!(open.is_none(), "request closed");
    }
    // Same confirmation at the fake WaSender.
    let web_text = texts_to(&app, "+593991234567", 1).await;
    let chat_text = texts_to(&app, "+593987654321", 1).await;
    assert_eq!(web_text, chat_text);
    assert!(web_text[0].contains("Netflix"), "{web_text:?}");
    let (_, page) = admin
        .get_text(&format!(
            "/admin/clients/{}?notice=notice_subscription_renewed",
            web.client_id
        ))
        .await;
    assert!(page.contains(&format!("web:{EMAIL}")), "history shows who");
    assert!(page.contains("Renovada."), "notice");
    let actions = audit_actions(&app).await;
    assert_eq!(actions, ["subscription.renew"]);

    // Several months from the select, from the current end date.
    let response = admin
        .post_form(
            &format!("/admin/subscriptions/{}/renew", web.id),
            &[("months", "3"), ("method", "tarjeta")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let view = store(&app).subscription(web.id).await.unwrap().unwrap();
    assert_eq!(view.end_date, date(2027, 4, 1));
    app.cleanup().await;
}
both_backends!(
    renew_web_equals_chat,
    super::renew_from_web_is_renew_from_chat
);

async fn services_page(backend: Backend) {
    let Some((app, admin)) = start(backend).await else {
        return;
    };
    seed(&app, "Ana Pérez", "0991234567", "Netflix").await;
    let (status, page) = admin.get_text("/admin/services").await;
    assert_eq!(status, 200);
    assert!(page.contains("Netflix"));
    let response = admin
        .post_form(
            "/admin/services",
            &[("name", " Disney+ "), ("default_price", "5,00")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let disney = store(&app)
        .service_by_name("disney+")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (disney.name.as_str(), disney.default_price_cents),
        ("Disney+", Some(500))
    );

    let response = admin
        .post_form(
            "/admin/services",
            &[("name", "NETFLIX"), ("default_price", "x")],
        )
        .await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    let form = &page[page.find("id=\"service-new\"").unwrap()..];
    assert_eq!(
        field_error(form, "default_price").as_deref(),
        Some("No es un precio: usa 12,50 o 12.50.")
    );
    assert_eq!(field_value(form, "name"), "NETFLIX");
    let response = admin
        .post_form(
            "/admin/services",
            &[("name", "NETFLIX"), ("default_price", "")],
        )
        .await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    let form = &page[page.find("id=\"service-new\"").unwrap()..];
    assert_eq!(
        field_error(form, "name").as_deref(),
        Some("Ya existe un servicio con ese nombre.")
    );

    let edit = format!("/admin/services/{}", disney.id);
    let response = admin
        .post_form(&edit, &[("name", "netflix"), ("default_price", "5")])
        .await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    let row = &page[page.find(&format!("id=\"service-{}\"", disney.id)).unwrap()..];
    assert_eq!(
        field_error(row, "name").as_deref(),
        Some("Ya existe un servicio con ese nombre.")
    );
    assert_eq!(field_value(row, "name"), "netflix");
    let response = admin
        .post_form(&edit, &[("name", "Disney Plus"), ("default_price", "6.50")])
        .await;
    assert_eq!(response.status(), 303);
    let row = store(&app).service(disney.id).await.unwrap().unwrap();
    assert_eq!(
        (row.name.as_str(), row.default_price_cents),
        ("Disney Plus", Some(650))
    );
    assert_eq!(
        audit_actions(&app).await,
        ["service.create", "service.update"]
    );
    app.cleanup().await;
}
both_backends!(services, super::services_page);
