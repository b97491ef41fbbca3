//! The staff panel's operations area over HTTP, on SQLite and PostgreSQL:
//! messages log and retry, pause/resume, "Ejecutar hoy", masked settings and
//! confirming renewal requests. (CSV import/export: admin_transfer.rs.)

use crate::support;

use std::time::Duration;

use avisa::domain::clock::local_to_utc;
use avisa::store::{self, MessageKind, NewOutbound, SETTING_PAUSED, SETTING_SESSION_DOWN};
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use support::admin::location;
use support::app::{API_KEY, CRON_TOKEN, TestApp, WEBHOOK_SECRET};
use support::db::Backend;
use support::ops::{SECRET_KEY, d, mock_ok, phone, spawn, sub, wait_sent};

/// The HTML of `<table id="messages">…</table>` (empty if absent).
fn messages_table(page: &str) -> &str {
    let Some(start) = page.find("<table id=\"messages\"") else {
        return "";
    };
    let end = page[start..]
        .find("</table>")
        .map_or(page.len(), |e| start + e);
    &page[start..end]
}

fn local(date: NaiveDate, h: u32) -> DateTime<Utc> {
    let tz: chrono_tz::Tz = "America/Guayaquil".parse().unwrap();
    local_to_utc(tz, date, NaiveTime::from_hms_opt(h, 0, 0).unwrap())
}

async fn queue(
    app: &TestApp,
    tel: &str,
    client: Option<i64>,
    kind: MessageKind,
    body: &str,
    at: DateTime<Utc>,
) -> i64 {
    let message = NewOutbound {
        phone: phone(tel),
        client_id: client,
        kind,
        body: body.into(),
        template_args: None,
    };
    app.services
        .store
        .queue_outbound(&message, at)
        .await
        .unwrap()
}

async fn messages_log_filters(backend: Backend) {
    let Some((app, client)) = spawn(backend).await else {
        return;
    };
    let store = &app.services.store;
    // Session down: nothing leaves the outbox while the test looks at it.
    store
        .set_setting(SETTING_SESSION_DOWN, Some("test"), Utc::now())
        .await
        .unwrap();
    store
        .upsert_subscriptions(
            &[sub("Ana Pérez", "0991111111", "Netflix", d(12, 1))],
            Utc::now(),
        )
        .await
        .unwrap();
    let ana = store
        .client_by_phone("+593991111111")
        .await
        .unwrap()
        .unwrap();
    // 22:00 local on the 24th is already the 25th in UTC.
    queue(
        &app,
        "0991111111",
        Some(ana.id),
        MessageKind::Reply,
        "uno-ana-reply",
        local(d(11, 24), 22),
    )
    .await;
    queue(
        &app,
        "0990000001",
        None,
        MessageKind::Staff,
        "dos-staff",
        local(d(11, 25), 9),
    )
    .await;
    let failed = queue(
        &app,
        "0991111111",
        Some(ana.id),
        MessageKind::Notice,
        "tres-ana-notice",
        local(d(11, 25), 10),
    )
    .await;
    store
        .claim_message(failed, Utc::now())
        .await
        .unwrap()
        .unwrap();
    store
        .mark_failed(failed, "HTTP 400: número inválido", true, Utc::now())
        .await
        .unwrap();

    let table = |page: String| messages_table(&page).to_string();
    let (status, page) = client.get_text("/admin/messages").await;
    assert_eq!(status, 200);
    let all = table(page);
    assert!(
        all.contains("uno-ana-reply")
            && all.contains("dos-staff")
            && all.contains("tres-ana-notice")
    );
    assert!(
        all.contains(&format!("href=\"/admin/clients/{}\"", ana.id)),
        "{all}"
    );
    assert!(
        all.find("tres-ana-notice") < all.find("uno-ana-reply"),
        "newest first"
    );

    // The phone as staff type it.
    let (_, page) = client.get_text("/admin/messages?phone=099+111+1111").await;
    let by_phone = table(page);
    assert!(by_phone.contains("uno-ana-reply") && by_phone.contains("tres-ana-notice"));
    assert!(!by_phone.contains("dos-staff"));

    let (_, page) = client.get_text("/admin/messages?kind=staff").await;
    let staff = table(page);
    assert!(staff.contains("dos-staff") && !staff.contains("uno-ana-reply"));

    let (_, page) = client.get_text("/admin/messages?status=failed").await;
    let failed_rows = table(page);
    assert!(failed_rows.contains("tres-ana-notice") && !failed_rows.contains("dos-staff"));
    assert!(failed_rows.contains("HTTP 400: número inválido"));
    assert!(failed_rows.contains(&format!("/admin/messages/{failed}/retry")));

    // Local days, not UTC days.
    let (_, page) = client
        .get_text("/admin/messages?from=2026-11-24&to=2026-11-24")
        .await;
    let day24 = table(page);
    assert!(day24.contains("uno-ana-reply") && !day24.contains("dos-staff"));
    let (_, page) = client
        .get_text("/admin/messages?from=2026-11-25&to=2026-11-25")
        .await;
    let day25 = table(page);
    assert!(day25.contains("dos-staff") && day25.contains("tres-ana-notice"));
    assert!(!day25.contains("uno-ana-reply"));

    let (status, page) = client.get_text("/admin/messages?phone=abc").await;
    assert_eq!(status, 422);
    assert!(page.contains("No es un número de teléfono válido."));
    app.cleanup().await;
}
both_backends!(messages_log, super::messages_log_filters);

