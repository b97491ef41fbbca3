//! Input that used to be stored wrongly or refused forever (issue 12,
//! part 9), over HTTP and the command line, on SQLite and PostgreSQL.

use crate::support;

use chrono::NaiveDate;
use support::app::{Options, TestApp, WEBHOOK_SECRET};
use support::cli::{Run, avisa};
use support::db::Backend;

async fn post_webhook(app: &TestApp, body: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(app.url("/webhooks/wasender"))
        .header("content-type", "application/json")
        .header("X-Webhook-Signature", WEBHOOK_SECRET)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .status()
}

/// PostgreSQL refuses U+0000 in text (`invalid byte sequence for encoding
/// "UTF8": 0x00`), which made this webhook 503 on every redelivery.
async fn a_text_with_nul_is_stored_without_it(backend: Backend) {
    let Some(app) = TestApp::spawn(
        backend,
        Options::on(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()).http(),
    )
    .await
    else {
        return;
    };
    let body = r#"{"event":"messages.received","timestamp":1633456789,"data":{"messages":{
        "key":{"id":"3EB0NUL\u00001","fromMe":false,"remoteJid":"593991234567@s.whatsapp.net"},
        "pushName":"A\u0000na","messageBody":"Ho\u0000la\u0000",
        "message":{"conversation":"Ho\u0000la\u0000"}}}}"#;
    assert_eq!(post_webhook(&app, body).await, 200);
    // A redelivery is the same message: acknowledged, not stored again.
    assert_eq!(post_webhook(&app, body).await, 200);
    let session = r#"{"event":"session.status","data":{"status":"need\u0000_scan"}}"#;
    assert_eq!(post_webhook(&app, session).await, 200);

    let store = &app.services.store;
    let inbound: Vec<_> = store
        .messages_for_phone("+593991234567", 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == "in")
        .collect();
    assert_eq!(inbound.len(), 1, "{inbound:?}");
    assert_eq!(inbound[0].body, "Hola");
    assert_eq!(inbound[0].wa_message_id.as_deref(), Some("3EB0NUL1"));
    assert_eq!(
        store
            .setting(avisa::store::SETTING_SESSION_DOWN)
            .await
            .unwrap()
            .as_deref(),
        Some("need_scan")
    );
    app.cleanup().await;
}
both_backends!(nul_text, super::a_text_with_nul_is_stored_without_it);

#[test]
fn import_rejects_an_ambiguous_price_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("precios.csv"),
        "nombres,telefono,servicio,vence,precio\n\
         Ana,0991234567,Netflix,2026-11-25,7.50\n\
         Beto,0991234568,Netflix,2026-11-25,7.505\n",
    )
    .unwrap();
    let Run {
        code,
        stdout,
        stderr,
    } = avisa(dir.path(), &["import", "precios.csv"], &[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("línea 3: precio: «7.505» es ambiguo"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 fila no válida: no se importó nada"),
        "{stderr}"
    );
}

#[test]
fn import_of_a_header_only_file_fails_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vacio.csv");
    std::fs::write(
        &file,
        "nombres,apellidos,telefono,email,servicio,vence,precio\r\n\r\n",
    )
    .unwrap();
    for args in [
        &["import", "vacio.csv"][..],
        &["import", "vacio.csv", "--dry-run"],
    ] {
        let Run {
            code,
            stdout,
            stderr,
        } = avisa(dir.path(), args, &[]);
        assert_eq!(code, 1, "{args:?}: {stdout}{stderr}");
        assert!(
            stderr.contains(
                "vacio.csv: el archivo tiene encabezado pero ninguna fila de datos: \
                 no hay nada que importar"
            ),
            "{stderr}"
        );
        assert!(!stdout.contains("importada"), "{stdout}");
    }
}

#[test]
fn repeated_reminder_days_stop_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let Run { code, stderr, .. } =
        avisa(dir.path(), &["stats"], &[("AVISA_REMINDER_DAYS", "7,7,3")]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        stderr.trim(),
        "error: invalid setting: AVISA_REMINDER_DAYS=\"7,7,3\": `7` is listed twice; list each day once"
    );
}

/// Nothing listens on port 1: sqlx retries the refused connection until its
/// deadline (10 s) and said only `pool timed out…`.
#[test]
fn an_unreachable_postgres_is_named_with_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let url = "postgres://avisa:s3cr3t-pw@127.0.0.1:1/avisa";
    let Run { code, stderr, .. } = avisa(dir.path(), &["migrate"], &[("DATABASE_URL", url)]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr
            .contains("PostgreSQL at 127.0.0.1:1 (database avisa, user avisa): connection refused"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cr3t-pw"), "{stderr}");
    assert!(!stderr.contains("pool timed out"), "{stderr}");
}

/// A server that answers with an error: its message, without sqlx's
/// `at line N` (a line of PostgreSQL's C source).
#[test]
fn a_postgres_error_at_start_up_is_said_plainly() {
    let admin = std::env::var("AVISA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| support::db::DEFAULT_POSTGRES.to_string());
    let Some(root) = admin.rsplit_once('/').map(|(root, _)| root.to_string()) else {
        panic!("no database in {admin}");
    };
    if std::net::TcpStream::connect("127.0.0.1:5432").is_err() && admin.contains("127.0.0.1:5432") {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "PostgreSQL is required in CI"
        );
        eprintln!("SKIP: no PostgreSQL at {admin}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{root}/avisa_no_such_database_12");
    let Run { code, stderr, .. } = avisa(dir.path(), &["migrate"], &[("DATABASE_URL", &url)]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("database \"avisa_no_such_database_12\" does not exist"),
        "{stderr}"
    );
    assert!(stderr.contains("PostgreSQL at "), "{stderr}");
    assert!(!stderr.contains(" at line "), "{stderr}");
    assert_eq!(stderr.matches("does not exist").count(), 1, "{stderr}");
}

#[test]
fn a_taken_port_is_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let Run { code, stderr, .. } = avisa(dir.path(), &["serve"], &[("AVISA_LISTEN", &listen)]);
    assert_eq!(code, 1, "{stderr}");
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line: {stderr}"));
    assert!(
        error.starts_with(&format!("error: cannot listen on {listen}: ")),
        "{error}"
    );
    assert_eq!(
        error.matches("in use").count(),
        1,
        "the cause is said once: {error}"
    );
}

#[test]
fn logs_have_no_colour_codes_when_not_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    // Debug logging so that something is logged (sqlx's statements).
    let Run { code, stderr, .. } = avisa(dir.path(), &["migrate"], &[("RUST_LOG", "debug")]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("DEBUG"), "nothing was logged: {stderr}");
    assert!(!stderr.contains('\u{1b}'), "ANSI escape codes: {stderr:?}");
}

#[test]
fn cli_output_is_spanish_by_default_and_english_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let Run {
        code,
        stdout,
        stderr,
    } = avisa(dir.path(), &["pause"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "recordatorios automáticos en pausa");
    let Run {
        code,
        stdout,
        stderr,
    } = avisa(dir.path(), &["resume"], &[("AVISA_LOCALE", "en")]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "automatic reminders resumed");
    let Run { stdout, .. } = avisa(dir.path(), &["user", "list"], &[]);
    assert!(stdout.contains("todavía no hay usuarios"), "{stdout}");
}
