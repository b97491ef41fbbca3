//! A running avisa for tests: real database, fake WaSender on 127.0.0.1:0,
//! a clock that starts where the test says.

use std::collections::HashMap;
use std::sync::Arc;

use avisa::app::{self, Application, Overrides};
use avisa::config::{Config, DatabaseUrl};
use avisa::domain::{FixedClock, OffsetClock, clock::local_to_utc};
use avisa::services::Services;
use chrono::{NaiveDate, NaiveTime};
use wiremock::MockServer;

use super::db::{Backend, TestDb};

pub const API_KEY: &str = "test-api-key-0123456789";
pub const WEBHOOK_SECRET: &str = "webhook-secret-abcdef";
pub const CRON_TOKEN: &str = "cron-token-0123456789abcdef";

pub struct TestApp {
    pub db: TestDb,
    pub wasender: MockServer,
    pub services: Arc<Services>,
    pub address: Option<String>,
}

pub fn db_url_text(url: &DatabaseUrl) -> String {
    match url {
        DatabaseUrl::Sqlite { path } => format!("sqlite://{}", path.display()),
        DatabaseUrl::Postgres { url } => url.clone(),
    }
}

pub struct Options {
    pub today: NaiveDate,
    pub time: NaiveTime,
    /// A clock frozen at that moment instead of one that runs on.
    pub frozen: bool,
    /// A clock the test holds and moves itself (`FixedClock::advance`).
    pub clock: Option<FixedClock>,
    pub http: bool,
    pub vars: Vec<(&'static str, String)>,
}

impl Options {
    pub fn on(today: NaiveDate) -> Options {
        Options {
            today,
            time: NaiveTime::from_hms_opt(10, 0, 0).unwrap(),
            frozen: false,
            clock: None,
            http: false,
            vars: Vec::new(),
        }
    }
    pub fn at(mut self, h: u32, m: u32) -> Options {
        self.time = NaiveTime::from_hms_opt(h, m, 0).unwrap();
        self
    }
    /// Runs the app on `clock`, which the test keeps a handle to.
    pub fn with_clock(mut self, clock: FixedClock) -> Options {
        self.clock = Some(clock);
        self
    }
    pub fn http(mut self) -> Options {
        self.http = true;
        self
    }
    pub fn var(mut self, name: &'static str, value: &str) -> Options {
        self.vars.push((name, value.to_string()));
        self
    }
}

pub fn config_for(db: &TestDb, wasender: &MockServer, options: &Options) -> Config {
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("DATABASE_URL".into(), db_url_text(&db.url));
    vars.insert("AVISA_LISTEN".into(), "127.0.0.1:0".into());
    vars.insert("WASENDER_API_KEY".into(), API_KEY.into());
    vars.insert(
        "WASENDER_BASE_URL".into(),
        format!("{}/api", wasender.uri()),
    );
    vars.insert("WASENDER_WEBHOOK_SECRET".into(), WEBHOOK_SECRET.into());
    vars.insert("AVISA_CRON_TOKEN".into(), CRON_TOKEN.into());
    vars.insert("AVISA_SEND_INTERVAL_MS".into(), "0".into());
    vars.insert("AVISA_SEND_JITTER_MS".into(), "0".into());
    vars.insert("AVISA_SEND_RETRY_BASE_MS".into(), "50".into());
    vars.insert("AVISA_STAFF_PHONES".into(), "0990000001".into());
    vars.insert("AVISA_BUSINESS_NAME".into(), "StreamEC".into());
    // Tests must not pick up ./templates or ./flows overrides by accident.
    let empty = tempfile::tempdir().unwrap();
    vars.insert(
        "AVISA_TEMPLATES_DIR".into(),
        empty.path().display().to_string(),
    );
    vars.insert("AVISA_FLOWS_DIR".into(), empty.path().display().to_string());
    for (k, v) in &options.vars {
        vars.insert((*k).to_string(), v.clone());
    }
    let config = Config::from_vars(&vars).expect("test config");
    drop(empty);
    config
}

impl TestApp {
    pub async fn spawn(backend: Backend, options: Options) -> Option<TestApp> {
        let db = TestDb::new(backend).await?;
        let wasender = MockServer::start().await;
        Some(TestApp::spawn_with(db, wasender, options).await)
    }

