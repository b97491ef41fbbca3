//! Store conformance for the staff panel's clients, subscriptions and
//! services, on SQLite and PostgreSQL.

use crate::support;

use avisa::domain::{Money, Region};
use avisa::store::*;
use support::db::{Backend, TestDb};
use support::fixtures::{date, now, phone};

fn client(name: &str, tel: &str) -> ClientInput {
    ClientInput {
        name: name.into(),
        phone: phone(tel),
        email: None,
        notes: String::new(),
    }
}

async fn search(s: &dyn Store, text: &str) -> Vec<String> {
    let query = ClientQuery::parse(text, Region::default());
    let page = s.search_clients(&query, 0, 50).await.unwrap();
    assert_eq!(page.total, page.rows.len() as i64, "{text}");
    page.rows.into_iter().map(|c| c.name).collect()
}

async fn search_by_name_and_phone(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = db.store.as_ref();
    let ana = s
        .create_client(&client("Ana Pérez", "0991234567"), now())
        .await
        .unwrap();
    s.create_client(&client("JOSÉ MUÑOZ", "0987654321"), now())
        .await
        .unwrap();
    s.create_client(&client("Luis 50%_off", "0981111111"), now())
        .await
        .unwrap();
    for text in [
        "0991234567",
        "+593 99 123 4567",
        "593991234567",
        "99123",
        "234567",
    ] {
        assert_eq!(search(s, text).await, ["Ana Pérez"], "{text}");
    }
    assert_eq!(search(s, "ana").await, ["Ana Pérez"]);
    assert_eq!(search(s, "PEREZ").await, ["Ana Pérez"]);
    assert_eq!(search(s, "josé muñoz").await, ["JOSÉ MUÑOZ"]);
    assert_eq!(search(s, "jose munoz").await, ["JOSÉ MUÑOZ"]);
    assert_eq!(search(s, "50%_").await, ["Luis 50%_off"]);
    assert_eq!(search(s, "%").await, ["Luis 50%_off"]);
    // `_` is a literal underscore, not "any character".
    assert_eq!(search(s, "_ff").await, Vec::<String>::new());
    assert_eq!(search(s, "").await.len(), 3);

    // Counts and next end date of active subscriptions only.
    let netflix = s.create_service("Netflix", None, now()).await.unwrap();
    let hbo = s
        .create_service("HBO Max", Some(Money::from_cents(599)), now())
        .await
        .unwrap();
    let first = SubscriptionInput {
        service_id: netflix,
        end_date: date(2026, 12, 10),
        price: Money::from_cents(750),
    };
    s.create_subscription(ana, &first, now()).await.unwrap();
    let second = SubscriptionInput {
        service_id: hbo,
        end_date: date(2026, 12, 1),
        price: Money::from_cents(599),
    };
    let hbo_sub = s.create_subscription(ana, &second, now()).await.unwrap();
    s.set_subscription_status(hbo_sub, avisa::store::SubscriptionStatus::Cancelled, now())
        .await
        .unwrap();
    let page = s
        .search_clients(&ClientQuery::parse("ana", Region::default()), 0, 10)
        .await
        .unwrap();
    assert_eq!(page.rows[0].active_subscriptions, 1);
    assert_eq!(page.rows[0].next_end_date, Some(date(2026, 12, 10)));
    db.cleanup().await;
}
both_backends!(search_clients, super::search_by_name_and_phone);

async fn paging_counts_everything(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = db.store.as_ref();
    for i in 0..30 {
        s.create_client(
            &client(&format!("Cliente {i:02}"), &format!("09911111{i:02}")),
            now(),
        )
        .await
        .unwrap();
    }
    let all = ClientQuery::parse("cliente", Region::default());
    let first = s.search_clients(&all, 0, 25).await.unwrap();
    let second = s.search_clients(&all, 25, 25).await.unwrap();
    assert_eq!((first.total, first.rows.len()), (30, 25));
    assert_eq!((second.total, second.rows.len()), (30, 5));
    assert_eq!(first.rows[0].name, "Cliente 00");
    assert_eq!(second.rows[4].name, "Cliente 29");
    db.cleanup().await;
}
both_backends!(paging, super::paging_counts_everything);

