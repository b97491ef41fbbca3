//! The load generator the webhook benches share: signed deliveries fired
//! at a fixed rate (open loop, latency from each request's due time) or
//! as fast as they are answered (closed loop), with latency percentiles,
//! status codes and CPU use.

pub mod server;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use hdrhistogram::Histogram;

/// One webhook delivery: its body and the header that signs it.
#[derive(Clone)]
pub struct Delivery {
    pub body: Bytes,
    pub signature: (&'static str, String),
}

pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub struct Run {
    /// Request latencies in microseconds (1 µs to 60 s, 3 significant
    /// digits; longer ones count as 60 s).
    pub latencies_us: Histogram<u64>,
    pub statuses: BTreeMap<String, usize>,
    pub elapsed: Duration,
}

pub fn http_client(idle_connections: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(idle_connections)
        .http1_only()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// Posts one signed webhook; returns the status code (or timeout/error).
async fn post(client: &reqwest::Client, url: &str, delivery: Delivery) -> String {
    let (name, value) = delivery.signature;
    let result = client
        .post(url)
        .header("content-type", "application/json")
        .header(name, value)
        .body(delivery.body)
        .send()
        .await;
    match result {
        Ok(response) => {
            let status = response.status().as_u16().to_string();
            // Read the body so the connection is reused.
            let _ = response.bytes().await;
            status
        }
        Err(e) if e.is_timeout() => "timeout".to_string(),
        Err(_) => "error".to_string(),
    }
}

impl Run {
    pub fn new() -> Run {
        Run {
            latencies_us: Histogram::new_with_bounds(1, 60_000_000, 3)
                .expect("1 µs to 60 s at 3 significant digits is valid"),
            statuses: BTreeMap::new(),
            elapsed: Duration::ZERO,
        }
    }

    fn record(&mut self, latency: Duration, status: String) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latencies_us.saturating_record(us);
        *self.statuses.entry(status).or_default() += 1;
    }

    fn finish(&mut self, started: Instant) {
        self.elapsed = started.elapsed();
    }
}

/// Closed loop: sends `bodies` over `concurrency` keep-alive connections,
/// each task taking the next body as soon as its previous one is answered.
pub async fn fire(url: &str, bodies: Arc<Vec<Delivery>>, concurrency: usize) -> Run {
    let client = http_client(concurrency);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let bodies = bodies.clone();
        let next = next.clone();
        let url = url.to_string();
        tasks.spawn(async move {
            let mut run = Run::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let sent = Instant::now();
                let status = post(&client, &url, body.clone()).await;
                run.record(sent.elapsed(), status);
            }
            run
        });
    }
    let mut run = Run::new();
    while let Some(done) = tasks.join_next().await {
        let part = done.expect("load task");
        run.latencies_us
            .add(&part.latencies_us)
            .expect("histograms of the same precision");
        for (status, n) in part.statuses {
            *run.statuses.entry(status).or_default() += n;
        }
    }
    run.finish(started);
    run
}

/// Open loop: request `i` is due at `start + i / rate` and goes out then on
/// its own task, whatever earlier requests are doing (connections open as
/// needed). Latency counts from the due time, so time a request spent
/// waiting to be sent because the server stalled is counted too.
pub async fn fire_at_rate(url: &str, bodies: Arc<Vec<Delivery>>, rate: f64) -> Run {
    let client = http_client(1_024);
    let started = Instant::now();
    let start = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, body) in bodies.iter().enumerate() {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due).await;
        let client = client.clone();
        let url = url.to_string();
        let body = body.clone();
        tasks.spawn(async move {
            let status = post(&client, &url, body).await;
            (due, due.elapsed(), status)
        });
    }
    let mut run = Run::new();
    let mut by_due = Vec::with_capacity(bodies.len());
    while let Some(done) = tasks.join_next().await {
        let (due, latency, status) = done.expect("load task");
        by_due.push((due - start, latency));
        run.record(latency, status);
    }
    if std::env::var_os("BENCH_TIMELINE").is_some() {
        print_timeline(by_due);
    }
    run.finish(started);
    run
}

/// The worst latency of the requests due in each 100 ms, one line per second:
/// shows whether slow requests come in bursts and how often.
fn print_timeline(mut by_due: Vec<(Duration, Duration)>) {
    by_due.sort_unstable();
    let mut worst = BTreeMap::<u128, u128>::new();
    for (due, latency) in by_due {
        let slot = worst.entry(due.as_millis() / 100).or_default();
        *slot = (*slot).max(latency.as_millis());
    }
    for second in worst
        .keys()
        .map(|slot| slot / 10)
        .collect::<std::collections::BTreeSet<_>>()
    {
        let row: Vec<String> = (second * 10..second * 10 + 10)
            .map(|slot| {
                worst
                    .get(&slot)
                    .map(|ms| format!("{ms:>4}"))
                    .unwrap_or_default()
            })
            .collect();
        println!("  {second:>3} s: worst ms per 100 ms {}", row.join(""));
    }
}

/// CPU seconds used so far by this process's threads, split into the load
/// generator's (threads named `load`) and everything else (the server: HTTP,
/// handlers, SQLite, workers). Linux only; zeros elsewhere.
pub fn cpu_seconds() -> (f64, f64) {
    let ticks = 100.0; // USER_HZ on Linux
    let (mut load, mut server) = (0.0, 0.0);
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return (0.0, 0.0);
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ... utime stime: fields 14 and 15, after the comm.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let comm = head.split_once('(').map(|(_, c)| c).unwrap_or("");
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let used = fields
            .get(11..13)
            .map(|f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum::<f64>())
            .unwrap_or(0.0)
            / ticks;
        if comm.starts_with("load") {
            load += used;
        } else {
            server += used;
        }
    }
    (load, server)
}

/// The latency at percentile `p` (0–100), in milliseconds.
pub fn percentile(latencies_us: &Histogram<u64>, p: f64) -> f64 {
    if latencies_us.is_empty() {
        return f64::NAN;
    }
    latencies_us.value_at_percentile(p) as f64 / 1000.0
}

/// Prints one run's rate, latency percentiles, status codes and CPU use.
pub fn report(
    run: &Run,
    (load_before, server_before): (f64, f64),
    (load_after, server_after): (f64, f64),
) {
    let requests = run.latencies_us.len() as usize;
    let secs = run.elapsed.as_secs_f64();
    let lat = &run.latencies_us;
    println!(
        "  {requests} requests in {secs:.2} s = {:.0} requests/s",
        requests as f64 / secs
    );
    println!(
        "  latency ms: p50 {:.2}  p95 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        percentile(lat, 50.0),
        percentile(lat, 95.0),
        percentile(lat, 99.0),
        percentile(lat, 99.9),
        if lat.is_empty() {
            f64::NAN
        } else {
            lat.max() as f64 / 1000.0
        }
    );
    println!("  status codes: {:?}", run.statuses);
    let (server_cpu, load_cpu) = (server_after - server_before, load_after - load_before);
    println!(
        "  CPU: server {server_cpu:.2} s ({:.0} µs/webhook), load generator {load_cpu:.2} s; {:.2} of 2 cores busy with this process",
        server_cpu * 1e6 / requests as f64,
        (server_cpu + load_cpu) / secs
    );
}
