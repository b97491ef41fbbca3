//! Clients that stall and a shutdown that cannot wait forever: header read
//! timeouts, `/healthz` answering beside stalled connections, and SIGTERM
//! (here: the stop future) ending the process within its deadline, with a
//! send still in flight recorded as `unknown`, never resent.

use crate::support;

use std::time::{Duration, Instant};

use avisa::app::{Application, Overrides};
use avisa::domain::OffsetClock;
use chrono::Utc;
use support::app::{WEBHOOK_SECRET, config_for};
use support::db::{Backend, TestDb};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const STALLED: usize = 200;

struct Running {
    db: TestDb,
    wasender: MockServer,
    port: u16,
    services: std::sync::Arc<avisa::services::Services>,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

async fn start(backend: Backend, wasender_timeout_ms: &str) -> Option<Running> {
    let db = TestDb::new(backend).await?;
    let wasender = MockServer::start().await;
    let options = support::app::Options::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap())
        .var("AVISA_REMINDER_TIME", "23:59")
        .var("WASENDER_TIMEOUT_MS", wasender_timeout_ms)
        .http();
    let config = config_for(&db, &wasender, &options);
    let overrides = Overrides {
        clock: std::sync::Arc::new(OffsetClock::starting_at(Utc::now())),
    };
    let application = Application::build(config, overrides).await.unwrap();
    let port = application.port();
    let services = application.services();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        application
            .run_until_stopped(async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Some(Running {
        db,
        wasender,
        port,
        services,
        stop,
        server,
    })
}

async fn healthz(port: u16) -> u16 {
    reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

async fn stalled_clients_are_cut_off_and_do_not_hold_shutdown(backend: Backend) {
    let Some(running) = start(backend, "20000").await else {
        return;
    };
    let mut stalled = Vec::new();
    for _ in 0..STALLED {
        let mut stream = TcpStream::connect(("127.0.0.1", running.port))
            .await
            .unwrap();
        stream
            .write_all(b"POST /webhooks/wasender HTTP/1.1\r\nHost: avisa\r\nContent-Le")
            .await
            .unwrap();
        stalled.push(stream);
    }
    assert_eq!(
        healthz(running.port).await,
        200,
        "answers beside stalled clients"
    );
    // Each stalled connection is closed once the header timeout passes.
    let started = Instant::now();
    for stream in &mut stalled {
        let mut buffer = [0u8; 256];
        let read = tokio::time::timeout(Duration::from_secs(20), stream.read(&mut buffer)).await;
        assert!(
            matches!(read, Ok(Ok(_)) | Ok(Err(_))),
            "a stalled client was held for {:?}",
            started.elapsed()
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );

    // Stalled again, then stopped: the process ends within its deadline.
    let mut again = Vec::new();
    for _ in 0..50 {
        let mut stream = TcpStream::connect(("127.0.0.1", running.port))
            .await
            .unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHo")
            .await
            .unwrap();
        again.push(stream);
    }
    let stopping = Instant::now();
    running.stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(15), running.server)
        .await
        .expect("shutdown waited on stalled clients")
        .unwrap();
    assert!(
        stopping.elapsed() < Duration::from_secs(12),
        "{:?}",
        stopping.elapsed()
    );
    close(&running.services).await;
    running.db.cleanup().await;
}
both_backends!(
    stalled_clients,
    super::stalled_clients_are_cut_off_and_do_not_hold_shutdown
);

async fn a_send_in_flight_at_shutdown_becomes_unknown(backend: Backend) {
    let Some(running) = start(backend, "60000").await else {
        return;
    };
    // WaSender takes the request and never answers in time.
    Mock::given(method("POST"))
        .and(path("/api/send-message"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .mount(&running.wasender)
        .await;
    let body = serde_json::json!({
        "event": "messages.received",
        "timestamp": 1_764_082_800,
        "data": {"messages": {
            "key": {"id": "3EBSHUTDOWN1", "fromMe": false,
                    "remoteJid": "593991111111@s.whatsapp.net", "cleanedSenderPn": "593991111111"},
            "messageBody": "hola", "message": {"conversation": "hola"},
        }}
    });
    let response = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/webhooks/wasender",
            running.port
        ))
        .header("X-Webhook-Signature", WEBHOOK_SECRET)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Wait until the reply's request is with WaSender.
    let mut requested = false;
    for _ in 0..100 {
        let requests = running
            .wasender
            .received_requests()
            .await
            .unwrap_or_default();
        // Only sends (the start-up session check is a GET without a body).
        if requests.iter().any(|r| {
            r.url.path().ends_with("/send-message")
                && serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["to"]
                    .as_str()
                    .is_some_and(|to| to.ends_with("593991111111"))
        }) {
            requested = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(requested);
    let stopping = Instant::now();
    running.stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), running.server)
        .await
        .expect("shutdown did not end within its deadline")
        .unwrap();
    assert!(
        stopping.elapsed() < Duration::from_secs(15),
        "{:?}",
        stopping.elapsed()
    );
    let replies: Vec<_> = running
        .services
        .store
        .messages_for_phone("+593991111111", 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == "out")
        .collect();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].status, "unknown", "{:?}", replies[0]);
    // A restarted service does not send it again.
    assert_eq!(
        running
            .services
            .store
            .queued_messages(10)
            .await
            .unwrap()
            .len(),
        0
    );
    // Each message was requested once (the reply, and the staff notice
    // about an unknown number), none twice.
    let requests = running.wasender.received_requests().await.unwrap();
    let mut recipients: Vec<String> = requests
        .iter()
        .filter(|r| r.url.path().ends_with("/send-message"))
        .map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["to"].to_string())
        .collect();
    let total = recipients.len();
    recipients.dedup();
    assert_eq!(recipients.len(), total, "{recipients:?}");
    close(&running.services).await;
    running.db.cleanup().await;
}
both_backends!(
    in_flight_at_shutdown,
    super::a_send_in_flight_at_shutdown_becomes_unknown
);

async fn close(services: &avisa::services::Services) {
    match services.store.pool() {
        avisa::store::Pool::Sqlite(pool) => pool.close().await,
        avisa::store::Pool::Postgres(pool) => pool.close().await,
    }
}
