//! Receipts end to end (issue 15 parts 1 and 2) on SQLite and PostgreSQL: a
//! customer's photo or document is fetched through the fake WaSender's
//! `decrypt-media`, stored with its sniffed type, size and SHA-256, attached
//! to the open request, and sent to staff by a signed link the app serves
//! (and refuses once expired or altered); files that cannot be had leave
//! the message handled and staff told; a failed notice is written once.

use crate::support;

use std::time::Duration;

use avisa::domain::FixedClock;
use avisa::store::{MessageRow, Pool, Store};
use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use support::admin::{AdminClient, PASSWORD, create_user};
use support::app::{Options, TestApp};
use support::db::Backend;
use support::media::{
    accept_sends, decrypt_calls, decrypt_fails, decrypt_gives_link, file_at, jpeg, pdf, send_file,
    serve_file,
};

const CUSTOMER: &str = "593991234567";
const STAFF: &str = "593990000001";
const PUBLIC_URL: &str = "https://avisa.example.com";

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
}

async fn start(backend: Backend, public_url: Option<&str>) -> Option<TestApp> {
    start_with(backend, public_url, None).await
}

async fn start_with(
    backend: Backend,
    public_url: Option<&str>,
    clock: Option<FixedClock>,
) -> Option<TestApp> {
    let mut options = Options::on(today())
        .var("AVISA_REMINDER_TIME", "23:59")
        .http();
    if let Some(url) = public_url {
        options = options.var("AVISA_PUBLIC_URL", url);
    }
    if let Some(clock) = clock {
        options = options.with_clock(clock);
    }
    let app = TestApp::spawn(backend, options).await?;
    accept_sends(&app).await;
    Some(app)
}

fn store(app: &TestApp) -> &dyn Store {
    app.services.store.as_ref()
}

/// A client at `phone` (digits) with Netflix ending 1 December and an open
/// renewal request for it; returns (client id, request id).
async fn client_with_request(app: &TestApp, phone: &str, name: &str) -> (i64, i64) {
    let local = format!("+{phone}");
    store(app)
        .upsert_subscriptions(
            &[support::fixtures::row(
                name,
                &local,
                "Netflix",
                support::fixtures::date(2026, 12, 1),
                750,
            )],
            app.services.clock.now(),
        )
        .await
        .unwrap();
    let client = store(app).client_by_phone(&local).await.unwrap().unwrap();
    let sub = store(app).subscriptions_of_client(client.id).await.unwrap();
    let request = store(app)
        .create_renewal_request(client.id, Some(sub[0].id), app.services.clock.now())
        .await
        .unwrap();
    (client.id, request)
}

/// Send bodies to `digits`.
async fn sent_to(app: &TestApp, digits: &str) -> Vec<serde_json::Value> {
    app.sent()
        .await
        .into_iter()
        .filter(|b| b["to"].as_str().is_some_and(|t| t.ends_with(digits)))
        .collect()
}

