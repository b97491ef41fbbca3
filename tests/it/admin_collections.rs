//! Cobranza (`/admin/subscriptions`) over HTTP on SQLite and PostgreSQL:
//! every filter returns exactly its rows, the name sort ignores accents,
//! bulk renew / reminder / cancel do their work once, a bad id changes
//! nothing, the CSV is the filtered list and spreadsheet-safe, and the
//! dashboard's figures link into the matching filter. Hostile names
//! throughout (accents, apostrophes, HTML, a formula).

use crate::support;

use avisa::domain::Money;
use avisa::store::*;
use support::admin::{AdminClient, location};
use support::app::TestApp;
use support::db::Backend;
use support::panel::*;

/// The subscriptions seeded, by what they are (today is 2026-11-25).
struct Seeded {
    expired_1: SubscriptionView,
    expired_30: SubscriptionView,
    today: SubscriptionView,
    in_3: SubscriptionView,
    in_20: SubscriptionView,
    cancelled: SubscriptionView,
    opted_out: SubscriptionView,
}

const FORMULA: &str = "=HYPERLINK(\"http://evil.example\",\"x\")";

async fn seed_all(app: &TestApp) -> Seeded {
    let now = app.services.clock.now();
    let expired_1 = seed_ending(
        app,
        "Álvaro Núñez",
        "0991000001",
        "Netflix",
        date(2026, 11, 24),
    )
    .await;
    let expired_30 = seed_ending(
        app,
        "Zoé O'Brien",
        "0991000002",
        "Netflix",
        date(2026, 10, 26),
    )
    .await;
    let today = seed_ending(
        app,
        "<b>Bold</b> Ana",
        "0991000003",
        "Spotify",
        date(2026, 11, 25),
    )
    .await;
    let in_3 = seed_ending(app, FORMULA, "0991000004", "Netflix", date(2026, 11, 28)).await;
    let in_20 = seed_ending(
        app,
        "Íñigo Pérez",
        "0991000005",
        "Spotify",
        date(2026, 12, 15),
    )
    .await;
    let cancelled = seed_ending(
        app,
        "Óscar Cancelado",
        "0991000006",
        "Netflix",
        date(2026, 11, 27),
    )
    .await;
    let opted_out = seed_ending(
        app,
        "bruno Sin Avisos",
        "0991000007",
        "Netflix",
        date(2026, 11, 26),
    )
    .await;
    let store = store(app);
    store
        .set_subscription_status(
            cancelled.id,
            avisa::store::SubscriptionStatus::Cancelled,
            now,
        )
        .await
        .unwrap();
    store
        .set_opted_out(opted_out.client_id, Some(now))
        .await
        .unwrap();
    // The dearest one, for the price sort.
    let input = SubscriptionInput {
        service_id: in_20.service_id,
        end_date: in_20.end_date,
        price: Money::from_cents(158_405),
    };
    store
        .update_subscription(in_20.id, &input, now)
        .await
        .unwrap();
    Seeded {
        expired_1,
        expired_30,
        today,
        in_3,
        in_20,
        cancelled,
        opted_out,
    }
}

/// The subscription ids of the list's rows, in page order.
fn row_ids(html: &str) -> Vec<i64> {
    html.split("<tr id=\"sub-")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].parse().unwrap())
        .collect()
}

async fn list(admin: &AdminClient, query: &str) -> (Vec<i64>, String) {
    let (status, html) = admin
        .get_text(&format!("/admin/subscriptions{query}"))
        .await;
    assert_eq!(status, 200, "{query}: {html}");
    (row_ids(&html), html)
}

fn ids(subs: &[&SubscriptionView]) -> Vec<i64> {
    subs.iter().map(|s| s.id).collect()
}

async fn reminders_to(app: &TestApp, sub: &SubscriptionView) -> usize {
    store(app)
        .messages_for_phone(sub.phone.as_str(), 100)
        .await
        .unwrap()
        .iter()
        .filter(|m| m.kind == MessageKind::Reminder)
        .count()
}

