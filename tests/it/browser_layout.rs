//! Every panel page in a real browser at a phone's and a desktop's size:
//! nothing wider than the window, no label broken inside a word, readable
//! charts. Skipped without chromium/chromedriver, except with CI=true.

use crate::support;

use std::path::Path;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use support::app::TestApp;
use support::browser::{find_program, screenshot, start_driver};
use support::db::Backend;

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
pub(crate) async fn browser_at(
    driver_url: &str,
    chromium: &Path,
    width: u64,
    height: u64,
) -> Client {
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

pub(crate) async fn log_in(client: &Client, app: &TestApp) {
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
    let expired = crate::support::crawl_seed::seed_every_state(&app).await;
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
