//! Release benchmark of big imports (`cargo bench --bench import`): the
//! path of `avisa import FILE.csv` (read while importing, staged, one write
//! transaction) over generated files of 100,000 and 1,000,000 rows, on
//! SQLite and, with `AVISA_TEST_POSTGRES_URL` set, on PostgreSQL. Then the
//! largest file again on SQLite while the service runs and takes signed
//! webhooks at a fixed rate: their latency and any status but 200.
//!
//! Settings: `BENCH_IMPORT_ROWS` (default `100000,1000000`),
//! `BENCH_IMPORT_WEBHOOK_RATE` (webhooks/s during the import, default 500).

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use avisa::app::{Application, Overrides};
use avisa::config::{Config, DatabaseUrl};
use avisa::domain::{Region, SystemClock};
use avisa::import::load::{Loaded, import_file};
use sqlx::Connection as _;

const SECRET: &str = "bench-webhook-secret-0123456789";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// `rows` customers, one subscription each over five services, a third
/// with an email; written as it goes (the generator holds no rows).
fn generate(path: &Path, rows: usize) {
    let services = ["Netflix", "HBO Max", "Spotify", "Disney+", "IPTV Premium"];
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("csv"));
    writeln!(
        out,
        "nombres,apellidos,telefono,email,servicio,vence,precio"
    )
    .expect("write");
    for i in 0..rows {
        // 7,919 is prime to 10^7: every phone differs, in no useful order.
        let phone = format!("099{:07}", (i * 7_919) % 10_000_000);
        let email = if i % 3 == 0 {
            format!("cliente{i}@correo.ec")
        } else {
            String::new()
        };
        writeln!(
            out,
            "Cliente {i},Apellido {},{phone},{email},{},2027-{:02}-{:02},{}.{:02}",
            i % 977,
            services[i % 5],
            1 + i % 12,
            1 + i % 28,
            5 + i % 20,
            i % 100
        )
        .expect("write");
    }
    out.flush().expect("flush");
}

async fn import(url: &DatabaseUrl, csv: &Path) -> (Loaded, Duration) {
    let store = avisa::store::connect(url).await.expect("store");
    let started = Instant::now();
    let loaded = import_file(csv, Region::default(), Some(&*store), false, |e| {
        panic!("generated row rejected: {e}")
    })
    .await
    .expect("import");
    (loaded, started.elapsed())
}

fn report(backend: &str, what: &str, loaded: &Loaded, elapsed: Duration) {
    let written = loaded.written.expect("written");
    let s = written.summary;
    println!(
        "{backend:<10} {what:<28} {:>9} rows  {:>6.2} s  {:>9.0} rows/s  write transaction {:>5.2} s  \
         (clients +{} ~{}, subscriptions +{} ~{})  peak RSS {:.0} MB",
        loaded.rows,
        elapsed.as_secs_f64(),
        loaded.rows as f64 / elapsed.as_secs_f64(),
        written.write_time.as_secs_f64(),
        s.clients_created,
        s.clients_updated,
        s.subscriptions_created,
        s.subscriptions_updated,
        peak_rss_mb()
    );
}

/// Fresh database per file: a new import, then the same file again (every
/// row matched, nothing to write).
async fn run_backend(
    backend: &str,
    fresh: impl Fn(usize) -> DatabaseUrl,
    files: &[(usize, PathBuf)],
) {
    for (n, (rows, csv)) in files.iter().enumerate() {
        let url = fresh(n);
        let (loaded, elapsed) = import(&url, csv).await;
        report(backend, &format!("{rows} new"), &loaded, elapsed);
        let (loaded, elapsed) = import(&url, csv).await;
        report(
            backend,
            &format!("{rows} again (no change)"),
            &loaded,
            elapsed,
        );
    }
}

fn webhook(i: usize) -> String {
    let from = format!("59398{:07}", i % 10_000_000);
    serde_json::json!({
        "event": "messages.received",
        "timestamp": 1_764_000_000 + i,
        "data": {"messages": {
            "key": {
                "id": format!("IMPORT{i:010}"),
                "fromMe": false,
                "remoteJid": format!("{from}@s.whatsapp.net"),
                "cleanedSenderPn": from,
            },
            "messageBody": "hola",
            "message": {"conversation": "hola"},
        }}
    })
    .to_string()
}

