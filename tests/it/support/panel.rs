//! Staff panel page tests: a signed-in client on a running app with a fake
//! WaSender, seeding, and reading forms back out of the HTML.

use std::time::Duration;

use avisa::domain::{Money, Phone, Region};
use avisa::store::{NewSubscription, Store, SubscriptionView};
use chrono::NaiveDate;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

use super::admin::{AdminClient, PASSWORD, create_user};
use super::app::{API_KEY, Options, TestApp};
use super::db::Backend;

pub const EMAIL: &str = "ana@example.com";
pub const STAFF: &str = "+593990000001";

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A running app (no start-up reminder run) and a signed-in staff member.
pub async fn start(backend: Backend) -> Option<(TestApp, AdminClient)> {
    let options = Options::on(date(2026, 11, 25))
        .var("AVISA_REMINDER_TIME", "23:59")
        .http();
    let app = TestApp::spawn(backend, options).await?;
    let ok = serde_json::json!({"success": true, "data": {"msgId": 1, "jid": "x", "status": "in_progress"}});
    Mock::given(method("POST"))
        .and(path("/api/send-message"))
        .and(header(
            "authorization",
            format!("Bearer {API_KEY}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok))
        .mount(&app.wasender)
        .await;
    create_user(app.services.store.as_ref(), EMAIL, PASSWORD).await;
    let admin = AdminClient::login(&app, EMAIL, PASSWORD).await;
    Some((app, admin))
}

pub fn store(app: &TestApp) -> &dyn Store {
    app.services.store.as_ref()
}

pub async fn seed(app: &TestApp, name: &str, phone: &str, service: &str) -> SubscriptionView {
    seed_ending(app, name, phone, service, date(2026, 12, 1)).await
}

/// Like `seed`, with the subscription ending on `end_date`.
pub async fn seed_ending(
    app: &TestApp,
    name: &str,
    phone: &str,
    service: &str,
    end_date: NaiveDate,
) -> SubscriptionView {
    let phone = Phone::parse(phone, Region::default()).unwrap();
    store(app)
        .upsert_subscriptions(
            &[NewSubscription {
                name: name.into(),
                phone: phone.clone(),
                email: None,
                service: service.into(),
                end_date,
                price: Money::from_cents(750),
            }],
            app.services.clock.now(),
        )
        .await
        .unwrap();
    let client = store(app)
        .client_by_phone(phone.as_str())
        .await
        .unwrap()
        .unwrap();
    let subs = store(app).subscriptions_of_client(client.id).await.unwrap();
    subs.into_iter().find(|s| s.service == service).unwrap()
}

/// The validation message shown with the input `name` (between it and the
/// next field), if any.
pub fn field_error(html: &str, name: &str) -> Option<String> {
    let at = html
        .find(&format!("name=\"{name}\""))
        .unwrap_or_else(|| panic!("no field {name}"));
    let rest = &html[at..];
    let end = rest.find("</label>").unwrap_or(rest.len());
    let scope = &rest[..end];
    let start = scope.find("<small class=\"error\">")? + "<small class=\"error\">".len();
    let stop = scope[start..].find("</small>")?;
    Some(unescape(&scope[start..start + stop]))
}

/// Undoes the template's HTML escaping.
pub fn unescape(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The `value` of the input `name`.
pub fn field_value(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\"")).unwrap();
    let tag_end = at + html[at..].find('>').unwrap();
    let tag = &html[at..tag_end];
    unescape(
        tag.split("value=\"")
            .nth(1)
            .and_then(|v| v.split('"').next())
            .unwrap_or_default(),
    )
}

pub fn client_links(html: &str) -> usize {
    html.matches("class=\"client-link\"").count()
}

pub async fn audit_actions(app: &TestApp) -> Vec<String> {
    let mut rows = store(app).audit_entries(500, 0).await.unwrap();
    rows.reverse();
    rows.into_iter()
        .map(|r| r.action)
        .filter(|a| a != "login")
        .collect()
}

pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Sent texts to `to`, waiting up to 30 s for `count` of them.
pub async fn texts_to(app: &TestApp, to: &str, count: usize) -> Vec<String> {
    for _ in 0..300 {
        let texts: Vec<String> = app
            .sent()
            .await
            .iter()
            .filter(|body| body["to"].as_str() == Some(to))
            .map(|body| body["text"].as_str().unwrap_or_default().to_string())
            .collect();
        if texts.len() >= count {
            return texts;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {count} message(s) to {to}: {:#?}", app.sent().await);
}
