//! A failure injected at each step of handling an inbound message (a
//! database trigger that aborts the statement) leaves nothing behind: the
//! message stays `received`, and once it is handled again the customer
//! gets one reply and staff one notice, never two, never none.

use crate::support;

use std::time::Duration;

use chrono::NaiveDate;
use support::app::{Options, TestApp, WEBHOOK_SECRET};
use support::db::Backend;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const CUSTOMER: &str = "593997777777";
const STAFF: &str = "593990000001";

/// Where a fault can be injected: a table and the rows that trip it.
const STEPS: [&str; 4] = ["conversation", "mark", "outbox", "job"];

async fn install_faults(app: &TestApp, backend: Backend) {
    let pool = app.services.store.pool();
    let statements: Vec<String> = match backend {
        Backend::Sqlite => {
            let mut s = vec!["CREATE TABLE fault (step TEXT NOT NULL)".to_string()];
            let trip = |step: &str| {
                format!("EXISTS (SELECT 1 FROM fault WHERE step = '{step}')")
            };
            for op in ["INSERT", "UPDATE"] {
                s.push(format!(
                    "CREATE TRIGGER fault_conversation_{op} BEFORE {op} ON conversations WHEN {} \
                     BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
                    trip("conversation")
                ));
            }
            s.push(format!(
                "CREATE TRIGGER fault_mark BEFORE INSERT ON daily_marks WHEN {} \
                 BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
                trip("mark")
            ));
            s.push(format!(
                "CREATE TRIGGER fault_outbox BEFORE INSERT ON messages WHEN NEW.direction = 'out' AND {} \
                 BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
                trip("outbox")
            ));
            s.push(format!(
                "CREATE TRIGGER fault_job BEFORE INSERT ON Jobs WHEN NEW.job_type = 'avisa::send_message' AND {} \
                 BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
                trip("job")
            ));
            s
        }
        Backend::Postgres => vec![
            "CREATE TABLE fault (step TEXT NOT NULL)".to_string(),
            "CREATE FUNCTION fault_trip() RETURNS trigger AS $$ BEGIN \
               IF EXISTS (SELECT 1 FROM fault WHERE step = TG_ARGV[0]) THEN RAISE EXCEPTION 'injected fault'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
                .to_string(),
            "CREATE TRIGGER fault_conversation BEFORE INSERT OR UPDATE ON conversations \
             FOR EACH ROW EXECUTE FUNCTION fault_trip('conversation')"
                .to_string(),
            "CREATE TRIGGER fault_mark BEFORE INSERT ON daily_marks \
             FOR EACH ROW EXECUTE FUNCTION fault_trip('mark')"
                .to_string(),
            "CREATE TRIGGER fault_outbox BEFORE INSERT ON messages \
             FOR EACH ROW WHEN (NEW.direction = 'out') EXECUTE FUNCTION fault_trip('outbox')"
                .to_string(),
            "CREATE TRIGGER fault_job BEFORE INSERT ON apalis.jobs \
             FOR EACH ROW WHEN (NEW.job_type = 'avisa::send_message') EXECUTE FUNCTION fault_trip('job')"
                .to_string(),
        ],
    };
    for statement in statements {
        execute(&pool, statement).await;
    }
}

async fn execute(pool: &avisa::store::Pool, sql: String) {
    match pool {
        avisa::store::Pool::Sqlite(p) => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(p)
                .await
                .unwrap();
        }
        avisa::store::Pool::Postgres(p) => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(p)
                .await
                .unwrap();
        }
    }
}

async fn say(app: &TestApp, id: &str, text: &str) {
    say_from(app, CUSTOMER, id, text).await;
}

