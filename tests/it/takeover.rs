//! A person answering a customer, on SQLite and PostgreSQL: from the
//! business phone (`fromMe`), from the panel's reply box; the bot silent
//! with that customer for exactly `AVISA_HANDOFF_HOURS`; echoes of our own
//! sends not mistaken for a person; the Bandeja filling and resolving, in
//! the panel and by `/bandeja`.

use crate::support;

use std::time::{Duration, Instant};

use avisa::domain::{FixedClock, Money, Phone, Region, clock::local_to_utc};
use avisa::store::{MessageKind, MessageRow, NewSubscription};
use chrono::{NaiveDate, NaiveTime};
use serde_json::json;
use support::admin::{AdminClient, create_user};
use support::app::{Options, TestApp, WEBHOOK_SECRET};
use support::db::Backend;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const ANA: &str = "+593991234567";
const STAFF: &str = "+593990000001";
const EMAIL: &str = "dueña@example.com";
const PASSWORD: &str = "clave-larga-de-prueba-1";

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

struct Chat {
    app: TestApp,
    clock: FixedClock,
    next_id: u32,
}

impl Chat {
    async fn webhook(&self, body: serde_json::Value) {
        let response = reqwest::Client::new()
            .post(self.app.url("/webhooks/wasender"))
            .header("X-Webhook-Signature", WEBHOOK_SECRET)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "webhook {body}");
    }

    fn next_wa_id(&mut self) -> String {
        self.next_id += 1;
        format!("3EB0TK{:06}", self.next_id)
    }

    /// The customer writes.
    async fn says(&mut self, phone: &str, text: &str) {
        let id = self.next_wa_id();
        let digits = phone.trim_start_matches('+');
        self.webhook(json!({
            "event": "messages.received",
            "data": {"messages": {
                "key": {"id": id, "fromMe": false,
                        "remoteJid": format!("{digits}@s.whatsapp.net"),
                        "cleanedSenderPn": digits},
                "messageBody": text,
                "message": {"conversation": text}}}
        }))
        .await;
    }

    /// The business phone writes to `phone` (a person, or an echo of ours).
    async fn phone_writes(&mut self, phone: &str, text: &str, id: &str) {
        let digits = phone.trim_start_matches('+');
        self.webhook(json!({
            "event": "messages.upsert",
            "data": {"messages": [{
                "key": {"id": id, "fromMe": true,
                        "remoteJid": format!("{digits}@s.whatsapp.net"),
                        "cleanedSenderPn": "593900000009"},
                "messageBody": text,
                "message": {"extendedTextMessage": {"text": text}}}]}
        }))
        .await;
    }

    /// (to, text) of every send the fake WaSender received.
    async fn sent(&self) -> Vec<(String, String)> {
        self.app
            .sent()
            .await
            .iter()
            .map(|b| {
                (
                    b["to"].as_str().unwrap_or_default().to_string(),
                    b["text"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// Waits for `total` sends, then for the queue to empty, and checks
    /// nothing more went out.
    async fn until_sent(&self, total: usize) -> Vec<(String, String)> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.sent().await.len() < total && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.app.settle().await;
        let sent = self.sent().await;
        assert_eq!(sent.len(), total, "{sent:#?}");
        sent
    }

    async fn log(&self, phone: &str) -> Vec<MessageRow> {
        let mut rows = self
            .app
            .services
            .store
            .messages_for_phone(phone, 100)
            .await
            .unwrap();
        rows.reverse();
        rows
    }

    async fn inbox_reasons(&self) -> Vec<(String, String)> {
        self.app
            .services
            .store
            .inbox(100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.phone.to_string(), e.reason.to_string()))
            .collect()
    }
}

async fn start(backend: Backend) -> Option<Chat> {
    start_with(backend, None).await
}

/// The app at 10:00 on 25 November with Ana (Netflix, ending the 29th);
/// `public_url` sets `AVISA_PUBLIC_URL`.
async fn start_with(backend: Backend, public_url: Option<&str>) -> Option<Chat> {
    let tz: chrono_tz::Tz = "America/Guayaquil".parse().unwrap();
    let clock = FixedClock::new(local_to_utc(
        tz,
        d(2026, 11, 25),
        NaiveTime::from_hms_opt(10, 0, 0).unwrap(),
    ));
    // No start-up reminders: every send in these tests is an answer.
    let options = Options::on(d(2026, 11, 25))
        .var("AVISA_REMINDER_TIME", "23:59")
        .var("AVISA_HANDOFF_HOURS", "6")
        .with_clock(clock.clone())
        .http();
    let options = match public_url {
        Some(url) => options.var("AVISA_PUBLIC_URL", url),
        None => options,
    };
    let app = TestApp::spawn(backend, options).await?;
    app.services
        .store
        .upsert_subscriptions(
            &[NewSubscription {
                name: "Ana O'Brien <b>".into(),
                phone: Phone::parse("0991234567", Region::default()).unwrap(),
                email: None,
                service: "Netflix".into(),
                end_date: d(2026, 11, 29),
                price: Money::from_cents(750),
            }],
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    Mock::given(method("POST"))
        .and(path("/api/send-message"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"success": true, "data": {"msgId": 4242, "jid": ANA, "status": "in_progress"}}),
        ))
        .mount(&app.wasender)
        .await;
    Some(Chat {
        app,
        clock,
        next_id: 0,
    })
}

async fn a_person_on_the_phone_takes_the_chat_for_the_set_hours(backend: Backend) {
    let Some(mut chat) = start(backend).await else {
        return;
    };
    // The owner answers Ana from the phone itself.
    chat.phone_writes(ANA, "Hola Ana, ya te ayudo con tu cuenta", "3EB0PHONE1")
        .await;
    // The same message delivered twice (messages.upsert and an echo) is one.
    chat.phone_writes(ANA, "Hola Ana, ya te ayudo con tu cuenta", "3EB0PHONE1")
        .await;
    let log = chat.log(ANA).await;
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(log[0].kind, MessageKind::Manual);
    assert_eq!(log[0].direction, "out");
    assert_eq!(log[0].status, "sent");
    assert_eq!(log[0].sent_by, None, "from the phone: no staff email");
    assert!(log[0].client_id.is_some());

    // Ana writes: logged, not answered, and she waits in the Bandeja.
    chat.says(ANA, "gracias, espero").await;
    chat.app.settle().await;
    assert!(chat.sent().await.is_empty(), "the bot stays quiet");
    assert_eq!(
        chat.inbox_reasons().await,
        [(ANA.to_string(), "during_takeover".to_string())]
    );

    // Still quiet a minute before the six hours are up…
    chat.clock
        .advance(chrono::Duration::hours(6) - chrono::Duration::minutes(1));
    chat.says(ANA, "hola?").await;
    chat.app.settle().await;
    assert!(chat.sent().await.is_empty(), "quiet until the hours are up");
    // …and answering again a minute after.
    chat.clock.advance(chrono::Duration::minutes(2));
    chat.says(ANA, "hola").await;
    let sent = chat.until_sent(1).await;
    assert_eq!(sent[0].0, ANA);
    assert!(
        sent[0].1.contains("Netflix") || sent[0].1.contains("1"),
        "{sent:?}"
    );

    // /bandeja lists her with her phone.
    chat.says(STAFF, "/bandeja").await;
    let sent = chat.until_sent(2).await;
    assert_eq!(sent[1].0, STAFF);
    assert!(sent[1].1.contains(ANA), "{}", sent[1].1);
    assert!(sent[1].1.contains("Ana O'Brien <b>"), "{}", sent[1].1);
    chat.app.cleanup().await;
}
both_backends!(
    takeover_from_phone,
    super::a_person_on_the_phone_takes_the_chat_for_the_set_hours
);

async fn echoes_of_our_own_sends_are_not_a_person(backend: Backend) {
    let Some(mut chat) = start(backend).await else {
        return;
    };
    chat.says(ANA, "1").await;
    let sent = chat.until_sent(1).await;
    let answer = sent[0].1.clone();
    // WaSender echoes our answer with WhatsApp's id (not the msgId it
    // gave us): matched by its text, it changes nothing.
    chat.phone_writes(ANA, &answer, "3EB0ECHO01").await;
    // The same echo again, now known by its id.
    chat.phone_writes(ANA, &answer, "3EB0ECHO01").await;
    let log = chat.log(ANA).await;
    assert_eq!(
        log.iter().filter(|m| m.kind == MessageKind::Manual).count(),
        0,
        "{log:#?}"
    );
    let ours = log.iter().find(|m| m.direction == "out").unwrap();
    assert_eq!(ours.wa_message_id.as_deref(), Some("3EB0ECHO01"));
    // Not silenced: the bot still answers.
    chat.says(ANA, "1").await;
    chat.until_sent(2).await;
    chat.app.cleanup().await;
}
both_backends!(own_echoes, super::echoes_of_our_own_sends_are_not_a_person);

async fn staff_answer_from_the_panel_and_resolve_the_inbox(backend: Backend) {
    let Some(mut chat) = start(backend).await else {
        return;
    };
    create_user(chat.app.services.store.as_ref(), EMAIL, PASSWORD).await;
    let admin = AdminClient::login(&chat.app, EMAIL, PASSWORD).await;
    let client = chat
        .app
        .services
        .store
        .client_by_phone(ANA)
        .await
        .unwrap()
        .unwrap();

    // Ana asks for a person: handoff acknowledged, staff notified, Bandeja.
    chat.says(ANA, "quiero hablar con una persona").await;
    chat.until_sent(2).await;
    let (status, page) = admin.get_text("/admin/inbox").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Ana O&#x27;Brien &lt;b&gt;") || page.contains("Ana O'Brien &lt;b&gt;"),
        "{page}"
    );
    assert!(page.contains("pidió hablar con una persona"), "{page}");
    let (_, dashboard) = admin.get_text("/admin").await;
    assert!(dashboard.contains("id=\"stat-inbox\""));

    // An empty reply is refused; a real one is queued once, as `manual`.
    let reply_path = format!("/admin/clients/{}/reply", client.id);
    let refused = admin
        .post_multipart(&reply_path, &[("body", "   ")], None)
        .await;
    assert_eq!(refused.status(), 303);
    assert!(
        refused.headers()["location"]
            .to_str()
            .unwrap()
            .contains("notice=reply.notice_empty")
    );
    // Without AVISA_PUBLIC_URL WaSender could not fetch a file: refused.
    let no_url = admin
        .post_multipart(
            &reply_path,
            &[("body", "tu recibo")],
            Some(("r.pdf", b"%PDF-1.4 x")),
        )
        .await;
    assert!(
        no_url.headers()["location"]
            .to_str()
            .unwrap()
            .contains("notice=reply.notice_no_public_url")
    );
    let response = admin
        .post_multipart(
            &reply_path,
            &[("body", "Hola Ana, soy Marta: ¿qué necesitas?")],
            None,
        )
        .await;
    assert_eq!(response.status(), 303);
    let sent = chat.until_sent(3).await;
    assert_eq!(
        sent[2],
        (
            ANA.to_string(),
            "Hola Ana, soy Marta: ¿qué necesitas?".to_string()
        )
    );
    let log = chat.log(ANA).await;
    let manual: Vec<&MessageRow> = log
        .iter()
        .filter(|m| m.kind == MessageKind::Manual)
        .collect();
    assert_eq!(manual.len(), 1, "{log:#?}");
    assert_eq!(manual[0].sent_by.as_deref(), Some(EMAIL));
    assert_eq!(manual[0].status, "sent");
    // Answered: nobody waits any more; the page shows who wrote it.
    assert!(chat.inbox_reasons().await.is_empty());
    let (_, page) = admin
        .get_text(&format!("/admin/clients/{}", client.id))
        .await;
    assert!(page.contains(EMAIL), "the reply shows its author");
    assert!(page.contains("id=\"reply\""));

    // WaSender's echo of the panel reply is not a second, phone message.
    chat.phone_writes(ANA, "Hola Ana, soy Marta: ¿qué necesitas?", "3EB0ECHO02")
        .await;
    assert_eq!(
        chat.log(ANA)
            .await
            .iter()
            .filter(|m| m.kind == MessageKind::Manual)
            .count(),
        1
    );

    // She writes during the takeover: back in the Bandeja, no bot answer.
    chat.says(ANA, "necesito cambiar la clave").await;
    chat.app.settle().await;
    assert_eq!(chat.sent().await.len(), 3);
    let entries = chat.app.services.store.inbox(10).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].reason.to_string(), "during_takeover");

    // "Resuelto": closed, and the bot answers her again at once.
    let resolved = admin
        .post_form(&format!("/admin/inbox/{}/resolve", entries[0].id), &[])
        .await;
    assert_eq!(resolved.status(), 303);
    assert!(chat.inbox_reasons().await.is_empty());
    let (_, page) = admin.get_text("/admin/inbox").await;
    assert!(page.contains("id=\"inbox-empty\""));
    // Resolving twice is a 404, not a second audit row.
    let again = admin
        .post_form(&format!("/admin/inbox/{}/resolve", entries[0].id), &[])
        .await;
    assert_eq!(again.status(), 404);
    chat.says(ANA, "1").await;
    chat.until_sent(4).await;
    chat.app.cleanup().await;
}
both_backends!(
    panel_reply_and_inbox,
    super::staff_answer_from_the_panel_and_resolve_the_inbox
);

