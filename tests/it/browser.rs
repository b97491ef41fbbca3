//! The staff panel in a real browser: headless Debian Chromium driven through
//! ChromeDriver (fantoccini), at a phone-width viewport of 390 px.
//!
//! Log in, see the dashboard and its charts, find a client by a local phone
//! number, renew a subscription, see the confirmation in the message log.
//! Screenshots go to `target/screenshots/`.
//!
//! Without chromium/chromedriver the test is skipped, except with CI=true
//! (where `.ci/run` installs them) when it fails.

use crate::support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use avisa::domain::{Money, Phone, Region};
use avisa::store::NewSubscription;
use chrono::{NaiveDate, TimeZone, Utc};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use support::app::{Options, TestApp, db_url_text};
use support::db::Backend;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const EMAIL: &str = "duena@streamec.ec";
const PASSWORD: &str = "clave-larga-segura-2026";
const VIEWPORT_WIDTH: u64 = 390;

fn find_program(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
}

/// Kills ChromeDriver (and its browsers) when the test ends, pass or fail.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_driver(chromedriver: &Path) -> (Driver, String) {
    let port = free_port();
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver(child);
    let url = format!("http://127.0.0.1:{port}");
    let status = format!("{url}/status");
    for _ in 0..100 {
        if let Ok(response) = reqwest::get(&status).await
            && response.status().is_success()
        {
            return (driver, url);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer on {url}");
}

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

fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
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
async fn staff_log_in_find_a_client_renew_and_see_the_confirmation() {
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

    client.close().await.unwrap();
    app.cleanup().await;
}

/// What one page looks like in the browser: its width against the
/// viewport, stacked labels narrower than their longest word, chart text
/// size and chart height.
const LAYOUT_PROBE: &str = r#"
const canvas = document.createElement('canvas').getContext('2d');
const words = (text) => text.split(/\s+/).filter(Boolean);
const fontOf = (cs) => `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
const longest = (text, font) => {
  canvas.font = font;
  return Math.max(0, ...words(text).map((w) => canvas.measureText(w).width));
};
const out = {
  scroll: document.documentElement.scrollWidth,
  inner: window.innerWidth,
  broken: [],
  wide: [],
  chartText: [],
  chartHeights: [],
};
// Labels drawn from data-label (phone tables) and header cells: as wide as
// their longest word, or they broke inside it.
for (const td of document.querySelectorAll('td[data-label]')) {
  if (td.offsetParent === null) continue;
  const cs = getComputedStyle(td, '::before');
  if (cs.content === 'none' || cs.content === 'normal' || cs.display === 'none') continue;
  const label = td.getAttribute('data-label');
  if (!label) continue;
  const need = longest(label, fontOf(cs));
  const width = parseFloat(cs.width);
  if (Number.isFinite(width) && width + 0.5 < need) {
    out.broken.push(`${label}: ${width.toFixed(1)} < ${need.toFixed(1)}`);
  }
}
for (const th of document.querySelectorAll('th')) {
  if (th.offsetParent === null) continue;
  const cs = getComputedStyle(th);
  const inner = th.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
  const need = longest(th.textContent, fontOf(cs));
  if (inner + 0.5 < need) out.broken.push(`th ${th.textContent}: ${inner.toFixed(1)} < ${need.toFixed(1)}`);
}
// Anything sticking out of the viewport.
for (const el of document.querySelectorAll('body *')) {
  const r = el.getBoundingClientRect();
  if (r.width > 0 && r.right > window.innerWidth + 1 && getComputedStyle(el).position !== 'fixed') {
    let clipped = false;
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'hidden' || o === 'scroll') { clipped = true; break; }
    }
    if (!clipped) out.wide.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : ''} right=${r.right.toFixed(0)}`);
  }
}
for (const svg of document.querySelectorAll('svg.chart')) {
  const scale = svg.getScreenCTM().a;
  out.chartHeights.push(svg.getBoundingClientRect().height);
  for (const t of svg.querySelectorAll('text')) {
    const px = parseFloat(getComputedStyle(t).fontSize) * scale;
    out.chartText.push({text: t.textContent, px, box: t.getBoundingClientRect().height});
  }
}
return out;
"#;

/// A browser session at `width`×`height`: a phone (touch, 2× pixels) or a
/// desktop window.
async fn browser_at(driver_url: &str, chromium: &Path, width: u64, height: u64) -> Client {
    let mut options = json!({
        "binary": chromium.display().to_string(),
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 format!("--window-size={width},{height}"), "--hide-scrollbars"],
    });
    if width < 800 {
        options["mobileEmulation"] =
            json!({"deviceMetrics": {"width": width, "height": height, "pixelRatio": 2.0}});
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(driver_url)
        .await
        .expect("browser session")
}

