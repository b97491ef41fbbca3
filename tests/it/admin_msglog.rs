//! The messages log's client column, text search (hostile input), CSV and
//! the customer's own messages; the audit log's filters. SQLite and
//! PostgreSQL.

use crate::support;

use avisa::domain::clock::local_to_utc;
use avisa::store::{MessageKind, NewAudit, NewInbound, NewOutbound, SETTING_SESSION_DOWN};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use support::admin::AdminClient;
use support::app::TestApp;
use support::db::Backend;
use support::ops::{d, phone, spawn, sub};
use support::panel::{unescape, urlencode};

/// The rows of `<table id="…">` (its `<tbody>`), one string each.
fn rows<'a>(page: &'a str, table: &str) -> Vec<&'a str> {
    let Some(start) = page.find(&format!("<table id=\"{table}\"")) else {
        return Vec::new();
    };
    let end = page[start..]
        .find("</table>")
        .map_or(page.len(), |e| start + e);
    let Some(body) = page[start..end].split("<tbody>").nth(1) else {
        return Vec::new();
    };
    body.split("<tr").skip(1).collect()
}

async fn search(admin: &AdminClient, q: &str) -> Vec<String> {
    let (status, page) = admin
        .get_text(&format!("/admin/messages?q={}", urlencode(q)))
        .await;
    assert_eq!(status, 200, "{q}");
    rows(&page, "messages")
        .into_iter()
        .map(str::to_string)
        .collect()
}

struct Seeded {
    ana: i64,
    obrien: i64,
    inbound: i64,
}

async fn seed(app: &TestApp) -> Seeded {
    let store = &app.services.store;
    // Session down: nothing leaves the outbox while the test looks at it.
    store
        .set_setting(SETTING_SESSION_DOWN, Some("test"), Utc::now())
        .await
        .unwrap();
    store
        .upsert_subscriptions(
            &[
                sub("Ana Pérez", "0991111111", "Netflix", d(12, 1)),
                sub("O'Brien <b>", "0992222222", "Spotify", d(12, 2)),
            ],
            Utc::now(),
        )
        .await
        .unwrap();
    let id = |tel: &'static str| {
        let store = store.clone();
        async move { store.client_by_phone(tel).await.unwrap().unwrap().id }
    };
    let (ana, obrien) = (id("+593991111111").await, id("+593992222222").await);
    let now = app.services.clock.now();
    for (tel, client, body) in [
        ("0991111111", ana, "Hola Ana, tu Netflix vence MAÑANA"),
        ("0991111111", ana, "Descuento 50% en plan_familiar"),
        ("0992222222", obrien, "=HYPERLINK(\"http://evil\",\"x\")"),
        ("0992222222", obrien, "Tu Spotify vence pronto"),
    ] {
        let message = NewOutbound {
            phone: phone(tel),
            client_id: Some(client),
            kind: MessageKind::Reminder,
            body: body.into(),
            template_args: None,
        };
        store.queue_outbound(&message, now).await.unwrap();
    }
    let inbound = NewInbound {
        phone: avisa::domain::Phone::from_e164("+593992222222".to_string()).unwrap(),
        client_id: Some(obrien),
        kind: MessageKind::Reply,
        body: "quiero renovar <b>ya</b>, it's ok".into(),
        media_kind: None,
        wa_message_id: Some("wa-1".into()),
        media_source: None,
    };
    let inbound = store.insert_inbound(&inbound, now).await.unwrap().unwrap();
    Seeded {
        ana,
        obrien,
        inbound,
    }
}

async fn messages_log_names_search_and_csv(backend: Backend) {
    let Some((app, admin)) = spawn(backend).await else {
        return;
    };
    let seeded = seed(&app).await;
    let (_, page) = admin.get_text("/admin/messages").await;
    assert!(
        page.contains(&format!("/admin/clients/{}\">Ana Pérez</a>", seeded.ana)),
        "client name links to the client"
    );
    assert!(page.contains(&format!(
        "/admin/clients/{}\">O&#x27;Brien &lt;b&gt;</a>",
        seeded.obrien
    )));
    // The customer's own message says so; it is not a "Respuesta".
    let all = rows(&page, "messages");
    let inbound = all
        .iter()
        .find(|r| r.contains(&format!("id=\"message-{}\"", seeded.inbound)))
        .expect("inbound row");
    assert!(inbound.contains(">Cliente</span>") && !inbound.contains("Respuesta"));

    // Case and accents ignored both ways.
    for q in ["mañana", "MANANA", "Mañana", "maÑana"] {
        let found = search(&admin, q).await;
        assert_eq!(found.len(), 1, "{q}");
        assert!(found[0].contains("Netflix"));
    }
    // Wildcards and markup are literal text.
    let cases: [(&str, &str); 6] = [
        ("50%", "Descuento"),
        ("%", "Descuento"),
        ("_", "plan_familiar"),
        ("it's", "renovar"),
        ("<b>ya", "renovar"),
        ("\"http", "HYPERLINK"),
    ];
    for (q, expected) in cases {
        let found = search(&admin, q).await;
        assert_eq!(found.len(), 1, "{q}: {found:?}");
        assert!(found[0].contains(expected), "{q}");
    }
    for q in ["*", "?", "[", "a_b", "%%", "' OR 1=1 --"] {
        assert!(search(&admin, q).await.is_empty(), "{q}");
    }
    assert_eq!(search(&admin, "vence").await.len(), 2);
    // The search combines with the other filters and the pager keeps it.
    let (_, page) = admin.get_text("/admin/messages?q=vence&direction=in").await;
    assert!(rows(&page, "messages").is_empty());
    let (_, page) = admin.get_text("/admin/messages?q=Spotify").await;
    assert!(
        unescape(&page).contains("href=\"/admin/messages.csv?q=Spotify&\""),
        "csv keeps q"
    );

    // CSV of the filtered log: spreadsheet-safe, named, customer labelled.
    let response = admin.get("/admin/messages.csv?q=hyperlink").await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"avisa-mensajes-2026-11-25.csv\""
    );
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].contains("Cliente") && lines[0].contains("Texto"));
    assert!(
        lines[1].contains("\"'=HYPERLINK(\"\"http://evil\"\""),
        "{csv}"
    );
    assert!(lines[1].contains("O'Brien <b>"));
    let csv = admin
        .get("/admin/messages.csv?direction=in")
        .await
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(
        lines[1].contains(",Cliente,") && lines[1].contains("it's ok"),
        "{csv}"
    );
    // Bad filters: back to the page that says what is wrong.
    let response = admin.get("/admin/messages.csv?kind=spam").await;
    assert_eq!(response.status(), 303);
    let audit = app.services.store.audit_entries(10, 0).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.action == "messages.export")
            .count(),
        2
    );
    app.cleanup().await;
}
both_backends!(
    messages_log_search,
    super::messages_log_names_search_and_csv
);

