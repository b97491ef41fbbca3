//! Release benchmark of the staff panel's pages (`cargo bench --bench panel`).
//!
//! Starts the real application (`Application::build`, console provider) on
//! 127.0.0.1:0, seeds 10,000 clients, 12,000 subscriptions (expired, due
//! today, due soon, far, cancelled; some clients opted out), 200,000 messages
//! of every kind, status and direction, open renewal requests and audit rows,
//! logs in through the login form, then requests every panel page in turn
//! (filters and text searches included) and prints each page's time per
//! request — p50, p95, max — over `BENCH_PANEL_ROUNDS` rounds. The client is
//! on loopback, so the time is the server's (plus a few tens of µs).
//!
//! Runs on SQLite (a temporary file) and, when `AVISA_TEST_POSTGRES_URL` (or
//! `BENCH_POSTGRES_URL`) names a server, on a fresh PostgreSQL database too.
//! Target: p95 < 50 ms for every page on both.
//!
//! Settings (environment): `BENCH_PANEL_CLIENTS` (10000),
//! `BENCH_PANEL_MESSAGES` (200000), `BENCH_PANEL_ROUNDS` (40).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use avisa::app::{Application, Overrides};
use avisa::config::Config;
use avisa::domain::{Money, Phone, Region, SystemClock};
use avisa::store::{NewSubscription, Pool};
use chrono::{DateTime, Days, NaiveDate, Utc};
use hdrhistogram::Histogram;

const EMAIL: &str = "bench@avisa.test";
const PASSWORD: &str = "bench password 0123";

/// The pages measured: every panel page, the lists with a filter or search.
/// `{client}` is replaced with a client that has an expired subscription.
const PAGES: &[&str] = &[
    "/admin",
    "/admin/clients",
    "/admin/clients?q=garc%C3%ADa",
    "/admin/clients?q=0991",
    "/admin/clients?page=200",
    "/admin/clients/{client}",
    "/admin/subscriptions",
    "/admin/subscriptions?vence=vencidas",
    "/admin/subscriptions?vence=7&orden=nombre",
    "/admin/services",
    "/admin/messages",
    "/admin/messages?q=renovar",
    "/admin/messages?status=failed",
    "/admin/messages?page=100",
    "/admin/operations",
    "/admin/inbox",
    "/admin/audit",
    "/admin/import",
];

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const FIRST: &[&str] = &[
    "María", "José", "Ñandú", "Íñigo", "Álvaro", "Zoé", "Ana", "Luis", "Sofía", "O'Brien",
];
const LAST: &[&str] = &[
    "García",
    "Pérez",
    "Muñoz",
    "López",
    "Ortega",
    "Ruiz",
    "<b>Díaz</b>",
    "=HYPERLINK(\"x\")",
];
const SERVICES: &[&str] = &["Netflix", "IPTV Premium", "Spotify", "Hosting", "Gimnasio"];

fn phone(i: usize) -> Phone {
    Phone::parse(&format!("+59399{:07}", 1_000_000 + i), Region::default()).expect("phone")
}

fn subscriptions(clients: usize, today: NaiveDate) -> Vec<NewSubscription> {
    let mut rows = Vec::with_capacity(clients * 6 / 5);
    for i in 0..clients {
        let services = if i % 5 == 0 { 2 } else { 1 };
        for s in 0..services {
            // End dates from 60 days ago to 120 days ahead, a few due today.
            let offset = ((i * 37 + s * 11) % 181) as i64 - 60;
            rows.push(NewSubscription {
                name: format!("{} {} {i}", FIRST[i % FIRST.len()], LAST[i % LAST.len()]),
                phone: phone(i),
                email: None,
                service: SERVICES[(i + s) % SERVICES.len()].to_string(),
                end_date: today
                    .checked_add_signed(chrono::Duration::days(offset))
                    .expect("date"),
                price: Money::from_cents(450 + (i as i64 % 40) * 125),
            });
        }
    }
    rows
}

/// One message row to insert: every kind, status and direction in turn.
struct Message {
    direction: &'static str,
    phone: String,
    client_id: i64,
    kind: &'static str,
    body: String,
    status: &'static str,
    created_at: DateTime<Utc>,
}