async fn clients_are_unique_by_phone(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = db.store.as_ref();
    let ana = s
        .create_client(&client("Ana", "0991234567"), now())
        .await
        .unwrap();
    let luis = s
        .create_client(&client("Luis", "0987654321"), now())
        .await
        .unwrap();
    let again = s
        .create_client(&client("Otra", "+593991234567"), now())
        .await;
    assert!(
        matches!(again, Err(StoreError::Duplicate("phone"))),
        "{again:?}"
    );
    let taken = s
        .update_client(luis, &client("Luis", "0991234567"), now())
        .await;
    assert!(
        matches!(taken, Err(StoreError::Duplicate("phone"))),
        "{taken:?}"
    );
    let mut edited = client("Ana María", "0991234567");
    edited.email = Some("ana@mail.ec".into());
    edited.notes = "paga en efectivo".into();
    s.update_client(ana, &edited, now()).await.unwrap();
    let row = s.client(ana).await.unwrap().unwrap();
    assert_eq!(
        (row.name.as_str(), row.email.as_deref(), row.notes.as_str()),
        ("Ana María", Some("ana@mail.ec"), "paga en efectivo")
    );
    let missing = s.update_client(9999, &edited, now()).await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))));

    // Deleting takes subscriptions, renewals and the conversation along.
    let netflix = s.create_service("Netflix", None, now()).await.unwrap();
    let sub = SubscriptionInput {
        service_id: netflix,
        end_date: date(2026, 12, 1),
        price: Money::from_cents(750),
    };
    let sub_id = s.create_subscription(ana, &sub, now()).await.unwrap();
    s.save_conversation("+593991234567", "{}", now())
        .await
        .unwrap();
    assert!(s.delete_client(ana).await.unwrap());
    assert!(!s.delete_client(ana).await.unwrap());
    assert!(s.client(ana).await.unwrap().is_none());
    assert!(s.subscription(sub_id).await.unwrap().is_none());
    assert!(s.conversation("+593991234567").await.unwrap().is_none());
    assert_eq!(s.count_clients().await.unwrap(), 1);
    db.cleanup().await;
}
both_backends!(clients_unique, super::clients_are_unique_by_phone);

async fn subscriptions_are_unique_by_service(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = db.store.as_ref();
    let ana = s
        .create_client(&client("Ana", "0991234567"), now())
        .await
        .unwrap();
    let netflix = s.create_service("Netflix", None, now()).await.unwrap();
    let hbo = s.create_service("HBO Max", None, now()).await.unwrap();
    let mut input = SubscriptionInput {
        service_id: netflix,
        end_date: date(2026, 12, 1),
        price: Money::from_cents(750),
    };
    let first = s.create_subscription(ana, &input, now()).await.unwrap();
    let twice = s.create_subscription(ana, &input, now()).await;
    assert!(
        matches!(twice, Err(StoreError::Duplicate("service"))),
        "{twice:?}"
    );
    input.service_id = hbo;
    let second = s.create_subscription(ana, &input, now()).await.unwrap();
    input.service_id = netflix;
    let clash = s.update_subscription(second, &input, now()).await;
    assert!(
        matches!(clash, Err(StoreError::Duplicate("service"))),
        "{clash:?}"
    );
    let moved = SubscriptionInput {
        service_id: netflix,
        end_date: date(2027, 1, 15),
        price: Money::from_cents(1250),
    };
    s.update_subscription(first, &moved, now()).await.unwrap();
    let view = s.subscription(first).await.unwrap().unwrap();
    assert_eq!((view.end_date, view.price_cents), (date(2027, 1, 15), 1250));
    assert!(s.delete_subscription(second).await.unwrap());
    assert!(!s.delete_subscription(second).await.unwrap());
    assert_eq!(s.subscriptions_of_client(ana).await.unwrap().len(), 1);
    db.cleanup().await;
}
both_backends!(
    subscriptions_unique,
    super::subscriptions_are_unique_by_service
);

