//! Store conformance for the staff panel's operations area (messages log,
//! retry, export, import preview), on SQLite and PostgreSQL.

use crate::support;

use avisa::store::*;
use chrono::Duration;
use support::db::{Backend, TestDb};
use support::fixtures::{date, now, one_netflix_subscription, phone, row};

fn out(tel: &str, kind: MessageKind, body: &str) -> NewOutbound {
    NewOutbound {
        phone: phone(tel),
        client_id: None,
        kind,
        body: body.into(),
        template_args: None,
    }
}

async fn messages_log_filters_and_pages(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = &db.store;
    let a = s
        .queue_outbound(&out("0991111111", MessageKind::Reply, "a"), now())
        .await
        .unwrap();
    let b = s
        .queue_outbound(
            &out("0992222222", MessageKind::Notice, "b"),
            now() + Duration::days(1),
        )
        .await
        .unwrap();
    let c = s
        .queue_outbound(
            &out("0991111111", MessageKind::Staff, "c"),
            now() + Duration::days(2),
        )
        .await
        .unwrap();
    let inbound = NewInbound {
        phone: phone("0991111111"),
        client_id: None,
        kind: MessageKind::Reply,
        body: "hola".into(),
        media_kind: None,
        wa_message_id: Some("wa-1".into()),
        media_source: None,
    };
    let d = s
        .insert_inbound(&inbound, now() + Duration::days(3))
        .await
        .unwrap()
        .unwrap();
    s.claim_message(b, now() + Duration::days(1))
        .await
        .unwrap()
        .unwrap();
    s.mark_failed(b, "HTTP 400: bad number", true, now() + Duration::days(1))
        .await
        .unwrap();

    let ids = |page: &MessagePage| page.rows.iter().map(|m| m.id).collect::<Vec<_>>();
    let all = s
        .message_log(&MessageFilter::default(), 50, 0)
        .await
        .unwrap();
    assert_eq!(
        (ids(&all), all.total),
        (vec![d, c, b, a], 4),
        "newest first"
    );

    let by_phone = MessageFilter {
        phone: Some("+593991111111".into()),
        ..MessageFilter::default()
    };
    let page = s.message_log(&by_phone, 50, 0).await.unwrap();
    assert_eq!(ids(&page), vec![d, c, a]);

    let outbound_of_phone = MessageFilter {
        direction: Some(avisa::store::Direction::Out),
        ..by_phone.clone()
    };
    let page = s.message_log(&outbound_of_phone, 50, 0).await.unwrap();
    assert_eq!(ids(&page), vec![c, a]);

    let staff = MessageFilter {
        kind: Some(avisa::store::MessageKind::Staff),
        ..MessageFilter::default()
    };
    assert_eq!(ids(&s.message_log(&staff, 50, 0).await.unwrap()), vec![c]);

    let failed = MessageFilter {
        status: Some(avisa::store::MessageStatus::Failed),
        ..MessageFilter::default()
    };
    let page = s.message_log(&failed, 50, 0).await.unwrap();
    assert_eq!(ids(&page), vec![b]);
    assert_eq!(page.rows[0].error.as_deref(), Some("HTTP 400: bad number"));

    let window = MessageFilter {
        from: Some(now() + Duration::days(1)),
        until: Some(now() + Duration::days(3)),
        ..MessageFilter::default()
    };
    assert_eq!(
        ids(&s.message_log(&window, 50, 0).await.unwrap()),
        vec![c, b]
    );

    // Paging: total counts every match, rows only the page.
    let first = s
        .message_log(&MessageFilter::default(), 3, 0)
        .await
        .unwrap();
    let second = s
        .message_log(&MessageFilter::default(), 3, 3)
        .await
        .unwrap();
    assert_eq!((ids(&first), first.total), (vec![d, c, b], 4));
    assert_eq!((ids(&second), second.total), (vec![a], 4));
    db.cleanup().await;
}
both_backends!(messages_log, super::messages_log_filters_and_pages);

async fn failed_messages_are_requeued_once(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = &db.store;
    let id = s
        .queue_outbound(&out("0991111111", MessageKind::Reply, "x"), now())
        .await
        .unwrap();
    assert!(
        !s.requeue_failed(id, now()).await.unwrap(),
        "queued, not failed"
    );
    s.claim_message(id, now()).await.unwrap().unwrap();
    s.mark_failed(id, "HTTP 400: nope", true, now())
        .await
        .unwrap();
    assert!(s.requeue_failed(id, now()).await.unwrap());
    let msg = s.message(id).await.unwrap().unwrap();
    assert_eq!(
        (
            msg.status.as_str(),
            msg.attempts,
            msg.error.as_deref(),
            msg.permanent_failure,
            msg.next_attempt_at
        ),
        ("queued", 0, None, false, None)
    );
    assert!(!s.requeue_failed(id, now()).await.unwrap(), "second click");
    assert!(s.claim_message(id, now()).await.unwrap().is_some());

    // A failed reminder planned again in another message is not resent.
    let sub = one_netflix_subscription(s.as_ref(), "0992222222").await;
    let planned = PlannedMessage {
        client_id: sub.client_id,
        phone: phone("0992222222"),
        body: "recordatorio".into(),
        template_args: None,
        reminders: vec![(
            ReminderKey {
                subscription_id: sub.id,
                end_date: sub.end_date,
                tier: 3,
            },
            3,
        )],
    };
    let first = s
        .record_reminders(
            std::slice::from_ref(&planned),
            date(2026, 11, 25),
            true,
            now(),
        )
        .await
        .unwrap()[0]
        .unwrap();
    s.claim_message(first, now()).await.unwrap().unwrap();
    s.mark_failed(first, "gave up", false, now()).await.unwrap();
    let second = s
        .record_reminders(&[planned], date(2026, 11, 26), true, now())
        .await
        .unwrap()[0]
        .unwrap();
    assert_ne!(first, second);
    assert!(!s.requeue_failed(first, now()).await.unwrap(), "superseded");
    assert_eq!(s.message(first).await.unwrap().unwrap().status, "failed");
    db.cleanup().await;
}
both_backends!(requeue, super::failed_messages_are_requeued_once);

