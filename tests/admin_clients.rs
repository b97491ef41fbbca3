//! Staff panel clients, subscriptions and services over HTTP on SQLite and
//! PostgreSQL: search, paging, forms with errors by field, edits, deletes,
//! opt-out, and renewing from the web exactly as the staff chat does.

mod support;

use std::time::Duration;

use avisa::domain::{Money, Phone, Region};
use avisa::store::*;
use chrono::NaiveDate;
use support::admin::{AdminClient, PASSWORD, create_user, location};
use support::app::{API_KEY, Options, TestApp};
use support::db::Backend;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

const EMAIL: &str = "ana@example.com";
const STAFF: &str = "+593990000001";

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A running app (no start-up reminder run) and a signed-in staff member.
async fn start(backend: Backend) -> Option<(TestApp, AdminClient)> {
    let options = Options::on(date(2026, 11, 25))
        .var("AVISA_REMINDER_TIME", "23:59")
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
    Some((app, admin))
}

fn store(app: &TestApp) -> &dyn Store {
    app.services.store.as_ref()
}

async fn seed(app: &TestApp, name: &str, phone: &str, service: &str) -> SubscriptionView {
    let phone = Phone::parse(phone, Region::default()).unwrap();
    store(app)
        .upsert_subscriptions(
            &[NewSubscription {
                name: name.into(),
                phone: phone.clone(),
                email: None,
                service: service.into(),
                end_date: date(2026, 12, 1),
                price: Money::from_cents(750),
            }],
            app.services.clock.now(),
        )
        .await
        .unwrap();
    let client = store(app)
        .client_by_phone(phone.as_str())
        .await
        .unwrap()
        .unwrap();
    let subs = store(app).subscriptions_of_client(client.id).await.unwrap();
    subs.into_iter().find(|s| s.service == service).unwrap()
}

/// The validation message shown with the input `name` (between it and the
/// next field), if any.
fn field_error(html: &str, name: &str) -> Option<String> {
    let at = html
        .find(&format!("name=\"{name}\""))
        .unwrap_or_else(|| panic!("no field {name}"));
    let rest = &html[at..];
    let end = rest.find("</label>").unwrap_or(rest.len());
    let scope = &rest[..end];
    let start = scope.find("<small class=\"error\">")? + "<small class=\"error\">".len();
    let stop = scope[start..].find("</small>")?;
    Some(unescape(&scope[start..start + stop]))
}

/// Undoes the template's HTML escaping.
fn unescape(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The `value` of the input `name`.
fn field_value(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\"")).unwrap();
    let tag_end = at + html[at..].find('>').unwrap();
    let tag = &html[at..tag_end];
    unescape(
        tag.split("value=\"")
            .nth(1)
            .and_then(|v| v.split('"').next())
            .unwrap_or_default(),
    )
}

fn client_links(html: &str) -> usize {
    html.matches("class=\"client-link\"").count()
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    let mut rows = store(app).audit_entries(500, 0).await.unwrap();
    rows.reverse();
    rows.into_iter()
        .map(|r| r.action)
        .filter(|a| a != "login")
        .collect()
}

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

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

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
        page.contains("onsubmit=\"return confirm(this.dataset.confirm)\""),
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
        .post_form(&format!("{edit}/renew"), &[("months", "5")])
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

/// Sent texts to `to`, waiting up to 30 s for `count` of them.
async fn texts_to(app: &TestApp, to: &str, count: usize) -> Vec<String> {
    for _ in 0..300 {
        let texts: Vec<String> = app
            .sent()
            .await
            .iter()
            .filter(|body| body["to"].as_str() == Some(to))
            .map(|body| body["text"].as_str().unwrap_or_default().to_string())
            .collect();
        if texts.len() >= count {
            return texts;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {count} message(s) to {to}: {:#?}", app.sent().await);
}

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
            &[("months", "1")],
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
        phone: STAFF.into(),
        client_id: None,
        kind: MessageKind::Staff,
        body: "/renovar 0987654321".into(),
        media_kind: None,
        wa_message_id: None,
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
            &[("months", "3")],
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
