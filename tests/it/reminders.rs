//! The reminder engine end to end: real database, fake WaSender over HTTP.

use crate::support;

use std::time::Duration;

use avisa::jobs::remind;
use avisa::jobs::send::{Delivery, Mode, deliver};
use avisa::store::SETTING_PAUSED;
use avisa::workers::sweep_once;
use serde_json::Value;
use support::app::{CRON_TOKEN, Options, TestApp, WEBHOOK_SECRET};
use support::db::Backend;
use support::reminders::*;

async fn remind_sends_exactly_once_with_catch_up(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, Options::on(d(11, 25))).await else {
        return;
    };
    mock_ok(&app).await;
    seed(&app).await;
    let outcome = remind::run(&app.services, d(11, 25), false, &no_progress)
        .await
        .unwrap();
    let sent = app.sent().await;
    let mut messages: Vec<(String, String)> = sent.iter().map(to_and_text).collect();
    messages.sort();
    assert_eq!(messages.len(), 2, "{messages:#?}");
    let (to, text) = &messages[0];
    assert_eq!(to, "+593991111111");
    assert!(
        text.contains("¡URGENTE!") && text.contains("Netflix") && text.contains("HBO Max"),
        "{text}"
    );
    assert!(
        text.contains("$7.50") && text.contains("miércoles 25 de noviembre de 2026"),
        "{text}"
    );
    let (to, text) = &messages[1];
    assert_eq!(to, "+593992222222");
    assert!(
        text.contains("Disney+")
            && text.contains("en 7 días")
            && text.contains("miércoles 2 de diciembre de 2026"),
        "{text}"
    );
    assert_eq!(outcome.plan.skipped, 1, "opted-out client is skipped");
    assert_eq!(outcome.plan.planned[&0], 1);
    assert_eq!(outcome.plan.planned[&3], 1);
    assert_eq!(outcome.plan.planned[&7], 1);
    assert_eq!(outcome.tiers[&0].sent, 1);
    assert!(remind::table(&outcome, avisa::domain::Locale::En).contains("total"));

    // Same day again: nothing new.
    let again = remind::run(&app.services, d(11, 25), false, &no_progress)
        .await
        .unwrap();
    assert_eq!(app.sent().await.len(), 2);
    assert_eq!(again.plan.already_sent, 3);

    // Next day: only newly due tiers (Luis moves from 7 to 3 on 29/11, not yet).
    remind::run(&app.services, d(11, 26), false, &no_progress)
        .await
        .unwrap();
    assert_eq!(app.sent().await.len(), 2, "nothing newly due on 26/11");
    // Missed days: on 28/11 Ana's Netflix is due today (tier 0) and Luis is at
    // 4 days (tier 7, already sent): one urgent message only.
    remind::run(&app.services, d(11, 28), false, &no_progress)
        .await
        .unwrap();
    let sent = app.sent().await;
    assert_eq!(sent.len(), 3);
    let (to, text) = to_and_text(&sent[2]);
    assert_eq!(to, "+593991111111");
    assert!(text.contains("¡HOY!") && !text.contains("HBO"), "{text}");
    // Catch-up after missed days uses the real days left.
    remind::run(&app.services, d(11, 30), false, &no_progress)
        .await
        .unwrap();
    let sent = app.sent().await;
    let (to, text) = to_and_text(&sent[3]);
    assert_eq!(to, "+593992222222");
    assert!(text.contains("en 2 días"), "{text}");
    app.cleanup().await;
}
both_backends!(
    remind_exactly_once,
    super::remind_sends_exactly_once_with_catch_up
);

async fn dry_run_writes_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, Options::on(d(11, 25))).await else {
        return;
    };
    mock_ok(&app).await;
    seed(&app).await;
    let outcome = remind::run(&app.services, d(11, 25), true, &no_progress)
        .await
        .unwrap();
    assert_eq!(outcome.preview.len(), 2);
    assert!(app.sent().await.is_empty());
    assert!(
        app.services
            .store
            .queued_messages(10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        app.services
            .store
            .reminder_counts(d(11, 25))
            .await
            .unwrap()
            .is_empty()
    );
    app.cleanup().await;
}
both_backends!(dry_run, super::dry_run_writes_nothing);