    /// Starts on a database and fake WaSender the test has prepared (rows
    /// seeded, responses mounted), for what the app does as it starts.
    pub async fn spawn_with(db: TestDb, wasender: MockServer, options: Options) -> TestApp {
        // `AVISA_TEST_LOG=avisa=debug` shows the app's log (a 500's cause).
        if let Ok(filter) = std::env::var("AVISA_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
        let config = config_for(&db, &wasender, &options);
        let start = local_to_utc(config.timezone, options.today, options.time);
        let clock: Arc<dyn avisa::domain::Clock> = if let Some(clock) = &options.clock {
            Arc::new(clock.clone())
        } else if options.frozen {
            Arc::new(FixedClock::new(start))
        } else {
            Arc::new(OffsetClock::starting_at(start))
        };
        let overrides = Overrides { clock };
        if options.http {
            let application = Application::build(config, overrides)
                .await
                .expect("build app");
            let address = format!("http://127.0.0.1:{}", application.port());
            let services = application.services();
            tokio::spawn(application.run_until_stopped(std::future::pending()));
            TestApp {
                db,
                wasender,
                services,
                address: Some(address),
            }
        } else {
            let services = app::services(config, overrides).await.expect("services");
            TestApp {
                db,
                wasender,
                services,
                address: None,
            }
        }
    }

    /// Another set of services on the same database, like a second process.
    pub async fn spawn_sibling(app: &TestApp) -> Arc<Services> {
        let config = (*app.services.config).clone();
        let overrides = Overrides {
            clock: app.services.clock.clone(),
        };
        app::services(config, overrides)
            .await
            .expect("sibling services")
    }

    pub fn url(&self, path: &str) -> String {
        format!(
            "{}{}",
            self.address.as_deref().expect("spawned with http()"),
            path
        )
    }

    /// Bodies of every send-message request the fake WaSender received.
    pub async fn sent(&self) -> Vec<serde_json::Value> {
        self.wasender
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path().ends_with("/send-message"))
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }

    /// Waits until there is nothing left to do now: no job due or running
    /// in the job tables, no send in flight. A test that checks "nothing
    /// more was sent" waits on this condition (with a deadline) instead of
    /// sleeping and hoping the worker had its turn.
    pub async fn settle(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let busy = self.busy_jobs().await;
            if busy == 0 && self.services.queue.sending_now().is_empty() {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "still {busy} job(s) due or running after 30 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Jobs due now or running, in every queue.
    async fn busy_jobs(&self) -> i64 {
        match self.services.store.pool() {
            avisa::store::Pool::Sqlite(pool) => sqlx::query_scalar(
                "SELECT COUNT(*) FROM Jobs WHERE status IN ('Pending', 'Queued', 'Running') \
                 AND run_at <= strftime('%s', 'now')",
            )
            .fetch_one(&pool)
            .await
            .expect("count jobs"),
            avisa::store::Pool::Postgres(pool) => sqlx::query_scalar(
                "SELECT COUNT(*) FROM apalis.jobs WHERE status IN ('Pending', 'Queued', 'Running') \
                 AND run_at <= now()",
            )
            .fetch_one(&pool)
            .await
            .expect("count jobs"),
        }
    }

    pub async fn cleanup(self) {
        // Close the app's own pool before the runtime goes: an open SQLite
        // pool's maintenance task was seen spinning after its file was
        // deleted, which kept the test runtime from shutting down.
        match self.services.store.pool() {
            avisa::store::Pool::Sqlite(pool) => pool.close().await,
            avisa::store::Pool::Postgres(pool) => pool.close().await,
        }
        self.db.cleanup().await;
    }
}
