use chrono::NaiveDate;
use serde_json::json;

use super::*;
use crate::chat::notice_context::CustomerCtx;
use crate::conversation::{Flows, MenuOption};
use crate::store::{RenewalRequestRow, RequestStatus, SubscriptionStatus, SubscriptionView};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn line(id: i64, service: &str, end: NaiveDate, days: i64) -> SubscriptionLine {
    SubscriptionLine {
        subscription_id: id,
        service: service.into(),
        end_date: end,
        days_left: days,
        price: Money::from_cents(750),
    }
}

fn replies(menu: Vec<MenuOption>) -> Vec<(&'static str, Reply)> {
    let one = line(1, "Netflix", date(2026, 12, 1), 6);
    let two = vec![one.clone(), line(2, "HBO Max", date(2026, 11, 20), -5)];
    vec![
        (
            "menu",
            Reply::Menu {
                name: "Ana".into(),
                options: menu.clone(),
                not_understood: false,
            },
        ),
        (
            "menu_not_understood",
            Reply::Menu {
                name: "Ana".into(),
                options: menu,
                not_understood: true,
            },
        ),
        (
            "expiry_one",
            Reply::Expiry {
                items: vec![one.clone()],
            },
        ),
        ("expiry_two", Reply::Expiry { items: two.clone() }),
        ("no_active", Reply::NoActiveSubscriptions),
        (
            "renew_instructions",
            Reply::RenewInstructions {
                item: one.clone(),
                already_requested: false,
            },
        ),
        (
            "renew_already_requested",
            Reply::RenewInstructions {
                item: one,
                already_requested: true,
            },
        ),
        ("renew_choose", Reply::RenewChoose { items: two.clone() }),
        ("invalid_choice", Reply::InvalidChoice { items: two }),
        (
            "receipt_ack",
            Reply::ReceiptAck {
                pending_request: true,
            },
        ),
        (
            "receipt_ack_no_request",
            Reply::ReceiptAck {
                pending_request: false,
            },
        ),
        ("handoff_ack", Reply::HandoffAck { hours: 12 }),
        ("opted_out", Reply::OptedOut),
        ("opted_in", Reply::OptedIn),
        ("unknown_number", Reply::UnknownNumber),
    ]
}

fn notices() -> Vec<(&'static str, StaffNotice)> {
    vec![
        (
            "renewal_requested",
            StaffNotice::RenewalRequested {
                client_id: 1,
                client_name: "Ana".into(),
                subscription_id: 7,
                service: "Netflix".into(),
                end_date: date(2026, 12, 1),
                price: Money::from_cents(750),
            },
        ),
        (
            "renewal_without_subscription",
            StaffNotice::RenewalWithoutSubscription {
                client_id: 1,
                client_name: "Ana".into(),
            },
        ),
        (
            "receipt",
            StaffNotice::ReceiptReceived {
                client_id: 1,
                client_name: "Ana".into(),
                kind: MediaKind::Image,
                caption: Some("pago".into()),
                pending_request: Some(7),
                service: Some("Netflix".into()),
            },
        ),
        (
            "receipt_no_request",
            StaffNotice::ReceiptReceived {
                client_id: 1,
                client_name: "Ana".into(),
                kind: MediaKind::Document,
                caption: None,
                pending_request: None,
                service: None,
            },
        ),
        (
            "handoff",
            StaffNotice::HandoffRequested {
                client_id: 1,
                client_name: "Ana".into(),
            },
        ),
        (
            "unknown",
            StaffNotice::UnknownNumberWrote {
                message: InboundContent::Text("hola, ¿precios?".into()),
            },
        ),
    ]
}

fn subscription(id: i64, service: &str, end: NaiveDate, active: bool) -> SubscriptionView {
    SubscriptionView {
        id,
        client_id: 1,
        client_name: "Ana".into(),
        phone: crate::domain::Phone::from_e164("+593991234567".into()).unwrap(),
        opted_out_at: None,
        service_id: id,
        service: service.into(),
        end_date: end,
        price_cents: 750,
        currency: "USD".into(),
        status: if active {
            SubscriptionStatus::Active
        } else {
            SubscriptionStatus::Cancelled
        },
    }
}

/// Ana on Wednesday 25 November 2026: Netflix ends in 6 days, HBO Max
/// ended 5 days ago, Disney+ is cancelled; a request for Netflix is open.
fn customer(locale: Locale, public_url: Option<&str>, with_request: bool) -> CustomerCtx {
    let subs = [
        subscription(7, "Netflix", date(2026, 12, 1), true),
        subscription(8, "HBO Max", date(2026, 11, 20), true),
        subscription(9, "Disney+", date(2026, 12, 24), false),
    ];
    let request = RenewalRequestRow {
        id: 3,
        client_id: 1,
        subscription_id: Some(7),
        status: RequestStatus::Open,
        receipt_message_id: Some(40),
        // 20:00 on the 24th in Guayaquil: the 25th in UTC.
        created_at: chrono::DateTime::parse_from_rfc3339("2026-11-25T01:00:00Z")
            .unwrap()
            .to_utc(),
        closed_at: None,
    };
    CustomerCtx::new(
        1,
        &subs,
        with_request.then_some(&request),
        date(2026, 11, 25),
        locale,
        chrono_tz::America::Guayaquil,
        public_url,
    )
}