async fn concurrent_planners_and_redelivered_jobs(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, Options::on(d(11, 25))).await else {
        return;
    };
    mock_ok(&app).await;
    seed(&app).await;
    // A second Services on the same database: another process or instance.
    let other = support::app::TestApp::spawn_sibling(&app).await;
    let (a, b) = tokio::join!(
        avisa::jobs::plan::plan_day(&app.services, d(11, 25), true, false),
        avisa::jobs::plan::plan_day(&other, d(11, 25), true, false),
    );
    let (a, b) = (a.unwrap().0, b.unwrap().0);
    let mut ids = a.message_ids.clone();
    ids.extend(&b.message_ids);
    assert_eq!(ids.len(), 2, "each client planned once: {a:?} {b:?}");
    // The same send job delivered twice at once, and once more later.
    let id = ids[0];
    let (x, y) = tokio::join!(
        deliver(&app.services, id, Mode::Operator),
        deliver(&other, id, Mode::Operator)
    );
    let outcomes = [x.unwrap(), y.unwrap()];
    assert_eq!(
        outcomes.iter().filter(|o| **o == Delivery::Sent).count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        deliver(&app.services, id, Mode::Operator).await.unwrap(),
        Delivery::NotPending
    );
    assert_eq!(app.sent().await.len(), 1);
    app.cleanup().await;
}
both_backends!(concurrency, super::concurrent_planners_and_redelivered_jobs);

async fn quiet_hours_hold_automatic_sends_only(backend: Backend) {
    // The start-up catch-up must not plan before the test seeds its data.
    let options = Options::on(d(11, 25))
        .at(22, 0)
        .var("AVISA_REMINDER_TIME", "23:59")
        .http();
    let Some(app) = TestApp::spawn(backend, options).await else {
        return;
    };
    mock_ok(&app).await;
    one_due_client(&app).await;
    let http = reqwest::Client::new();
    let response = http
        .post(app.url("/cron/notifications"))
        .bearer_auth(CRON_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["date"], "2026-11-25");
    assert_eq!(body["planned"]["3"], 1);
    app.settle().await;
    assert!(
        app.sent().await.is_empty(),
        "automatic reminder waits for the window"
    );
    // The operator's explicit run sends at once, quiet hours or not.
    let id = app.services.store.queued_messages(10).await.unwrap()[0].id;
    assert_eq!(
        deliver(&app.services, id, Mode::Operator).await.unwrap(),
        Delivery::Sent
    );
    assert_eq!(app.sent().await.len(), 1);
    app.cleanup().await;
}
both_backends!(quiet_hours, super::quiet_hours_hold_automatic_sends_only);

