//! One conformance suite for the `Store` trait, run on SQLite and PostgreSQL.

use crate::support;

use avisa::domain::Phone;
use avisa::store::*;
use chrono::Duration;
use support::db::{Backend, TestDb};
use support::fixtures::{date, now, one_netflix_subscription, phone, row};

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

fn planned(sub: &SubscriptionView, tier: i32) -> PlannedMessage {
    PlannedMessage {
        client_id: sub.client_id,
        phone: sub.phone.clone(),
        body: format!("recordatorio {}", sub.service),
        reminders: vec![(
            ReminderKey {
                subscription_id: sub.id,
                end_date: sub.end_date,
                tier,
            },
            3,
        )],
    }
}

async fn reminders_are_recorded_once(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = &db.store;
    let sub = one_netflix_subscription(s.as_ref(), "0991111111").await;
    let today = date(2026, 11, 25);
    let ids = s
        .record_reminders(&[planned(&sub, 3)], today, true, now())
        .await
        .unwrap();
    assert!(ids[0].is_some());
    // A second planner loses the race: nothing new.
    let again = s
        .record_reminders(&[planned(&sub, 3)], today, true, now())
        .await
        .unwrap();
    assert_eq!(again, vec![None]);
    let done = s
        .reminders_done(date(2026, 11, 1), date(2026, 12, 31))
        .await
        .unwrap();
    assert_eq!(done.len(), 1);
    let message = s.message(ids[0].unwrap()).await.unwrap().unwrap();
    assert_eq!(
        (
            message.status.as_str(),
            message.kind.as_str(),
            message.automatic
        ),
        ("queued", "reminder", true)
    );
    let counts = s.reminder_counts(today).await.unwrap();
    assert_eq!(
        counts,
        vec![TierStatusCount {
            tier: 3,
            status: avisa::store::MessageStatus::Queued,
            count: 1
        }]
    );

    // A transient failure is not "done": the next run plans it again.
    let id = ids[0].unwrap();
    s.claim_message(id, now()).await.unwrap().unwrap();
    s.mark_failed(id, "HTTP 500", false, now()).await.unwrap();
    assert!(
        s.reminders_done(date(2026, 11, 1), date(2026, 12, 31))
            .await
            .unwrap()
            .is_empty()
    );
    let replanned = s
        .record_reminders(&[planned(&sub, 3)], date(2026, 11, 26), true, now())
        .await
        .unwrap();
    let new_id = replanned[0].unwrap();
    assert_ne!(new_id, id);
    // A permanent failure is done.
    s.claim_message(new_id, now()).await.unwrap().unwrap();
    s.mark_failed(new_id, "HTTP 422", true, now())
        .await
        .unwrap();
    assert_eq!(
        s.reminders_done(date(2026, 11, 1), date(2026, 12, 31))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.record_reminders(&[planned(&sub, 3)], today, true, now())
            .await
            .unwrap(),
        vec![None]
    );
    db.cleanup().await;
}
both_backends!(reminders_once, super::reminders_are_recorded_once);

async fn a_lost_race_keeps_the_other_messages(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = &db.store;
    s.upsert_subscriptions(
        &[
            row("A", "0991111111", "Netflix", date(2026, 11, 28), 750),
            row("B", "0992222222", "Netflix", date(2026, 11, 28), 750),
        ],
        now(),
    )
    .await
    .unwrap();
    let subs = s
        .active_subscriptions_ending(date(2026, 11, 1), date(2026, 12, 31))
        .await
        .unwrap();
    let today = date(2026, 11, 25);
    s.record_reminders(&[planned(&subs[0], 3)], today, true, now())
        .await
        .unwrap();
    let ids = s
        .record_reminders(
            &[planned(&subs[0], 3), planned(&subs[1], 3)],
            today,
            true,
            now(),
        )
        .await
        .unwrap();
    assert!(ids[0].is_none() && ids[1].is_some());
    // The loser's message row was rolled back with its savepoint.
    assert_eq!(s.queued_messages(100).await.unwrap().len(), 2);
    db.cleanup().await;
}
both_backends!(lost_race, super::a_lost_race_keeps_the_other_messages);