async fn log_in(client: &Client, app: &TestApp) {
    client.goto(&app.url("/admin/login")).await.unwrap();
    client
        .find(Locator::Css("input[name=email]"))
        .await
        .unwrap()
        .send_keys(support::panel::EMAIL)
        .await
        .unwrap();
    client
        .find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys(support::admin::PASSWORD)
        .await
        .unwrap();
    client
        .find(Locator::Id("login"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    for _ in 0..100 {
        if client.current_url().await.unwrap().path() != "/admin/login" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("login did not leave the login page");
}

/// `clients-12-edit` for `/admin/clients/12/edit?x=1`.
fn slug(page: &str) -> String {
    let path = page.split('?').next().unwrap_or(page);
    let slug: String = path
        .trim_start_matches("/admin")
        .trim_matches('/')
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let slug = if slug.is_empty() {
        "dashboard".into()
    } else {
        slug
    };
    if page.contains('?') {
        format!("{slug}-query")
    } else {
        slug
    }
}

/// Every panel page at 390×844 and 1366×900 on data with long names,
/// overdue subscriptions and long messages: nothing wider than the window,
/// no label broken inside a word, chart text ≥ 11 px, charts ≤ 320 px tall
/// on the desktop. Screenshots: `target/screenshots/<page>-<width>.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_fits_a_phone_and_a_desktop() {
    let (Some(chromium), Some(chromedriver)) =
        (find_program("chromium"), find_program("chromedriver"))
    else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("chromium and chromedriver are required with CI=true (.ci/run installs them)");
        }
        eprintln!("skipped: chromium/chromedriver not installed");
        return;
    };
    let Some((app, admin)) = support::panel::start(Backend::Sqlite).await else {
        return;
    };
    let expired = crate::admin_crawl::seed_every_state(&app).await;
    // One page of each kind the crawler found (new pages come with it),
    // and the pages that matter most.
    let crawl = crate::admin_crawl::crawl(&app, &admin).await;
    let mut pages: Vec<String> = vec![
        "/admin".into(),
        "/admin/clients".into(),
        format!("/admin/clients/{expired}"),
        format!("/admin/clients/{expired}/edit"),
        "/admin/services".into(),
        "/admin/messages".into(),
        "/admin/import".into(),
        "/admin/operations".into(),
        "/admin/audit".into(),
    ];
    let mut shapes = std::collections::HashSet::new();
    for page in &crawl.pages {
        let path = page.split('?').next().unwrap_or(page);
        let shape: String = path
            .split('/')
            .map(|s| {
                if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
                    "{id}"
                } else {
                    s
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let shape = format!("{shape}{}", if page.contains('?') { "?" } else { "" });
        if shapes.insert(shape) && !pages.contains(page) {
            pages.push(page.clone());
        }
    }
    assert!(pages.len() >= 9);

    let (_driver, driver_url) = start_driver(&chromedriver).await;
    let mut failures = Vec::new();
    for (width, height) in [(390u64, 844u64), (1366, 900)] {
        let client = browser_at(&driver_url, &chromium, width, height).await;
        log_in(&client, &app).await;
        for page in &pages {
            client.goto(&app.url(page)).await.unwrap();
            let probe = client.execute(LAYOUT_PROBE, vec![]).await.unwrap();
            let name = format!("{}-{width}", slug(page));
            screenshot(&client, &name).await;
            let scroll = probe["scroll"].as_f64().unwrap_or(0.0);
            let inner = probe["inner"].as_f64().unwrap_or(0.0);
            if width == 390 {
                assert!(
                    (inner - 390.0).abs() < 0.5,
                    "phone viewport on {page}: {inner}"
                );
            }
            if scroll > inner {
                failures.push(format!(
                    "{page} @{width}: {scroll}px wide in a {inner}px window: {}",
                    probe["wide"]
                ));
            }
            for broken in probe["broken"].as_array().into_iter().flatten() {
                failures.push(format!("{page} @{width}: label broken mid-word: {broken}"));
            }
            for text in probe["chartText"].as_array().into_iter().flatten() {
                let px = text["px"].as_f64().unwrap_or(0.0);
                if px < 11.0 {
                    failures.push(format!(
                        "{page} @{width}: chart text {} at {px:.1}px",
                        text["text"]
                    ));
                }
            }
            for h in probe["chartHeights"].as_array().into_iter().flatten() {
                let h = h.as_f64().unwrap_or(0.0);
                if width > 1000 && h > 320.0 {
                    failures.push(format!("{page} @{width}: chart {h:.0}px tall"));
                }
            }
            if page == "/admin" {
                let texts = probe["chartText"].as_array().cloned().unwrap_or_default();
                let sizes: Vec<f64> = texts.iter().filter_map(|t| t["px"].as_f64()).collect();
                let min = sizes.iter().copied().fold(f64::MAX, f64::min);
                let max = sizes.iter().copied().fold(0.0, f64::max);
                eprintln!(
                    "dashboard @{width}: chart text {min:.1}–{max:.1}px, heights {}",
                    probe["chartHeights"]
                );
                assert!(
                    texts
                        .iter()
                        .any(|t| t["text"].as_str().is_some_and(|s| s.contains(':'))),
                    "today's and the peak value are written on the chart"
                );
            }
        }
        client.close().await.unwrap();
    }
    assert!(
        failures.is_empty(),
        "{} layout problem(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
    app.cleanup().await;
}
