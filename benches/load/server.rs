//! The application as `avisa serve` runs it, for the webhook benches: SQLite
//! in a temporary directory, known clients seeded, a fake provider that
//! accepts every send, and a runtime of its own (two threads, like the
//! machine's two cores).

use std::collections::HashMap;
use std::sync::Arc;

use avisa::app::{Application, Overrides};
use avisa::config::Config;
use avisa::domain::{Money, Phone, Region, SystemClock};
use avisa::store::{NewSubscription, Pool};
use chrono::NaiveDate;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

pub struct Server {
    /// Base address, e.g. `http://127.0.0.1:41234`.
    pub address: String,
    pub pool: sqlx::SqlitePool,
    // Dropped last, in this order: the app's runtime, then its files.
    pub runtime: tokio::runtime::Runtime,
    _fake: MockServer,
    _dir: tempfile::TempDir,
}

/// Starts the app with `settings` (what `DATABASE_URL`, `AVISA_LISTEN` and
/// the fake's address do not already give; `{fake}` in a value is replaced
/// by the fake provider's address) and seeds one client for each phone in
/// `clients` (digits with the country code).
pub fn start(settings: &[(&str, &str)], reply: serde_json::Value, clients: &[String]) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("avisa-server")
        .enable_all()
        .build()
        .expect("server runtime");
    let db = dir.path().join("bench.db");
    let (address, pool, fake) = runtime.block_on(async {
        let fake = MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(reply))
            .mount(&fake)
            .await;
        let mut vars: HashMap<String, String> = settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.replace("{fake}", &fake.uri())))
            .collect();
        vars.insert("DATABASE_URL".into(), format!("sqlite://{}", db.display()));
        vars.insert("AVISA_LISTEN".into(), "127.0.0.1:0".into());
        let config = Config::from_vars(&vars).expect("bench config");
        let app = Application::build(
            config,
            Overrides {
                clock: Arc::new(SystemClock),
            },
        )
        .await
        .expect("build app");
        let services = app.services();
        let clients: Vec<NewSubscription> = clients
            .iter()
            .enumerate()
            .map(|(i, phone)| NewSubscription {
                name: format!("Cliente {i}"),
                phone: Phone::parse(&format!("+{phone}"), Region::default()).expect("phone"),
                email: None,
                service: "Netflix".to_string(),
                end_date: NaiveDate::from_ymd_opt(2031, 1, 1).expect("date"),
                price: Money::from_cents(750),
            })
            .collect();
        services
            .store
            .upsert_subscriptions(&clients, chrono::Utc::now())
            .await
            .expect("seed clients");
        let Pool::Sqlite(pool) = services.store.pool() else {
            panic!("the bench runs on SQLite");
        };
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        (address, pool, fake)
    });
    Server {
        address,
        pool,
        runtime,
        _fake: fake,
        _dir: dir,
    }
}

impl Server {
    /// One number from the database.
    pub fn count(&self, sql: &'static str) -> i64 {
        self.runtime.block_on(async {
            sqlx::query_scalar(sql)
                .fetch_one(&self.pool)
                .await
                .expect("count query")
        })
    }
}

/// The load generator's own runtime, apart from the server's.
pub fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("load")
        .enable_all()
        .build()
        .expect("client runtime")
}
