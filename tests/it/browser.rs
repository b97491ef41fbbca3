//! The staff panel in a real browser: headless Debian Chromium driven through
//! ChromeDriver (fantoccini), at a phone-width viewport of 390 px.
//!
//! Log in, see the dashboard and its charts, find a client by a local phone
//! number, renew a subscription, see the confirmation in the message log.
//! Screenshots go to `target/screenshots/`.
//!
//! Without chromium/chromedriver the test is skipped, except with CI=true
//! (where `.ci/run` installs them) when it fails. The layout of every page
//! is checked in `browser_layout`; ChromeDriver is started by
//! `support::browser`.

use crate::support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use avisa::domain::{Money, Phone, Region};
use avisa::store::NewSubscription;
use chrono::{NaiveDate, TimeZone, Utc};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use support::app::{Options, TestApp, db_url_text};
use support::browser::{find_program, screenshot, screenshot_dir, start_driver};
use support::db::Backend;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const EMAIL: &str = "duena@streamec.ec";
const PASSWORD: &str = "clave-larga-segura-2026";
const VIEWPORT_WIDTH: u64 = 390;

async fn browser(driver_url: &str, chromium: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium.display().to_string(),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            "mobileEmulation": {
                "deviceMetrics": {"width": VIEWPORT_WIDTH, "height": 844, "pixelRatio": 2.0}
            }
        }),
    );
    // ChromeDriver is plain HTTP on 127.0.0.1: no TLS stack needed.
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(driver_url)
        .await
        .expect("browser session")
}

/// The page fits the phone: nothing wider than the viewport.
async fn assert_no_horizontal_scroll(client: &Client, page: &str) {
    let widths = client
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .unwrap();
    let scroll = widths[0].as_u64().unwrap();
    let inner = widths[1].as_u64().unwrap();
    assert_eq!(inner, VIEWPORT_WIDTH, "viewport width on {page}");
    assert!(
        scroll <= inner,
        "{page} scrolls horizontally: content {scroll}px wide in a {inner}px viewport"
    );
}

fn create_user(app: &TestApp) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_avisa"))
        .args(["user", "add", EMAIL])
        .env("DATABASE_URL", db_url_text(&app.db.url))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run avisa user add");
    {
        use std::io::Write;
        let stdin = child.stdin.as_mut().unwrap();
        writeln!(stdin, "{PASSWORD}").unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "avisa user add failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn seed(app: &TestApp) {
    let now = Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap();
    let row =
        |name: &str, phone: &str, service: &str, end: NaiveDate, cents: i64| NewSubscription {
            name: name.into(),
            phone: Phone::parse(phone, Region::default()).unwrap(),
            email: None,
            service: service.into(),
            end_date: end,
            price: Money::from_cents(cents),
        };
    let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
    app.services
        .store
        .upsert_subscriptions(
            &[
                row("Ana Pérez", "0991234567", "Netflix", d(11, 28), 750),
                row("Bruno Díaz", "0987654321", "IPTV Premium", d(12, 1), 1250),
                row("Carla Ruiz", "0998887766", "Disney+", d(12, 10), 599),
            ],
            now,
        )
        .await
        .unwrap();
    Mock::given(method("POST"))
        .and(path("/api/send-message"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"success": true, "data": {"msgId": 424242}})),
        )
        .mount(&app.wasender)
        .await;
}

