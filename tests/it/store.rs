//! One conformance suite for the `Store` trait, run on SQLite and PostgreSQL.

use crate::support;

use avisa::domain::Phone;
use avisa::store::*;
use chrono::Duration;
use support::db::{Backend, TestDb};
use support::fixtures::{date, now, planned, row};

async fn upsert_is_by_phone_and_service(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = &db.store;
    let first = s
        .upsert_subscriptions(
            &[
                row("Ana Pérez", "0991234567", "Netflix", date(2026, 12, 1), 750),
                row("Ana Pérez", "0991234567", "HBO Max", date(2026, 12, 3), 599),
                row(
                    "Luis Mora",
                    "0987654321",
                    "netflix",
                    date(2026, 11, 28),
                    750,
                ),
            ],
            now(),
        )
        .await
        .unwrap();
    assert_eq!(
        first,
        UpsertSummary {
            clients_created: 2,
            clients_updated: 0,
            subscriptions_created: 3,
            subscriptions_updated: 0
        }
    );
    // Same phone written differently, service in other case: an update, not a new row.
    let second = s
        .upsert_subscriptions(
            &[row(
                "Ana Pérez",
                "+593 99 123 4567",
                "NETFLIX",
                date(2027, 1, 1),
                800,
            )],
            now(),
        )
        .await
        .unwrap();
    assert_eq!(second.subscriptions_updated, 1);
    assert_eq!(second.subscriptions_created, 0);
    assert_eq!(s.count_clients().await.unwrap(), 2);
    let ana = s.client_by_phone("+593991234567").await.unwrap().unwrap();
    let subs = s.subscriptions_of_client(ana.id).await.unwrap();
    assert_eq!(subs.len(), 2);
    let netflix = subs.iter().find(|v| v.service == "Netflix").unwrap();
    assert_eq!(netflix.end_date, date(2027, 1, 1));
    assert_eq!(netflix.price().to_string(), "$8.00");
    assert_eq!(s.clients_by_name("ana").await.unwrap().len(), 1);
    // Unchanged rows count as nothing.
    let third = s
        .upsert_subscriptions(
            &[row(
                "Ana Pérez",
                "0991234567",
                "HBO Max",
                date(2026, 12, 3),
                599,
            )],
            now(),
        )
        .await
        .unwrap();
    assert_eq!(third, UpsertSummary::default());
    db.cleanup().await;
}
both_backends!(
    upsert_by_phone_and_service,
    super::upsert_is_by_phone_and_service
);

async fn ending_window_skips_cancelled(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = &db.store;
    s.upsert_subscriptions(
        &[
            row("A", "0991111111", "Netflix", date(2026, 11, 25), 750),
            row("B", "0992222222", "Netflix", date(2026, 12, 2), 750),
            row("C", "0993333333", "Netflix", date(2026, 12, 3), 750),
            row("D", "0994444444", "Netflix", date(2026, 11, 26), 750),
        ],
        now(),
    )
    .await
    .unwrap();
    let d = s.client_by_phone("+593994444444").await.unwrap().unwrap();
    let d_sub = s.subscriptions_of_client(d.id).await.unwrap()[0].id;
    s.set_subscription_status(d_sub, avisa::store::SubscriptionStatus::Cancelled, now())
        .await
        .unwrap();
    let due = s
        .active_subscriptions_ending(date(2026, 11, 25), date(2026, 12, 2))
        .await
        .unwrap();
    let names: Vec<_> = due.iter().map(|v| v.client_name.as_str()).collect();
    assert_eq!(names, ["A", "B"]);
    db.cleanup().await;
}
both_backends!(ending_window, super::ending_window_skips_cancelled);