/// The largest file into a running service's SQLite database while
/// webhooks arrive at `rate` per second (open loop: each is sent when due,
/// and its latency counts from then).
fn import_while_serving(dir: &Path, rows: usize, csv: &Path, rate: u64) {
    let db = dir.join("serving.db");
    let vars: HashMap<String, String> = [
        ("DATABASE_URL", format!("sqlite://{}", db.display())),
        ("AVISA_LISTEN", "127.0.0.1:0".to_string()),
        ("WASENDER_WEBHOOK_SECRET", SECRET.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let config = Config::from_vars(&vars).expect("config");
    let url = config.database_url.clone();
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    let address = server.block_on(async {
        let app = Application::build(
            config,
            Overrides {
                clock: Arc::new(SystemClock),
            },
        )
        .await
        .expect("build app");
        let address = format!("http://127.0.0.1:{}/webhooks/wasender", app.port());
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        address
    });
    let load = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("load runtime");
    let client = reqwest::Client::builder()
        .http1_only()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let results: Arc<Mutex<Vec<(Duration, String)>>> = Arc::default();
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let generator = {
        let results = Arc::clone(&results);
        load.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0.. {
                tokio::select! {
                    _ = stopped.changed() => break,
                    due = tick.tick() => {
                        let (client, address, results) = (client.clone(), address.clone(), Arc::clone(&results));
                        tasks.spawn(async move {
                            let status = match client
                                .post(&address)
                                .header("content-type", "application/json")
                                .header("x-webhook-signature", SECRET)
                                .body(webhook(i))
                                .send()
                                .await
                            {
                                Ok(response) => response.status().as_u16().to_string(),
                                Err(e) if e.is_timeout() => "timeout".to_string(),
                                Err(_) => "error".to_string(),
                            };
                            let latency = due.elapsed();
                            results.lock().expect("results").push((latency, status));
                        });
                    }
                }
            }
            while tasks.join_next().await.is_some() {}
        })
    };
    // A second of webhooks alone, then the import beside them.
    std::thread::sleep(Duration::from_secs(1));
    let before = results.lock().expect("results").len();
    let (loaded, elapsed) = server.block_on(import(&url, csv));
    let _ = stop.send(true);
    load.block_on(generator).expect("generator");
    report("sqlite", &format!("{rows} new, serving"), &loaded, elapsed);

    let all = results.lock().expect("results");
    let during = &all[before.min(all.len())..];
    let mut latencies: Vec<Duration> = during.iter().map(|(l, _)| *l).collect();
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    let mut statuses: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, status) in during {
        *statuses.entry(status.as_str()).or_default() += 1;
    }
    let not_ok: usize = statuses
        .iter()
        .filter(|(s, _)| !s.starts_with('2'))
        .map(|(_, n)| n)
        .sum();
    println!(
        "webhooks during that import: {} at {rate}/s, latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; \
         statuses {statuses:?}; not 2xx: {not_ok}",
        during.len(),
        pct(0.50),
        pct(0.99),
        latencies
            .last()
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0),
    );
}

fn main() {
    let sizes: Vec<usize> = env_or("BENCH_IMPORT_ROWS", "100000,1000000")
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let rate: u64 = env_or("BENCH_IMPORT_WEBHOOK_RATE", "500")
        .parse()
        .expect("BENCH_IMPORT_WEBHOOK_RATE");
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average at start: {} ({} CPUs)",
        load.split_whitespace().next().unwrap_or("?"),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let files: Vec<(usize, PathBuf)> = sizes
        .iter()
        .map(|rows| {
            let path = dir.path().join(format!("{rows}.csv"));
            generate(&path, *rows);
            (*rows, path)
        })
        .collect();
    println!("peak RSS before importing: {:.0} MB", peak_rss_mb());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    runtime.block_on(run_backend(
        "sqlite",
        |n| DatabaseUrl::Sqlite {
            path: dir.path().join(format!("import-{n}.db")),
        },
        &files,
    ));

    if let Ok(admin) = std::env::var("AVISA_TEST_POSTGRES_URL") {
        let name = |n: usize| format!("avisa_bench_import_{}_{n}", std::process::id());
        let url = |n: usize| {
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
            DatabaseUrl::Postgres {
                url: format!("{base}/{}", name(n)),
            }
        };
        runtime.block_on(async {
            let mut server = sqlx::PgConnection::connect(&admin).await.expect("postgres");
            for n in 0..files.len() {
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {}", name(n))))
                    .execute(&mut server)
                    .await
                    .expect("create database");
            }
            run_backend("postgres", url, &files).await;
            for n in 0..files.len() {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE {} WITH (FORCE)",
                    name(n)
                )))
                .execute(&mut server)
                .await;
            }
        });
    }
    drop(runtime);

    if let Some((rows, csv)) = files.last() {
        import_while_serving(dir.path(), *rows, csv, rate);
    }
}