/// Waits (10 s at most) until `digits` has been sent `n` messages.
async fn wait_for_sends(app: &TestApp, digits: &str, n: usize) -> Vec<serde_json::Value> {
    for _ in 0..200 {
        let sent = sent_to(app, digits).await;
        if sent.len() >= n {
            return sent;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{digits} got {:?}, not {n}", sent_to(app, digits).await);
}

/// The inbound row with WhatsApp id `wa_id`.
async fn inbound(app: &TestApp, wa_id: &str) -> MessageRow {
    store(app)
        .messages_for_phone(&format!("+{CUSTOMER}"), 100)
        .await
        .unwrap()
        .into_iter()
        .chain(
            store(app)
                .messages_for_phone("+593992222222", 100)
                .await
                .unwrap(),
        )
        .chain(
            store(app)
                .messages_for_phone("+593993333333", 100)
                .await
                .unwrap(),
        )
        .find(|m| m.wa_message_id.as_deref() == Some(wa_id))
        .unwrap_or_else(|| panic!("no message {wa_id}"))
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    match store(app).pool() {
        Pool::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap(),
        Pool::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap(),
    }
}

/// `url` (under the public URL) on the running app instead.
fn on_app(app: &TestApp, url: &str) -> String {
    app.url(
        url.strip_prefix(PUBLIC_URL)
            .expect("a link under AVISA_PUBLIC_URL"),
    )
}

async fn a_receipt_reaches_staff_with_its_file(backend: Backend) {
    let Some(app) = start(backend, Some(PUBLIC_URL)).await else {
        return;
    };
    let (client_id, request_id) = client_with_request(&app, CUSTOMER, "Ana Pérez").await;
    // A "photo" whose bytes are a PDF: stored (and sent) as a PDF.
    let bytes = pdf();
    serve_file(&app, "3EB0RECEIPT1", bytes.clone()).await;
    send_file(
        &app,
        CUSTOMER,
        "3EB0RECEIPT1",
        false,
        "image/jpeg",
        "mi pago",
    )
    .await;

    let staff = wait_for_sends(&app, STAFF, 1).await;
    let ack = wait_for_sends(&app, CUSTOMER, 1).await;
    assert!(
        ack[0]["text"].as_str().unwrap().contains("comprobante"),
        "{ack:?}"
    );
    app.settle().await;
    let staff_now = sent_to(&app, STAFF).await;
    assert_eq!(
        staff_now.len(),
        1,
        "one notice per staff phone: {staff_now:?}"
    );
    let notice = &staff[0];
    let text = notice["text"].as_str().unwrap();
    assert!(
        text.contains("Ana Pérez") && text.contains("comprobante"),
        "{text}"
    );
    assert!(
        text.contains("Netflix") && text.contains("/renovar #"),
        "{text}"
    );
    assert!(
        text.contains(&format!("Panel: {PUBLIC_URL}/admin/clients/{client_id}")),
        "{text}"
    );
    assert!(notice.get("imageUrl").is_none(), "a PDF goes as a document");
    assert_eq!(notice["fileName"], "archivo.pdf");
    let link = notice["documentUrl"].as_str().unwrap().to_string();
    assert!(link.starts_with(&format!("{PUBLIC_URL}/media/")), "{link}");

    // Stored: type from the bytes, size, SHA-256; linked to the message
    // and (through it) to the open request.
    let message = inbound(&app, "3EB0RECEIPT1").await;
    let media_id = message.media_id.expect("the message has its file");
    assert_eq!(store(&app).media_source(message.id).await.unwrap(), None);
    let file = store(&app).media_file(media_id).await.unwrap().unwrap();
    assert_eq!(file.meta.content_type, "application/pdf");
    assert_eq!(file.meta.size_bytes, bytes.len() as i64);
    let sha: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(file.meta.sha256, sha);
    assert_eq!(file.data, bytes);
    let open = store(&app)
        .open_request_for_client(client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (open.id, open.receipt_message_id),
        (request_id, Some(message.id))
    );
    let notice_row = store(&app)
        .messages_for_phone(&format!("+{STAFF}"), 10)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        notice_row.media_id,
        Some(media_id),
        "the notice carries the file"
    );

    // The signed link serves the bytes; expired or altered, nothing.
    let http = reqwest::Client::new();
    let response = http.get(on_app(&app, &link)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    assert_eq!(header("content-type"), "application/pdf");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert!(header("content-disposition").starts_with("inline;"));
    assert!(header("cache-control").starts_with("private, max-age="));
    assert_eq!(response.bytes().await.unwrap().to_vec(), bytes);
    let (path, query) = link.split_once('?').unwrap();
    let sig = query.split("sig=").nth(1).unwrap();
    let mut altered = sig.to_string();
    altered.replace_range(0..1, if sig.starts_with('0') { "1" } else { "0" });
    let key = app.services.secret_key().await.unwrap();
    let past = app.services.clock.now().timestamp() - 60;
    let expired = format!(
        "/media/{media_id}?exp={past}&sig={}",
        avisa::media::sign::signature(&key, media_id, past)
    );
    let exp = query.split('&').next().unwrap();
    for refused in [
        format!(
            "{}?{exp}&sig={altered}",
            path.strip_prefix(PUBLIC_URL).unwrap()
        ),
        expired,
        format!("/media/{}?{query}", media_id + 1),
        format!("/media/{media_id}"),
        format!("/media/{media_id}?exp=soon&sig={sig}"),
        format!("/media/x{media_id}?{query}"),
    ] {
        let status = http.get(app.url(&refused)).send().await.unwrap().status();
        assert_eq!(status, 404, "{refused}");
    }

    // A real photo goes as an image.
    serve_file(&app, "3EB0RECEIPT2", jpeg()).await;
    send_file(&app, CUSTOMER, "3EB0RECEIPT2", false, "image/jpeg", "").await;
    let staff = wait_for_sends(&app, STAFF, 2).await;
    let photo = &staff[1];
    assert!(
        photo["imageUrl"].as_str().unwrap().starts_with(PUBLIC_URL),
        "{photo}"
    );
    assert!(photo.get("documentUrl").is_none());

    // The panel shows them, behind login.
    create_user(store(&app), "ana@example.com", PASSWORD).await;
    let admin = AdminClient::login(&app, "ana@example.com", PASSWORD).await;
    let photo_id = inbound(&app, "3EB0RECEIPT2").await.media_id.unwrap();
    let (status, page) = admin.get_text(&format!("/admin/clients/{client_id}")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!(
            "<img src=\"/admin/media/{photo_id}\" loading=\"lazy\""
        )),
        "thumbnail on the client page"
    );
    assert!(
        page.contains(&format!("href=\"/admin/media/{media_id}\">📎")),
        "PDF link"
    );
    let (_, operations) = admin.get_text("/admin/operations").await;
    assert!(
        operations.contains("/admin/media/"),
        "receipt in the request list"
    );
    let (_, log) = admin.get_text("/admin/messages").await;
    assert!(
        log.contains(&format!("src=\"/admin/media/{photo_id}\"")),
        "in the log"
    );
    let response = admin.get(&format!("/admin/media/{photo_id}")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    assert_eq!(response.bytes().await.unwrap().to_vec(), jpeg());
    let anonymous = AdminClient::new(&app);
    let status = anonymous
        .get(&format!("/admin/media/{photo_id}"))
        .await
        .status();
    assert_eq!(status, 303, "the panel's files need a login");
    app.cleanup().await;
}
both_backends!(
    receipt_with_file,
    super::a_receipt_reaches_staff_with_its_file
);

async fn files_that_cannot_be_had_leave_the_message_handled(backend: Backend) {
    let Some(app) = start(backend, Some(PUBLIC_URL)).await else {
        return;
    };
    client_with_request(&app, CUSTOMER, "Ana").await;
    client_with_request(&app, "593992222222", "Luis").await;
    client_with_request(&app, "593993333333", "Eva").await;
    // Ana's link has expired; Luis sends 20 MB; Eva's first try meets a 503.
    decrypt_gives_link(&app, "3EB0EXPIRED").await;
    file_at(&app, "3EB0EXPIRED", 404, b"expired".to_vec()).await;
    serve_file(&app, "3EB0HUGE", vec![0x25; 20 * 1024 * 1024]).await;
    decrypt_fails(&app, "3EB0FLAKY", 503, 1).await;
    serve_file(&app, "3EB0FLAKY", jpeg()).await;
    send_file(&app, CUSTOMER, "3EB0EXPIRED", false, "image/jpeg", "").await;
    send_file(
        &app,
        "593992222222",
        "3EB0HUGE",
        true,
        "application/pdf",
        "",
    )
    .await;
    send_file(&app, "593993333333", "3EB0FLAKY", false, "image/jpeg", "").await;
    let staff = wait_for_sends(&app, STAFF, 3).await;
    for digits in [CUSTOMER, "593992222222", "593993333333"] {
        let ack = wait_for_sends(&app, digits, 1).await;
        assert!(
            ack[0]["text"].as_str().unwrap().contains("comprobante"),
            "{ack:?}"
        );
    }
    app.settle().await;
    assert_eq!(sent_to(&app, STAFF).await.len(), 3, "one notice each");
    let notice = |name: &str| {
        staff
            .iter()
            .find(|b| b["text"].as_str().unwrap().contains(name))
            .unwrap_or_else(|| panic!("no notice about {name}: {staff:?}"))
            .clone()
    };

    let expired = inbound(&app, "3EB0EXPIRED").await;
    assert_eq!(expired.media_id, None);
    assert_eq!(expired.status, "processed", "handled without its file");
    assert!(
        expired
            .error
            .as_deref()
            .unwrap()
            .contains("no se pudo obtener")
    );
    let ana = notice("Ana");
    assert!(ana.get("imageUrl").is_none() && ana.get("documentUrl").is_none());
    assert!(
        ana["text"]
            .as_str()
            .unwrap()
            .contains("No se pudo obtener el archivo")
    );

    let huge = inbound(&app, "3EB0HUGE").await;
    assert_eq!(huge.media_id, None);
    assert!(
        huge.error
            .as_deref()
            .unwrap()
            .contains("archivo demasiado grande"),
        "{:?}",
        huge.error
    );
    let luis = notice("Luis");
    assert!(luis.get("documentUrl").is_none());
    assert!(luis["text"].as_str().unwrap().contains("más de 16 MB"));

    let flaky = inbound(&app, "3EB0FLAKY").await;
    let media_id = flaky.media_id.expect("stored after the retry");
    assert!(notice("Eva")["imageUrl"].as_str().is_some());
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM media").await,
        1,
        "only Eva's file, once"
    );
    let file = store(&app).media_meta(media_id).await.unwrap().unwrap();
    assert_eq!(file.content_type, "image/jpeg");
    assert!(decrypt_calls(&app).await >= 4, "Eva's was tried twice");
    app.cleanup().await;
}
both_backends!(
    unfetchable,
    super::files_that_cannot_be_had_leave_the_message_handled
);

async fn execute(app: &TestApp, sql: &str) {
    let sql = sql.to_string();
    match store(app).pool() {
        Pool::Sqlite(p) => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&p)
                .await
                .unwrap();
        }
        Pool::Postgres(p) => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&p)
                .await
                .unwrap();
        }
    }
}