async fn filters_sorts_and_csv(backend: Backend) {
    let Some((app, admin)) = start(backend).await else {
        return;
    };
    let s = seed_all(&app).await;
    let (all, html) = list(&admin, "").await;
    assert_eq!(
        all,
        ids(&[
            &s.expired_30,
            &s.expired_1,
            &s.today,
            &s.opted_out,
            &s.cancelled,
            &s.in_3,
            &s.in_20
        ])
    );
    assert!(
        html.contains("&lt;b&gt;Bold&lt;&#x2f;b&gt; Ana"),
        "HTML names are escaped"
    );
    assert!(!html.contains("<b>Bold"));
    assert!(html.contains("vencida hace 30 días") && html.contains("vencida hace 1 día"));
    assert!(html.contains("vence hoy") && html.contains("20 días"));
    assert!(
        html.contains("15 de diciembre"),
        "this year's dates have no year"
    );

    let cases: [(&str, Vec<i64>); 9] = [
        ("?vence=vencidas", ids(&[&s.expired_30, &s.expired_1])),
        ("?vence=hoy", ids(&[&s.today])),
        (
            "?vence=7",
            ids(&[&s.today, &s.opted_out, &s.cancelled, &s.in_3]),
        ),
        (
            "?vence=7&estado=active",
            ids(&[&s.today, &s.opted_out, &s.in_3]),
        ),
        (
            "?vence=30",
            ids(&[&s.today, &s.opted_out, &s.cancelled, &s.in_3, &s.in_20]),
        ),
        (
            &*format!("?servicio={}", s.today.service_id),
            ids(&[&s.today, &s.in_20]),
        ),
        ("?estado=cancelled", ids(&[&s.cancelled])),
        ("?sin_recordatorios=1", ids(&[&s.opted_out])),
        (
            "?orden=precio&vence=30",
            ids(&[&s.in_20, &s.today, &s.opted_out, &s.cancelled, &s.in_3]),
        ),
    ];
    for (query, expected) in cases {
        let (rows, html) = list(&admin, query).await;
        assert_eq!(rows, expected, "{query}");
        assert!(
            html.contains(&format!("{} suscripci", expected.len())),
            "{query}: count"
        );
    }
    // The filter stays in the form and the CSV link.
    let (_, html) = list(&admin, "?vence=hoy&orden=nombre").await;
    let html = unescape(&html);
    assert!(html.contains("<option value=\"hoy\" selected>"), "{html}");
    assert!(html.contains("href=\"/admin/subscriptions.csv?vence=hoy&orden=nombre\""));

    // By name, accents and case aside: Álvaro, bruno, Íñigo, Óscar, Zoé.
    let (by_name, _) = list(&admin, "?orden=nombre").await;
    let letters: Vec<i64> = by_name
        .into_iter()
        .filter(|id| ![s.today.id, s.in_3.id].contains(id))
        .collect();
    assert_eq!(
        letters,
        ids(&[
            &s.expired_1,
            &s.opted_out,
            &s.in_20,
            &s.cancelled,
            &s.expired_30
        ])
    );

    // Hostile parameters are a list, not an error.
    for query in [
        "?vence=x&servicio=abc&estado=%3Cb%3E&orden=1&page=-3",
        "?page=999",
        "?servicio=99999",
    ] {
        let (status, _) = admin
            .get_text(&format!("/admin/subscriptions{query}"))
            .await;
        assert_eq!(status, 200, "{query}");
    }

    // CSV: the filtered rows, formulas as text, as a download.
    for path in [
        "/admin/subscriptions.csv?vence=7&estado=active",
        "/admin/subscriptions?vence=7&estado=active&format=csv",
    ] {
        let response = admin.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let disposition = response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(disposition.starts_with("attachment; filename=\"avisa-cobranza-2026-11-25.csv\""));
        let text = response.text().await.unwrap();
        let lines: Vec<&str> = text.trim_start_matches('\u{FEFF}').lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(
            lines[1].starts_with("\"<b>Bold</b> Ana\",")
                || lines[1].starts_with("<b>Bold</b> Ana,"),
            "{}",
            lines[1]
        );
        assert!(lines[2].starts_with("bruno Sin Avisos,"), "{}", lines[2]);
        assert!(lines[3].starts_with("\"'=HYPERLINK("), "{}", lines[3]);
    }

    // The dashboard's figures open the matching list.
    let (status, dashboard) = admin.get_text("/admin").await;
    assert_eq!(status, 200);
    let dashboard = unescape(&dashboard);
    for (link, expected) in [
        (
            "/admin/subscriptions?vence=vencidas&estado=active",
            ids(&[&s.expired_30, &s.expired_1]),
        ),
        (
            "/admin/subscriptions?vence=hoy&estado=active",
            ids(&[&s.today]),
        ),
        (
            "/admin/subscriptions?vence=7&estado=active",
            ids(&[&s.today, &s.opted_out, &s.in_3]),
        ),
    ] {
        assert!(
            dashboard.contains(&format!("href=\"{link}\"")),
            "{link} not on the dashboard"
        );
        let (rows, _) = list(&admin, link.trim_start_matches("/admin/subscriptions")).await;
        assert_eq!(rows, expected, "{link}");
    }
    let nav = unescape(&admin.get_text("/admin/clients").await.1);
    assert!(nav.contains("href=\"/admin/subscriptions\">Cobranza</a>"));
    app.cleanup().await;
}

