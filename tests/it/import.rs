//! Big imports (`import::load::import_file`, `Store::begin_import`): all or
//! nothing across batches, thousands of rows, and the same counts as the
//! row-by-row rules (`preview_upsert`), on both backends.

use std::io::Write as _;

use avisa::domain::Region;
use avisa::import::load::import_file;
use avisa::store::*;
use support::db::{Backend, TestDb};
use support::fixtures::{date, now, row};

use crate::support;

const HEADER: &str = "nombres,apellidos,telefono,email,servicio,vence,precio\n";

/// `clients` phones with two services each, in file order.
fn csv(clients: usize, cents: impl Fn(usize) -> String) -> String {
    let mut text = String::from(HEADER);
    for i in 0..clients {
        for (s, service) in ["Netflix", "Spotify"].iter().enumerate() {
            let row = 2 * i + s;
            text.push_str(&format!(
                "Cliente {i},Prueba,099{:07},c{i}@correo.ec,{service},2027-01-{:02},{}\n",
                i * 37,
                1 + i % 28,
                cents(row)
            ));
        }
    }
    text
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
    path
}

async fn subscription_count(store: &dyn Store) -> usize {
    store
        .export_rows()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.service.is_some())
        .count()
}

async fn one_bad_row_in_the_last_batch_writes_nothing(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = &*db.store;
    store
        .upsert_subscriptions(
            &[row(
                "Ana Pérez",
                "0990000000",
                "Netflix",
                date(2027, 1, 1),
                750,
            )],
            now(),
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // 9,000 good rows (batches of 4,096), then a bad price on the last line.
    let mut text = csv(4_500, |_| "7.50".into());
    text.push_str("Beto,Mal,0991111111,,Netflix,2027-01-01,siete\n");
    let path = write(&dir, "bad.csv", &text);

    let mut errors = Vec::new();
    let (sender, receiver) = std::sync::mpsc::channel();
    let loaded = import_file(&path, Region::default(), Some(store), false, move |e| {
        sender.send(e.to_string()).unwrap();
    })
    .await
    .unwrap();
    errors.extend(receiver.try_iter());
    assert_eq!(loaded.rows, 9_000);
    assert_eq!(loaded.invalid_lines, 1);
    assert_eq!(loaded.written, None);
    assert_eq!(
        errors,
        ["línea 9002: precio: «siete» no es un precio (usa 7.50 o 7,50)"]
    );
    // Nothing written: only the client that was there before.
    assert_eq!(store.count_clients().await.unwrap(), 1);
    assert_eq!(subscription_count(store).await, 1);
    let ana = store
        .client_by_phone("+593990000000")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ana.name, "Ana Pérez");

    // With --skip-invalid the good rows are written, in one go.
    let loaded = import_file(&path, Region::default(), Some(store), true, |_| {})
        .await
        .unwrap();
    let written = loaded.written.unwrap();
    assert_eq!(written.summary.clients_created, 4_499);
    assert_eq!(
        written.summary.clients_updated, 1,
        "Cliente 0 took Ana's phone"
    );
    assert_eq!(written.summary.subscriptions_created, 8_999);
    assert_eq!(
        written.summary.subscriptions_updated, 0,
        "Ana's Netflix is unchanged"
    );
    assert_eq!(store.count_clients().await.unwrap(), 4_500);
    db.cleanup().await;
}

both_backends!(
    bad_last_batch,
    super::one_bad_row_in_the_last_batch_writes_nothing
);

async fn thousands_of_rows_and_a_changed_price(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = &*db.store;
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "first.csv", &csv(3_000, |_| "7.50".into()));
    let loaded = import_file(&path, Region::default(), Some(store), false, |_| {})
        .await
        .unwrap();
    assert_eq!((loaded.rows, loaded.invalid_lines), (6_000, 0));
    assert_eq!(
        loaded.written.unwrap().summary,
        UpsertSummary {
            clients_created: 3_000,
            clients_updated: 0,
            subscriptions_created: 6_000,
            subscriptions_updated: 0,
        }
    );
    assert_eq!(store.count_clients().await.unwrap(), 3_000);
    assert_eq!(subscription_count(store).await, 6_000);
    assert_eq!(store.count_active_subscriptions().await.unwrap(), 6_000);

    // The same file again changes nothing; one new price is one update.
    let loaded = import_file(&path, Region::default(), Some(store), false, |_| {})
        .await
        .unwrap();
    assert_eq!(loaded.written.unwrap().summary, UpsertSummary::default());
    let changed = csv(3_000, |row| {
        if row == 4_001 { "9.99" } else { "7.50" }.into()
    });
    let path = write(&dir, "second.csv", &changed);
    let loaded = import_file(&path, Region::default(), Some(store), false, |_| {})
        .await
        .unwrap();
    assert_eq!(
        loaded.written.unwrap().summary,
        UpsertSummary {
            subscriptions_updated: 1,
            ..UpsertSummary::default()
        }
    );
    // Row 4,001 is client 2,000's second service.
    let client = store
        .client_by_phone(&format!("+59399{:07}", 2_000 * 37))
        .await
        .unwrap()
        .unwrap();
    let subscriptions = store.subscriptions_of_client(client.id).await.unwrap();
    let spotify = subscriptions
        .iter()
        .find(|s| s.service == "Spotify")
        .unwrap();
    assert_eq!(spotify.price_cents, 999);
    assert_eq!(subscription_count(store).await, 6_000);
    db.cleanup().await;
}

