//! `avisa backup FILE` (issue 12, part 10): a consistent copy of the SQLite
//! database taken while the service runs and writes, restored by opening
//! the copy as the database.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use avisa::config::DatabaseUrl;
use avisa::store::{MessageKind, NewInbound, NewOutbound, Pool, Store};
use support::app::{Options, TestApp};
use support::cli::{Run, avisa};
use support::db::Backend;
use support::fixtures::{date, now, phone, row};

type Client = (i64, String, String, Option<String>);
type Subscription = (i64, i64, i64, String, i64, String);
/// The columns of a message that never change after it is written.
type Message = (i64, String, String, String, String);

#[derive(Debug, PartialEq, Eq)]
struct Rows {
    clients: Vec<Client>,
    subscriptions: Vec<Subscription>,
    messages: Vec<Message>,
}

async fn rows(store: &dyn Store) -> Rows {
    let Pool::Sqlite(pool) = store.pool() else {
        panic!("a SQLite store");
    };
    Rows {
        clients: sqlx::query_as("SELECT id, name, phone, email FROM clients ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap(),
        subscriptions: sqlx::query_as(
            "SELECT id, client_id, service_id, end_date, price_cents, status \
             FROM subscriptions ORDER BY id",
        )
        .fetch_all(&pool)
        .await
        .unwrap(),
        messages: sqlx::query_as(
            "SELECT id, direction, phone, kind, body FROM messages ORDER BY id",
        )
        .fetch_all(&pool)
        .await
        .unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_serving_restores_every_row() {
    let app = TestApp::spawn(Backend::Sqlite, Options::on(date(2026, 11, 25)).http())
        .await
        .expect("SQLite is always there");
    let DatabaseUrl::Sqlite { path: database } = app.db.url.clone() else {
        panic!("a SQLite database");
    };
    let store = app.services.store.clone();
    let subscriptions: Vec<_> = (0..60)
        .map(|i| {
            row(
                &format!("Cliente {i}"),
                &format!("09912{i:05}"),
                if i % 3 == 0 { "Netflix" } else { "Spotify" },
                date(2027, 1 + (i % 12) as u32, 1 + (i % 28) as u32),
                500 + i64::from(i),
            )
        })
        .collect();
    store
        .upsert_subscriptions(&subscriptions, now())
        .await
        .unwrap();
    for i in 0..30 {
        let message = NewOutbound {
            phone: phone(&format!("09912{i:05}")),
            client_id: None,
            kind: MessageKind::Notice,
            body: format!("aviso {i}"),
            template_args: None,
        };
        store.queue_outbound(&message, now()).await.unwrap();
    }

    // Inbound messages keep arriving while the copy is taken.
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let store = store.clone();
        let writing = writing.clone();
        tokio::spawn(async move {
            let mut n = 0;
            while writing.load(Ordering::Relaxed) {
                let message = NewInbound {
                    phone: avisa::domain::Phone::from_e164("+593991234567".into()).unwrap(),
                    client_id: None,
                    kind: MessageKind::Reply,
                    body: format!("hola {n}"),
                    media_kind: None,
                    wa_message_id: Some(format!("backup-test-{n}")),
                    media_source: None,
                };
                store.insert_inbound(&message, now()).await.unwrap();
                n += 1;
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            n
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let before = rows(store.as_ref()).await;

    let work = tempfile::tempdir().unwrap();
    let backup_file = work.path().join("copia.db");
    let db_var = format!("sqlite://{}", database.display());
    let run = {
        let dir = work.path().to_path_buf();
        let db_var = db_var.clone();
        tokio::task::spawn_blocking(move || {
            avisa(&dir, &["backup", "copia.db"], &[("DATABASE_URL", &db_var)])
        })
        .await
        .unwrap()
    };
    writing.store(false, Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("copia de seguridad escrita en copia.db")
            && run.stdout.contains("60 clientes, 60 suscripciones"),
        "{}",
        run.stdout
    );
    let after = rows(store.as_ref()).await;
    assert!(written > 0);

    // Restore: the copy becomes the DATABASE_URL file of a fresh install.
    let restored_dir = tempfile::tempdir().unwrap();
    let restored_path = restored_dir.path().join("avisa.db");
    std::fs::copy(&backup_file, &restored_path).unwrap();
    let restored_store = avisa::store::connect(&DatabaseUrl::Sqlite {
        path: restored_path,
    })
    .await
    .unwrap();
    let restored = rows(restored_store.as_ref()).await;

    assert_eq!(restored.clients.len(), 60);
    assert_eq!(restored.clients, before.clients);
    assert_eq!(restored.subscriptions.len(), 60);
    assert_eq!(restored.subscriptions, before.subscriptions);
    // Every message written before the copy began is in it, and the copy
    // is the database at one instant: exactly the messages up to its last.
    for message in &before.messages {
        assert!(
            restored.messages.contains(message),
            "{message:?} is missing"
        );
    }
    let last = restored.messages.last().expect("messages").0;
    let prefix: Vec<Message> = after
        .messages
        .iter()
        .filter(|m| m.0 <= last)
        .cloned()
        .collect();
    assert_eq!(restored.messages, prefix);
    assert!(restored.messages.len() > 30);
    if let Pool::Sqlite(pool) = restored_store.pool() {
        pool.close().await;
    }

    // A second backup to the same name is refused and leaves the file alone.
    let copied = std::fs::read(&backup_file).unwrap();
    let Run { code, stderr, .. } = avisa(
        work.path(),
        &["backup", "copia.db"],
        &[("DATABASE_URL", &db_var)],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("copia.db already exists: a backup never overwrites a file"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&backup_file).unwrap(), copied);
    app.cleanup().await;
}

#[test]
fn on_postgres_backup_points_to_pg_dump_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let Run {
        code,
        stdout,
        stderr,
    } = avisa(
        dir.path(),
        &["backup", "copia.dump"],
        &[(
            "DATABASE_URL",
            "postgres://avisa:s3cr3t-pw@127.0.0.1:1/avisa",
        )],
    );
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("pg_dump --format=custom --file=copia.dump"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cr3t-pw"), "{stderr}");
    assert!(!dir.path().join("copia.dump").exists());
}

#[test]
fn backup_without_a_database_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let Run { code, stderr, .. } = avisa(dir.path(), &["backup", "copia.db"], &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("there is no database at"), "{stderr}");
    assert!(!dir.path().join("copia.db").exists());
    assert!(!dir.path().join("avisa.db").exists(), "none was created");
}