async fn settings_and_daily_marks(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = &db.store;
    assert!(!is_paused(s.as_ref()).await.unwrap());
    s.set_setting(SETTING_PAUSED, Some("cli"), now())
        .await
        .unwrap();
    s.set_setting(SETTING_PAUSED, Some("staff"), now())
        .await
        .unwrap();
    assert_eq!(
        s.setting(SETTING_PAUSED).await.unwrap().as_deref(),
        Some("staff")
    );
    s.set_setting(SETTING_PAUSED, None, now()).await.unwrap();
    assert!(!is_paused(s.as_ref()).await.unwrap());
    // A daily mark is taken once per day by the message that handles it; a
    // second message taking it the same day changes nothing and fails not.
    let day = date(2026, 11, 25);
    assert!(!s.daily_mark_taken("unknown:+593", day).await.unwrap());
    for wa in ["3EBMARK1", "3EBMARK2"] {
        let inbound = received(s.as_ref(), wa).await;
        let outcome = InboundOutcome {
            message_id: inbound,
            daily_mark: Some(("unknown:+593".into(), day)),
            ..InboundOutcome::default()
        };
        let queued = s
            .apply_inbound(&outcome, &avisa::jobs::queue::SEND_JOBS, now())
            .await
            .unwrap();
        assert_eq!(queued, Some(Vec::new()));
        assert!(s.daily_mark_taken("unknown:+593", day).await.unwrap());
    }
    assert!(
        !s.daily_mark_taken("unknown:+593", day.succ_opt().unwrap())
            .await
            .unwrap()
    );
    s.ping().await.unwrap();
    // Migrations are idempotent.
    s.migrate().await.unwrap();
    db.cleanup().await;
}
both_backends!(settings_marks, super::settings_and_daily_marks);

