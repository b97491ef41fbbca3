//! The chat story end to end, on SQLite and PostgreSQL: signed webhooks over
//! HTTP into the running app, replies read back from the fake WaSender, and
//! the database checked after each step.
//!
//! Wednesday 25 November 2026, 10:00 in Guayaquil. Ana (0991234567) and Luis
//! (0992222222) both have Netflix ending Sunday 29 November: 4 days left, so
//! the start-up catch-up sends each the 7-day reminder. Tomorrow they would
//! be at 3 days, the next tier — unless renewed.

use crate::support;

use std::time::{Duration, Instant};

use avisa::domain::{Money, Phone, Region};
use avisa::jobs::remind;
use avisa::store::{NewSubscription, Pool};
use chrono::NaiveDate;
use support::app::{Options, TestApp, WEBHOOK_SECRET};
use support::db::Backend;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ANA: &str = "+593991234567";
const LUIS: &str = "+593992222222";
const STAFF: &str = "+593990000001";

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn no_progress(_: usize, _: usize) {}

struct Story {
    app: TestApp,
    next_id: u32,
}

impl Story {
    /// A signed `messages.received` from `phone` (E.164) with a fresh WhatsApp id.
    async fn says(&mut self, phone: &str, text: &str) {
        self.next_id += 1;
        let digits = phone.trim_start_matches('+');
        let body = serde_json::json!({
            "event": "messages.received",
            "timestamp": 1_764_082_800 + self.next_id,
            "data": {"messages": {
                "key": {
                    "id": format!("3EB0E2E{:06}", self.next_id),
                    "fromMe": false,
                    "remoteJid": format!("{digits}@s.whatsapp.net"),
                    "addressingMode": "pn",
                    "senderPn": format!("{digits}@s.whatsapp.net"),
                    "cleanedSenderPn": digits,
                },
                "messageBody": text,
                "message": {"conversation": text},
            }}
        });
        let response = reqwest::Client::new()
            .post(self.app.url("/webhooks/wasender"))
            .header("X-Webhook-Signature", WEBHOOK_SECRET)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "webhook for {text:?}");
    }

    /// Every (to, text) the fake WaSender received, in arrival order.
    async fn sent(&self) -> Vec<(String, String)> {
        self.app
            .sent()
            .await
            .iter()
            .map(|b| {
                (
                    b["to"].as_str().unwrap().to_string(),
                    b["text"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// Waits until the fake server has received `total` messages, then until
    /// nothing is left to run, so that an unexpected extra one is seen too.
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

    /// Texts sent to `phone` since message number `from` (0-based).
    async fn texts_to(&self, phone: &str, from: usize) -> Vec<String> {
        self.sent()
            .await
            .into_iter()
            .skip(from)
            .filter(|(to, _)| to == phone)
            .map(|(_, text)| text)
            .collect()
    }

    async fn netflix_of(&self, phone: &str) -> avisa::store::SubscriptionView {
        let store = &self.app.services.store;
        let client = store.client_by_phone(phone).await.unwrap().unwrap();
        let mut subs = store.subscriptions_of_client(client.id).await.unwrap();
        assert_eq!(subs.len(), 1);
        subs.remove(0)
    }

    async fn scalar(&self, sql: &'static str, bind: i64) -> i64 {
        match self.app.services.store.pool() {
            Pool::Sqlite(pool) => sqlx::query_scalar(sql)
                .bind(bind)
                .fetch_one(&pool)
                .await
                .unwrap(),
            Pool::Postgres(pool) => sqlx::query_scalar(sql)
                .bind(bind)
                .fetch_one(&pool)
                .await
                .unwrap(),
        }
    }

    async fn renewals(&self) -> i64 {
        self.scalar("SELECT COUNT(*) FROM renewals WHERE id > $1", 0)
            .await
    }

    /// (end_date, tier) of every reminder recorded for a subscription.
    async fn reminders_of(&self, subscription_id: i64) -> Vec<(NaiveDate, i32)> {
        let sql = "SELECT end_date, tier FROM reminders WHERE subscription_id = $1 ORDER BY id";
        match self.app.services.store.pool() {
            Pool::Sqlite(pool) => sqlx::query_as(sql)
                .bind(subscription_id)
                .fetch_all(&pool)
                .await
                .unwrap(),
            Pool::Postgres(pool) => sqlx::query_as(sql)
                .bind(subscription_id)
                .fetch_all(&pool)
                .await
                .unwrap(),
        }
    }

    /// (kind, body) of the inbound messages from `phone`, oldest first.
    async fn inbound_from(&self, phone: &str) -> Vec<(String, String)> {
        let mut rows: Vec<(String, String)> = self
            .app
            .services
            .store
            .messages_for_phone(phone, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.direction == "in")
            .map(|m| (m.kind.to_string(), m.body))
            .collect();
        rows.reverse();
        rows
    }
}

fn subscription(name: &str, tel: &str, end: NaiveDate) -> NewSubscription {
    NewSubscription {
        name: name.into(),
        phone: Phone::parse(tel, Region::default()).unwrap(),
        email: None,
        service: "Netflix".into(),
        end_date: end,
        price: Money::from_cents(750),
    }
}

async fn start(backend: Backend) -> Option<Story> {
    // The clients exist before the app starts, so its start-up catch-up
    // (10:00 is after the 09:00 run) sends today's reminders.
    let options = Options::on(d(2026, 11, 25))
        .at(10, 0)
        .http()
        .var("AVISA_PAYMENT_INSTRUCTIONS", "Transferencia al Banco X 123");
    let db = support::db::TestDb::new(backend).await?;
    db.store
        .upsert_subscriptions(
            &[
                subscription("Ana Pérez", "0991234567", d(2026, 11, 29)),
                subscription("Luis Mora", "0992222222", d(2026, 11, 29)),
            ],
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let wasender = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/send-message"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!(
            {"success": true, "data": {"msgId": 100000, "jid": "+593", "status": "in_progress"}}
        )))
        .mount(&wasender)
        .await;
    let app = TestApp::spawn_with(db, wasender, options).await;
    Some(Story { app, next_id: 0 })
}

fn reminder_text(days: u32, long_date: &str) -> String {
    format!(
        "Hola {{name}} 👋\nTe recordamos que tu servicio *Netflix* vence en {days} días, el {long_date}.\n\
         Precio de renovación: $7.50.\nTransferencia al Banco X 123\n\
         Responde *2* para renovar o *menu* para ver las opciones.\n— StreamEC"
    )
}

async fn customer_renews_through_whatsapp(backend: Backend) {
    let Some(mut story) = start(backend).await else {
        return;
    };
    let services = story.app.services.clone();
    let store = services.store.clone();

    // Start-up catch-up: both get the 7-day-tier reminder (4 days left).
    let sent = story.until_sent(2).await;
    let expected = reminder_text(4, "domingo 29 de noviembre de 2026");
    for (phone, name) in [(ANA, "Ana"), (LUIS, "Luis")] {
        let texts: Vec<&String> = sent
            .iter()
            .filter(|(to, _)| to == phone)
            .map(|(_, t)| t)
            .collect();
        assert_eq!(texts, vec![&expected.replace("{name}", name)], "{phone}");
    }
    let ana_sub = story.netflix_of(ANA).await;
    assert_eq!(
        story.reminders_of(ana_sub.id).await,
        vec![(d(2026, 11, 29), 7)]
    );

    // "hola" → the menu.
    story.says(ANA, "hola").await;
    story.until_sent(3).await;
    assert_eq!(
        story.texts_to(ANA, 2).await,
        vec![
            "Hola Ana Pérez 👋 ¿En qué te ayudo? Responde con un número:\n\
             *1.* Consultar mi fecha de vencimiento\n\
             *2.* Renovar mi servicio\n\
             *3.* Hablar con un asesor\n\
             *4.* Dejar de recibir avisos"
        ]
    );

    // "1" → the end date in long Spanish, days left and price.
    story.says(ANA, "1").await;
    story.until_sent(4).await;
    assert_eq!(
        story.texts_to(ANA, 3).await,
        vec![
            "Tu servicio *Netflix* vence en 4 días, el domingo 29 de noviembre de 2026. Precio: $7.50.\n\n\
             Responde *2* para renovar o *menu* para ver las opciones."
        ]
    );

    // "2" → payment instructions to Ana, a pending request, a notice to staff.
    assert_eq!(store.count_open_requests().await.unwrap(), 0);
    story.says(ANA, "2").await;
    story.until_sent(6).await;
    assert_eq!(
        story.texts_to(ANA, 4).await,
        vec![
            "Para renovar *Netflix* ($7.50):\n\nTransferencia al Banco X 123\n\n\
             Cuando pagues, envíanos la foto del comprobante por aquí.\n\n— StreamEC"
        ]
    );
    let id = ana_sub.id;
    assert_eq!(
        story.texts_to(STAFF, 4).await,
        vec![format!(
            "🔔 *Ana Pérez* ({ANA}) quiere renovar *Netflix* (vence el domingo 29 de noviembre de 2026, $7.50). \
             Suscripción #{id}.\nAl confirmar el pago: /renovar #{id}\n\n\
             Servicios de Ana Pérez:\n• Netflix: vence el domingo 29 de noviembre de 2026 (en 4 días)"
        )]
    );
    let client = store.client_by_phone(ANA).await.unwrap().unwrap();
    let request = store
        .open_request_for_client(client.id)
        .await
        .unwrap()
        .expect("a pending renewal request");
    assert_eq!(request.subscription_id, Some(id));
    assert_eq!(store.count_open_requests().await.unwrap(), 1);

    // Staff confirm the payment with the number in local format.
    story.says(STAFF, "/renovar 0991234567").await;
    story.until_sent(8).await;
    assert_eq!(story.netflix_of(ANA).await.end_date, d(2026, 12, 29));
    assert_eq!(
        story.texts_to(ANA, 6).await,
        vec![
            "✅ ¡Listo, Ana Pérez! Renovamos tu servicio *Netflix* por 1 mes. \
             Ahora vence el martes 29 de diciembre de 2026.\n¡Gracias por tu pago!\n\n— StreamEC"
        ]
    );
    assert_eq!(
        story.texts_to(STAFF, 6).await,
        vec![format!(
            "✅ Renovado #{id}: *Ana Pérez* ({ANA}), *Netflix*, 1 mes.\n\
             Vencía el domingo 29 de noviembre de 2026; ahora vence el martes 29 de diciembre de 2026.\n\
             Cliente avisado. Para revertir: /deshacer"
        )]
    );
    assert_eq!(store.count_open_requests().await.unwrap(), 0);
    assert!(
        store
            .open_request_for_client(client.id)
            .await
            .unwrap()
            .is_none()
    );
    let renewal = store
        .last_renewal_by(STAFF, services.clock.now() - chrono::Duration::days(1))
        .await
        .unwrap()
        .expect("an audit row");
    assert_eq!(
        (
            renewal.subscription_id,
            renewal.old_end_date,
            renewal.new_end_date,
            renewal.months,
            renewal.amount_cents
        ),
        (id, d(2026, 11, 29), d(2026, 12, 29), 1, 750)
    );
    assert_eq!(story.renewals().await, 1);

    // The next day's run: Luis (same old date, not renewed) gets the 3-day
    // tier; Ana gets nothing, for the old end date or the new one.
    let next_day = remind::run(&services, d(2026, 11, 26), false, &no_progress)
        .await
        .unwrap();
    assert_eq!(next_day.plan.planned[&3], 1);
    assert_eq!(next_day.plan.planned.values().sum::<u64>(), 1);
    assert_eq!(next_day.plan.skipped, 0);
    let sent = story.until_sent(9).await;
    assert_eq!(
        sent[8],
        (
            LUIS.to_string(),
            reminder_text(3, "domingo 29 de noviembre de 2026").replace("{name}", "Luis")
        )
    );
    assert_eq!(story.reminders_of(id).await, vec![(d(2026, 11, 29), 7)]);

    // A customer typing the staff command renews nothing: to the bot it is
    // Luis asking to renew his own service.
    story.says(LUIS, "/renovar 0991234567").await;
    story.until_sent(11).await;
    assert_eq!(story.netflix_of(ANA).await.end_date, d(2026, 12, 29));
    assert_eq!(story.netflix_of(LUIS).await.end_date, d(2026, 11, 29));
    assert_eq!(story.renewals().await, 1);
    assert_eq!(
        story.inbound_from(LUIS).await,
        vec![("reply".to_string(), "/renovar 0991234567".to_string())]
    );
    let to_luis = story.texts_to(LUIS, 9).await;
    assert_eq!(to_luis.len(), 1);
    assert!(
        to_luis[0].starts_with("Para renovar *Netflix* ($7.50):"),
        "{}",
        to_luis[0]
    );
    let to_staff = story.texts_to(STAFF, 9).await;
    assert_eq!(to_staff.len(), 1);
    assert!(
        to_staff[0].starts_with(&format!("🔔 *Luis Mora* ({LUIS}) quiere renovar")),
        "{}",
        to_staff[0]
    );
    assert_eq!(
        story.inbound_from(STAFF).await,
        vec![("staff".to_string(), "/renovar 0991234567".to_string())]
    );

    // "baja": no reminders, even when Ana's new date comes close.
    story.says(ANA, "baja").await;
    story.until_sent(12).await;
    assert_eq!(
        story.texts_to(ANA, 11).await,
        vec!["Listo, ya no te enviaremos recordatorios. Si cambias de opinión, escribe *alta*."]
    );
    assert!(
        store
            .client_by_phone(ANA)
            .await
            .unwrap()
            .unwrap()
            .opted_out_at
            .is_some()
    );
    let week_before = d(2026, 12, 22);
    let opted_out = remind::run(&services, week_before, false, &no_progress)
        .await
        .unwrap();
    assert_eq!(opted_out.plan.planned.values().sum::<u64>(), 0);
    assert_eq!(opted_out.plan.skipped, 1);
    story.until_sent(12).await;
    assert_eq!(story.reminders_of(id).await, vec![(d(2026, 11, 29), 7)]);

    // "alta": back in; the same day's run now sends the 7-day reminder.
    story.says(ANA, "alta").await;
    story.until_sent(13).await;
    assert_eq!(
        story.texts_to(ANA, 12).await,
        vec!["¡Bienvenido de vuelta! Volverás a recibir los recordatorios de vencimiento."]
    );
    assert!(
        store
            .client_by_phone(ANA)
            .await
            .unwrap()
            .unwrap()
            .opted_out_at
            .is_none()
    );
    let opted_in = remind::run(&services, week_before, false, &no_progress)
        .await
        .unwrap();
    assert_eq!(opted_in.plan.planned[&7], 1);
    assert_eq!(opted_in.plan.skipped, 0);
    let sent = story.until_sent(14).await;
    assert_eq!(
        sent[13],
        (
            ANA.to_string(),
            reminder_text(7, "martes 29 de diciembre de 2026").replace("{name}", "Ana")
        )
    );
    assert_eq!(
        story.reminders_of(id).await,
        vec![(d(2026, 11, 29), 7), (d(2026, 12, 29), 7)]
    );
    story.app.cleanup().await;
}
both_backends!(whatsapp_story, super::customer_renews_through_whatsapp);