both_backends!(
    thousands_of_rows,
    super::thousands_of_rows_and_a_changed_price
);

/// Tricky rows whose counts the staged import must get exactly as the
/// row-by-row rules do: a name changed and changed back, emails given,
/// repeated and missing, a cancelled subscription, services in other case,
/// a new service spelled two ways, batches that split a client's rows.
async fn staged_counts_follow_the_row_rules(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = &*db.store;
    let with_email = |mut r: NewSubscription, email: &str| {
        r.email = Some(email.into());
        r
    };
    let before = [
        row("Ana", "0990000001", "Netflix", date(2026, 12, 1), 750),
        with_email(
            row("Beto", "0990000002", "Netflix", date(2026, 12, 1), 750),
            "b@x.ec",
        ),
        row("Carla", "0990000003", "Spotify", date(2026, 12, 1), 399),
        row("Dora", "0990000004", "Netflix", date(2026, 12, 1), 750),
    ];
    store.upsert_subscriptions(&before, now()).await.unwrap();
    let carla = store
        .client_by_phone("+593990000003")
        .await
        .unwrap()
        .unwrap();
    let spotify = store.subscriptions_of_client(carla.id).await.unwrap()[0].id;
    store
        .set_subscription_status(spotify, avisa::store::SubscriptionStatus::Cancelled, now())
        .await
        .unwrap();

    let rows = vec![
        // Ana: renamed and renamed back → updated once.
        row("Ana B", "0990000001", "HBO", date(2026, 12, 1), 500),
        row("Ana", "0990000001", "NETFLIX", date(2026, 12, 1), 750),
        // Beto: the same email, then none → unchanged.
        with_email(
            row("Beto", "0990000002", "netflix", date(2026, 12, 1), 750),
            "b@x.ec",
        ),
        row("Beto", "0990000002", "Hbo", date(2026, 12, 2), 500),
        // Carla: reactivated, same date and price → a subscription update.
        row("Carla", "0990000003", "Spotify", date(2026, 12, 1), 399),
        // Dora: a new email → client updated.
        with_email(
            row("Dora", "0990000004", "Disney", date(2026, 12, 1), 750),
            "d@x.ec",
        ),
        // Eva: new, her name changes on a later row → created only.
        row("Eva", "0990000005", "Netflix", date(2026, 12, 1), 750),
        row("Eva M", "0990000005", "Disney", date(2026, 12, 1), 750),
    ];
    let expected = store.preview_subscriptions(&rows).await.unwrap();
    assert_eq!(
        expected,
        UpsertSummary {
            clients_created: 1,
            clients_updated: 2,
            subscriptions_created: 5,
            subscriptions_updated: 1,
        }
    );
    // Staged in batches that split Ana's, Beto's and Eva's rows.
    let mut import = store.begin_import().await.unwrap();
    for batch in [&rows[..1], &rows[1..3], &rows[3..7], &rows[7..]] {
        import.stage(batch).await.unwrap();
    }
    assert_eq!(import.staged(), 8);
    assert_eq!(import.preview().await.unwrap(), expected);
    assert_eq!(import.commit(now()).await.unwrap().summary, expected);

    let ana = store
        .client_by_phone("+593990000001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ana.name, "Ana");
    let beto = store
        .client_by_phone("+593990000002")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(beto.email.as_deref(), Some("b@x.ec"));
    let eva = store
        .client_by_phone("+593990000005")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(eva.name, "Eva M");
    // One HBO service (first spelling), one Disney.
    let services: Vec<String> = store
        .export_rows()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|r| r.service)
        .collect();
    assert!(services.iter().all(|s| s != "Hbo"), "{services:?}");
    assert_eq!(services.iter().filter(|s| *s == "HBO").count(), 2);
    assert_eq!(store.count_active_subscriptions().await.unwrap(), 9);
    // An import that is dropped writes nothing.
    let mut dropped = store.begin_import().await.unwrap();
    dropped
        .stage(&[row("Fito", "0990000006", "Netflix", date(2026, 12, 1), 1)])
        .await
        .unwrap();
    drop(dropped);
    assert_eq!(store.count_clients().await.unwrap(), 5);
    db.cleanup().await;
}

both_backends!(staged_counts, super::staged_counts_follow_the_row_rules);
