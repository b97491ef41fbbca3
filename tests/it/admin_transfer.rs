//! The staff panel's CSV import (dry run, errors by line, confirm) and
//! export (re-imports with no changes) over HTTP, on SQLite and PostgreSQL.

use crate::support;

use avisa::domain::Region;
use avisa::store::NewSubscription;
use chrono::Utc;
use support::admin::{AdminClient, location};
use support::db::Backend;
use support::ops::{d, spawn};

fn multipart(csv: &[u8]) -> (String, Vec<u8>) {
    let boundary = "avisa-test-boundary-7d3f0c";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clientes.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(csv);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Uploads `csv` to the dry run, with the CSRF token in the query.
async fn upload(client: &AdminClient, csv: &[u8], with_csrf: bool) -> (u16, String) {
    let (content_type, body) = multipart(csv);
    let url = if with_csrf {
        client.url(&format!("/admin/import?csrf={}", client.csrf().await))
    } else {
        client.url("/admin/import")
    };
    let response = client
        .http
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn confirm_token(page: &str) -> String {
    let at = page.find("name=\"token\" value=\"").expect("confirm form")
        + "name=\"token\" value=\"".len();
    page[at..].split('"').next().unwrap().to_string()
}

async fn import_errors_write_nothing(backend: Backend) {
    let Some((app, client)) = spawn(backend).await else {
        return;
    };
    let csv = "nombres,apellidos,telefono,email,servicio,vence,precio\n\
               Ana,Pérez,0991111111,,Netflix,2026-12-01,7.50\n\
               Luis,Mora,abc,,Netflix,2026-12-01,7.50\n\
               Rosa,Vera,0993333333,,Spotify,31/02/2026,3.99\n";
    let (status, page) = upload(&client, csv.as_bytes(), true).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("línea 3: telefono: "), "{page}");
    assert!(page.contains("línea 4: vence: "), "{page}");
    assert!(
        !page.contains("import-confirm"),
        "no confirm form with errors"
    );
    assert_eq!(app.services.store.count_clients().await.unwrap(), 0);

    // Multipart without the token in the query: refused.
    let (status, _) = upload(&client, csv.as_bytes(), false).await;
    assert_eq!(status, 403);
    app.cleanup().await;
}
both_backends!(import_errors, super::import_errors_write_nothing);

fn example_csv() -> Vec<u8> {
    std::fs::read(format!(
        "{}/examples/clientes.csv",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

async fn import_then_confirm(backend: Backend) {
    let Some((app, client)) = spawn(backend).await else {
        return;
    };
    let (status, page) = upload(&client, &example_csv(), true).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("15 filas"), "{page}");
    assert!(
        page.contains("Clientes: 14 nuevos, 0 actualizados"),
        "{page}"
    );
    assert!(
        page.contains("Suscripciones: 15 nuevas, 0 actualizadas"),
        "{page}"
    );
    assert_eq!(
        app.services.store.count_clients().await.unwrap(),
        0,
        "dry run"
    );

    let token = confirm_token(&page);
    let response = client
        .post_form("/admin/import/confirm", &[("token", &token)])
        .await;
    assert_eq!(response.status(), 303);
    let done = location(&response);
    assert!(
        done.starts_with("/admin/import?done=1&rows=15&clients_created=14"),
        "{done}"
    );
    let (_, page) = client.get_text(&done).await;
    assert!(page.contains("Importación terminada"));
    assert_eq!(app.services.store.count_clients().await.unwrap(), 14);
    let jorge = app
        .services
        .store
        .client_by_phone("+593994567890")
        .await
        .unwrap()
        .unwrap();
    let subs = app
        .services
        .store
        .subscriptions_of_client(jorge.id)
        .await
        .unwrap();
    assert_eq!(
        (subs[0].service.as_str(), subs[0].end_date),
        ("HBO Max", d(11, 28))
    );

    // The same confirmation twice imports nothing more.
    let again = client
        .post_form("/admin/import/confirm", &[("token", &token)])
        .await;
    assert_eq!(again.status(), 422);
    let (_, audit) = client.get_text("/admin/audit").await;
    assert!(
        audit.contains("15 filas: clientes 14 nuevos, 0 actualizados"),
        "{audit}"
    );
    app.cleanup().await;
}
both_backends!(import_confirm, super::import_then_confirm);

async fn export_reimports_unchanged(backend: Backend) {
    let Some((app, client)) = spawn(backend).await else {
        return;
    };
    let store = &app.services.store;
    let parsed = avisa::import::parse_csv(&example_csv(), Region::default()).unwrap();
    let rows: Vec<NewSubscription> = parsed.rows.iter().map(|r| r.to_subscription()).collect();
    store.upsert_subscriptions(&rows, Utc::now()).await.unwrap();
    // A cancelled subscription is left out (importing it would reactivate it).
    let diego = store
        .client_by_phone("+593969551234")
        .await
        .unwrap()
        .unwrap();
    let diego_sub = store
        .subscriptions_of_client(diego.id)
        .await
        .unwrap()
        .remove(0);
    store
        .set_subscription_status(
            diego_sub.id,
            avisa::store::SubscriptionStatus::Cancelled,
            Utc::now(),
        )
        .await
        .unwrap();

    let response = client.get("/admin/export.csv").await;
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string()
    };
    assert!(header("content-type").starts_with("text/csv"));
    let disposition = header("content-disposition");
    assert!(
        disposition.starts_with("attachment;") && disposition.contains("2026-11-25"),
        "{disposition}"
    );
    let exported = response.bytes().await.unwrap().to_vec();
    let text = String::from_utf8(exported.clone()).unwrap();
    assert_eq!(text.lines().count(), 1 + 14, "{text}");
    assert!(text.contains("María José Andrade Vera,,'+593 99 123 4567,mariajose.andrade@gmail.com,Netflix,2026-11-25,7.50"), "{text}");

    let (status, page) = upload(&client, &exported, true).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Clientes: 0 nuevos, 0 actualizados"),
        "{page}"
    );
    assert!(
        page.contains("Suscripciones: 0 nuevas, 0 actualizadas"),
        "{page}"
    );
    let response = client
        .post_form("/admin/import/confirm", &[("token", &confirm_token(&page))])
        .await;
    assert!(
        location(&response).contains(
            "clients_created=0&clients_updated=0&subscriptions_created=0&subscriptions_updated=0"
        ),
        "{}",
        location(&response)
    );
    let diego_after = store.subscription(diego_sub.id).await.unwrap().unwrap();
    assert_eq!(diego_after.status, "cancelled");
    let again = client
        .get("/admin/export.csv")
        .await
        .bytes()
        .await
        .unwrap()
        .to_vec();
    assert_eq!(again, exported, "same database, same file");
    app.cleanup().await;
}
both_backends!(export_roundtrip, super::export_reimports_unchanged);

async fn header_only_upload_says_there_is_nothing(backend: Backend) {
    let Some((app, client)) = spawn(backend).await else {
        return;
    };
    let csv = "nombres,apellidos,telefono,email,servicio,vence,precio\n\n";
    let (status, page) = upload(&client, csv.as_bytes(), true).await;
    assert_eq!(status, 422, "{page}");
    assert!(
        page.contains("solo tiene el encabezado: no hay filas de datos"),
        "{page}"
    );
    assert!(!page.contains("import-confirm"), "nothing to confirm");
    app.cleanup().await;
}
both_backends!(header_only, super::header_only_upload_says_there_is_nothing);