/// A signed `messages.received` from `from` (digits), answered 200.
async fn say_from(app: &TestApp, from: &str, id: &str, text: &str) {
    let body = serde_json::json!({
        "event": "messages.received",
        "timestamp": 1_764_082_800,
        "data": {"messages": {
            "key": {"id": id, "fromMe": false,
                    "remoteJid": format!("{from}@s.whatsapp.net"), "cleanedSenderPn": from},
            "messageBody": text, "message": {"conversation": text},
        }}
    });
    let response = reqwest::Client::new()
        .post(app.url("/webhooks/wasender"))
        .header("X-Webhook-Signature", WEBHOOK_SECRET)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn sent_to(app: &TestApp, digits: &str) -> usize {
    app.sent()
        .await
        .iter()
        .filter(|b| b["to"].as_str().is_some_and(|t| t.ends_with(digits)))
        .count()
}

async fn each_reply_and_notice_once_whatever_step_fails(backend: Backend) {
    let options = Options::on(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap())
        .var("AVISA_REMINDER_TIME", "23:59")
        .http();
    let Some(app) = TestApp::spawn(backend, options).await else {
        return;
    };
    let ok = serde_json::json!({"success": true, "data": {"msgId": 1, "jid": "x", "status": "in_progress"}});
    Mock::given(method("POST"))
        .and(path("/api/send-message"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok))
        .mount(&app.wasender)
        .await;
    install_faults(&app, backend).await;
    let pool = app.services.store.pool();
    for (n, step) in STEPS.iter().enumerate() {
        // An unknown number's first message of the day: one reply to the
        // customer and one notice to staff, in one transaction.
        execute(&pool, "DELETE FROM daily_marks".to_string()).await;
        execute(&pool, format!("INSERT INTO fault (step) VALUES ('{step}')")).await;
        let (customer_before, staff_before) =
            (sent_to(&app, CUSTOMER).await, sent_to(&app, STAFF).await);
        say(&app, &format!("3EBFAULT{n:04}"), "hola").await;
        // The handling job fails (and gives up): nothing is left behind.
        app.settle().await;
        let inbound = app
            .services
            .store
            .messages_for_phone(&format!("+{CUSTOMER}"), 100)
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.wa_message_id.as_deref() == Some(&format!("3EBFAULT{n:04}")))
            .unwrap();
        assert_eq!(inbound.status, "received", "{step}: nothing committed");
        assert_eq!(sent_to(&app, CUSTOMER).await, customer_before, "{step}");
        assert_eq!(sent_to(&app, STAFF).await, staff_before, "{step}");
        // The fault clears; the message is handled again (as the sweeper
        // does with a message whose job was lost) — twice, for good measure.
        execute(&pool, "DELETE FROM fault".to_string()).await;
        app.services
            .queue
            .push_inbound(&[inbound.id])
            .await
            .unwrap();
        app.services
            .queue
            .push_inbound(&[inbound.id])
            .await
            .unwrap();
        let mut done = false;
        for _ in 0..100 {
            if sent_to(&app, CUSTOMER).await > customer_before
                && sent_to(&app, STAFF).await > staff_before
            {
                done = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(done, "{step}: handled once the fault cleared");
        app.settle().await;
        assert_eq!(
            sent_to(&app, CUSTOMER).await,
            customer_before + 1,
            "{step}: one reply"
        );
        assert_eq!(
            sent_to(&app, STAFF).await,
            staff_before + 1,
            "{step}: one notice"
        );
    }
    app.cleanup().await;
}
both_backends!(
    fault_at_each_step,
    super::each_reply_and_notice_once_whatever_step_fails
);

/// A staff command is taken before it acts (at most once): when the
/// renewal fails midway, staff are told to check, and handling the message
/// again renews nothing twice.
async fn a_failed_staff_command_is_reported_and_not_run_twice(backend: Backend) {
    let options = Options::on(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap())
        .var("AVISA_REMINDER_TIME", "23:59")
        .http();
    let Some(app) = TestApp::spawn(backend, options).await else {
        return;
    };
    let ok = serde_json::json!({"success": true, "data": {"msgId": 1, "jid": "x", "status": "in_progress"}});
    Mock::given(method("POST"))
        .and(path("/api/send-message"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok))
        .mount(&app.wasender)
        .await;
    support::fixtures::one_netflix_subscription(app.services.store.as_ref(), "0997777777").await;
    let pool = app.services.store.pool();
    let fail_renewals = match backend {
        Backend::Sqlite => vec![
            "CREATE TRIGGER fault_renewal BEFORE INSERT ON renewals \
             BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
        ],
        Backend::Postgres => vec![
            "CREATE FUNCTION fault_renewal() RETURNS trigger AS $$ BEGIN \
             RAISE EXCEPTION 'injected fault'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER fault_renewal BEFORE INSERT ON renewals \
             FOR EACH ROW EXECUTE FUNCTION fault_renewal()",
        ],
    };
    for statement in fail_renewals {
        execute(&pool, statement.to_string()).await;
    }
    say_from(&app, STAFF, "3EBSTAFFFAULT", "/renovar 0997777777").await;
    let mut answers = Vec::new();
    for _ in 0..100 {
        answers = app
            .sent()
            .await
            .into_iter()
            .filter(|b| b["to"].as_str().is_some_and(|t| t.ends_with(STAFF)))
            .map(|b| b["text"].as_str().unwrap_or_default().to_string())
            .collect();
        if !answers.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert!(answers[0].contains("No pude completar"), "{answers:?}");
    let id = app
        .services
        .store
        .messages_for_phone(&format!("+{STAFF}"), 10)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.direction == "in")
        .unwrap()
        .id;
    app.services.queue.push_inbound(&[id]).await.unwrap();
    app.settle().await;
    assert_eq!(sent_to(&app, STAFF).await, 1, "not run again");
    assert_eq!(sent_to(&app, "593997777777").await, 0, "no confirmation");
    app.cleanup().await;
}
both_backends!(
    staff_fault,
    super::a_failed_staff_command_is_reported_and_not_run_twice
);
