//! The WhatsApp state on the dashboard, Operaciones and `/healthz`, on
//! SQLite and PostgreSQL: console mode without a key, unknown until the
//! provider says something, then what its last `session.status` said.

use crate::support;

use serde_json::Value;
use support::admin::{AdminClient, PASSWORD, create_user};
use support::app::{Options, TestApp, WEBHOOK_SECRET};
use support::db::Backend;
use support::ops::{EMAIL, SECRET_KEY, today};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/wasender/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

async fn start(backend: Backend, api_key: Option<&str>) -> Option<(TestApp, AdminClient)> {
    let mut options = Options::on(today())
        .var("AVISA_REMINDER_TIME", "23:59")
        .var("AVISA_SECRET_KEY", SECRET_KEY)
        .http();
    if let Some(key) = api_key {
        // An empty value is "not set".
        options = options.var("WASENDER_API_KEY", key);
    }
    let app = TestApp::spawn(backend, options).await?;
    create_user(app.services.store.as_ref(), EMAIL, PASSWORD).await;
    let client = AdminClient::login(&app, EMAIL, PASSWORD).await;
    Some((app, client))
}

/// `/healthz`'s `whatsapp` object.
async fn health(app: &TestApp) -> Value {
    let body: Value = reqwest::get(app.url("/healthz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["whatsapp"].clone()
}

/// The text of the element with `id` up to its closing `</div>`.
fn stat<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no {id} in {page}"));
    let end = page[start..]
        .find("</div>")
        .map_or(page.len(), |e| start + e);
    &page[start..end]
}

/// The WhatsApp state as the dashboard and Operaciones show it.
async fn shown(client: &AdminClient) -> (String, String) {
    let (status, dashboard) = client.get_text("/admin").await;
    assert_eq!(status, 200);
    let (status, operations) = client.get_text("/admin/operations").await;
    assert_eq!(status, 200);
    (
        stat(&dashboard, "stat-whatsapp").to_string(),
        stat(&operations, "session-state").to_string(),
    )
}

async fn session_event(app: &TestApp, name: &str) {
    let status = reqwest::Client::new()
        .post(app.url("/webhooks/wasender"))
        .header("content-type", "application/json")
        .header("X-Webhook-Signature", WEBHOOK_SECRET)
        .body(fixture(name))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

async fn console_mode_says_nothing_is_sent(backend: Backend) {
    let Some((app, client)) = start(backend, Some("")).await else {
        return;
    };
    assert!(app.services.provider.is_console());
    let (dashboard, operations) = shown(&client).await;
    for html in [&dashboard, &operations] {
        assert!(html.contains("modo consola: no se envía nada"), "{html}");
        assert!(!html.contains("conectad"), "{html}");
    }
    assert_eq!(
        health(&app).await,
        serde_json::json!({"state": "console", "since": null})
    );
    // Even a provider event does not make the console send anything.
    session_event(&app, "session_connected.json").await;
    assert_eq!(health(&app).await["state"], "console");
    app.cleanup().await;
}
both_backends!(whatsapp_console, super::console_mode_says_nothing_is_sent);

async fn state_follows_the_last_session_event(backend: Backend) {
    let Some((app, client)) = start(backend, None).await else {
        return;
    };
    // A key but no event yet: unknown, not "conectada".
    let (dashboard, operations) = shown(&client).await;
    for html in [&dashboard, &operations] {
        assert!(html.contains("sin datos de la sesión todavía"), "{html}");
        assert!(!html.contains("conectad"), "{html}");
    }
    assert_eq!(
        health(&app).await,
        serde_json::json!({"state": "unknown", "since": null})
    );

    // Down at 10:00 local (the test clock starts there, America/Guayaquil).
    session_event(&app, "session_need_scan.json").await;
    let (dashboard, operations) = shown(&client).await;
    for html in [&dashboard, &operations] {
        assert!(html.contains("desconectada desde 10:0"), "{html}");
    }
    assert!(
        operations.contains("need_scan"),
        "the provider's status shown"
    );
    let down = health(&app).await;
    assert_eq!(down["state"], "disconnected");
    let since = down["since"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(since).is_ok(),
        "{since}"
    );
    // Another "down" event keeps the time it went down.
    session_event(&app, "session_need_scan.json").await;
    assert_eq!(health(&app).await, down);

    session_event(&app, "session_connected.json").await;
    let (dashboard, operations) = shown(&client).await;
    for html in [&dashboard, &operations] {
        assert!(html.contains("conectada (último aviso 10:0"), "{html}");
        assert!(!html.contains("desconectada"), "{html}");
    }
    let up = health(&app).await;
    assert_eq!(up["state"], "connected");
    let time = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    assert!(
        time(&up["since"]) >= time(&down["since"]),
        "{up} after {down}"
    );
    // The state never changes /healthz's status.
    let status = reqwest::get(app.url("/healthz")).await.unwrap().status();
    assert_eq!(status, 200);
    app.cleanup().await;
}
both_backends!(whatsapp_events, super::state_follows_the_last_session_event);