both_backends!(
    collections_filters_sorts_and_csv,
    super::filters_sorts_and_csv
);

async fn bulk_actions(backend: Backend) {
    let Some((app, admin)) = start(backend).await else {
        return;
    };
    let s = seed_all(&app).await;
    let now = app.services.clock.now();
    let store = store(&app);
    // A request and a message from the client due in 3 days show on its row.
    let request = store
        .create_renewal_request(s.in_3.client_id, Some(s.in_3.id), now)
        .await
        .unwrap();
    let inbound = NewInbound {
        phone: s.in_3.phone.clone(),
        client_id: Some(s.in_3.client_id),
        kind: MessageKind::Reply,
        body: "Ya pagué <script>".into(),
        media_kind: None,
        wa_message_id: Some("wamid.collections".into()),
        media_source: None,
    };
    store.insert_inbound(&inbound, now).await.unwrap();
    let (_, html) = list(&admin, "?vence=7").await;
    assert!(
        unescape(&html).contains(&format!("action=\"/admin/requests/{request}/confirm\"")),
        "{html}"
    );
    assert!(html.contains("Ya pagué &lt;script&gt;"));

    // Renew two expired rows by 2 months: each moves once, audited once.
    let id = |sub: &SubscriptionView| sub.id.to_string();
    let (a, b) = (id(&s.expired_1), id(&s.expired_30));
    let fields = [
        ("action", "renew"),
        ("months", "2"),
        ("ids", a.as_str()),
        ("ids", b.as_str()),
        ("vence", "vencidas"),
    ];
    let response = admin.post_form("/admin/subscriptions/bulk", &fields).await;
    assert_eq!(response.status(), 303);
    let back = location(&response);
    assert_eq!(
        back,
        "/admin/subscriptions?vence=vencidas&notice=cobranza.notice_renewed&n=2"
    );
    let (status, page) = admin.get_text(&back).await;
    assert_eq!(status, 200);
    assert!(page.contains("2 suscripciones renovadas"), "{page}");
    for sub in [&s.expired_1, &s.expired_30] {
        let after = store.subscription(sub.id).await.unwrap().unwrap();
        assert_eq!(after.end_date, date(2027, 1, 25), "renewed from today");
        let renewals = store.renewals_of_client(sub.client_id, 10).await.unwrap();
        assert_eq!(renewals.len(), 1);
    }
    let actions = audit_actions(&app).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "subscription.bulk_renew")
            .count(),
        1
    );

    // A reminder now: the eligible rows get one each, the cancelled and
    // opted-out ones none, and a second click sends nothing more.
    let remind: Vec<String> = [&s.today, &s.in_3, &s.cancelled, &s.opted_out]
        .iter()
        .map(|s| s.id.to_string())
        .collect();
    let mut fields: Vec<(&str, &str)> = vec![("action", "remind")];
    fields.extend(remind.iter().map(|i| ("ids", i.as_str())));
    let first = admin.post_form("/admin/subscriptions/bulk", &fields).await;
    assert_eq!(first.status(), 303);
    assert!(
        location(&first).ends_with("notice=cobranza.notice_reminded&n=2&omitidas=2"),
        "{}",
        location(&first)
    );
    let second = admin.post_form("/admin/subscriptions/bulk", &fields).await;
    assert!(
        location(&second).ends_with("notice=cobranza.notice_reminded&n=0&omitidas=4"),
        "{}",
        location(&second)
    );
    for (sub, expected) in [
        (&s.today, 1),
        (&s.in_3, 1),
        (&s.cancelled, 0),
        (&s.opted_out, 0),
    ] {
        assert_eq!(
            reminders_to(&app, sub).await,
            expected,
            "{}",
            sub.client_name
        );
    }
    let (_, html) = list(&admin, "?vence=hoy").await;
    assert!(
        html.contains("el día del vencimiento"),
        "the last reminder shows: {html}"
    );
    let actions = audit_actions(&app).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "subscription.bulk_remind")
            .count(),
        2
    );

    // A bad id anywhere: a page naming it, and nothing done.
    let c = id(&s.in_20);
    let response = admin
        .post_form(
            "/admin/subscriptions/bulk",
            &[("action", "cancel"), ("ids", c.as_str()), ("ids", "987654")],
        )
        .await;
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("987654"));
    let response = admin
        .post_form(
            "/admin/subscriptions/bulk",
            &[("action", "cancel"), ("ids", c.as_str()), ("ids", "abc")],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("abc"));
    let response = admin
        .post_form(
            "/admin/subscriptions/bulk",
            &[("action", "renew"), ("months", "13"), ("ids", c.as_str())],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(
        store
            .subscription(s.in_20.id)
            .await
            .unwrap()
            .unwrap()
            .is_active()
    );
    // Without the CSRF token: refused.
    let response = admin
        .post_raw(
            "/admin/subscriptions/bulk",
            &[("action", "cancel"), ("ids", c.as_str())],
        )
        .await;
    assert_eq!(response.status(), 403);

    // Cancel.
    let response = admin
        .post_form(
            "/admin/subscriptions/bulk",
            &[
                ("action", "cancel"),
                ("ids", c.as_str()),
                ("orden", "nombre"),
            ],
        )
        .await;
    assert_eq!(
        location(&response),
        "/admin/subscriptions?orden=nombre&notice=cobranza.notice_cancelled&n=1"
    );
    assert!(
        !store
            .subscription(s.in_20.id)
            .await
            .unwrap()
            .unwrap()
            .is_active()
    );
    let actions = audit_actions(&app).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "subscription.bulk_cancel")
            .count(),
        1
    );

    // The row's Renovar (the renewal form) comes back to the list with its filter.
    let back = "/admin/subscriptions?vence=hoy";
    let response = admin
        .post_form(
            &format!("/admin/subscriptions/{}/renew", s.today.id),
            &[("back", back), ("months", "1"), ("method", "efectivo")],
        )
        .await;
    assert_eq!(
        location(&response),
        format!("{back}&notice=notice_subscription_renewed")
    );
    // Anything else as `back`: the client's page, as before.
    let response = admin
        .post_form(
            &format!("/admin/subscriptions/{}/renew", s.in_3.id),
            &[
                ("back", "https://evil.example/"),
                ("months", "1"),
                ("method", "efectivo"),
            ],
        )
        .await;
    assert_eq!(
        location(&response),
        format!(
            "/admin/clients/{}?notice=notice_subscription_renewed",
            s.in_3.client_id
        )
    );
    app.cleanup().await;
}

both_backends!(collections_bulk_actions, super::bulk_actions);
