//! A logged-in browser for the staff panel: a reqwest client with a cookie
//! store that scrapes the CSRF token from the pages it gets.

use std::sync::Mutex;

use avisa::store::Store;
use chrono::Utc;

use super::app::TestApp;

pub const PASSWORD: &str = "correct horse battery";

/// Creates a panel user directly in the store; returns its id.
pub async fn create_user(store: &dyn Store, email: &str, password: &str) -> i64 {
    let hash = avisa::web::admin::password::hash(password).expect("hash");
    store
        .create_user(email, &hash, Utc::now())
        .await
        .expect("create user")
}

pub struct AdminClient {
    pub http: reqwest::Client,
    base: String,
    csrf: Mutex<Option<String>>,
}

/// The `value` of the first `name="csrf"` hidden input in a page.
pub fn scrape_csrf(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\"")?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let value = tag.split("value=\"").nth(1)?;
    Some(value.split('"').next()?.to_string())
}

impl AdminClient {
    /// A client with an empty cookie store that does not follow redirects.
    pub fn new(app: &TestApp) -> AdminClient {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        AdminClient {
            http,
            base: app.url(""),
            csrf: Mutex::new(None),
        }
    }

    /// A client whose requests say they come from `address` (for an app
    /// started with `AVISA_TRUST_PROXY=true`).
    pub fn from_address(app: &TestApp, address: &str) -> AdminClient {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", address.parse().expect("address"));
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .expect("client");
        AdminClient {
            http,
            base: app.url(""),
            csrf: Mutex::new(None),
        }
    }

    /// Logs in through the login form; panics unless it redirects to the panel.
    pub async fn login(app: &TestApp, email: &str, password: &str) -> AdminClient {
        let client = AdminClient::new(app);
        let response = client.try_login(email, password).await;
        assert_eq!(response.status(), 303, "login as {email} failed");
        let _ = client.get_text("/admin").await;
        client
    }

    /// Submits the login form once and returns the raw response.
    pub async fn try_login(&self, email: &str, password: &str) -> reqwest::Response {
        let page = self
            .get("/admin/login")
            .await
            .text()
            .await
            .expect("login page");
        let token = scrape_csrf(&page).expect("login form csrf");
        self.http
            .post(self.url("/admin/login"))
            .form(&[("email", email), ("password", password), ("csrf", &token)])
            .send()
            .await
            .expect("POST /admin/login")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET; remembers the page's CSRF token. Returns the response with the
    /// body already read into `text` via [`AdminClient::get_text`] if needed.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("GET")
    }

    /// GET and the body; remembers the page's CSRF token.
    pub async fn get_text(&self, path: &str) -> (reqwest::StatusCode, String) {
        let response = self.get(path).await;
        let status = response.status();
        let text = response.text().await.expect("body");
        if let Some(token) = scrape_csrf(&text) {
            *self.csrf.lock().unwrap() = Some(token);
        }
        (status, text)
    }

    /// The session's CSRF token (fetched from the dashboard if not seen yet).
    pub async fn csrf(&self) -> String {
        if let Some(token) = self.csrf.lock().unwrap().clone() {
            return token;
        }
        let (_, text) = self.get_text("/admin").await;
        scrape_csrf(&text).expect("csrf on /admin (logged in?)")
    }

    /// POST an urlencoded form with the CSRF token added.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf().await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf", &token));
        self.http
            .post(self.url(path))
            .form(&all)
            .send()
            .await
            .expect("POST")
    }

    /// POST a multipart form (text fields and at most one file named
    /// `file`), the CSRF token in the query as the panel's multipart forms
    /// carry it.
    pub async fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, &[u8])>,
    ) -> reqwest::Response {
        let token = self.csrf().await;
        let boundary = "avisa-test-boundary-7MA4YWxkTrZu0gW";
        let mut body: Vec<u8> = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        if let Some((file_name, bytes)) = file {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
                     filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let sep = if path.contains('?') { '&' } else { '?' };
        self.http
            .post(self.url(&format!("{path}{sep}csrf={token}")))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .expect("POST")
    }

    /// POST without adding any CSRF token.
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .expect("POST")
    }
}

/// `Location` of a redirect.
pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}