async fn retry_resends_once(backend: Backend) {
    let Some((app, client)) = spawn(backend).await else {
        return;
    };
    mock_ok(&app).await;
    let store = &app.services.store;
    store
        .set_setting(SETTING_SESSION_DOWN, Some("test"), Utc::now())
        .await
        .unwrap();
    let id = queue(
        &app,
        "0991111111",
        None,
        MessageKind::Reply,
        "reintento",
        Utc::now(),
    )
    .await;
    store.claim_message(id, Utc::now()).await.unwrap().unwrap();
    store
        .mark_failed(id, "gave up after 5 attempts: timeout", false, Utc::now())
        .await
        .unwrap();
    store
        .set_setting(SETTING_SESSION_DOWN, None, Utc::now())
        .await
        .unwrap();
    let (_, page) = client.get_text("/admin/messages?status=failed").await;
    assert!(page.contains("Reintentar"));

    let path = format!("/admin/messages/{id}/retry");
    let first = client.post_form(&path, &[]).await;
    assert_eq!(first.status(), 303);
    assert!(location(&first).contains("notice=ops_notice_retried"));
    let second = client.post_form(&path, &[]).await;
    assert_eq!(second.status(), 303);
    assert!(location(&second).contains("notice=ops_notice_not_retried"));

    let sent = wait_sent(&app, 1).await;
    app.settle().await;
    assert_eq!(app.sent().await.len(), 1, "one request for two clicks");
    assert_eq!(sent[0]["text"], "reintento");
    let row = store.message(id).await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.error), ("sent", None));
    let (_, audit) = client.get_text("/admin/audit").await;
    assert!(audit.contains("message.retry"));
    app.cleanup().await;
}
both_backends!(retry, super::retry_resends_once);

