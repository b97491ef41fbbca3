//! Every state the panel can show, for the crawl (`admin_crawl`) and the
//! browser's layout check: 330 clients with tricky names, subscriptions,
//! messages of every kind, renewal requests and audit rows.

use avisa::domain::{Money, Phone, Region};
use avisa::store::{ClientInput, NewAudit, NewSubscription, Pool};
use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::app::TestApp;
use super::panel::store;

/// Names that break naive pages: accents, apostrophes, markup, formulas,
/// one very long word.
pub const TRICKY_NAMES: &[&str] = &[
    "Álvaro Núñez",
    "Ángela O'Brien",
    "Íñigo d'Alembert",
    "Óscar Ñandú",
    "Zoé Ürquiza",
    "<b>x</b> Negrita",
    "<script>alert(1)</script>",
    "=HYPERLINK(\"x\")",
    "+cmd|' /C calc'!A0",
    "@SUM(1)",
    "-2+3 Menos",
    "Maximiliano-Alessandro-Bartolomeo-Wolfeschlegelsteinhausenbergerdorff",
    "Ana \"la jefa\" Pérez & Hijos",
];

fn phone(i: usize) -> Phone {
    Phone::parse(&format!("099{:07}", 1_000_000 + i), Region::default()).unwrap()
}

/// One message row as the store would have written it.
#[allow(clippy::too_many_arguments)]
async fn insert_message(
    app: &TestApp,
    direction: &str,
    phone: &str,
    client_id: i64,
    kind: &str,
    body: &str,
    status: &str,
    error: Option<&str>,
    at: DateTime<Utc>,
) {
    let sql = "INSERT INTO messages (direction, phone, client_id, kind, body, status, attempts, error, created_at, updated_at) \
               VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $8)";
    macro_rules! run {
        ($pool:expr) => {
            sqlx::query(sql)
                .bind(direction)
                .bind(phone)
                .bind(client_id)
                .bind(kind)
                .bind(body)
                .bind(status)
                .bind(error)
                .bind(at)
                .execute(&$pool)
                .await
                .unwrap()
        };
    }
    match app.services.store.pool() {
        Pool::Sqlite(pool) => {
            run!(pool);
        }
        Pool::Postgres(pool) => {
            run!(pool);
        }
    }
}

async fn insert_inbox(
    app: &TestApp,
    phone: &str,
    client_id: Option<i64>,
    reason: &str,
    at: DateTime<Utc>,
) {
    let sql = "INSERT INTO inbox (phone, client_id, reason, waiting_since, updated_at) \
               VALUES ($1, $2, $3, $4, $4)";
    macro_rules! run {
        ($pool:expr) => {
            sqlx::query(sql)
                .bind(phone)
                .bind(client_id)
                .bind(reason)
                .bind(at)
                .execute(&$pool)
                .await
                .unwrap()
        };
    }
    match app.services.store.pool() {
        Pool::Sqlite(pool) => {
            run!(pool);
        }
        Pool::Postgres(pool) => {
            run!(pool);
        }
    }
}

