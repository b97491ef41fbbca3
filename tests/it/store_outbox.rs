//! The `Store` conformance suite, continued: recording reminders, the
//! outbox and inbound deduplication, on SQLite and PostgreSQL.

use crate::support;

use avisa::domain::Phone;
use avisa::store::*;
use chrono::Duration;
use support::db::{Backend, TestDb};
use support::fixtures::{date, now, one_netflix_subscription, phone, planned, row};

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
        template_args: None,
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
        s.set_delivery_status("100000", "read", None, now())
            .await
            .unwrap()
    );
    s.set_delivery_status("100000", "delivered", None, now())
        .await
        .unwrap();
    assert_eq!(s.message(id).await.unwrap().unwrap().status, "read");
    assert!(
        !s.set_delivery_status("unknown-id", "read", None, now())
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
        template_args: None,
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
        media_source: None,
    };
    assert!(s.insert_inbound(&msg, now()).await.unwrap().is_some());
    assert!(s.insert_inbound(&msg, now()).await.unwrap().is_none());
    let no_id = NewInbound {
        wa_message_id: None,
        media_source: None,
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
