//! Staff panel sign-in, sessions, CSRF, login limits and the dashboard, over
//! HTTP on SQLite and PostgreSQL.

use crate::support;

use avisa::domain::clock::local_to_utc;
use avisa::domain::{Money, Phone, Region};
use avisa::store::{NewRenewal, NewSubscription, Pool};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use support::admin::{AdminClient, PASSWORD, create_user, location};
use support::app::{Options, TestApp};
use support::db::Backend;

const EMAIL: &str = "ana@example.com";

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
}

async fn spawn(backend: Backend) -> Option<TestApp> {
    // No start-up catch-up at 10:00: the dashboard test seeds its own messages.
    TestApp::spawn(
        backend,
        Options::on(today())
            .var("AVISA_REMINDER_TIME", "23:59")
            .http(),
    )
    .await
}

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

async fn sign_in_flow(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let client = AdminClient::new(&app);
    // Not signed in: the panel redirects to the login page.
    let response = client.get("/admin").await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/admin/login?next=/admin");
    let response = client.get("/admin/audit?page=2").await;
    assert_eq!(
        location(&response),
        "/admin/login?next=/admin/audit%3Fpage%3D2"
    );
    // No users yet: the login page says how to create one.
    let (status, page) = client.get_text("/admin/login").await;
    assert_eq!(status, 200);
    assert!(page.contains("avisa user add tu@correo.com"), "{page}");
    assert!(page.contains("id=\"login\"") && page.contains("name=\"password\""));

    create_user(app.services.store.as_ref(), EMAIL, PASSWORD).await;
    let (_, page) = client.get_text("/admin/login").await;
    assert!(!page.contains("avisa user add"));

    // Wrong password and unknown email: the same answer.
    let wrong = client.try_login(EMAIL, "not the password").await;
    assert_eq!(wrong.status(), 401);
    let wrong = wrong.text().await.unwrap();
    let unknown = client.try_login("nadie@example.com", PASSWORD).await;
    assert_eq!(unknown.status(), 401);
    let unknown = unknown.text().await.unwrap();
    for page in [&wrong, &unknown] {
        assert!(page.contains("Correo o contraseña incorrectos."), "{page}");
    }

    // The right password: a session cookie and the dashboard.
    let response = client.try_login("  ANA@example.com ", PASSWORD).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/admin");
    let cookies = set_cookies(&response);
    let session = cookies
        .iter()
        .find(|c| c.starts_with("avisa_session="))
        .expect("session cookie")
        .clone();
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/admin"] {
        assert!(session.contains(flag), "{session}");
    }
    assert!(!session.contains("Secure"), "plain http: {session}");
    let (status, page) = client.get_text("/admin").await;
    assert_eq!(status, 200);
    assert!(page.contains("ana@example.com"));
    assert!(page.contains("<svg id=\"chart-messages\" class=\"chart\""));

    // The audit log has the failures and the login.
    let (status, audit) = client.get_text("/admin/audit").await;
    assert_eq!(status, 200);
    let entries = app.services.store.audit_entries(10, 0).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["login", "login_failed", "login_failed"]);
    assert_eq!(entries[0].user_email, EMAIL);
    assert!(entries[0].user_id.is_some());
    assert_eq!(entries[2].user_email, EMAIL, "known email, wrong password");
    assert_eq!(entries[1].user_email, "nadie@example.com");
    assert!(entries[1].user_id.is_none());
    assert!(audit.contains("login_failed"));
    let users = app.services.store.users().await.unwrap();
    assert!(users[0].last_login_at.is_some());

    // POST without or with a wrong CSRF token: 403, and nothing happens.
    let response = client.post_raw("/admin/logout", &[]).await;
    assert_eq!(response.status(), 403);
    let response = client
        .post_raw("/admin/logout", &[("csrf", "forged")])
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(client.get("/admin").await.status(), 200);

    // Multipart forms carry the token in the query string.
    let boundary = "XyZ";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--{boundary}--\r\n"
    );
    let multipart = |url: String| {
        client
            .http
            .post(url)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body.clone())
    };
    let response = multipart(app.url("/admin/logout?csrf=forged"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let response = multipart(app.url("/admin/logout")).send().await.unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(client.get("/admin").await.status(), 200);

    // Log out: the old cookie no longer opens the panel.
    let old_cookie = session.split(';').next().unwrap().to_string();
    let token = client.csrf().await;
    let response = multipart(app.url(&format!("/admin/logout?csrf={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/admin/login?notice=notice_logged_out");
    let (_, page) = client
        .get_text("/admin/login?notice=notice_logged_out")
        .await;
    assert!(page.contains("Sesión cerrada."));
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/admin"))
        .header("cookie", &old_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 303);
    let entries = app.services.store.audit_entries(1, 0).await.unwrap();
    assert_eq!(entries[0].action, "logout");
    app.cleanup().await;
}
both_backends!(sign_in, super::sign_in_flow);

async fn tampered_and_https_cookies(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    create_user(app.services.store.as_ref(), EMAIL, PASSWORD).await;
    let client = AdminClient::login(&app, EMAIL, PASSWORD).await;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // A well-formed but unsigned (or re-signed) cookie is refused.
    let forged = plain
        .get(app.url("/admin"))
        .header(
            "cookie",
            "avisa_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.AAAA",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 303);
    // Behind an HTTPS proxy the cookies are Secure.
    let page = plain
        .get(app.url("/admin/login"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let cookies = set_cookies(&page);
    assert!(
        cookies.iter().all(|c| c.contains("; Secure")),
        "{cookies:?}"
    );
    assert_eq!(client.get("/admin").await.status(), 200);
    app.cleanup().await;
}
both_backends!(cookies, super::tampered_and_https_cookies);

async fn failures_are_limited(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let store = app.services.store.as_ref();
    create_user(store, EMAIL, PASSWORD).await;
    create_user(store, "beto@example.com", PASSWORD).await;
    let client = AdminClient::new(&app);
    for _ in 0..5 {
        assert_eq!(
            client.try_login(EMAIL, "wrong password!").await.status(),
            401
        );
    }
    // Blocked even with the right password, case and spaces aside.
    let blocked = client.try_login(" Ana@Example.com", PASSWORD).await;
    assert_eq!(blocked.status(), 429);
    assert!(
        blocked
            .text()
            .await
            .unwrap()
            .contains("Demasiados intentos")
    );
    // Per account: another user from the same address still gets in.
    assert_eq!(
        client
            .try_login("beto@example.com", PASSWORD)
            .await
            .status(),
        303
    );
    // After the window the account opens again.
    let failures = store
        .login_failures_since(EMAIL, "127.0.0.1", Utc::now() - chrono::Duration::days(365))
        .await
        .unwrap();
    assert_eq!(failures.by_account_at_address, 5);
    let later = app.services.clock.now() + chrono::Duration::minutes(16);
    let window = store
        .login_failures_since(EMAIL, "127.0.0.1", later - chrono::Duration::minutes(15))
        .await
        .unwrap();
    assert_eq!(window.by_account_at_address, 0);
    let actions: Vec<String> = store
        .audit_entries(10, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions[..2],
        ["login".to_string(), "login_blocked".to_string()]
    );
    // Per address: 20 failures from one address, whatever the accounts,
    // block everyone there.
    let client = AdminClient::new(&app);
    for i in 0..15 {
        let email = format!("nobody{i}@example.com");
        assert_eq!(client.try_login(&email, PASSWORD).await.status(), 401);
    }
    assert_eq!(
        client
            .try_login("beto@example.com", PASSWORD)
            .await
            .status(),
        429
    );
    app.cleanup().await;
}
both_backends!(rate_limit, super::failures_are_limited);

fn at(day: NaiveDate, h: u32) -> DateTime<Utc> {
    local_to_utc(
        chrono_tz::America::Guayaquil,
        day,
        NaiveTime::from_hms_opt(h, 0, 0).unwrap(),
    )
}

/// A reminder row with a given status and creation time.
async fn message(app: &TestApp, status: &str, created: DateTime<Utc>) {
    let sql = "INSERT INTO messages (direction, phone, kind, body, status, created_at, updated_at) \
               VALUES ('out', '+593990000099', 'reminder', 'x', $1, $2, $2)";
    match app.services.store.pool() {
        Pool::Sqlite(pool) => {
            sqlx::query(sql)
                .bind(status)
                .bind(created)
                .execute(&pool)
                .await
                .unwrap();
        }
        Pool::Postgres(pool) => {
            sqlx::query(sql)
                .bind(status)
                .bind(created)
                .execute(&pool)
                .await
                .unwrap();
        }
    }
}

async fn dashboard_figures(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let store = app.services.store.clone();
    let date =
        |m: u32, d: u32| NaiveDate::from_ymd_opt(if m == 1 { 2027 } else { 2026 }, m, d).unwrap();
    let rows: Vec<NewSubscription> = [
        ("A", "0991000001", date(11, 27), 500),
        ("B", "0991000002", date(12, 1), 750),
        ("C", "0991000003", date(12, 10), 1000),
        ("D", "0991000004", date(1, 15), 300),
        ("E", "0991000005", date(11, 1), 400),
        ("F", "0991000006", date(11, 10), 600),
    ]
    .into_iter()
    .map(|(name, phone, end_date, cents)| NewSubscription {
        name: name.into(),
        phone: Phone::parse(phone, Region::default()).unwrap(),
        email: None,
        service: "Netflix".into(),
        end_date,
        price: Money::from_cents(cents),
    })
    .collect();
    store.upsert_subscriptions(&rows, Utc::now()).await.unwrap();
    // F was renewed on time (two days after it ended), far into the future.
    let f = store
        .client_by_phone("+593991000006")
        .await
        .unwrap()
        .unwrap();
    let f_sub = store.subscriptions_of_client(f.id).await.unwrap()[0].clone();
    store
        .renew_with_payment(
            &NewRenewal {
                subscription_id: f_sub.id,
                staff: "web:ana@example.com".into(),
                old_end_date: date(11, 10),
                new_end_date: date(1, 10) + chrono::Duration::days(365),
                months: 3,
                amount_cents: 1800,
            },
            None,
            at(date(11, 12), 11),
        )
        .await
        .unwrap();
    let e = store
        .client_by_phone("+593991000005")
        .await
        .unwrap()
        .unwrap();
    store
        .create_renewal_request(e.id, None, Utc::now())
        .await
        .unwrap();
    store
        .set_setting(avisa::store::SETTING_SESSION_DOWN, Some("test"), Utc::now())
        .await
        .unwrap();
    // Today: 2 sent (one read), 1 failed; yesterday 1 sent; early today
    // before local midnight (UTC already the 25th) counts for yesterday.
    message(&app, "sent", at(today(), 8)).await;
    message(&app, "read", at(today(), 9)).await;
    message(&app, "failed", at(today(), 9)).await;
    message(&app, "sent", at(date(11, 24), 22)).await;

    create_user(store.as_ref(), EMAIL, PASSWORD).await;
    let client = AdminClient::login(&app, EMAIL, PASSWORD).await;
    let (status, page) = client.get_text("/admin").await;
    assert_eq!(status, 200);
    let stat = |id: &str| -> String {
        let start = page
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("{id}"));
        let value = &page[start..];
        let value = &value[value.find("class=\"value\">").unwrap() + 14..];
        let value = value[..value.find("</span>").unwrap()].to_string();
        // A figure may be a link (into Cobranza or Operaciones): its text.
        match (value.find("\">"), value.strip_suffix("</a>")) {
            (Some(open), Some(_)) if value.starts_with("<a ") => {
                value[open + 2..value.len() - 4].to_string()
            }
            _ => value,
        }
    };
    assert_eq!(stat("stat-active"), "6");
    assert_eq!(stat("stat-expiring"), "2");
    assert_eq!(stat("stat-revenue-7"), "$12,50");
    assert_eq!(stat("stat-revenue-30"), "$22,50");
    assert_eq!(stat("stat-sent"), "2");
    assert_eq!(stat("stat-failed"), "1");
    assert_eq!(stat("stat-requests"), "1");
    // E (ended Nov 1, not renewed) and F (renewed on time) were due.
    assert_eq!(stat("stat-renewal-rate"), "50%");
    assert!(page.contains("1 de 2"));
    assert!(page.contains("id=\"session-down\""));
    assert!(!page.contains("id=\"paused\""));
    assert!(page.contains("<svg id=\"chart-messages\" class=\"chart\""));
    assert!(page.contains("<svg id=\"chart-expirations\" class=\"chart\""));
    assert!(
        page.contains("<title>25/11 — Enviados: 2, Fallidos: 1, En cola: 0</title>"),
        "{page}"
    );
    assert!(page.contains("<title>24/11 — Enviados: 1, Fallidos: 0, En cola: 0</title>"));
    assert!(page.contains("<title>27/11 — Vencimientos: 1</title>"));
    assert!(page.contains("<title>01/12 — Vencimientos: 1</title>"));
    app.cleanup().await;
}
both_backends!(dashboard, super::dashboard_figures);

/// A stranger guessing the owner's password from elsewhere never locks the
/// owner out; the stranger's own address is limited.
async fn a_strangers_failures_do_not_lock_the_owner_out(backend: Backend) {
    let options = Options::on(today())
        .var("AVISA_REMINDER_TIME", "23:59")
        .var("AVISA_TRUST_PROXY", "true")
        .http();
    let Some(app) = TestApp::spawn(backend, options).await else {
        return;
    };
    create_user(app.services.store.as_ref(), EMAIL, PASSWORD).await;
    let stranger = AdminClient::from_address(&app, "203.0.113.9");
    for _ in 0..6 {
        let status = stranger
            .try_login(EMAIL, "guess guess guess")
            .await
            .status();
        assert!(status == 401 || status == 429, "{status}");
    }
    assert_eq!(stranger.try_login(EMAIL, PASSWORD).await.status(), 429);
    let owner = AdminClient::from_address(&app, "198.51.100.7");
    assert_eq!(owner.try_login(EMAIL, PASSWORD).await.status(), 303);
    app.cleanup().await;
}
both_backends!(
    stranger,
    super::a_strangers_failures_do_not_lock_the_owner_out
);

/// Panel pages are never cached, framed, or allowed inline script; the
/// confirmation script is a file.
async fn panel_pages_carry_security_headers(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    create_user(app.services.store.as_ref(), EMAIL, PASSWORD).await;
    let admin = AdminClient::login(&app, EMAIL, PASSWORD).await;
    for path in ["/admin/login", "/admin", "/admin/clients", "/admin/nowhere"] {
        let response = admin.get(path).await;
        let headers = response.headers();
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(!csp.contains("script-src 'self' 'unsafe-inline'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "same-origin");
        let page = response.text().await.unwrap();
        assert!(
            !page.contains("onsubmit=") && !page.contains("onclick="),
            "{path}"
        );
    }
    let script = admin.get("/admin/assets/panel.js").await;
    assert_eq!(script.status(), 200);
    assert!(script.text().await.unwrap().contains("dataset.confirm"));
    app.cleanup().await;
}
both_backends!(security_headers, super::panel_pages_carry_security_headers);