async fn not_understood_twice_waits_for_a_person(backend: Backend) {
    let Some(mut chat) = start(backend).await else {
        return;
    };
    chat.says(ANA, "xyz").await;
    chat.until_sent(1).await;
    assert!(chat.inbox_reasons().await.is_empty(), "once is not enough");
    chat.says(ANA, "qwerty").await;
    chat.until_sent(2).await;
    assert_eq!(
        chat.inbox_reasons().await,
        [(ANA.to_string(), "not_understood".to_string())]
    );
    chat.app.cleanup().await;
}
both_backends!(
    inbox_not_understood,
    super::not_understood_twice_waits_for_a_person
);

async fn staff_attach_a_file_to_a_panel_reply(backend: Backend) {
    const PUBLIC_URL: &str = "https://avisa.example.com";
    let Some(chat) = start_with(backend, Some(PUBLIC_URL)).await else {
        return;
    };
    let app = chat.app;
    create_user(app.services.store.as_ref(), EMAIL, PASSWORD).await;
    let admin = AdminClient::login(&app, EMAIL, PASSWORD).await;
    let client = app
        .services
        .store
        .client_by_phone(ANA)
        .await
        .unwrap()
        .unwrap();
    let reply_path = format!("/admin/clients/{}/reply", client.id);

    // Over 16 MB: refused, nothing stored or sent.
    let big = vec![b'x'; 16 * 1024 * 1024 + 1];
    let refused = admin
        .post_multipart(
            &reply_path,
            &[("body", "tu archivo")],
            Some(("grande.pdf", &big)),
        )
        .await;
    assert!(
        refused.headers()["location"]
            .to_str()
            .unwrap()
            .contains("notice=reply.notice_file_too_large"),
        "{:?}",
        refused.headers()
    );

    // A PDF named like a photo goes as a document, by a signed link.
    let pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec();
    let response = admin
        .post_multipart(
            &reply_path,
            &[("body", "Tu comprobante de renovación")],
            Some(("foto.jpg", &pdf)),
        )
        .await;
    assert_eq!(response.status(), 303);
    app.settle().await;
    let sent = app.sent().await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0]["to"], ANA);
    assert_eq!(sent[0]["text"], "Tu comprobante de renovación");
    assert!(sent[0].get("imageUrl").is_none());
    let link = sent[0]["documentUrl"].as_str().unwrap().to_string();
    let on_app = app.url(link.strip_prefix(PUBLIC_URL).unwrap());
    let fetched = reqwest::get(&on_app).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.headers()["content-type"], "application/pdf");
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), pdf.as_slice());
    let log = app
        .services
        .store
        .messages_for_phone(ANA, 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].kind, MessageKind::Manual);
    assert_eq!(log[0].media_kind.as_deref(), Some("document"));
    assert!(log[0].media_id.is_some());
    assert_eq!(log[0].sent_by.as_deref(), Some(EMAIL));
    app.cleanup().await;
}
both_backends!(
    panel_reply_with_a_file,
    super::staff_attach_a_file_to_a_panel_reply
);