async fn insert_bare_client(db: &TestDb, name: &str, tel: &str) {
    let sql = "INSERT INTO clients (name, phone, notes, created_at, updated_at) VALUES ($1, $2, '', $3, $3)";
    match db.store.pool() {
        Pool::Sqlite(pool) => {
            sqlx::query(sql)
                .bind(name)
                .bind(phone(tel).as_str())
                .bind(now())
                .execute(&pool)
                .await
                .unwrap();
        }
        Pool::Postgres(pool) => {
            sqlx::query(sql)
                .bind(name)
                .bind(phone(tel).as_str())
                .bind(now())
                .execute(&pool)
                .await
                .unwrap();
        }
    }
}

async fn export_rows_list_every_client(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = &db.store;
    let mut ana = row("Ana", "0991111111", "Netflix", date(2026, 12, 1), 750);
    ana.email = Some("ana@example.com".into());
    s.upsert_subscriptions(
        &[
            ana,
            row("Ana", "0991111111", "HBO", date(2026, 12, 2), 599),
            row("Luis", "0992222222", "Netflix", date(2026, 12, 3), 800),
        ],
        now(),
    )
    .await
    .unwrap();
    insert_bare_client(&db, "Sin Nada", "0993333333").await;
    let hbo = s
        .subscriptions_of_client(
            s.client_by_phone("+593991111111")
                .await
                .unwrap()
                .unwrap()
                .id,
        )
        .await
        .unwrap()
        .into_iter()
        .find(|v| v.service == "HBO")
        .unwrap();
    s.set_subscription_status(hbo.id, avisa::store::SubscriptionStatus::Cancelled, now())
        .await
        .unwrap();

    let rows = s.export_rows().await.unwrap();
    let summary: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.name.as_str(),
                r.email.as_deref(),
                r.service.as_deref(),
                r.end_date,
                r.price_cents,
                r.status.map(|s| s.as_str()),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "Ana",
                Some("ana@example.com"),
                Some("Netflix"),
                Some(date(2026, 12, 1)),
                Some(750),
                Some("active")
            ),
            (
                "Ana",
                Some("ana@example.com"),
                Some("HBO"),
                Some(date(2026, 12, 2)),
                Some(599),
                Some("cancelled")
            ),
            (
                "Luis",
                None,
                Some("Netflix"),
                Some(date(2026, 12, 3)),
                Some(800),
                Some("active")
            ),
            ("Sin Nada", None, None, None, None, None),
        ]
    );
    assert_eq!(rows[0].phone, "+593991111111");
    db.cleanup().await;
}
both_backends!(export_rows, super::export_rows_list_every_client);

async fn preview_counts_what_upsert_does(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = &db.store;
    let batches: Vec<Vec<NewSubscription>> = vec![
        vec![
            row("Ana", "0991111111", "Netflix", date(2026, 12, 1), 750),
            row("Ana", "0991111111", "HBO", date(2026, 12, 2), 599),
            row("Luis", "0992222222", "netflix", date(2026, 12, 3), 800),
        ],
        // Nothing changes.
        vec![
            row("Ana", "0991111111", "NETFLIX", date(2026, 12, 1), 750),
            row("Luis", "0992222222", "Netflix", date(2026, 12, 3), 800),
        ],
        // Rename, new date, new service, new client.
        vec![
            row("Ana María", "0991111111", "Netflix", date(2027, 1, 1), 750),
            row("Ana María", "0991111111", "Spotify", date(2027, 1, 1), 399),
            row("Eva", "0993333333", "Spotify", date(2027, 1, 1), 399),
            row("Eva R", "0993333333", "HBO", date(2027, 1, 1), 599),
        ],
    ];
    for (i, batch) in batches.iter().enumerate() {
        let preview = s.preview_subscriptions(batch).await.unwrap();
        let actual = s.upsert_subscriptions(batch, now()).await.unwrap();
        assert_eq!(preview, actual, "batch {i}");
    }
    // Reactivating a cancelled subscription is an update.
    let luis = s.client_by_phone("+593992222222").await.unwrap().unwrap();
    let sub = s.subscriptions_of_client(luis.id).await.unwrap().remove(0);
    s.set_subscription_status(sub.id, avisa::store::SubscriptionStatus::Cancelled, now())
        .await
        .unwrap();
    let again = [row("Luis", "0992222222", "Netflix", date(2026, 12, 3), 800)];
    let preview = s.preview_subscriptions(&again).await.unwrap();
    assert_eq!(preview.subscriptions_updated, 1);
    assert_eq!(
        preview,
        s.upsert_subscriptions(&again, now()).await.unwrap()
    );
    db.cleanup().await;
}
both_backends!(preview, super::preview_counts_what_upsert_does);