fn notices_with_context(locale: Locale) -> Vec<(&'static str, StaffNotice, NoticeExtra)> {
    let all = notices();
    let notice = |name: &str| all.iter().find(|(n, _)| *n == name).unwrap().1.clone();
    let url = Some("https://avisa.example.com/");
    let with = |file, public_url, with_request| NoticeExtra {
        customer: Some(customer(locale, public_url, with_request)),
        file,
    };
    vec![
        (
            "renewal_requested",
            notice("renewal_requested"),
            with(None, url, false),
        ),
        (
            "receipt_attached",
            notice("receipt"),
            with(Some(FileNote::Attached), url, true),
        ),
        (
            "receipt_in_panel",
            notice("receipt"),
            with(Some(FileNote::InPanel), None, true),
        ),
        (
            "receipt_not_fetched",
            notice("receipt_no_request"),
            with(Some(FileNote::NotFetched), url, false),
        ),
        (
            "receipt_too_large",
            notice("receipt"),
            with(Some(FileNote::TooLarge), None, true),
        ),
        ("handoff", notice("handoff"), with(None, url, true)),
        (
            "renewal_without_subscription",
            notice("renewal_without_subscription"),
            NoticeExtra {
                customer: Some(CustomerCtx::default()),
                file: None,
            },
        ),
    ]
}

#[test]
fn the_customer_context_lists_active_services_soonest_first() {
    let ctx = customer(Locale::Es, Some("https://avisa.example.com/base/"), true);
    let services: Vec<(&str, &str, i64)> = ctx
        .services
        .iter()
        .map(|s| (s.service.as_str(), s.when.as_str(), s.days_left))
        .collect();
    assert_eq!(
        services,
        vec![("HBO Max", "hace 5 días", -5), ("Netflix", "en 6 días", 6)]
    );
    let request = ctx.request.unwrap();
    assert_eq!(request.service.as_deref(), Some("Netflix"));
    assert_eq!(request.since, "24 de noviembre", "the business's day");
    assert!(request.receipt);
    assert_eq!(
        ctx.link.as_deref(),
        Some("https://avisa.example.com/base/admin/clients/1")
    );
    assert_eq!(customer(Locale::Es, None, false).link, None);
}

fn staff_templates() -> Vec<(&'static str, &'static str, serde_json::Value)> {
    let item = json!({"id": 7, "service": "Netflix", "long_date": "x", "date": "1 dic",
        "when": "en 6 días", "days_left": 6, "price": "$7.50", "client_name": "Ana",
        "phone": "+593991234567", "opted_out": false, "active": true});
    vec![
        (
            "confirmation",
            "renewal_confirmation.txt",
            json!({"client_name": "Ana", "service": "Netflix", "months": 2,
                "long_date": "viernes 1 de enero de 2027", "business_name": "Tienda"}),
        ),
        (
            "renewed",
            "staff_renewed.txt",
            json!({"subscription_id": 7, "client_name": "Ana", "phone": "+593991234567",
                "service": "Netflix", "months": 1, "old_date": "A", "new_date": "B"}),
        ),
        (
            "pending",
            "staff_pending.txt",
            json!({"items": [{"client_name": "Ana", "phone": "+593991234567",
                "subscription_id": 7, "service": "Netflix", "date": "1 dic",
                "price": "$7.50", "receipt": true}]}),
        ),
        ("pending_empty", "staff_pending.txt", json!({"items": []})),
        (
            "due",
            "staff_subscriptions.txt",
            json!({"overdue": false, "days": 7, "items": [item.clone()]}),
        ),
        (
            "overdue_empty",
            "staff_subscriptions.txt",
            json!({"overdue": true, "days": 30, "items": []}),
        ),
        (
            "client",
            "staff_client.txt",
            json!({"name": "Ana", "phone": "+593991234567", "opted_out": true,
                "subscriptions": [item.clone()],
                "messages": [{"incoming": true, "body": "hola"}, {"incoming": false, "body": "menú"}]}),
        ),
        (
            "choose_client",
            "staff_choose.txt",
            json!({"clients": [{"name": "Ana", "phone": "+1"}, {"name": "Ana B", "phone": "+2"}],
                "query": "ana", "client_name": "", "items": []}),
        ),
        (
            "choose_service",
            "staff_choose.txt",
            json!({"clients": [], "query": "", "client_name": "Ana", "items": [item]}),
        ),
        (
            "summary",
            "staff_summary.txt",
            json!({"date": "25 nov", "paused": true, "failures": 1, "pending": 2,
                "revenue": "$15.00", "tiers": [{"label": "7", "statuses":
                [{"status": "sent", "count": 3}, {"status": "failed", "count": 1}]}]}),
        ),
    ]
}

#[test]
fn chat_templates_snapshots() {
    for locale in [Locale::Es, Locale::En] {
        let code = locale.code();
        let templates = Templates::load(locale, None).unwrap();
        let flows = Flows::load(locale, None).unwrap();
        let texts = ReplyTexts {
            templates: &templates,
            locale,
            business_name: "Tienda Demo",
            payment_instructions: "Transferencia: Banco X, cuenta 123",
            handoff_hours: 12,
        };
        for (name, reply) in replies(flows.menu().to_vec()) {
            let text = texts.reply(&reply).unwrap();
            insta::assert_snapshot!(format!("reply_{code}_{name}"), text);
        }
        for (name, notice) in notices() {
            let text = texts
                .notice(&notice, "+593991234567", &NoticeExtra::default())
                .unwrap();
            insta::assert_snapshot!(format!("notice_{code}_{name}"), text);
        }
        for (name, notice, extra) in notices_with_context(locale) {
            let text = texts.notice(&notice, "+593991234567", &extra).unwrap();
            insta::assert_snapshot!(format!("context_{code}_{name}"), text);
        }
        for (name, template, ctx) in staff_templates() {
            let text = templates.render(template, ctx).unwrap();
            insta::assert_snapshot!(format!("staff_{code}_{name}"), text);
        }
    }
}