/// Two planners on two pools record the same batches at once: each
/// reminder is recorded once and no message is left queued without its
/// reminder, whether both take the multi-row path (first half) or a key
/// already taken sends both down the per-message path (second half).
async fn concurrent_batches_record_each_reminder_once(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = &db.store;
    let other = connect(&db.url).await.unwrap();
    let rows: Vec<NewSubscription> = (0..600)
        .map(|i| {
            row(
                &format!("C{i}"),
                &format!("099{:07}", 1_000_000 + i),
                "Netflix",
                date(2026, 11, 28),
                750,
            )
        })
        .collect();
    s.upsert_subscriptions(&rows, now()).await.unwrap();
    let subs = s
        .active_subscriptions_ending(date(2026, 11, 1), date(2026, 12, 31))
        .await
        .unwrap();
    let batch: Vec<PlannedMessage> = subs.iter().map(|sub| planned(sub, 3)).collect();
    assert_eq!(batch.len(), 600);
    let today = date(2026, 11, 25);
    let taken = s
        .record_reminders(&batch[450..451], today, true, now())
        .await
        .unwrap();
    assert!(taken[0].is_some());
    for (range, taken) in [(0..300, None), (300..600, Some(450))] {
        let part = &batch[range.clone()];
        let (a, b) = tokio::join!(
            s.record_reminders(part, today, true, now()),
            other.record_reminders(part, today, true, now()),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        for (i, (x, y)) in range.zip(a.iter().zip(&b)) {
            let won = usize::from(x.is_some()) + usize::from(y.is_some());
            let expected = usize::from(Some(i) != taken);
            assert_eq!(won, expected, "message {i}: {x:?} {y:?}");
        }
    }
    assert_eq!(s.queued_messages(10_000).await.unwrap().len(), 600);
    assert_eq!(
        s.reminder_counts(today).await.unwrap(),
        vec![TierStatusCount {
            tier: 3,
            status: avisa::store::MessageStatus::Queued,
            count: 600
        }]
    );
    // Nothing left to record: a third run records nothing and leaves nothing.
    let again = s
        .record_reminders(&batch, today, true, now())
        .await
        .unwrap();
    assert!(again.iter().all(Option::is_none));
    assert_eq!(s.queued_messages(10_000).await.unwrap().len(), 600);
    if let Pool::Postgres(pool) = other.pool() {
        pool.close().await;
    }
    db.cleanup().await;
}
both_backends!(
    concurrent_batches,
    super::concurrent_batches_record_each_reminder_once
);

async fn outbox_claims_once(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = &db.store;
    let out = NewOutbound {
        phone: phone("0991111111"),
        client_id: None,
        kind: MessageKind::Reply,
        body: "hola".into(),
    };
    let id = s.queue_outbound(&out, now()).await.unwrap();
    let claimed = s.claim_message(id, now()).await.unwrap().unwrap();
    assert_eq!((claimed.status.as_str(), claimed.attempts), ("sending", 1));
    assert!(
        s.claim_message(id, now()).await.unwrap().is_none(),
        "second claim must fail"
    );
    s.mark_retry(id, now() + Duration::seconds(30), "HTTP 500", true, now())
        .await
        .unwrap();
    assert!(
        s.claim_message(id, now()).await.unwrap().is_none(),
        "not due yet"
    );
    let again = s
        .claim_message(id, now() + Duration::seconds(31))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.attempts, 2);
    s.mark_sent(id, Some("100000"), now()).await.unwrap();
    let sent = s.message(id).await.unwrap().unwrap();
    assert_eq!(
        (sent.status.as_str(), sent.provider_message_id.as_deref()),
        ("sent", Some("100000"))
    );
    assert!(
        s.claim_message(id, now() + Duration::days(1))
            .await
            .unwrap()
            .is_none()
    );
    // Delivery statuses only move forward.
    assert!(
        s.set_delivery_status("100000", "read", now())
            .await
            .unwrap()
    );
    s.set_delivery_status("100000", "delivered", now())
        .await
        .unwrap();
    assert_eq!(s.message(id).await.unwrap().unwrap().status, "read");
    assert!(
        !s.set_delivery_status("unknown-id", "read", now())
            .await
            .unwrap()
    );
    // Priority: interactive before bulk.
    let counts = s
        .message_counts(now() - Duration::hours(1), now() + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        counts,
        vec![KindStatusCount {
            kind: avisa::store::MessageKind::Reply,
            status: avisa::store::MessageStatus::Read,
            count: 1
        }]
    );
    db.cleanup().await;
}
both_backends!(outbox_claims, super::outbox_claims_once);

async fn interrupted_sends_are_not_resent(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = &db.store;
    let out = NewOutbound {
        phone: phone("0991111111"),
        client_id: None,
        kind: MessageKind::Reply,
        body: "x".into(),
    };
    let id = s.queue_outbound(&out, now()).await.unwrap();
    s.claim_message(id, now()).await.unwrap().unwrap();
    assert_eq!(
        s.mark_interrupted_sends_unknown(now() + Duration::minutes(5), now())
            .await
            .unwrap(),
        1
    );
    let row = s.message(id).await.unwrap().unwrap();
    assert_eq!(row.status, "unknown");
    assert!(
        s.queued_messages(10).await.unwrap().is_empty(),
        "not resent"
    );
    // Staff may retry it by hand: back to queued with a fresh budget.
    assert!(s.requeue_failed(id, now()).await.unwrap());
    assert_eq!(s.message(id).await.unwrap().unwrap().status, "queued");
    db.cleanup().await;
}
both_backends!(interrupted_sends, super::interrupted_sends_are_not_resent);

async fn inbound_is_deduplicated(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = &db.store;
    let msg = NewInbound {
        phone: Phone::from_e164("+593991111111".into()).unwrap(),
        client_id: None,
        kind: MessageKind::Reply,
        body: "hola".into(),
        media_kind: None,
        wa_message_id: Some("3EB0X1".into()),
    };
    assert!(s.insert_inbound(&msg, now()).await.unwrap().is_some());
    assert!(s.insert_inbound(&msg, now()).await.unwrap().is_none());
    let no_id = NewInbound {
        wa_message_id: None,
        ..msg.clone()
    };
    assert!(s.insert_inbound(&no_id, now()).await.unwrap().is_some());
    assert!(s.insert_inbound(&no_id, now()).await.unwrap().is_some());
    assert_eq!(
        s.messages_for_phone("+593991111111", 10)
            .await
            .unwrap()
            .len(),
        3
    );
    db.cleanup().await;
}
both_backends!(inbound_dedup, super::inbound_is_deduplicated);

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
    let done = s.renew_subscription(&renewal, now()).await.unwrap();
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
        s.renew_subscription(&renewal, now()).await,
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
        },
        now(),
    )
    .await
    .unwrap()
    .unwrap()
}