fn local(date: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    let tz: chrono_tz::Tz = "America/Guayaquil".parse().unwrap();
    local_to_utc(tz, date, NaiveTime::from_hms_opt(h, m, 0).unwrap())
}

async fn audit_filters(backend: Backend) {
    let Some((app, admin)) = spawn(backend).await else {
        return;
    };
    let store = &app.services.store;
    let entry = |email: &str, action: &str, detail: &str| NewAudit {
        user_id: None,
        user_email: email.into(),
        action: action.into(),
        detail: detail.into(),
    };
    for (e, at) in [
        (
            entry("ana@example.com", "subscription.renew", "renewed-20th"),
            local(d(11, 20), 10, 0),
        ),
        (
            entry("bob@example.com", "client.create", "created-24th"),
            local(d(11, 24), 0, 5),
        ),
        (
            entry("ana@example.com", "renewal.undo", "undone-24th-late"),
            local(d(11, 24), 23, 30),
        ),
    ] {
        store.insert_audit(&e, at).await.unwrap();
    }
    let details = |page: &str| -> Vec<String> {
        rows(page, "audit")
            .iter()
            .filter_map(|r| {
                ["renewed-20th", "created-24th", "undone-24th-late"]
                    .into_iter()
                    .find(|d| r.contains(d))
                    .map(str::to_string)
            })
            .collect()
    };
    let (_, page) = admin.get_text("/admin/audit?user=bob%40example.com").await;
    assert_eq!(details(&page), ["created-24th"]);
    assert!(page.contains("<option value=\"bob@example.com\" selected>"));
    let (_, page) = admin.get_text("/admin/audit?action=renewal.undo").await;
    assert_eq!(details(&page), ["undone-24th-late"]);
    assert_eq!(rows(&page, "audit").len(), 1);
    assert!(
        page.contains(">Renovación deshecha</span>"),
        "readable action"
    );
    assert!(
        page.contains(">Renovación deshecha</option>"),
        "readable choices"
    );
    // Local days: the 24th ends at midnight Guayaquil (05:00 UTC on the 25th).
    let (_, page) = admin
        .get_text("/admin/audit?from=2026-11-24&to=2026-11-24")
        .await;
    assert_eq!(details(&page), ["undone-24th-late", "created-24th"]);
    assert_eq!(rows(&page, "audit").len(), 2, "today's login left out");
    let (_, page) = admin
        .get_text("/admin/audit?user=ana%40example.com&to=2026-11-23")
        .await;
    assert_eq!(details(&page), ["renewed-20th"]);
    let (status, _) = admin.get_text("/admin/audit?action=drop.table").await;
    assert_eq!(status, 422);
    let (status, _) = admin
        .get_text("/admin/audit?from=2026-11-30&to=2026-11-01")
        .await;
    assert_eq!(status, 422);

    // The pager keeps the filters.
    for i in 0..51 {
        let e = entry("carl@example.com", "client.update", &format!("bulk-{i}"));
        store
            .insert_audit(&e, local(d(11, 22), 9, 0))
            .await
            .unwrap();
    }
    let (_, page) = admin
        .get_text("/admin/audit?user=carl%40example.com&action=client.update")
        .await;
    assert_eq!(rows(&page, "audit").len(), 50);
    assert!(
        unescape(&page)
            .contains("href=\"/admin/audit?user=carl%40example.com&action=client.update&page=2\""),
        "pager keeps the filters"
    );
    let (_, page) = admin
        .get_text("/admin/audit?user=carl%40example.com&action=client.update&page=2")
        .await;
    assert_eq!(rows(&page, "audit").len(), 1);
    app.cleanup().await;
}
both_backends!(audit_log_filters, super::audit_filters);