async fn pause_and_resume(backend: Backend) {
    let Some((app, client)) = spawn(backend).await else {
        return;
    };
    let store = &app.services.store;
    // Without the CSRF token: 403 and nothing changes.
    let refused = client.post_raw("/admin/operations/pause", &[]).await;
    assert_eq!(refused.status(), 403);
    assert!(!store::is_paused(store.as_ref()).await.unwrap());

    let response = client.post_form("/admin/operations/pause", &[]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        store.setting(SETTING_PAUSED).await.unwrap().as_deref(),
        Some("web:ops@example.com")
    );
    let (_, page) = client.get_text(&location(&response)).await;
    assert!(page.contains("Recordatorios automáticos en pausa.") && page.contains("id=\"resume\""));

    let response = client.post_form("/admin/operations/resume", &[]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(store.setting(SETTING_PAUSED).await.unwrap(), None);
    let (_, page) = client.get_text("/admin/operations").await;
    assert!(page.contains("id=\"pause\""));
    let (_, audit) = client.get_text("/admin/audit").await;
    assert!(audit.contains("reminders.pause") && audit.contains("reminders.resume"));
    app.cleanup().await;
}
both_backends!(pause_resume, super::pause_and_resume);

async fn seed_due(app: &TestApp) {
    app.services
        .store
        .upsert_subscriptions(
            &[
                sub("Ana Pérez", "0991111111", "Netflix", d(11, 28)), // 3 days
                sub("Luis Mora", "0992222222", "Disney+", d(12, 2)),  // 7 days
                sub("Juan Paz", "0994444444", "Spotify", d(12, 20)),  // not due
            ],
            Utc::now(),
        )
        .await
        .unwrap();
}

async fn run_today_plans_and_sends(backend: Backend) {
    let Some((app, client)) = spawn(backend).await else {
        return;
    };
    mock_ok(&app).await;
    seed_due(&app).await;
    let response = client.post_form("/admin/operations/run", &[]).await;
    assert_eq!(response.status(), 303);
    let (_, page) = client.get_text(&location(&response)).await;
    let result = &page[page.find("id=\"run-result\"").expect("run result")..];
    assert!(result.contains("2026-11-25"));
    assert!(
        result.contains("<td>7 días antes</td><td class=\"num\">1</td>"),
        "{result}"
    );
    assert!(
        result.contains("<td>3 días antes</td><td class=\"num\">1</td>"),
        "{result}"
    );
    let sent = wait_sent(&app, 2).await;
    let mut to: Vec<&str> = sent.iter().map(|m| m["to"].as_str().unwrap()).collect();
    to.sort();
    assert_eq!(to, ["+593991111111", "+593992222222"]);
    // Running again sends nothing twice.
    client.post_form("/admin/operations/run", &[]).await;
    app.settle().await;
    assert_eq!(app.sent().await.len(), 2);
    app.cleanup().await;
}
both_backends!(run_today, super::run_today_plans_and_sends);

async fn run_today_while_paused_waits(backend: Backend) {
    let Some((app, client)) = spawn(backend).await else {
        return;
    };
    mock_ok(&app).await;
    seed_due(&app).await;
    client.post_form("/admin/operations/pause", &[]).await;
    let response = client.post_form("/admin/operations/run", &[]).await;
    assert!(
        location(&response).contains("planned="),
        "{}",
        location(&response)
    );
    app.settle().await;
    assert!(
        app.sent().await.is_empty(),
        "paused: planned, held in the queue"
    );
    assert_eq!(
        app.services.store.queued_messages(10).await.unwrap().len(),
        2
    );
    client.post_form("/admin/operations/resume", &[]).await;
    // What the app's sweeper does every 15 s, sooner (up to 60 s: the
    // SQLite job queue sometimes stalls for ~30 s on a loaded machine).
    for _ in 0..300 {
        avisa::workers::sweep_once(&app.services).await.unwrap();
        if app.sent().await.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.sent().await.len(), 2);
    app.cleanup().await;
}
both_backends!(run_paused, super::run_today_while_paused_waits);

async fn settings_never_show_secrets(backend: Backend) {
    let Some((app, client)) = spawn(backend).await else {
        return;
    };
    let (status, page) = client.get_text("/admin/operations").await;
    assert_eq!(status, 200);
    for secret in [API_KEY, WEBHOOK_SECRET, CRON_TOKEN, SECRET_KEY] {
        assert!(!page.contains(secret), "{secret} shown");
    }
    assert!(page.contains("WASENDER_API_KEY") && page.contains("•••• (configurado)"));
    assert!(page.contains("Guayaquil") && page.contains("StreamEC"));
    // A key but no session event yet: not known, never "conectada".
    assert!(page.contains("Sesión de WhatsApp") && page.contains("sin datos de la sesión todavía"));
    app.cleanup().await;
}
both_backends!(settings_masked, super::settings_never_show_secrets);

async fn confirm_request_renews(backend: Backend) {
    let Some((app, client)) = spawn(backend).await else {
        return;
    };
    mock_ok(&app).await;
    let store = &app.services.store;
    store
        .upsert_subscriptions(
            &[sub("Ana Pérez", "0991111111", "Netflix", d(11, 28))],
            Utc::now(),
        )
        .await
        .unwrap();
    let ana = store
        .client_by_phone("+593991111111")
        .await
        .unwrap()
        .unwrap();
    let netflix = store
        .subscriptions_of_client(ana.id)
        .await
        .unwrap()
        .remove(0);
    let request = store
        .create_renewal_request(
            ana.id,
            Some(netflix.id),
            Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap(),
        )
        .await
        .unwrap();
    let (_, page) = client.get_text("/admin/operations").await;
    let row = &page[page
        .find(&format!("id=\"request-{request}\""))
        .expect("request row")..];
    assert!(row.contains("Ana Pérez") && row.contains("Netflix") && row.contains("Confirmar"));

    let path = format!("/admin/requests/{request}/confirm");
    // Confirmar opens the renewal form; sent without a method it asks again.
    let (status, form) = client.get_text(&format!("{path}?back=operations")).await;
    assert_eq!(status, 200);
    assert!(form.contains("name=\"method\"") && form.contains("Ana Pérez"));
    let response = client.post_form(&path, &[("back", "operations")]).await;
    assert_eq!(response.status(), 422);
    assert!(
        store.open_requests().await.unwrap().len() == 1,
        "nothing written"
    );
    let paid = [
        ("months", "1"),
        ("method", "transferencia"),
        ("back", "operations"),
    ];
    let response = client.post_form(&path, &paid).await;
    assert_eq!(response.status(), 303);
    assert!(location(&response).contains("ops_notice_request_confirmed"));
    let renewed = store.subscription(netflix.id).await.unwrap().unwrap();
    assert_eq!(renewed.end_date, d(12, 28));
    assert!(store.open_requests().await.unwrap().is_empty());
    let sent = wait_sent(&app, 1).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["to"], "+593991111111");
    // A second click finds no pending request and renews nothing.
    let again = client.post_form(&path, &paid).await;
    assert!(location(&again).contains("ops_notice_request_gone"));
    assert_eq!(
        store
            .subscription(netflix.id)
            .await
            .unwrap()
            .unwrap()
            .end_date,
        d(12, 28)
    );
    let (_, audit) = client.get_text("/admin/audit").await;
    assert!(audit.contains("request.confirm"));
    app.cleanup().await;
}
both_backends!(confirm_request, super::confirm_request_renews);
