//! The reminder engine's sending against a misbehaving WaSender: retries,
//! rate limits, timeouts, rejected messages and a wrong API key.

use crate::support;

use std::time::Duration;

use avisa::jobs::remind;
use support::app::{Options, TestApp};
use support::db::Backend;
use support::reminders::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

async fn transient_errors_are_retried(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, Options::on(d(11, 25))).await else {
        return;
    };
    Mock::given(method("POST"))
        .and(path("/api/send-message"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(2)
        .mount(&app.wasender)
        .await;
    mock_ok(&app).await;
    one_due_client(&app).await;
    let outcome = remind::run(&app.services, d(11, 25), false, &no_progress)
        .await
        .unwrap();
    assert_eq!(app.sent().await.len(), 3);
    assert_eq!(outcome.tiers[&3].sent, 1);
    let id = outcome.plan.message_ids[0];
    let row = app.services.store.message(id).await.unwrap().unwrap();
    assert_eq!(
        (
            row.status.as_str(),
            row.attempts,
            row.provider_message_id.as_deref()
        ),
        ("sent", 3, Some("100000"))
    );
    app.cleanup().await;
}
both_backends!(retries_5xx, super::transient_errors_are_retried);

async fn rate_limit_waits_retry_after(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, Options::on(d(11, 25))).await else {
        return;
    };
    Mock::given(method("POST"))
        .and(path("/api/send-message"))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_json(serde_json::json!({"message": "slow down", "retry_after": 1})),
        )
        .up_to_n_times(1)
        .mount(&app.wasender)
        .await;
    mock_ok(&app).await;
    one_due_client(&app).await;
    let started = std::time::Instant::now();
    let outcome = remind::run(&app.services, d(11, 25), false, &no_progress)
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(app.sent().await.len(), 2);
    assert_eq!(outcome.tiers[&3].sent, 1);
    app.cleanup().await;
}
both_backends!(rate_limit, super::rate_limit_waits_retry_after);

async fn validation_error_fails_at_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, Options::on(d(11, 25))).await else {
        return;
    };
    Mock::given(method("POST"))
        .and(path("/api/send-message"))
        .respond_with(ResponseTemplate::new(422).set_body_json(serde_json::json!({"success": false, "message": "Validation failed", "errors": {"to": ["The to field is invalid."]}})))
        .mount(&app.wasender)
        .await;
    one_due_client(&app).await;
    let outcome = remind::run(&app.services, d(11, 25), false, &no_progress)
        .await
        .unwrap();
    assert_eq!(app.sent().await.len(), 1);
    assert_eq!(outcome.tiers[&3].failed, 1);
    let row = app
        .services
        .store
        .message(outcome.plan.message_ids[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "failed");
    assert!(row.permanent_failure);
    assert!(row.error.unwrap().contains("Validation failed"));
    // A permanent failure is done: the next run does not send it again.
    remind::run(&app.services, d(11, 26), false, &no_progress)
        .await
        .unwrap();
    assert_eq!(app.sent().await.len(), 1);
    app.cleanup().await;
}
both_backends!(fails_422, super::validation_error_fails_at_once);

/// A send that timed out after its request was written may have reached
/// WhatsApp: it is `unknown`, never requested a second time, and its tier
/// counts as done (the next day's plan does not send it again).
async fn hanging_server_times_out_as_unknown_and_is_not_resent(backend: Backend) {
    let options = Options::on(d(11, 25))
        .var("WASENDER_TIMEOUT_MS", "200")
        .var("AVISA_SEND_MAX_ATTEMPTS", "3");
    let Some(app) = TestApp::spawn(backend, options).await else {
        return;
    };
    Mock::given(method("POST"))
        .and(path("/api/send-message"))
        .respond_with(ok().set_delay(Duration::from_secs(5)))
        .mount(&app.wasender)
        .await;
    one_due_client(&app).await;
    let outcome = remind::run(&app.services, d(11, 25), false, &no_progress)
        .await
        .unwrap();
    assert_eq!(app.sent().await.len(), 1, "one request, never a second");
    assert_eq!(outcome.tiers[&3].unknown, 1);
    assert_eq!(outcome.tiers[&3].failed, 0);
    let id = outcome.plan.message_ids[0];
    let row = app.services.store.message(id).await.unwrap().unwrap();
    assert_eq!(row.status, "unknown");
    assert_eq!(row.attempts, 1);
    assert!(row.error.unwrap().contains("no answer"));
    // The sweeper leaves it alone, and the next plan counts the tier done.
    avisa::workers::sweep_once(&app.services).await.unwrap();
    let again = remind::run(&app.services, d(11, 25), false, &no_progress)
        .await
        .unwrap();
    assert!(again.plan.message_ids.is_empty(), "{:?}", again.plan);
    app.settle().await;
    assert_eq!(app.sent().await.len(), 1);
    // Staff may send it again by hand after checking with the customer.
    assert!(
        avisa::jobs::retry::retry_failed(&app.services, id)
            .await
            .unwrap()
    );
    app.cleanup().await;
}
both_backends!(
    hanging_server,
    super::hanging_server_times_out_as_unknown_and_is_not_resent
);

async fn wrong_api_key_stops_with_a_clear_error(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, Options::on(d(11, 25))).await else {
        return;
    };
    Mock::given(method("POST"))
        .and(path("/api/send-message"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(
                serde_json::json!({"success": false, "message": "API key is required"}),
            ),
        )
        .mount(&app.wasender)
        .await;
    seed(&app).await;
    let outcome = remind::run(&app.services, d(11, 25), false, &no_progress)
        .await
        .unwrap();
    assert_eq!(app.sent().await.len(), 1, "stops after the first rejection");
    let error = outcome.auth_error.clone().unwrap();
    assert!(error.contains("API key"), "{error}");
    assert!(remind::table(&outcome, avisa::domain::Locale::En).contains("STOPPED"));
    app.cleanup().await;
}
both_backends!(wrong_api_key, super::wrong_api_key_stops_with_a_clear_error);

/// WaSender's rate limit is not the message's fault: four 429s then 500s
/// leave the attempts to the 500s (`AVISA_SEND_MAX_ATTEMPTS`).
async fn rate_limits_do_not_use_up_attempts(backend: Backend) {
    let options = Options::on(d(11, 25)).var("AVISA_SEND_MAX_ATTEMPTS", "2");
    let Some(app) = TestApp::spawn(backend, options).await else {
        return;
    };
    Mock::given(method("POST"))
        .and(path("/api/send-message"))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_json(serde_json::json!({"message": "slow down", "retry_after": 1})),
        )
        .up_to_n_times(4)
        .mount(&app.wasender)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/send-message"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&app.wasender)
        .await;
    mock_ok(&app).await;
    one_due_client(&app).await;
    let outcome = remind::run(&app.services, d(11, 25), false, &no_progress)
        .await
        .unwrap();
    assert_eq!(app.sent().await.len(), 6, "4 × 429, one 500, then sent");
    assert_eq!(outcome.tiers[&3].sent, 1);
    let id = outcome.plan.message_ids[0];
    let row = app.services.store.message(id).await.unwrap().unwrap();
    assert_eq!(
        (row.status.as_str(), row.attempts, row.rate_limits),
        ("sent", 2, 4)
    );
    app.cleanup().await;
}
both_backends!(rate_limit_budget, super::rate_limits_do_not_use_up_attempts);