async fn wait_for_text(client: &Client, css: &str, needle: &str) -> String {
    for _ in 0..50 {
        if let Ok(element) = client.find(Locator::Css(css)).await {
            let text = element.text().await.unwrap_or_default();
            if text.contains(needle) {
                return text;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        client.refresh().await.unwrap();
    }
    panic!("{css} never contained {needle:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_log_in_find_a_client_renew_then_bulk_renew_in_cobranza() {
    let (Some(chromium), Some(chromedriver)) =
        (find_program("chromium"), find_program("chromedriver"))
    else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("chromium and chromedriver are required with CI=true (.ci/run installs them)");
        }
        eprintln!("skipped: chromium/chromedriver not installed");
        return;
    };
    let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    // No start-up reminder run: the only message must be the confirmation.
    let options = Options::on(today)
        .at(10, 0)
        .var("AVISA_REMINDER_TIME", "23:59")
        .http();
    let app = TestApp::spawn(Backend::Sqlite, options).await.unwrap();
    seed(&app).await;

    let (_driver, driver_url) = start_driver(&chromedriver).await;
    let client = browser(&driver_url, &chromium).await;

    // Log in.
    client.goto(&app.url("/admin")).await.unwrap();
    let login_url = client.current_url().await.unwrap();
    assert_eq!(login_url.path(), "/admin/login", "unauthenticated → login");
    screenshot(&client, "01-login").await;
    assert_no_horizontal_scroll(&client, "login").await;
    create_user(&app);
    client
        .find(Locator::Css("input[name=email]"))
        .await
        .unwrap()
        .send_keys(EMAIL)
        .await
        .unwrap();
    client
        .find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    client
        .find(Locator::Id("login"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // The dashboard and its two charts.
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("chart-expirations"))
        .await
        .expect("dashboard with the expirations chart");
    assert_eq!(client.current_url().await.unwrap().path(), "/admin");
    let charts = client.find_all(Locator::Css("svg.chart")).await.unwrap();
    assert_eq!(charts.len(), 2, "two charts on the dashboard");
    client.find(Locator::Id("chart-messages")).await.unwrap();
    let chart_width = client
        .execute(
            "return document.getElementById('chart-expirations').getBoundingClientRect().width;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        chart_width.as_f64().unwrap() > 200.0,
        "the chart is drawn at a readable width"
    );
    screenshot(&client, "02-dashboard").await;
    for id in ["chart-messages", "chart-expirations"] {
        let chart = client.find(Locator::Id(id)).await.unwrap();
        let png = chart.screenshot().await.expect("chart screenshot");
        std::fs::write(screenshot_dir().join(format!("02-{id}.png")), png).unwrap();
    }
    assert_no_horizontal_scroll(&client, "dashboard").await;

    // Search a client by the local phone number and open them.
    client.goto(&app.url("/admin/clients")).await.unwrap();
    client
        .find(Locator::Css("#client-search input[name=q]"))
        .await
        .unwrap()
        .send_keys("0991234567")
        .await
        .unwrap();
    client
        .form(Locator::Id("client-search"))
        .await
        .unwrap()
        .submit()
        .await
        .unwrap();
    // Wait for the results page itself, not the list we just left.
    for _ in 0..50 {
        let url = client.current_url().await.unwrap();
        if url.query().is_some_and(|q| q.contains("q=")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let links = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("a.client-link"))
        .await
        .unwrap();
    let found = client
        .find_all(Locator::Css("a.client-link"))
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "exactly Ana is found by her local number");
    assert!(links.text().await.unwrap().contains("Ana"));
    screenshot(&client, "03-client-search").await;
    assert_no_horizontal_scroll(&client, "client search").await;
    links.click().await.unwrap();

    // Renew her subscription for one month, paid in cash.
    let form = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("form.renew-form"))
        .await
        .unwrap();
    screenshot(&client, "04-client").await;
    assert_no_horizontal_scroll(&client, "client page").await;
    client
        .find(Locator::Css("summary.renew-open"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    form.find(Locator::Css("select[name=method] option[value=efectivo]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    form.find(Locator::Css(".renew"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    screenshot(&client, "05-renewed").await;

    let subscriptions = app
        .services
        .store
        .subscriptions_of_client(
            app.services
                .store
                .client_by_phone("+593991234567")
                .await
                .unwrap()
                .unwrap()
                .id,
        )
        .await
        .unwrap();
    assert_eq!(
        subscriptions[0].end_date,
        NaiveDate::from_ymd_opt(2026, 12, 28).unwrap(),
        "28 Nov + 1 month"
    );

    // The confirmation appears in the message log, sent.
    client.goto(&app.url("/admin/messages")).await.unwrap();
    let log = wait_for_text(&client, "table#messages", "28 de diciembre de 2026").await;
    assert!(
        log.contains("+593991234567"),
        "log shows the customer: {log}"
    );
    screenshot(&client, "06-messages").await;
    assert_no_horizontal_scroll(&client, "message log").await;

    let sent = app
        .wasender
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path().ends_with("/send-message"))
        .count();
    assert_eq!(sent, 1, "exactly one confirmation sent to WaSender");

    // Cobranza: filter to the next 7 days (only Bruno, due 1 Dec), pick
    // him and renew one month in bulk.
    client.goto(&app.url("/admin/subscriptions")).await.unwrap();
    client
        .find(Locator::Css(
            "#collection-filters select[name=vence] option[value='7']",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .form(Locator::Id("collection-filters"))
        .await
        .unwrap()
        .submit()
        .await
        .unwrap();
    for _ in 0..50 {
        let url = client.current_url().await.unwrap();
        if url.query().is_some_and(|q| q.contains("vence=7")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rows = client
        .find_all(Locator::Css("table#collections tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "only Bruno is due within 7 days");
    assert!(rows[0].text().await.unwrap().contains("Bruno"));
    screenshot(&client, "07-cobranza-filtered").await;
    assert_no_horizontal_scroll(&client, "cobranza filtered").await;
    client
        .find(Locator::Css("table#collections input[name=ids]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The bulk form asks for confirmation (panel.js): accept it.
    client
        .execute("window.confirm = () => true;", vec![])
        .await
        .unwrap();
    client
        .find(Locator::Css("#bulk button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let bruno = app
        .services
        .store
        .client_by_phone("+593987654321")
        .await
        .unwrap()
        .unwrap();
    let mut renewed = None;
    for _ in 0..50 {
        let subs = app
            .services
            .store
            .subscriptions_of_client(bruno.id)
            .await
            .unwrap();
        if subs[0].end_date != NaiveDate::from_ymd_opt(2026, 12, 1).unwrap() {
            renewed = Some(subs[0].end_date);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        renewed,
        NaiveDate::from_ymd_opt(2027, 1, 1),
        "bulk renew: 1 Dec + 1 month"
    );
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .query()
            .is_some_and(|q| q.contains("vence=7")),
        "back on the filtered list"
    );
    screenshot(&client, "08-cobranza-renewed").await;

    client.close().await.unwrap();
    app.cleanup().await;
}