async fn cron_endpoint_contract(backend: Backend) {
    // The start-up catch-up must not plan before the test seeds its data.
    let options = Options::on(d(11, 25))
        .at(10, 0)
        .var("AVISA_REMINDER_TIME", "23:59")
        .http();
    let Some(app) = TestApp::spawn(backend, options).await else {
        return;
    };
    mock_ok(&app).await;
    seed(&app).await;
    let http = reqwest::Client::new();
    let missing = http
        .post(app.url("/cron/notifications"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    let wrong = http
        .post(app.url("/cron/notifications/"))
        .bearer_auth("nope-nope-nope-nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let first: Value = http
        .post(app.url("/cron/notifications/"))
        .bearer_auth(CRON_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        first["planned"],
        serde_json::json!({"0": 1, "1": 0, "3": 1, "7": 1})
    );
    assert_eq!(first["skipped"], 1);
    let second: Value = http
        .post(app.url("/cron/notifications"))
        .bearer_auth(CRON_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["planned"]["0"], 0);
    assert_eq!(second["already_sent"], 3);
    // The worker sends the automatic reminders (inside the window), once.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while app.sent().await.len() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.settle().await;
    assert_eq!(app.sent().await.len(), 2);
    let health = http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let metrics = http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("avisa_messages_total"), "{metrics}");
    app.cleanup().await;
}
both_backends!(cron_endpoint, super::cron_endpoint_contract);

async fn pause_holds_automatic_reminders_not_replies(backend: Backend) {
    // Run time 23:00: the start-up catch-up must not plan before the test
    // seeds (the cron endpoint below is the scheduler's path).
    let options = Options::on(d(11, 25))
        .at(10, 0)
        .var("AVISA_REMINDER_TIME", "23:00")
        .http();
    let Some(app) = TestApp::spawn(backend, options).await else {
        return;
    };
    const PHONES: [&str; 2] = ["+593991234567", "+593992222222"];
    mock_ok(&app).await;
    let store = app.services.store.clone();
    // What `avisa pause` does.
    store
        .set_setting(SETTING_PAUSED, Some("cli"), chrono::Utc::now())
        .await
        .unwrap();
    store
        .upsert_subscriptions(
            &[
                sub("Ana Pérez", "0991234567", "Netflix", d(11, 28)), // 3 days
                sub("Luis Mora", "0992222222", "Disney+", d(12, 2)),  // 7 days
            ],
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let response = http
        .post(app.url("/cron/notifications"))
        .bearer_auth(CRON_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["planned"],
        serde_json::json!({"0": 0, "1": 0, "3": 1, "7": 1})
    );
    let queued = store.queued_messages(10).await.unwrap();
    assert_eq!(queued.len(), 2, "{queued:?}");
    assert!(queued.iter().all(|m| m.automatic));
    let reminder_ids: Vec<i64> = queued.iter().map(|m| m.id).collect();

    // The worker runs both send jobs and holds them: nothing reaches WaSender.
    let queue = app.services.queue.clone();
    let ran = wait_for(20, || {
        let queue = queue.clone();
        let ids = reminder_ids.clone();
        async move { ids.iter().all(|id| !queue.is_in_flight(*id)) }
    })
    .await;
    assert!(ran, "the worker never finished the send jobs");
    app.settle().await;
    assert!(app.sent().await.is_empty(), "{:?}", app.sent().await);
    for id in &reminder_ids {
        let row = store.message(*id).await.unwrap().unwrap();
        assert_eq!(row.status, "queued", "message {id} held while paused");
        assert_eq!(row.attempts, 0);
    }
    // The sweeper leaves held messages alone while paused.
    assert_eq!(sweep_once(&app.services).await.unwrap(), 0);

    // A customer writes: the reply goes out while reminders are paused.
    let inbound = std::fs::read_to_string(format!(
        "{}/tests/fixtures/wasender/messages_received.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let response = http
        .post(app.url("/webhooks/wasender"))
        .header("content-type", "application/json")
        .header("X-Webhook-Signature", WEBHOOK_SECRET)
        .body(inbound)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let this = &app;
    assert!(
        wait_for(20, || async move { !this.sent().await.is_empty() }).await,
        "no reply sent: {}",
        rows_of(&app, &PHONES).await
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = app.sent().await;
    assert_eq!(sent.len(), 1, "only the reply: {sent:#?}");
    assert_eq!(sent[0]["to"], "+593991234567");
    for id in &reminder_ids {
        assert_eq!(store.message(*id).await.unwrap().unwrap().status, "queued");
    }

    // What `avisa resume` does; the sweeper then queues the held reminders.
    store
        .set_setting(SETTING_PAUSED, None, chrono::Utc::now())
        .await
        .unwrap();
    // (The background sweeper may get there first; either way they go once.)
    sweep_once(&app.services).await.unwrap();
    assert!(
        wait_for(20, || async move { this.sent().await.len() >= 3 }).await,
        "held reminders not sent after resume: {}",
        rows_of(&app, &PHONES).await
    );
    // Another sweep and a moment later: nothing is sent twice.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sweep_once(&app.services).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let sent = app.sent().await;
    assert_eq!(sent.len(), 3, "{sent:#?}");
    let mut reminders: Vec<(String, String)> = sent[1..].iter().map(to_and_text).collect();
    reminders.sort();
    assert_eq!(reminders[0].0, "+593991234567");
    assert!(reminders[0].1.contains("Netflix"), "{}", reminders[0].1);
    assert_eq!(reminders[1].0, "+593992222222");
    assert!(reminders[1].1.contains("Disney+"), "{}", reminders[1].1);
    for id in &reminder_ids {
        let row = store.message(*id).await.unwrap().unwrap();
        assert_eq!((row.status.as_str(), row.attempts), ("sent", 1));
    }
    app.cleanup().await;
}
both_backends!(
    pause_holds_reminders,
    super::pause_holds_automatic_reminders_not_replies
);

/// `avisa remind` killed after planning (or stopped by a rejected key)
/// left the day's reminders queued: the next `remind` sends them, without
/// a `serve` running.
async fn remind_resumes_the_days_queued_reminders(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, Options::on(d(11, 25))).await else {
        return;
    };
    mock_ok(&app).await;
    seed(&app).await;
    // The first run planned (rows queued) and died before sending.
    let (planned, _) = avisa::jobs::plan::plan_day(&app.services, d(11, 25), false, false)
        .await
        .unwrap();
    assert!(!planned.message_ids.is_empty());
    assert_eq!(app.sent().await.len(), 0);
    let outcome = remind::run(&app.services, d(11, 25), false, &no_progress)
        .await
        .unwrap();
    assert!(outcome.plan.message_ids.is_empty(), "nothing new to plan");
    assert_eq!(app.sent().await.len(), planned.message_ids.len());
    let sent: u64 = outcome.tiers.values().map(|t| t.sent).sum();
    let reminders: u64 = planned.planned.values().sum();
    assert_eq!(sent, reminders, "{:?}", outcome.tiers);
    for id in &planned.message_ids {
        let row = app.services.store.message(*id).await.unwrap().unwrap();
        assert_eq!(row.status, "sent");
    }
    // A third run has nothing left to send.
    remind::run(&app.services, d(11, 25), false, &no_progress)
        .await
        .unwrap();
    assert_eq!(app.sent().await.len(), planned.message_ids.len());
    app.cleanup().await;
}
both_backends!(
    remind_resumes,
    super::remind_resumes_the_days_queued_reminders
);
