//! The Cloud API's 24-hour window made invisible to staff, on SQLite and
//! PostgreSQL: a reminder to a customer silent for 25 hours goes as the
//! approved template with its parameters in order, one to a customer who
//! wrote an hour ago as text; error 131047 on a text (in the answer, or
//! later as a failed status) falls back to the template once; Meta's verification handshake; Operaciones shows the
//! provider, its templates and what the last send outside the window did.

use crate::support;

use avisa::domain::{FixedClock, Money, Phone, Region, clock::local_to_utc};
use avisa::jobs::remind;
use avisa::store::NewSubscription;
use chrono::{Duration, NaiveDate, NaiveTime};
use serde_json::Value;
use support::admin::{AdminClient, create_user};
use support::app::{Options, TestApp};
use support::db::Backend;
use support::providers::{CLOUD_VERIFY_TOKEN, Fake, Signed};
use wiremock::matchers::{body_partial_json, body_string_contains, method, path_regex};
use wiremock::{Mock, ResponseTemplate};

const ANA: &str = "593991111111";
const BETO: &str = "593992222222";
const CARLA: &str = "593993333333";
const EMAIL: &str = "dueña@example.com";
const PASSWORD: &str = "clave-larga-de-prueba-1";

fn d(m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, day).unwrap()
}

fn no_progress(_: usize, _: usize) {}

async fn seed(app: &TestApp) {
    let rows: Vec<NewSubscription> = [
        ("Ana María O'Brien", ANA),
        ("Beto <b>Núñez</b>", BETO),
        ("=Carla+1", CARLA),
    ]
    .into_iter()
    .map(|(name, digits)| NewSubscription {
        name: name.into(),
        phone: Phone::parse(&format!("+{digits}"), Region::default()).unwrap(),
        email: None,
        service: "Netflix".into(),
        end_date: d(11, 29),
        price: Money::from_cents(750),
    })
    .collect();
    app.services
        .store
        .upsert_subscriptions(&rows, chrono::Utc::now())
        .await
        .unwrap();
}

async fn writes(app: &TestApp, digits: &str, wa_id: &str) {
    let body = Fake::Cloud.inbound_text(wa_id, digits, "hola 👋");
    let response = Fake::Cloud.post(app, &body, Signed::Yes).await;
    assert_eq!(response.status(), 200);
}

fn to(sends: &[Value], digits: &str) -> Vec<Value> {
    sends
        .iter()
        .filter(|s| Fake::Cloud.recipient(s) == digits)
        .cloned()
        .collect()
}