fn messages(count: usize, clients: &[(i64, String)], now: DateTime<Utc>) -> Vec<Message> {
    const OUT: &[(&str, &str)] = &[
        ("reminder", "sent"),
        ("reminder", "delivered"),
        ("reminder", "read"),
        ("reminder", "failed"),
        ("reminder", "unknown"),
        ("reply", "sent"),
        ("notice", "delivered"),
        ("staff", "read"),
        ("reply", "queued"),
    ];
    const IN: &[&str] = &["hola", "quiero renovar", "¿cuándo vence?", "gracias", "1"];
    (0..count)
        .map(|i| {
            let (client_id, phone) = clients[i % clients.len()].clone();
            let created_at = now - chrono::Duration::seconds((count - i) as i64 * 20);
            if i % 3 == 0 {
                Message {
                    direction: "in",
                    phone,
                    client_id,
                    kind: "reply",
                    body: IN[i % IN.len()].to_string(),
                    status: "processed",
                    created_at,
                }
            } else {
                let (kind, status) = OUT[i % OUT.len()];
                Message {
                    direction: "out",
                    phone,
                    client_id,
                    kind,
                    body: format!("Hola, tu servicio vence pronto ({i}). Responde 2 para renovar."),
                    status,
                    created_at,
                }
            }
        })
        .collect()
}

/// Runs the same statement-building code with each concrete pool.
macro_rules! on_pool {
    ($pool:expr, |$p:ident, $db:ident| $body:expr) => {
        match $pool {
            Pool::Sqlite($p) => {
                type $db = sqlx::Sqlite;
                $body
            }
            Pool::Postgres($p) => {
                type $db = sqlx::Postgres;
                $body
            }
        }
    };
}

async fn seed(application: &Application, clients: usize, message_count: usize) -> i64 {
    let services = application.services();
    let store = &services.store;
    let now = Utc::now();
    let today = now.date_naive();
    let started = Instant::now();
    let rows = subscriptions(clients, today);
    store
        .upsert_subscriptions(&rows, now)
        .await
        .expect("seed subscriptions");
    let pool = store.pool();
    let ids: Vec<(i64, String)> = on_pool!(&pool, |p, Db| {
        let _: Option<Db> = None;
        sqlx::query_as("SELECT id, phone FROM clients ORDER BY id")
            .fetch_all(p)
            .await
            .expect("client ids")
    });
    let all = messages(message_count, &ids, now);
    on_pool!(&pool, |p, Db| {
        for chunk in all.chunks(1000) {
            let mut insert = sqlx::QueryBuilder::<Db>::new(
                "INSERT INTO messages (direction, phone, client_id, kind, body, status, \
                 automatic, priority, created_at, updated_at) ",
            );
            insert.push_values(chunk, |mut row, m| {
                row.push_bind(m.direction)
                    .push_bind(m.phone.clone())
                    .push_bind(m.client_id)
                    .push_bind(m.kind)
                    .push_bind(m.body.clone())
                    .push_bind(m.status)
                    .push_bind(m.kind == "reminder")
                    .push_bind(1_i32)
                    .push_bind(m.created_at)
                    .push_bind(m.created_at);
            });
            insert.build().execute(p).await.expect("insert messages");
        }
        // Every 7th client cancelled one subscription, every 13th opted out,
        // every 50th has an open renewal request; 3,000 audit rows.
        for sql in [
            "UPDATE subscriptions SET status = 'cancelled' WHERE client_id % 7 = 0",
            "UPDATE clients SET opted_out_at = updated_at WHERE id % 13 = 0",
        ] {
            sqlx::query(sql).execute(p).await.expect("seed states");
        }
        let mut requests = sqlx::QueryBuilder::<Db>::new(
            "INSERT INTO renewal_requests (client_id, status, created_at) ",
        );
        requests.push_values(ids.iter().step_by(50), |mut row, (id, _)| {
            row.push_bind(*id).push_bind("open").push_bind(now);
        });
        requests.build().execute(p).await.expect("requests");
        // 100 conversations waiting for a person (every 100th client).
        let mut inbox = sqlx::QueryBuilder::<Db>::new(
            "INSERT INTO inbox (phone, client_id, reason, waiting_since, updated_at) ",
        );
        inbox.push_values(ids.iter().step_by(100), |mut row, (id, phone)| {
            let since = now - chrono::Duration::minutes(*id);
            row.push_bind(phone.clone())
                .push_bind(*id)
                .push_bind("during_takeover")
                .push_bind(since)
                .push_bind(since);
        });
        inbox.build().execute(p).await.expect("inbox");
        for chunk in (0..3000_i64).collect::<Vec<_>>().chunks(1000) {
            let mut audit = sqlx::QueryBuilder::<Db>::new(
                "INSERT INTO audit_log (user_email, action, detail, created_at) ",
            );
            audit.push_values(chunk, |mut row, n| {
                row.push_bind(EMAIL)
                    .push_bind(if n % 2 == 0 {
                        "subscription.renew"
                    } else {
                        "client.update"
                    })
                    .push_bind(format!("cliente {n}"))
                    .push_bind(now - chrono::Duration::minutes(*n));
            });
            audit.build().execute(p).await.expect("audit");
        }
        if let Pool::Postgres(p) = &pool {
            sqlx::query("ANALYZE").execute(p).await.expect("analyze");
        }
    });
    let expired: i64 = on_pool!(&pool, |p, Db| {
        let _: Option<Db> = None;
        sqlx::query_scalar(
            "SELECT client_id FROM subscriptions WHERE end_date < $1 AND status = 'active' \
             ORDER BY id LIMIT 1",
        )
        .bind(today.checked_sub_days(Days::new(1)).expect("date"))
        .fetch_one(p)
        .await
        .expect("an expired client")
    });
    let hash = avisa::web::admin::password::hash(PASSWORD).expect("hash");
    store
        .create_user(EMAIL, &hash, now)
        .await
        .expect("bench user");
    println!(
        "  seeded {clients} clients, {} subscriptions, {message_count} messages in {:.1} s",
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    expired
}

fn csrf(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\"")?;
    let tag = &html[html[..at].rfind('<')?..at + html[at..].find('>')?];
    Some(tag.split("value=\"").nth(1)?.split('"').next()?.to_string())
}