async fn conversation_state_upserts(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = &db.store;
    assert!(s.conversation("+593991111111").await.unwrap().is_none());
    s.save_conversation("+593991111111", r#"{"state":"idle"}"#, now())
        .await
        .unwrap();
    let later = now() + Duration::hours(1);
    s.save_conversation("+593991111111", r#"{"state":"x"}"#, later)
        .await
        .unwrap();
    let row = s.conversation("+593991111111").await.unwrap().unwrap();
    assert_eq!(row.state, r#"{"state":"x"}"#);
    assert_eq!(row.updated_at, later);

    let id = s
        .insert_inbound(
            &NewInbound {
                phone: Phone::from_e164("+593991111111".into()).unwrap(),
                client_id: None,
                kind: MessageKind::Reply,
                body: "hola".into(),
                media_kind: None,
                wa_message_id: None,
                media_source: None,
            },
            now(),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(s.mark_inbound_processed(id, now()).await.unwrap());
    assert!(!s.mark_inbound_processed(id, now()).await.unwrap());
    assert_eq!(s.message(id).await.unwrap().unwrap().status, "processed");
    db.cleanup().await;
}
both_backends!(conversation_state, super::conversation_state_upserts);

async fn renewal_requests_and_renewals(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = &db.store;
    s.upsert_subscriptions(
        &[
            row("Ana", "0991111111", "Netflix", date(2026, 11, 28), 750),
            row("Ana", "0991111111", "HBO", date(2026, 12, 20), 500),
            row("Luis", "0992222222", "Netflix", date(2026, 10, 1), 900),
        ],
        now(),
    )
    .await
    .unwrap();
    let client = s.client_by_phone("+593991111111").await.unwrap().unwrap();
    let subs = s.subscriptions_of_client(client.id).await.unwrap();
    let netflix = subs
        .iter()
        .find(|v| v.service == "Netflix")
        .unwrap()
        .clone();
    let hbo = subs.iter().find(|v| v.service == "HBO").unwrap().clone();

    assert!(
        s.open_request_for_client(client.id)
            .await
            .unwrap()
            .is_none()
    );
    let req = s
        .create_renewal_request(client.id, Some(netflix.id), now())
        .await
        .unwrap();
    let open = s.open_request_for_client(client.id).await.unwrap().unwrap();
    assert_eq!((open.id, open.subscription_id), (req, Some(netflix.id)));
    let inbound = s
        .insert_inbound(
            &NewInbound {
                phone: client.phone.clone(),
                client_id: Some(client.id),
                kind: MessageKind::Reply,
                body: "comprobante".into(),
                media_kind: Some("image".into()),
                wa_message_id: None,
                media_source: None,
            },
            now(),
        )
        .await
        .unwrap()
        .unwrap();
    let receipt = InboundOutcome {
        message_id: inbound,
        receipt_for_request: Some(req),
        ..InboundOutcome::default()
    };
    s.apply_inbound(&receipt, &avisa::jobs::queue::SEND_JOBS, now())
        .await
        .unwrap();
    let pending = s.open_requests().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].service.as_deref(), Some("Netflix"));
    assert_eq!(pending[0].receipt_message_id, Some(inbound));
    assert_eq!(pending[0].client_name, "Ana");
    assert_eq!(s.count_open_requests().await.unwrap(), 1);

    // Reminders: one only for Netflix (cancelled on renewal), one grouped.
    let only = s
        .record_reminders(&[planned(&netflix, 3)], date(2026, 11, 25), true, now())
        .await
        .unwrap()[0]
        .unwrap();

    assert_eq!(
        s.revenue_due(date(2026, 11, 25), date(2026, 12, 2))
            .await
            .unwrap(),
        750
    );
    assert_eq!(
        s.revenue_due(date(2026, 11, 25), date(2026, 12, 31))
            .await
            .unwrap(),
        1250
    );
    let ending = s
        .subscriptions_ending_by_date(date(2026, 11, 25), date(2026, 12, 31))
        .await
        .unwrap();
    assert_eq!(
        ending.iter().map(|v| v.id).collect::<Vec<_>>(),
        vec![netflix.id, hbo.id]
    );

    let renewal = NewRenewal {
        subscription_id: netflix.id,
        staff: "+593990000001".into(),
        old_end_date: date(2026, 11, 28),
        new_end_date: date(2026, 12, 28),
        months: 1,
        amount_cents: 750,
    };
    let done = s.renew_with_payment(&renewal, None, now()).await.unwrap();
    assert_eq!(done.new_end_date, date(2026, 12, 28));
    assert_eq!(
        s.subscription(netflix.id).await.unwrap().unwrap().end_date,
        date(2026, 12, 28)
    );
    assert!(
        s.open_request_for_client(client.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(s.message(only).await.unwrap().unwrap().status, "cancelled");
    // The same renewal again: the date moved, so it is a conflict.
    assert!(matches!(
        s.renew_with_payment(&renewal, None, now()).await,
        Err(StoreError::Conflict(_))
    ));

    // Undo: only within the window, once.
    let later = now() + Duration::hours(1);
    assert!(
        s.last_renewal_by("+593990000001", later)
            .await
            .unwrap()
            .is_none()
    );
    let last = s
        .last_renewal_by("+593990000001", now() - Duration::hours(24))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.id, done.id);
    assert!(
        s.last_renewal_by("+593990000002", now() - Duration::hours(24))
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.undo_renewal(last.id, later).await.unwrap());
    assert!(!s.undo_renewal(last.id, later).await.unwrap());
    assert_eq!(
        s.subscription(netflix.id).await.unwrap().unwrap().end_date,
        date(2026, 11, 28)
    );
    assert!(
        s.last_renewal_by("+593990000001", now() - Duration::hours(24))
            .await
            .unwrap()
            .is_none()
    );
    db.cleanup().await;
}
both_backends!(renewals, super::renewal_requests_and_renewals);

/// A `received` inbound message from an unknown number, for the marks.
async fn received(s: &dyn Store, wa_id: &str) -> i64 {
    s.insert_inbound(
        &NewInbound {
            phone: Phone::from_e164("+593990009999".into()).unwrap(),
            client_id: None,
            kind: MessageKind::Reply,
            body: "hola".into(),
            media_kind: None,
            wa_message_id: Some(wa_id.into()),
            media_source: None,
        },
        now(),
    )
    .await
    .unwrap()
    .unwrap()
}