/// Seeds every state on an app whose today is 2026-11-25: 330 clients with
/// subscriptions ending 30 days ago to 40 days ahead (some next year), a
/// second subscription for some, cancelled ones, opted-out clients, a
/// client without subscriptions, messages of every kind, status and
/// direction, open renewal requests and audit rows. Returns the id of a
/// client whose only subscription expired 3 days ago.
pub async fn seed_every_state(app: &TestApp) -> i64 {
    let now = app.services.clock.now();
    let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    let services = [
        "Netflix",
        "IPTV Premium con canales deportivos internacionales",
        "Disney+",
        "Hosting",
    ];
    let mut rows = Vec::new();
    for i in 0..330usize {
        let name = TRICKY_NAMES
            .get(i)
            .map(|s| s.to_string())
            .unwrap_or_else(|| format!("Cliente {i:03} Apellido"));
        // -30 ..= 40 days from today, every value many times.
        let offset = (i % 71) as i64 - 30;
        let cents = [750, 1250, 158_405, 99, 1_234_567][i % 5];
        rows.push(NewSubscription {
            name: name.clone(),
            phone: phone(i),
            email: (i % 3 == 0).then(|| format!("cliente{i}@example.com")),
            service: services[i % services.len()].into(),
            end_date: today + Duration::days(offset),
            price: Money::from_cents(cents),
        });
        if i % 10 == 0 {
            rows.push(NewSubscription {
                name,
                phone: phone(i),
                email: None,
                service: "Spotify".into(),
                end_date: today + Duration::days(50 + i as i64),
                price: Money::from_cents(499),
            });
        }
    }
    store(app).upsert_subscriptions(&rows, now).await.unwrap();

    let client_of = |i: usize| {
        let p = phone(i);
        async move {
            store(app)
                .client_by_phone(p.as_str())
                .await
                .unwrap()
                .unwrap()
                .id
        }
    };
    // Cancelled subscriptions; opted-out clients.
    for i in (5..330).step_by(17) {
        let id = client_of(i).await;
        for s in store(app).subscriptions_of_client(id).await.unwrap() {
            store(app)
                .set_subscription_status(s.id, avisa::store::SubscriptionStatus::Cancelled, now)
                .await
                .unwrap();
        }
    }
    for i in (7..330).step_by(23) {
        let id = client_of(i).await;
        store(app).set_opted_out(id, Some(now)).await.unwrap();
    }
    // A client without any subscription.
    let lonely = store(app)
        .create_client(
            &ClientInput {
                name: "Sin Suscripción D'Souza".into(),
                phone: phone(900),
                email: None,
                notes: "<i>nota</i> con =FORMULA() y\nvarias líneas".into(),
            },
            now,
        )
        .await
        .unwrap();

    // Messages: every kind × status × direction, long and short bodies.
    let statuses = [
        "queued",
        "sending",
        "sent",
        "delivered",
        "read",
        "failed",
        "unknown",
        "received",
        "processed",
        "cancelled",
    ];
    let kinds = ["reminder", "reply", "staff", "notice", "manual"];
    let mut n = 0i64;
    for direction in ["in", "out"] {
        for kind in kinds {
            for status in statuses {
                n += 1;
                let i = (n as usize * 7) % 330;
                let client = client_of(i).await;
                let body = if n % 3 == 0 {
                    format!(
                        "Hola {} 👋 tu servicio vence pronto. Palabrasinespaciosmuylargaquenodebeensancharlapagina{n} \
                         https://example.com/pagar?cliente={i}&referencia=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
                        TRICKY_NAMES[(n as usize) % TRICKY_NAMES.len()]
                    )
                } else {
                    format!("Mensaje {n}: <script>alert({n})</script> renovar")
                };
                let error = (status == "failed").then_some(
                    "proveedor: 422 número no registrado en WhatsApp \
                     (sin_cuenta_whatsapp_registrada_en_el_proveedor)",
                );
                let at = now - Duration::hours(n * 9);
                let phone_text = phone(i).as_str().to_string();
                insert_message(
                    app,
                    direction,
                    &phone_text,
                    client,
                    kind,
                    &body,
                    status,
                    error,
                    at,
                )
                .await;
            }
        }
    }
    // Open renewal requests (with and without a subscription).
    for i in [1usize, 2, 40, 101, 202] {
        let id = client_of(i).await;
        let sub = store(app).subscriptions_of_client(id).await.unwrap();
        store(app)
            .create_renewal_request(id, sub.first().map(|s| s.id), now)
            .await
            .unwrap();
    }
    store(app)
        .create_renewal_request(lonely, None, now)
        .await
        .unwrap();
    // Bandeja entries for every reason, one for a number with no client.
    for (i, reason) in [
        (3usize, "asked_person"),
        (4, "receipt"),
        (5, "not_understood"),
        (6, "during_takeover"),
    ] {
        let client = client_of(i).await;
        insert_inbox(
            app,
            phone(i).as_str(),
            Some(client),
            reason,
            now - Duration::hours(i as i64 * 7),
        )
        .await;
    }
    insert_inbox(
        app,
        "+593980000999",
        None,
        "asked_person",
        now - Duration::days(3),
    )
    .await;
    // Audit rows, known actions and odd ones.
    for (action, detail) in [
        ("login", ""),
        ("login_failed", "intruso@example.com"),
        ("reminders.run", "2026-11-25"),
        ("reminders.pause", ""),
        ("subscription.renew", "<script>alert(2)</script> 1 mes"),
        ("client.delete", "=HYPERLINK(\"x\")"),
        ("import.confirm", "330 filas"),
        ("accion.desconocida", "detalle libre"),
    ] {
        store(app)
            .insert_audit(
                &NewAudit {
                    user_id: None,
                    user_email: "ana@example.com".into(),
                    action: action.into(),
                    detail: detail.into(),
                },
                now,
            )
            .await
            .unwrap();
    }
    seed_receipts(app, &[client_of(1).await, client_of(2).await]).await;
    // The client whose only subscription ended 3 days ago: offset index 27.
    client_of(27).await
}

/// Receipts with their files: a photo for the first client's open request,
/// a PDF with an awkward name for the second's, each also sent on to staff.
async fn seed_receipts(app: &TestApp, clients: &[i64]) {
    let now = app.services.clock.now();
    let files = [
        (super::media::jpeg(), "image/jpeg", None, "image"),
        (
            super::media::pdf(),
            "application/pdf",
            Some("pago <b>x</b> \"nov\".pdf".to_string()),
            "document",
        ),
    ];
    for (client_id, (data, content_type, file_name, kind)) in clients.iter().zip(files) {
        let client = store(app).client(*client_id).await.unwrap().unwrap();
        let media_id = store(app)
            .insert_media(
                avisa::store::NewMedia {
                    content_type: content_type.into(),
                    file_name,
                    sha256: "0".repeat(64),
                    data,
                },
                now,
            )
            .await
            .unwrap();
        let message = store(app)
            .insert_inbound(
                &avisa::store::NewInbound {
                    phone: client.phone.clone(),
                    client_id: Some(client.id),
                    kind: avisa::store::MessageKind::Reply,
                    body: "comprobante <i>nota</i>".into(),
                    media_kind: Some(kind.into()),
                    wa_message_id: None,
                    media_source: None,
                },
                now,
            )
            .await
            .unwrap()
            .unwrap();
        let statements = [
            format!("UPDATE messages SET media_id = {media_id} WHERE id = {message}"),
            format!(
                "UPDATE renewal_requests SET receipt_message_id = {message} \
                 WHERE client_id = {client_id} AND status = 'open'"
            ),
            format!(
                "INSERT INTO messages (direction, phone, client_id, kind, body, status, media_id, \
                 created_at, updated_at) SELECT 'out', '+593990000001', NULL, 'notice', \
                 'comprobante', 'sent', {media_id}, created_at, created_at FROM messages \
                 WHERE id = {message}"
            ),
        ];
        for sql in statements {
            match app.services.store.pool() {
                Pool::Sqlite(pool) => {
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&pool)
                        .await
                        .unwrap();
                }
                Pool::Postgres(pool) => {
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&pool)
                        .await
                        .unwrap();
                }
            }
        }
    }
}