async fn the_window_decides_text_or_template(backend: Backend) {
    let tz: chrono_tz::Tz = "America/Guayaquil".parse().unwrap();
    let start = local_to_utc(tz, d(11, 25), NaiveTime::from_hms_opt(9, 0, 0).unwrap());
    let clock = FixedClock::new(start);
    let options = Options::on(d(11, 25))
        .with_clock(clock.clone())
        .var("AVISA_REMINDER_TIME", "23:59")
        .var(
            "WHATSAPP_TEMPLATE_REMINDER",
            "avisa_recordatorio:es:client_name,service,long_date,price,payment_link",
        )
        .var("WHATSAPP_TEMPLATE_NOTICE", "avisa_aviso:es:text");
    let Some(app) = Fake::Cloud.spawn(backend, options).await else {
        return;
    };
    let server = &app.wasender;
    // Text to Carla is refused as outside the window (Meta's view of it).
    Mock::given(method("POST"))
        .and(path_regex("/messages$"))
        .and(body_string_contains(CARLA))
        .and(body_partial_json(serde_json::json!({"type": "text"})))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({"error": {
            "message": "(#131047) Re-engagement message", "type": "OAuthException",
            "code": 131047, "error_data": {"details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."}}})))
        .with_priority(1)
        .mount(server)
        .await;
    Fake::Cloud.accept_sends(server).await;
    seed(&app).await;

    // Meta's handshake.
    let verify = |token: &str, mode: &str| {
        app.url(&format!(
            "/webhooks/cloud?hub.mode={mode}&hub.verify_token={token}&hub.challenge=1158201444"
        ))
    };
    let ok = reqwest::get(verify(CLOUD_VERIFY_TOKEN, "subscribe"))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    for (token, mode) in [("wrong", "subscribe"), (CLOUD_VERIFY_TOKEN, "unsubscribe")] {
        assert_eq!(
            reqwest::get(verify(token, mode)).await.unwrap().status(),
            403
        );
    }

    // Ana writes on the 25th at 09:00; Beto and Carla a day later.
    writes(&app, ANA, "wamid.IN-ANA").await;
    app.settle().await;
    clock.advance(Duration::hours(24));
    writes(&app, BETO, "wamid.IN-BETO").await;
    writes(&app, CARLA, "wamid.IN-CARLA").await;
    app.settle().await;
    clock.advance(Duration::hours(1));
    let before: usize = Fake::Cloud.sends(server).await.len();

    // The 26th at 10:00: Ana silent 25 h, Beto and Carla wrote 1 h ago.
    let outcome = remind::run(&app.services, d(11, 26), false, &no_progress)
        .await
        .unwrap();
    assert_eq!(outcome.plan.planned.values().sum::<u64>(), 3, "{outcome:?}");
    app.settle().await;
    let sends = Fake::Cloud.sends(server).await;
    let reminders = &sends[before..];

    let ana = to(reminders, ANA);
    assert_eq!(ana.len(), 1, "{ana:#?}");
    assert_eq!(ana[0]["type"], "template", "{ana:#?}");
    let template = &ana[0]["template"];
    assert_eq!(template["name"], "avisa_recordatorio");
    assert_eq!(template["language"]["code"], "es");
    let parameters: Vec<&str> = template["components"][0]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["text"].as_str().unwrap())
        .collect();
    assert_eq!(parameters.len(), 5, "{parameters:?}");
    assert_eq!(parameters[0], "Ana");
    assert_eq!(parameters[1], "Netflix");
    assert!(parameters[2].contains("29"), "{parameters:?}");
    assert!(parameters[3].contains("7"), "{parameters:?}");
    assert_eq!(
        parameters[4], "-",
        "no payment link: Meta refuses empty ones"
    );

    let beto = to(reminders, BETO);
    assert_eq!(beto.len(), 1, "{beto:#?}");
    assert_eq!(beto[0]["type"], "text");
    assert!(
        beto[0]["text"]["body"]
            .as_str()
            .unwrap()
            .contains("Netflix"),
        "{beto:#?}"
    );

    // Carla: the text refused with 131047, then the template, once.
    let carla = to(reminders, CARLA);
    let kinds: Vec<&str> = carla.iter().map(|s| s["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["text", "template"], "{carla:#?}");

    let sent_template = |digits: &'static str| {
        let store = app.services.store.clone();
        async move {
            store
                .messages_for_phone(&format!("+{digits}"), 50)
                .await
                .unwrap()
                .into_iter()
                .find(|m| m.kind.as_str() == "reminder")
                .map(|m| (m.status.as_str().to_string(), m.sent_template))
                .unwrap()
        }
    };
    assert_eq!(
        sent_template(ANA).await,
        ("sent".into(), Some("avisa_recordatorio".into()))
    );
    assert_eq!(sent_template(BETO).await, ("sent".into(), None));
    assert_eq!(
        sent_template(CARLA).await,
        ("sent".into(), Some("avisa_recordatorio".into()))
    );

    // Meta took Beto's text, then reported it refused for the closed window
    // (its clock, not ours): the template goes, once, however often the
    // status is redelivered.
    let beto_text = app
        .services
        .store
        .messages_for_phone(&format!("+{BETO}"), 50)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.kind.as_str() == "reminder")
        .unwrap();
    let wamid = beto_text
        .provider_message_id
        .clone()
        .expect("Meta's id kept");
    let refused = Fake::Cloud
        .status(&wamid, BETO, "failed")
        .replace("131026", "131047")
        .replace("Message undeliverable", "Re-engagement message");
    assert!(refused.contains("131047"), "{refused}");
    let before_refusal = Fake::Cloud.sends(server).await.len();
    for _ in 0..3 {
        let response = Fake::Cloud.post(&app, &refused, Signed::Yes).await;
        assert_eq!(response.status(), 200);
        app.settle().await;
    }
    let sends = Fake::Cloud.sends(server).await;
    let again = to(&sends[before_refusal..], BETO);
    assert_eq!(again.len(), 1, "{again:#?}");
    assert_eq!(again[0]["type"], "template", "{again:#?}");
    assert_eq!(again[0]["template"]["name"], "avisa_recordatorio");
    assert_eq!(
        sent_template(BETO).await,
        ("sent".into(), Some("avisa_recordatorio".into()))
    );

    // A status about an earlier attempt never touches a message queued to
    // go again (it would be marked failed or read and never sent): Carla's
    // template failed, staff retry it, and a late status of that attempt
    // arrives before the new one goes.
    let store = &app.services.store;
    let carla_row = store
        .messages_for_phone(&format!("+{CARLA}"), 50)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.kind.as_str() == "reminder")
        .unwrap();
    let earlier = carla_row
        .provider_message_id
        .clone()
        .expect("Meta's id kept");
    let now = app.services.clock.now();
    assert!(
        store
            .set_delivery_status(
                &earlier,
                "failed",
                Some("131026: Message undeliverable"),
                now
            )
            .await
            .unwrap()
    );
    assert!(store.requeue_failed(carla_row.id, now).await.unwrap());
    for (status, error) in [
        ("read", None),
        ("failed", Some("131047: Re-engagement message")),
    ] {
        store
            .set_delivery_status(&earlier, status, error, now)
            .await
            .unwrap();
        let row = store.message(carla_row.id).await.unwrap().unwrap();
        assert_eq!(row.status.as_str(), "queued", "after a late {status}");
    }

    // Operaciones: the provider, its templates, the last send outside the window.
    create_user(app.services.store.as_ref(), EMAIL, PASSWORD).await;
    let admin = AdminClient::login(&app, EMAIL, PASSWORD).await;
    let (status, html) = admin.get_text("/admin/operations").await;
    assert_eq!(status, 200);
    for expected in [
        "WhatsApp Cloud API (oficial)",
        "avisa_recordatorio (es)",
        "client_name, service, long_date, price, payment_link",
        "avisa_aviso (es)",
        "sin plantilla",
        "con la plantilla avisa_recordatorio",
    ] {
        assert!(
            html.contains(expected),
            "missing {expected:?} in Operaciones"
        );
    }
    app.cleanup().await;
}
both_backends!(window, super::the_window_decides_text_or_template);