/// The fetch job dies between keeping the file and queuing the notice (a
/// trigger fails the notice's insert): nothing of it is kept; the sweeper
/// finds the lost job, and it runs again — twice more, as redelivered jobs
/// would — staff get exactly one notice.
async fn a_notice_that_failed_is_sent_once(backend: Backend) {
    let clock = FixedClock::at_local(
        chrono_tz::America::Guayaquil,
        today(),
        chrono::NaiveTime::from_hms_opt(10, 0, 0).unwrap(),
    );
    let Some(app) = start_with(backend, None, Some(clock.clone())).await else {
        return;
    };
    client_with_request(&app, CUSTOMER, "Ana").await;
    let statements: &[&str] = match backend {
        Backend::Sqlite => &[
            "CREATE TABLE fault (step TEXT NOT NULL)",
            "INSERT INTO fault (step) VALUES ('notice')",
            "CREATE TRIGGER fault_notice BEFORE INSERT ON messages \
             WHEN NEW.kind = 'notice' AND EXISTS (SELECT 1 FROM fault) \
             BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
        ],
        Backend::Postgres => &[
            "CREATE TABLE fault (step TEXT NOT NULL)",
            "INSERT INTO fault (step) VALUES ('notice')",
            "CREATE FUNCTION fault_trip() RETURNS trigger AS $$ BEGIN \
             IF EXISTS (SELECT 1 FROM fault) THEN RAISE EXCEPTION 'injected fault'; END IF; \
             RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER fault_notice BEFORE INSERT ON messages \
             FOR EACH ROW WHEN (NEW.kind = 'notice') EXECUTE FUNCTION fault_trip()",
        ],
    };
    for sql in statements {
        execute(&app, sql).await;
    }
    serve_file(&app, "3EB0CRASH", jpeg()).await;
    send_file(&app, CUSTOMER, "3EB0CRASH", false, "image/jpeg", "pago").await;
    wait_for_sends(&app, CUSTOMER, 1).await;
    app.settle().await;
    let message = inbound(&app, "3EB0CRASH").await;
    assert_eq!(
        message.status, "processed",
        "the message itself was handled"
    );
    assert_eq!(message.media_id, None, "the file's transaction was undone");
    assert!(
        store(&app)
            .media_source(message.id)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM media").await, 0);
    assert!(sent_to(&app, STAFF).await.is_empty());

    execute(&app, "DELETE FROM fault").await;
    // Not yet lost: the sweeper leaves it alone for 15 minutes.
    assert_eq!(
        avisa::chat::media::requeue_lost(&app.services)
            .await
            .unwrap(),
        0
    );
    clock.advance(chrono::Duration::minutes(16));
    let taken = avisa::chat::media::requeue_lost(&app.services)
        .await
        .unwrap();
    // The app's own sweeper (every 15 s) may have taken it first, or the
    // failed job's own retry may have fetched it once the fault was gone:
    // either way it is taken once.
    if taken == 0 {
        let row = inbound(&app, "3EB0CRASH").await;
        assert!(
            row.media_id.is_some()
                || row.updated_at >= app.services.clock.now() - chrono::Duration::seconds(1),
            "neither this sweep, the app's, nor a retry took it: {row:?}"
        );
    } else {
        assert_eq!(taken, 1);
    }
    // Taken: the next sweep (15 s later) does not queue it a second time.
    assert_eq!(
        avisa::chat::media::requeue_lost(&app.services)
            .await
            .unwrap(),
        0
    );
    let job = avisa::jobs::queue::FetchMedia {
        message_id: message.id,
        notify: true,
        attempt: 0,
    };
    app.services.queue.push_fetch(job, None).await.unwrap();
    let staff = wait_for_sends(&app, STAFF, 1).await;
    app.settle().await;
    assert_eq!(sent_to(&app, STAFF).await.len(), 1, "exactly one notice");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM media").await, 1);
    // Without AVISA_PUBLIC_URL the notice is text only and points at the panel.
    let text = staff[0]["text"].as_str().unwrap();
    assert!(staff[0].get("imageUrl").is_none(), "{:?}", staff[0]);
    assert!(
        text.contains("Míralo en el panel: /admin/clients/"),
        "{text}"
    );
    assert!(
        !text.contains("Panel: http"),
        "no link without a public URL: {text}"
    );
    app.cleanup().await;
}
both_backends!(notice_fault, super::a_notice_that_failed_is_sent_once);

/// Without an API key (the console provider) nothing can be fetched: the
/// file is marked as not fetched and staff are told, with no crash.
async fn the_console_cannot_fetch(backend: Backend) {
    let options = Options::on(today())
        .var("AVISA_REMINDER_TIME", "23:59")
        .var("WASENDER_API_KEY", "")
        .http();
    let Some(app) = TestApp::spawn(backend, options).await else {
        return;
    };
    assert!(app.services.provider.is_console());
    client_with_request(&app, CUSTOMER, "Ana").await;
    send_file(&app, CUSTOMER, "3EB0CONSOLE", true, "application/pdf", "").await;
    let mut notices = Vec::new();
    for _ in 0..200 {
        notices = store(&app)
            .messages_for_phone(&format!("+{STAFF}"), 10)
            .await
            .unwrap();
        if !notices.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0].body.contains("No se pudo obtener"),
        "{}",
        notices[0].body
    );
    let message = inbound(&app, "3EB0CONSOLE").await;
    assert_eq!(message.media_id, None);
    assert!(message.error.is_some());
    assert_eq!(store(&app).media_source(message.id).await.unwrap(), None);
    app.cleanup().await;
}
both_backends!(console, super::the_console_cannot_fetch);