async fn login(base: &str) -> reqwest::Client {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = http
        .get(format!("{base}/admin/login"))
        .send()
        .await
        .expect("login page")
        .text()
        .await
        .expect("login body");
    let token = csrf(&page).expect("login csrf");
    let response = http
        .post(format!("{base}/admin/login"))
        .form(&[("email", EMAIL), ("password", PASSWORD), ("csrf", &token)])
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 303, "bench login");
    http
}

/// Measures every page; returns the worst p95 in ms.
async fn measure(base: &str, client_id: i64, rounds: usize) -> f64 {
    let http = login(base).await;
    let mut worst: f64 = 0.0;
    println!(
        "  {:<48} {:>8} {:>8} {:>8}",
        "page", "p50 ms", "p95 ms", "max ms"
    );
    for page in PAGES {
        let path = page.replace("{client}", &client_id.to_string());
        let url = format!("{base}{path}");
        let first = http.get(&url).send().await.expect("GET");
        let status = first.status();
        let _ = first.bytes().await;
        if !status.is_success() {
            println!("  {path:<48} HTTP {status}: not measured");
            continue;
        }
        let mut histogram = Histogram::<u64>::new(3).expect("histogram");
        for _ in 0..rounds {
            let start = Instant::now();
            let response = http.get(&url).send().await.expect("GET");
            assert!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            let _ = response.bytes().await.expect("body");
            histogram
                .record(start.elapsed().as_micros() as u64)
                .expect("record");
        }
        let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
        worst = worst.max(ms(0.95));
        println!(
            "  {path:<48} {:>8.1} {:>8.1} {:>8.1}",
            ms(0.5),
            ms(0.95),
            histogram.max() as f64 / 1000.0
        );
    }
    worst
}

async fn run(
    name: &str,
    database_url: String,
    clients: usize,
    messages: usize,
    rounds: usize,
) -> f64 {
    let mut vars = HashMap::new();
    vars.insert("DATABASE_URL".to_string(), database_url);
    let config = Config::from_vars(&vars).expect("bench config");
    let overrides = Overrides {
        clock: std::sync::Arc::new(SystemClock),
    };
    let application = Application::build(config, overrides)
        .await
        .expect("build app");
    println!("{name}:");
    let client = seed(&application, clients, messages).await;
    let base = format!("http://127.0.0.1:{}", application.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let worst = measure(&base, client, rounds).await;
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(15), server).await;
    println!("  worst p95: {worst:.1} ms (target < 50 ms)");
    worst
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let clients = env_usize("BENCH_PANEL_CLIENTS", 10_000);
    let messages = env_usize("BENCH_PANEL_MESSAGES", 200_000);
    let rounds = env_usize("BENCH_PANEL_ROUNDS", 40);
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = format!("sqlite://{}", dir.path().join("panel.db").display());
    let mut worst = run("SQLite", sqlite, clients, messages, rounds).await;

    let server = std::env::var("BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("AVISA_TEST_POSTGRES_URL"))
        .ok();
    if let Some(server) = server {
        let name = format!("avisa_bench_panel_{}", std::process::id());
        let admin = sqlx::PgPool::connect(&server).await.expect("postgres");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create bench database");
        let url = match server.rsplit_once('/') {
            Some((root, _)) => format!("{root}/{name}"),
            None => format!("{server}/{name}"),
        };
        worst = worst.max(run("PostgreSQL", url, clients, messages, rounds).await);
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE {name} WITH (FORCE)"
        )))
        .execute(&admin)
        .await
        .expect("drop bench database");
    } else {
        println!("PostgreSQL: skipped (set AVISA_TEST_POSTGRES_URL)");
    }
    println!("worst p95 over both backends: {worst:.1} ms");
}