async fn services_with_counts_and_names(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = db.store.as_ref();
    s.upsert_subscriptions(
        &[NewSubscription {
            name: "Ana".into(),
            phone: phone("0991234567"),
            email: None,
            service: "Netflix".into(),
            end_date: date(2026, 12, 1),
            price: Money::from_cents(750),
        }],
        now(),
    )
    .await
    .unwrap();
    let dup = s.create_service("NETFLIX", None, now()).await;
    assert!(matches!(dup, Err(StoreError::Duplicate("name"))), "{dup:?}");
    let disney = s
        .create_service("Disney+", Some(Money::from_cents(500)), now())
        .await
        .unwrap();
    let netflix = s.service_by_name("netflix").await.unwrap().unwrap();
    assert_eq!(
        (netflix.subscriptions, netflix.active_subscriptions),
        (1, 1)
    );
    let renamed = s.update_service(disney, "netflix", None).await;
    assert!(
        matches!(renamed, Err(StoreError::Duplicate("name"))),
        "{renamed:?}"
    );
    s.update_service(disney, "Disney Plus", Some(Money::from_cents(650)))
        .await
        .unwrap();
    let all = s.services_with_counts().await.unwrap();
    let names: Vec<_> = all.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["Disney Plus", "Netflix"]);
    assert_eq!(all[0].default_price_cents, Some(650));
    assert_eq!(all[0].subscriptions, 0);
    assert!(matches!(
        s.update_service(9999, "x", None).await,
        Err(StoreError::NotFound(_))
    ));
    db.cleanup().await;
}
both_backends!(services, super::services_with_counts_and_names);

async fn renewal_history_of_a_client(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = db.store.as_ref();
    let ana = s
        .create_client(&client("Ana", "0991234567"), now())
        .await
        .unwrap();
    let luis = s
        .create_client(&client("Luis", "0987654321"), now())
        .await
        .unwrap();
    let netflix = s.create_service("Netflix", None, now()).await.unwrap();
    let input = SubscriptionInput {
        service_id: netflix,
        end_date: date(2026, 12, 1),
        price: Money::from_cents(750),
    };
    let sub = s.create_subscription(ana, &input, now()).await.unwrap();
    s.create_subscription(luis, &input, now()).await.unwrap();
    for (old, new) in [
        (date(2026, 12, 1), date(2027, 1, 1)),
        (date(2027, 1, 1), date(2027, 3, 1)),
    ] {
        let renewal = NewRenewal {
            subscription_id: sub,
            staff: "web:ana@avisa.ec".into(),
            old_end_date: old,
            new_end_date: new,
            months: 1,
            amount_cents: 750,
        };
        s.renew_with_payment(&renewal, None, now()).await.unwrap();
    }
    let history = s.renewals_of_client(ana, 10).await.unwrap();
    let dates: Vec<_> = history.iter().map(|r| r.new_end_date).collect();
    assert_eq!(dates, [date(2027, 3, 1), date(2027, 1, 1)]);
    assert_eq!(history[0].service, "Netflix");
    assert!(s.renewals_of_client(luis, 10).await.unwrap().is_empty());
    db.cleanup().await;
}
both_backends!(renewal_history, super::renewal_history_of_a_client);

/// Names sort as people read them: accents and case aside (Álvaro with the
/// a's, not after Zoé).
async fn names_sort_without_accents_or_case(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = db.store.as_ref();
    let names = ["Zoé", "Óscar", "beto", "Íñigo", "Ángela", "Álvaro", "Ñusta"];
    for (i, name) in names.iter().enumerate() {
        s.create_client(&client(name, &format!("09911111{i:02}")), now())
            .await
            .unwrap();
    }
    assert_eq!(
        search(s, "").await,
        ["Álvaro", "Ángela", "beto", "Íñigo", "Ñusta", "Óscar", "Zoé"]
    );
    db.cleanup().await;
}
both_backends!(name_sort, super::names_sort_without_accents_or_case);

/// A client written without the folded name (before migration 0004, or by
/// hand) gets it at the next start-up, and is found without accents.
async fn folded_names_are_filled_in_at_start_up(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = db.store.as_ref();
    let sql = "INSERT INTO clients (name, phone, notes, created_at, updated_at) \
               VALUES ($1, $2, '', $3, $3)";
    let tel = phone("0991111199");
    match s.pool() {
        Pool::Sqlite(pool) => {
            let insert = sqlx::query(sql)
                .bind("Íñigo")
                .bind(tel.as_str())
                .bind(now());
            insert.execute(&pool).await.unwrap();
        }
        Pool::Postgres(pool) => {
            let insert = sqlx::query(sql)
                .bind("Íñigo")
                .bind(tel.as_str())
                .bind(now());
            insert.execute(&pool).await.unwrap();
        }
    }
    assert!(search(s, "inigo").await.is_empty(), "not folded yet");
    s.migrate().await.unwrap();
    assert_eq!(search(s, "inigo").await, ["Íñigo"]);
    db.cleanup().await;
}
both_backends!(fill_folded, super::folded_names_are_filled_in_at_start_up);
