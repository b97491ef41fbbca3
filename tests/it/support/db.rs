//! Fresh databases for tests: a temporary SQLite file, or a new PostgreSQL
//! database per test on the server named by AVISA_TEST_POSTGRES_URL.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use avisa::config::DatabaseUrl;
use avisa::store::{self, Store};
use sqlx::Connection;

pub const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestDb {
    pub url: DatabaseUrl,
    pub store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    pg_admin: Option<(String, String)>,
}

fn admin_url() -> String {
    std::env::var("AVISA_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.to_string())
}

fn replace_db_name(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{db}?{q}"),
        None => format!("{root}/{db}"),
    }
}

impl TestDb {
    /// `None` when PostgreSQL is unreachable outside CI (the test then skips).
    pub async fn new(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = DatabaseUrl::Sqlite {
                    path: dir.path().join("avisa.db"),
                };
                let store = store::connect(&url).await.expect("open sqlite");
                Some(TestDb {
                    url,
                    store,
                    _dir: Some(dir),
                    pg_admin: None,
                })
            }
            Backend::Postgres => {
                let admin = admin_url();
                let mut conn = match sqlx::PgConnection::connect(&admin).await {
                    Ok(c) => c,
                    Err(e) => {
                        if std::env::var("CI").as_deref() == Ok("true") {
                            panic!("PostgreSQL unreachable at {admin} with CI=true: {e}");
                        }
                        eprintln!("SKIP: PostgreSQL unreachable at {admin}: {e}");
                        return None;
                    }
                };
                static COUNTER: AtomicU32 = AtomicU32::new(0);
                let name = format!(
                    "avisa_t_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst),
                    rand::random::<u32>()
                );
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let url_text = replace_db_name(&admin, &name);
                let url = DatabaseUrl::Postgres { url: url_text };
                let store = store::connect(&url).await.expect("open postgres");
                Some(TestDb {
                    url,
                    store,
                    _dir: None,
                    pg_admin: Some((admin, name)),
                })
            }
        }
    }

    /// Drops a PostgreSQL test database (SQLite files go with the temp dir).
    pub async fn cleanup(self) {
        let TestDb {
            store, pg_admin, ..
        } = self;
        match store.pool() {
            avisa::store::Pool::Sqlite(pool) => pool.close().await,
            avisa::store::Pool::Postgres(pool) => pool.close().await,
        }
        drop(store);
        if let Some((admin, name)) = pg_admin
            && let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await;
        }
    }
}

/// Declares one async test per backend: `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:path) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $body($crate::support::db::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $body($crate::support::db::Backend::Postgres).await;
            }
        }
    };
}
