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
    /// Drops the PostgreSQL database when the test ends, however it ends.
    pg: Option<DropDatabase>,
}

/// Owns a PostgreSQL test database (`avisa_t_*`): dropped by `cleanup`, or
/// else on drop — also when the test panics — on a thread of its own with
/// its own runtime and connection (the test's runtime may be unwinding).
struct DropDatabase {
    admin: String,
    name: String,
}

impl DropDatabase {
    async fn drop_now(admin: &str, name: &str) -> Result<(), sqlx::Error> {
        let mut conn = sqlx::PgConnection::connect(admin).await?;
        // FORCE: the app under test may still hold connections.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await?;
        Ok(())
    }
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), std::mem::take(&mut self.name));
        if name.is_empty() {
            return;
        }
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime
                .block_on(DropDatabase::drop_now(&admin, &name))
                .map_err(|e| format!("{name}: {e}"))
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("test database not dropped: {e}"),
            Err(_) => eprintln!("test database not dropped: the dropping thread panicked"),
        }
    }
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
                    pg: None,
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
                // From here on the database goes with the guard, even if
                // opening it fails.
                let guard = DropDatabase {
                    admin: admin.clone(),
                    name: name.clone(),
                };
                let url_text = replace_db_name(&admin, &name);
                let url = DatabaseUrl::Postgres { url: url_text };
                let store = store::connect(&url).await.expect("open postgres");
                Some(TestDb {
                    url,
                    store,
                    _dir: None,
                    pg: Some(guard),
                })
            }
        }
    }

    /// Closes the pool and drops a PostgreSQL test database (SQLite files
    /// go with the temp dir). A test that never gets here (it panicked)
    /// leaves nothing either: the guard drops the database.
    pub async fn cleanup(self) {
        let TestDb { store, mut pg, .. } = self;
        match store.pool() {
            avisa::store::Pool::Sqlite(pool) => pool.close().await,
            avisa::store::Pool::Postgres(pool) => pool.close().await,
        }
        drop(store);
        if let Some(guard) = pg.as_mut()
            && DropDatabase::drop_now(&guard.admin, &guard.name)
                .await
                .is_ok()
        {
            // Done here, on the test's runtime: nothing left for the guard.
            guard.name.clear();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The database a test made is gone when the test panics.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_test_leaves_no_database() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let test = tokio::spawn(async move {
            let db = TestDb::new(Backend::Postgres).await;
            let name = match &db {
                Some(TestDb {
                    url: DatabaseUrl::Postgres { url },
                    ..
                }) => url.rsplit('/').next().map(str::to_string),
                _ => None,
            };
            let _ = tx.send(name);
            if db.is_some() {
                panic!("a failing test (on purpose)");
            }
        });
        let Some(name) = rx.await.expect("the test reports its database") else {
            return; // PostgreSQL unreachable outside CI: skipped.
        };
        assert!(test.await.expect_err("it panicked").is_panic());
        let mut conn = sqlx::PgConnection::connect(&admin_url()).await.unwrap();
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(left, 0, "{name} was left behind");
    }
}
