//! The chat handler end to end on both backends: inbound row in, outbox rows
//! and database effects out.

use crate::support;

use std::collections::HashMap;
use std::sync::Arc;

use avisa::app::{Overrides, services};
use avisa::config::{Config, DatabaseUrl};
use avisa::domain::{FixedClock, Money, Phone, Region};
use avisa::services::Services;
use avisa::store::*;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use support::db::{Backend, TestDb};

const CUSTOMER: &str = "+593991234567";
const STAFF: &str = "+593990000001";

fn now() -> DateTime<Utc> {
    // 09:00 in Guayaquil (UTC-5), Wednesday 25 November 2026.
    Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

struct Chat {
    db: TestDb,
    services: Arc<Services>,
}

async fn setup(backend: Backend) -> Option<Chat> {
    let db = TestDb::new(backend).await?;
    let url = match &db.url {
        DatabaseUrl::Sqlite { path } => format!("sqlite://{}", path.display()),
        DatabaseUrl::Postgres { url } => url.clone(),
    };
    let vars: HashMap<String, String> = [
        ("DATABASE_URL", url.as_str()),
        ("AVISA_STAFF_PHONES", "0990000001"),
        ("AVISA_SEND_INTERVAL_MS", "0"),
        ("AVISA_SEND_JITTER_MS", "0"),
        ("AVISA_TIMEZONE", "America/Guayaquil"),
        ("AVISA_PAYMENT_INSTRUCTIONS", "Transferencia al Banco X 123"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = Config::from_vars(&vars).unwrap();
    let clock = Arc::new(FixedClock::new(now()));
    let services = services(config, Overrides { clock }).await.unwrap();
    db.store
        .upsert_subscriptions(
            &[NewSubscription {
                name: "Ana Pérez".into(),
                phone: Phone::parse("0991234567", Region::default()).unwrap(),
                email: None,
                service: "Netflix".into(),
                end_date: date(2026, 12, 1),
                price: Money::from_cents(750),
            }],
            now(),
        )
        .await
        .unwrap();
    Some(Chat { db, services })
}

impl Chat {
    fn store(&self) -> &dyn Store {
        self.db.store.as_ref()
    }

    async fn say(&self, phone: &str, text: &str) -> i64 {
        self.send(phone, text, None).await
    }

    async fn send(&self, phone: &str, text: &str, media: Option<&str>) -> i64 {
        let staff = phone == STAFF && text.starts_with('/');
        let id = self
            .store()
            .insert_inbound(
                &NewInbound {
                    phone: avisa::domain::Phone::from_e164(phone.into()).unwrap(),
                    client_id: None,
                    kind: if staff {
                        MessageKind::Staff
                    } else {
                        MessageKind::Reply
                    },
                    body: text.into(),
                    media_kind: media.map(str::to_string),
                    wa_message_id: None,
                    media_source: None,
                },
                now(),
            )
            .await
            .unwrap()
            .unwrap();
        avisa::chat::handle_inbound(&self.services, id)
            .await
            .unwrap();
        id
    }

    /// Outbound rows to `phone`, oldest first.
    async fn outbox(&self, phone: &str) -> Vec<MessageRow> {
        let mut rows: Vec<MessageRow> = self
            .store()
            .messages_for_phone(phone, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.direction == "out")
            .collect();
        rows.reverse();
        rows
    }

    async fn last_to(&self, phone: &str) -> MessageRow {
        self.outbox(phone).await.pop().expect("a message")
    }

    async fn client(&self) -> ClientRow {
        self.store()
            .client_by_phone(CUSTOMER)
            .await
            .unwrap()
            .unwrap()
    }

    async fn netflix(&self) -> SubscriptionView {
        let id = self.client().await.id;
        self.store()
            .subscriptions_of_client(id)
            .await
            .unwrap()
            .remove(0)
    }
}

async fn menu_expiry_and_renew(backend: Backend) {
    let Some(chat) = setup(backend).await else {
        return;
    };
    chat.say(CUSTOMER, "hola").await;
    let menu = chat.last_to(CUSTOMER).await;
    assert_eq!(
        (menu.kind.as_str(), menu.status.as_str()),
        ("reply", "queued")
    );
    assert!(menu.body.contains("Ana Pérez"), "{}", menu.body);
    assert!(menu.body.contains("*1.*"), "{}", menu.body);

    chat.say(CUSTOMER, "1").await;
    let expiry = chat.last_to(CUSTOMER).await;
    assert!(
        expiry.body.contains("martes 1 de diciembre de 2026"),
        "{}",
        expiry.body
    );
    assert!(expiry.body.contains("$7.50"), "{}", expiry.body);
    assert!(expiry.body.contains("en 6 días"), "{}", expiry.body);

    assert!(chat.outbox(STAFF).await.is_empty());
    chat.say(CUSTOMER, "2").await;
    let renew = chat.last_to(CUSTOMER).await;
    assert!(
        renew.body.contains("Transferencia al Banco X 123"),
        "{}",
        renew.body
    );
    let notices = chat.outbox(STAFF).await;
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].kind, "notice");
    assert!(notices[0].body.contains("Netflix"), "{}", notices[0].body);
    let open = chat
        .store()
        .open_request_for_client(chat.client().await.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(open.subscription_id, Some(chat.netflix().await.id));

    // A receipt: acknowledged, attached, staff told.
    let photo = chat.send(CUSTOMER, "", Some("image")).await;
    assert!(chat.last_to(CUSTOMER).await.body.contains("comprobante"));
    assert_eq!(chat.outbox(STAFF).await.len(), 2);
    let pending = chat.store().open_requests().await.unwrap();
    assert_eq!(pending[0].receipt_message_id, Some(photo));
    chat.db.cleanup().await;
}
both_backends!(menu_expiry_renew, super::menu_expiry_and_renew);

async fn staff_renews(backend: Backend) {
    let Some(chat) = setup(backend).await else {
        return;
    };
    chat.say(CUSTOMER, "2").await;
    chat.say(STAFF, "/renovar 0991234567").await;
    assert_eq!(chat.netflix().await.end_date, date(2027, 1, 1));
    let confirmation = chat.last_to(CUSTOMER).await;
    assert_eq!(confirmation.kind, "reply");
    assert!(
        confirmation.body.contains("viernes 1 de enero de 2027"),
        "{}",
        confirmation.body
    );
    let answer = chat.last_to(STAFF).await;
    assert_eq!(answer.kind, "staff");
    assert!(
        answer.body.contains("1 de enero de 2027"),
        "{}",
        answer.body
    );
    assert_eq!(chat.store().count_open_requests().await.unwrap(), 0);

    // Undo restores the date.
    chat.say(STAFF, "/deshacer").await;
    assert_eq!(chat.netflix().await.end_date, date(2026, 12, 1));
    assert!(chat.last_to(STAFF).await.body.contains("Deshecho"));

    // A customer typing a command is just text: nothing renewed.
    chat.say(CUSTOMER, "/renovar 0991234567").await;
    assert_eq!(chat.netflix().await.end_date, date(2026, 12, 1));
    // ("renovar" is a customer keyword: it gets the payment instructions.)
    let reply = chat.last_to(CUSTOMER).await;
    assert_eq!(reply.kind, "reply");
    assert!(reply.body.contains("Para renovar"), "{}", reply.body);

    // Usage errors are answered.
    chat.say(STAFF, "/renovar").await;
    assert!(chat.last_to(STAFF).await.body.contains("/renovar"));
    chat.say(STAFF, "/vencen 7").await;
    assert!(chat.last_to(STAFF).await.body.contains("Ana Pérez"));
    chat.say(STAFF, "/pausar").await;
    assert!(is_paused(chat.store()).await.unwrap());
    chat.say(STAFF, "/reanudar").await;
    assert!(!is_paused(chat.store()).await.unwrap());
    chat.db.cleanup().await;
}
both_backends!(staff_renew, super::staff_renews);

async fn opt_out_and_back(backend: Backend) {
    let Some(chat) = setup(backend).await else {
        return;
    };
    chat.say(CUSTOMER, "baja").await;
    assert!(chat.client().await.opted_out_at.is_some());
    chat.say(CUSTOMER, "alta").await;
    assert!(chat.client().await.opted_out_at.is_none());
    assert_eq!(chat.outbox(CUSTOMER).await.len(), 2);
    chat.db.cleanup().await;
}
both_backends!(opt_out, super::opt_out_and_back);

async fn handled_once(backend: Backend) {
    let Some(chat) = setup(backend).await else {
        return;
    };
    let id = chat.say(CUSTOMER, "hola").await;
    avisa::chat::handle_inbound(&chat.services, id)
        .await
        .unwrap();
    assert_eq!(chat.outbox(CUSTOMER).await.len(), 1);
    assert_eq!(
        chat.store().message(id).await.unwrap().unwrap().status,
        "processed"
    );
    chat.db.cleanup().await;
}
both_backends!(once, super::handled_once);

async fn unknown_number_once_a_day(backend: Backend) {
    let Some(chat) = setup(backend).await else {
        return;
    };
    let stranger = "+593987777777";
    chat.say(stranger, "hola").await;
    chat.say(stranger, "hola otra vez").await;
    assert_eq!(chat.outbox(stranger).await.len(), 1);
    let notices = chat.outbox(STAFF).await;
    assert_eq!(notices.len(), 1);
    assert!(notices[0].body.contains(stranger), "{}", notices[0].body);
    assert!(
        chat.store()
            .client_by_phone(stranger)
            .await
            .unwrap()
            .is_none()
    );
    chat.db.cleanup().await;
}
both_backends!(unknown_number, super::unknown_number_once_a_day);

async fn handoff_ends_when_staff_act(backend: Backend) {
    let Some(chat) = setup(backend).await else {
        return;
    };
    chat.say(CUSTOMER, "3").await;
    assert_eq!(chat.outbox(CUSTOMER).await.len(), 1);
    chat.say(CUSTOMER, "hola?").await;
    assert_eq!(chat.outbox(CUSTOMER).await.len(), 1, "quiet during handoff");
    chat.say(STAFF, "/cliente 0991234567").await;
    assert!(chat.last_to(STAFF).await.body.contains("Netflix"));
    chat.say(CUSTOMER, "hola").await;
    assert_eq!(chat.outbox(CUSTOMER).await.len(), 2);
    chat.db.cleanup().await;
}
both_backends!(handoff, super::handoff_ends_when_staff_act);
