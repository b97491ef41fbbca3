//! Staff panel clients over HTTP on SQLite and PostgreSQL: search, paging,
//! the new-client form with errors by field, edit, delete, opt-out/opt-in,
//! and the pages in English. Subscriptions, renewals and services are in
//! `admin_subscriptions.rs`.

use crate::support;

use support::admin::{AdminClient, PASSWORD, create_user, location};
use support::app::{Options, TestApp};
use support::db::Backend;
use support::panel::*;

async fn search_and_paging(backend: Backend) {
    let Some((app, admin)) = start(backend).await else {
        return;
    };
    seed(&app, "Ana Pérez", "0991234567", "Netflix").await;
    for i in 0..29 {
        let phone = format!("09822222{i:02}");
        seed(&app, &format!("Zoila {i:02}"), &phone, "Netflix").await;
    }
    for q in [
        "0991234567",
        "+593 99 123 4567",
        "593991234567",
        "ana",
        "PEREZ",
    ] {
        let url = format!("/admin/clients?q={}", urlencode(q));
        let (status, page) = admin.get_text(&url).await;
        assert_eq!(status, 200);
        assert!(page.contains("id=\"client-search\""), "{page}");
        assert_eq!(client_links(&page), 1, "{q}: {page}");
        assert!(page.contains("Ana Pérez") && page.contains("+593991234567"));
    }
    // 30 clients, 25 a page.
    let (_, first) = admin.get_text("/admin/clients").await;
    assert_eq!(client_links(&first), 25);
    assert!(first.contains("page=2"), "{first}");
    let (_, second) = admin.get_text("/admin/clients?page=2").await;
    assert_eq!(client_links(&second), 5);
    let (_, beyond) = admin.get_text("/admin/clients?page=99").await;
    assert_eq!(client_links(&beyond), 5);
    let (_, zoila) = admin.get_text("/admin/clients?q=zoila&page=2").await;
    assert_eq!(client_links(&zoila), 4);
    app.cleanup().await;
}
both_backends!(search, super::search_and_paging);

async fn create_client_with_errors_then_ok(backend: Backend) {
    let Some((app, admin)) = start(backend).await else {
        return;
    };
    let (status, form) = admin.get_text("/admin/clients/new").await;
    assert_eq!(status, 200);
    assert!(form.contains("name=\"service_id\""));
    let bad = [
        ("name", " "),
        ("phone", "099-abc"),
        ("email", "ana@"),
        ("notes", "vip"),
        ("new_service", "Netflix"),
        ("end_date", "31/02/2027"),
        ("price", "siete"),
    ];
    let response = admin.post_form("/admin/clients", &bad).await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    let expect = [
        ("name", "Escribe el nombre."),
        (
            "phone",
            "El teléfono tiene caracteres que no son de un número.",
        ),
        ("email", "No es un correo válido."),
        ("end_date", "Esa fecha no existe en el calendario."),
        ("price", "No es un precio: usa 12,50 o 12.50."),
    ];
    for (field, message) in expect {
        assert_eq!(
            field_error(&page, field).as_deref(),
            Some(message),
            "{field}"
        );
    }
    assert_eq!(field_error(&page, "new_service"), None);
    for (field, value) in [
        ("phone", "099-abc"),
        ("email", "ana@"),
        ("new_service", "Netflix"),
        ("end_date", "31/02/2027"),
        ("price", "siete"),
    ] {
        assert_eq!(field_value(&page, field), value, "{field} kept");
    }
    assert!(page.contains(">vip</textarea>"));
    assert_eq!(store(&app).count_clients().await.unwrap(), 0);

    // A bad price alone: the client is not created either.
    let fields = [
        ("name", "Ana Pérez"),
        ("phone", "0991234567"),
        ("new_service", "Netflix"),
        ("end_date", "2026-12-01"),
        ("price", "-3"),
    ];
    let response = admin.post_form("/admin/clients", &fields).await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert_eq!(
        field_error(&page, "price").as_deref(),
        Some("El precio no puede ser negativo.")
    );
    assert_eq!(store(&app).count_clients().await.unwrap(), 0);

    let good = [
        ("name", "  Ana   Pérez "),
        ("phone", "099 123 4567"),
        ("email", "ana@mail.ec"),
        ("notes", ""),
        ("service_id", ""),
        ("new_service", "Netflix"),
        ("end_date", "01/12/2026"),
        ("price", "1.234,50"),
    ];
    let response = admin.post_form("/admin/clients", &good).await;
    assert_eq!(response.status(), 303);
    let client = store(&app)
        .client_by_phone("+593991234567")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        location(&response),
        format!("/admin/clients/{}?notice=notice_client_created", client.id)
    );
    assert_eq!(
        (client.name.as_str(), client.email.as_deref()),
        ("Ana Pérez", Some("ana@mail.ec"))
    );
    let subs = store(&app)
        .subscriptions_of_client(client.id)
        .await
        .unwrap();
    assert_eq!(subs.len(), 1);
    assert_eq!(
        (
            subs[0].service.as_str(),
            subs[0].end_date,
            subs[0].price_cents
        ),
        ("Netflix", date(2026, 12, 1), 123_450)
    );
    let (status, page) = admin
        .get_text(&format!(
            "/admin/clients/{}?notice=notice_client_created",
            client.id
        ))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("Cliente creado."), "{page}");
    assert!(page.contains("class=\"renew-form") && page.contains("class=\"renew\""));

    // The same number in another spelling: an error next to the phone.
    let again = [
        ("name", "Otra Ana"),
        ("phone", "+593 99 123 4567"),
        ("service_id", ""),
    ];
    let response = admin.post_form("/admin/clients", &again).await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert_eq!(
        field_error(&page, "phone").as_deref(),
        Some("Ya existe un cliente con ese teléfono.")
    );
    assert_eq!(field_value(&page, "name"), "Otra Ana");
    assert_eq!(store(&app).count_clients().await.unwrap(), 1);

    // A client without a subscription, with an existing service's default price.
    let netflix = store(&app)
        .service_by_name("netflix")
        .await
        .unwrap()
        .unwrap();
    let response = admin
        .post_form(
            "/admin/clients",
            &[("name", "Luis"), ("phone", "0987654321")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let luis = store(&app)
        .client_by_phone("+593987654321")
        .await
        .unwrap()
        .unwrap();
    assert!(
        store(&app)
            .subscriptions_of_client(luis.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(netflix.default_price_cents, None);
    let actions = audit_actions(&app).await;
    assert_eq!(
        actions,
        [
            "client.create",
            "service.create",
            "subscription.create",
            "client.create"
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
    );
    app.cleanup().await;
}
both_backends!(create_client, super::create_client_with_errors_then_ok);

async fn edit_delete_and_opt_out(backend: Backend) {
    let Some((app, admin)) = start(backend).await else {
        return;
    };
    let ana = seed(&app, "Ana Pérez", "0991234567", "Netflix").await;
    seed(&app, "Luis", "0987654321", "Netflix").await;
    let path = format!("/admin/clients/{}", ana.client_id);
    let (status, form) = admin.get_text(&format!("{path}/edit")).await;
    assert_eq!(status, 200);
    assert_eq!(field_value(&form, "phone"), "+593991234567");

    let taken = [("name", "Ana"), ("phone", "0987654321"), ("email", "")];
    let response = admin.post_form(&path, &taken).await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert_eq!(
        field_error(&page, "phone").as_deref(),
        Some("Ya existe un cliente con ese teléfono.")
    );
    let bad = [("name", "Ana"), ("phone", "0991234567"), ("email", "no")];
    let response = admin.post_form(&path, &bad).await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert_eq!(
        field_error(&page, "email").as_deref(),
        Some("No es un correo válido.")
    );
    assert_eq!(field_value(&page, "email"), "no");

    let good = [
        ("name", "Ana María Pérez"),
        ("phone", "+593 99 123 4567"),
        ("email", "ana@mail.ec"),
        ("notes", "paga en efectivo"),
    ];
    let response = admin.post_form(&path, &good).await;
    assert_eq!(response.status(), 303);
    let row = store(&app).client(ana.client_id).await.unwrap().unwrap();
    assert_eq!(
        (row.name.as_str(), row.email.as_deref(), row.notes.as_str()),
        ("Ana María Pérez", Some("ana@mail.ec"), "paga en efectivo")
    );

    let response = admin.post_form(&format!("{path}/opt-out"), &[]).await;
    assert_eq!(response.status(), 303);
    let row = store(&app).client(ana.client_id).await.unwrap().unwrap();
    assert!(row.opted_out_at.is_some());
    let (_, page) = admin.get_text(&path).await;
    assert!(page.contains("/opt-in"), "{page}");
    let (_, list) = admin.get_text("/admin/clients?q=ana").await;
    assert!(list.contains("No recibe recordatorios"), "{list}");
    let response = admin.post_form(&format!("{path}/opt-in"), &[]).await;
    assert_eq!(response.status(), 303);
    let row = store(&app).client(ana.client_id).await.unwrap().unwrap();
    assert!(row.opted_out_at.is_none());

    let (_, page) = admin.get_text(&path).await;
    assert!(
        page.contains("data-confirm=") && page.contains("/admin/assets/panel.js"),
        "delete asks first"
    );
    let response = admin.post_form(&format!("{path}/delete"), &[]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        location(&response),
        "/admin/clients?notice=notice_client_deleted"
    );
    assert!(store(&app).client(ana.client_id).await.unwrap().is_none());
    assert_eq!(admin.get(&path).await.status(), 404);
    assert_eq!(
        audit_actions(&app).await,
        [
            "client.update",
            "client.opt_out",
            "client.opt_in",
            "client.delete"
        ]
    );
    app.cleanup().await;
}
both_backends!(edit_delete, super::edit_delete_and_opt_out);

async fn english_pages(backend: Backend) {
    let options = Options::on(date(2026, 11, 25))
        .var("AVISA_REMINDER_TIME", "23:59")
        .var("AVISA_LOCALE", "en")
        .http();
    let Some(app) = TestApp::spawn(backend, options).await else {
        return;
    };
    create_user(app.services.store.as_ref(), EMAIL, PASSWORD).await;
    let admin = AdminClient::login(&app, EMAIL, PASSWORD).await;
    let sub = seed(&app, "Ana Pérez", "0991234567", "Netflix").await;
    for path in [
        "/admin/clients".to_string(),
        "/admin/clients/new".to_string(),
        format!("/admin/clients/{}", sub.client_id),
        format!("/admin/clients/{}/edit", sub.client_id),
        format!("/admin/subscriptions/{}/edit", sub.id),
        "/admin/services".to_string(),
    ] {
        let (status, page) = admin.get_text(&path).await;
        assert_eq!(status, 200, "{path}: {page}");
        assert!(
            !page.contains("Guardar") && !page.contains("Buscar"),
            "{path}"
        );
    }
    let response = admin
        .post_form("/admin/clients", &[("name", "X"), ("phone", "12")])
        .await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert_eq!(
        field_error(&page, "phone").as_deref(),
        Some("This could not be read as a phone number.")
    );
    app.cleanup().await;
}
both_backends!(english, super::english_pages);

/// Staff chase exactly the customers whose service has ended: their pages
/// (expired yesterday, long ago, due today, and a hostile name) must render.
async fn expired_and_due_today_pages(backend: Backend) {
    let Some((app, admin)) = start(backend).await else {
        return;
    };
    let cases = [
        (
            "Ñandú O'Brien <b>",
            "0991111111",
            date(2026, 11, 24),
            "vencida hace 1 día",
        ),
        (
            "=HYPERLINK(\"x\")",
            "0991111112",
            date(2025, 1, 31),
            "vencida hace 663 día",
        ),
        ("Íñigo", "0991111113", date(2026, 11, 25), "hoy"),
    ];
    for (name, phone, end, shown) in cases {
        let sub = seed_ending(&app, name, phone, "IPTV", end).await;
        let path = format!("/admin/clients/{}", sub.client_id);
        let (status, page) = admin.get_text(&path).await;
        assert_eq!(status, 200, "{path}: {page}");
        assert!(page.to_lowercase().contains(shown), "{name}: {page}");
        assert!(page.contains("class=\"renew\""), "renew reachable: {page}");
        assert!(!page.contains("<b>"), "name escaped");
    }
    app.cleanup().await;
}
both_backends!(expired_pages, super::expired_and_due_today_pages);

/// The error pages go through the layout (viewport, navigation, Spanish):
/// a non-numeric id, an unknown id and an unknown address are the 404 page;
/// `/admin/` is the dashboard.
async fn error_pages_use_the_layout(backend: Backend) {
    let Some((app, admin)) = start(backend).await else {
        return;
    };
    let sub = seed(&app, "Ana Pérez", "0991234567", "Netflix").await;
    let unknown = sub.client_id + 1000;
    for path in [
        "/admin/clients/abc".to_string(),
        "/admin/clients/12abc/edit".to_string(),
        "/admin/subscriptions/x/edit".to_string(),
        format!("/admin/clients/{unknown}"),
        format!("/admin/clients/{unknown}/edit"),
        format!("/admin/subscriptions/{unknown}/edit"),
        "/admin/no-such-page".to_string(),
    ] {
        let response = admin.get(&path).await;
        assert_eq!(response.status(), 404, "{path}");
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(
            content_type.starts_with("text/html"),
            "{path}: {content_type}"
        );
        let page = response.text().await.unwrap();
        assert!(page.contains("name=\"viewport\""), "{path}: {page}");
        assert!(page.contains("id=\"logout\""), "{path}: nav: {page}");
        assert!(
            page.contains("No encontramos lo que buscas."),
            "{path}: {page}"
        );
        assert!(!page.contains("Invalid URL"), "{path}: {page}");
    }
    // A POST to an unknown id (CSRF valid): the 404 page too.
    let response = admin
        .post_form(&format!("/admin/clients/{unknown}/opt-out"), &[])
        .await;
    assert_eq!(response.status(), 404);
    let response = admin
        .post_form("/admin/subscriptions/abc/cancel", &[])
        .await;
    assert_eq!(response.status(), 404);

    let response = admin.get("/admin/").await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/admin");
    let (status, dashboard) = admin.get_text(&location(&response)).await;
    assert_eq!(status, 200);
    assert!(dashboard.contains("aria-current=\"page\""), "{dashboard}");

    // Signed out: an unknown page is still the 404 page, without the nav.
    let stranger = AdminClient::new(&app);
    let response = stranger.get("/admin/no-such-page").await;
    assert_eq!(response.status(), 404);
    let page = response.text().await.unwrap();
    assert!(page.contains("name=\"viewport\""), "{page}");
    assert!(!page.contains("id=\"logout\""), "{page}");
    // …and a client's page asks to sign in first, whatever the id.
    let response = stranger.get("/admin/clients/abc").await;
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with("/admin/login?next="));

    // The database gone: the 500 page, through the layout too, in Spanish.
    match app.services.store.pool() {
        avisa::store::Pool::Sqlite(pool) => pool.close().await,
        avisa::store::Pool::Postgres(pool) => pool.close().await,
    }
    let response = admin.get("/admin/clients").await;
    assert_eq!(response.status(), 500);
    let page = response.text().await.unwrap();
    assert!(page.contains("name=\"viewport\""), "{page}");
    assert!(page.contains("Ocurrió un error interno."), "{page}");
    app.cleanup().await;
}
both_backends!(error_pages, super::error_pages_use_the_layout);
