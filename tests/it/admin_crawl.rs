//! The whole panel on messy data: seed every state a subscription, client,
//! message and request can be in (300+ clients, names with accents, quotes,
//! HTML and spreadsheet formulas), log in, then follow every link and submit
//! every GET form (with its default values) under `/admin`, breadth first.
//!
//! Every page answers without a 5xx or a broken link, shows no raw i18n key,
//! never echoes a seeded name as markup, and carries the layout's viewport.
//! New pages are found through the navigation, so they are covered as soon
//! as the layout links them. The seeding is in `support::crawl_seed`.

use std::collections::{BTreeMap, HashSet, VecDeque};

use avisa::domain::Locale;
use avisa::i18n::{Entry, catalog};
use reqwest::Url;

use crate::support::admin::{AdminClient, location};
use crate::support::app::TestApp;
use crate::support::crawl_seed::seed_every_state;
use crate::support::db::Backend;
use crate::support::panel;

/// Distinct URLs visited at most (path + query).
pub const MAX_PAGES: usize = 400;
/// URLs of one shape (`/admin/clients/{id}`, `/admin/messages?kind&page`) at most.
const MAX_PER_SHAPE: usize = 25;

/// One tag's attributes, values unescaped (`name` → `value`; bare → "").
pub fn attributes(tag: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = tag
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim_end_matches('/');
    // Skip the tag name.
    rest = rest.find(char::is_whitespace).map_or("", |at| &rest[at..]);
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let name = rest[..end].to_ascii_lowercase();
        rest = &rest[end..];
        let trimmed = rest.trim_start();
        if let Some(after) = trimmed.strip_prefix('=') {
            let after = after.trim_start();
            let (value, next) = if let Some(q) = after.strip_prefix('"') {
                let close = q.find('"').unwrap_or(q.len());
                (&q[..close], &q[(close + 1).min(q.len())..])
            } else if let Some(q) = after.strip_prefix('\'') {
                let close = q.find('\'').unwrap_or(q.len());
                (&q[..close], &q[(close + 1).min(q.len())..])
            } else {
                let close = after.find(char::is_whitespace).unwrap_or(after.len());
                (&after[..close], &after[close..])
            };
            out.insert(name, panel::unescape(value));
            rest = next;
        } else {
            out.insert(name, String::new());
        }
    }
    out
}

/// Every opening `<name …>` tag in `html`, with its byte range.
pub fn tags<'a>(html: &'a str, name: &str) -> Vec<(usize, usize, &'a str)> {
    let open = format!("<{name}");
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = html[from..].find(&open) {
        let start = from + at;
        let after = html[start + open.len()..].chars().next();
        let Some(end) = html[start..].find('>').map(|e| start + e + 1) else {
            break;
        };
        if matches!(after, Some(c) if c.is_whitespace() || c == '>' || c == '/') {
            found.push((start, end, &html[start..end]));
        }
        from = end;
    }
    found
}

/// The query a GET form sends with its default values.
fn form_defaults(form: &str) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    for (_, _, tag) in tags(form, "input") {
        let a = attributes(tag);
        let Some(name) = a.get("name").filter(|n| !n.is_empty()) else {
            continue;
        };
        let kind = a
            .get("type")
            .map(|t| t.to_ascii_lowercase())
            .unwrap_or_default();
        match kind.as_str() {
            "submit" | "button" | "reset" | "file" | "image" => continue,
            "checkbox" | "radio" if !a.contains_key("checked") => continue,
            "checkbox" | "radio" => fields.push((
                name.clone(),
                a.get("value").cloned().unwrap_or_else(|| "on".into()),
            )),
            _ => fields.push((name.clone(), a.get("value").cloned().unwrap_or_default())),
        }
    }
    for (start, end, tag) in tags(form, "select") {
        let a = attributes(tag);
        let Some(name) = a.get("name") else { continue };
        let close = form[end..]
            .find("</select>")
            .map_or(form.len(), |c| end + c);
        let options: Vec<BTreeMap<String, String>> = tags(&form[start..close], "option")
            .into_iter()
            .map(|(_, _, t)| attributes(t))
            .collect();
        let chosen = options
            .iter()
            .find(|o| o.contains_key("selected"))
            .or(options.first());
        if let Some(o) = chosen {
            fields.push((name.clone(), o.get("value").cloned().unwrap_or_default()));
        }
    }
    for (_, end, tag) in tags(form, "textarea") {
        let a = attributes(tag);
        let Some(name) = a.get("name") else { continue };
        let close = form[end..].find("</textarea>").map_or(end, |c| end + c);
        fields.push((name.clone(), panel::unescape(&form[end..close])));
    }
    fields
}

/// Links and GET-form submissions of a page, absolute.
fn discover(page: &Url, html: &str) -> Vec<Url> {
    let mut found = Vec::new();
    for (_, _, tag) in tags(html, "a") {
        if let Some(href) = attributes(tag).get("href")
            && let Ok(url) = page.join(href)
        {
            found.push(url);
        }
    }
    for (start, end, tag) in tags(html, "form") {
        let a = attributes(tag);
        let method = a.get("method").map(|m| m.to_ascii_lowercase());
        if method.as_deref().is_some_and(|m| m != "get") {
            continue;
        }
        let close = html[end..].find("</form>").map_or(html.len(), |c| end + c);
        let action = a.get("action").cloned().unwrap_or_default();
        let Ok(mut url) = page.join(&action) else {
            continue;
        };
        url.set_query(None);
        {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in form_defaults(&html[start..close]) {
                pairs.append_pair(&name, &value);
            }
        }
        found.push(url);
    }
    found
}

/// `/admin/clients/{id}?page` — the kind of page, for the per-shape cap.
fn shape(url: &Url) -> String {
    let path: Vec<String> = url
        .path_segments()
        .map(|s| {
            s.map(|seg| {
                if !seg.is_empty() && seg.chars().all(|c| c.is_ascii_digit()) {
                    "{id}".to_string()
                } else {
                    seg.to_string()
                }
            })
            .collect()
        })
        .unwrap_or_default();
    let mut keys: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    keys.sort();
    keys.dedup();
    format!("/{}?{}", path.join("/"), keys.join("&"))
}

/// The text a person sees: no tags, scripts or styles, entities undone,
/// plus the attributes shown on screen (CSS labels, titles, placeholders).
pub fn visible_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        text.push(' ');
        let tail = &rest[open..];
        let lower: String = tail
            .chars()
            .take(8)
            .collect::<String>()
            .to_ascii_lowercase();
        let skip_to = if lower.starts_with("<script") {
            tail.find("</script>").map(|e| e + "</script>".len())
        } else if lower.starts_with("<style") {
            tail.find("</style>").map(|e| e + "</style>".len())
        } else {
            let end = tail.find('>').map(|e| e + 1);
            if let Some(end) = end {
                for (name, value) in attributes(&tail[..end]) {
                    if matches!(
                        name.as_str(),
                        "data-label" | "title" | "placeholder" | "aria-label" | "alt"
                    ) {
                        text.push_str(&value);
                        text.push(' ');
                    }
                }
            }
            end
        };
        match skip_to {
            Some(n) => rest = &tail[n..],
            None => {
                rest = "";
            }
        }
    }
    text.push_str(rest);
    panel::unescape(&text)
}

/// Catalog keys that read as code (`sub_days_ago`, `cobranza.title`).
pub fn catalog_keys() -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for locale in [Locale::Es, Locale::En] {
        for (key, entry) in catalog(locale) {
            if key.contains('_') || key.contains('.') {
                keys.push(key.clone());
                if let Entry::Plural(forms) = entry {
                    keys.extend(forms.keys().map(|f| format!("{key}.{f}")));
                }
            }
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

/// The first catalog key written as a word of `text`, if any.
pub fn raw_key_in<'a>(text: &str, keys: &'a [String]) -> Option<&'a str> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    keys.iter().map(String::as_str).find(|key| {
        text.match_indices(key).any(|(at, _)| {
            let before = text[..at].chars().next_back();
            let after = text[at + key.len()..].chars().next();
            !before.is_some_and(word) && !after.is_some_and(|c| word(c) && c != '.')
        })
    })
}

/// What went wrong on one page.
fn problems(url: &str, html: &str, keys: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    if !html.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">") {
        found.push(format!("{url}: no viewport meta"));
    }
    for (start, end, tag) in tags(html, "script") {
        let inline = !attributes(tag).contains_key("src")
            || !html[end..].trim_start().starts_with("</script>");
        if inline {
            let around: String = html[start..].chars().take(80).collect();
            found.push(format!("{url}: a <script> that is not ours: {around}"));
        }
    }
    for raw in ["<b>x</b>", "<i>nota</i>"] {
        if html.contains(raw) {
            found.push(format!("{url}: unescaped {raw}"));
        }
    }
    if let Some(key) = raw_key_in(&visible_text(html), keys) {
        found.push(format!("{url}: raw i18n key {key:?}"));
    }
    found
}

/// What the crawl saw: the HTML pages (path + query) in visit order.
pub struct Crawl {
    pub pages: Vec<String>,
}

/// Breadth-first over `/admin` from the dashboard as `admin`; panics with
/// every problem found.
pub async fn crawl(app: &TestApp, admin: &AdminClient) -> Crawl {
    let base = Url::parse(&app.url("/")).unwrap();
    let keys = catalog_keys();
    let mut queue: VecDeque<(Url, String)> = VecDeque::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut per_shape: BTreeMap<String, usize> = BTreeMap::new();
    let mut pages = Vec::new();
    let mut failures = Vec::new();
    let start = base.join("/admin").unwrap();
    seen.insert("/admin".into());
    queue.push_back((start, "(start)".into()));
    let mut visited = 0;
    while let Some((url, from)) = queue.pop_front() {
        if visited >= MAX_PAGES {
            break;
        }
        visited += 1;
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let response = admin.get(&target).await;
        let status = response.status();
        let redirect = status.is_redirection().then(|| location(&response));
        let html_page = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/html"));
        let body = response.text().await.unwrap_or_default();
        if status.is_server_error() || status == 404 {
            failures.push(format!("{target} (from {from}): {status}"));
            continue;
        }
        let mut next = Vec::new();
        if let Some(to) = redirect {
            assert!(
                !to.contains("/admin/login"),
                "{target} sent the signed-in crawler to the login page"
            );
            if let Ok(u) = url.join(&to) {
                next.push(u);
            }
        } else if html_page {
            failures.extend(problems(&target, &body, &keys));
            pages.push(target.clone());
            next = discover(&url, &body);
        }
        for mut link in next {
            link.set_fragment(None);
            if link.origin() != base.origin() || !link.path().starts_with("/admin") {
                continue;
            }
            // Leaving the session would end the crawl.
            if link.path().starts_with("/admin/logout") || link.path().starts_with("/admin/login") {
                continue;
            }
            let key = match link.query() {
                Some(q) if !q.is_empty() => format!("{}?{q}", link.path()),
                _ => link.path().to_string(),
            };
            if !seen.insert(key) {
                continue;
            }
            let count = per_shape.entry(shape(&link)).or_default();
            if *count >= MAX_PER_SHAPE {
                continue;
            }
            *count += 1;
            queue.push_back((link, target.clone()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) on {} page(s):\n{}",
        failures.len(),
        visited,
        failures.join("\n")
    );
    Crawl { pages }
}

async fn every_page_on_every_state(backend: Backend) {
    let Some((app, admin)) = panel::start(backend).await else {
        return;
    };
    let expired = seed_every_state(&app).await;
    let crawl = crawl(&app, &admin).await;
    let pages = &crawl.pages;
    // The navigation led everywhere, including the pages that need data.
    for must in [
        "/admin",
        "/admin/clients",
        "/admin/services",
        "/admin/messages",
        "/admin/import",
        "/admin/operations",
        "/admin/audit",
    ] {
        assert!(
            pages.iter().any(|p| p == must),
            "{must} not reached: {pages:?}"
        );
    }
    assert!(
        pages
            .iter()
            .any(|p| p.starts_with("/admin/clients?") && p.contains("page=2")),
        "the clients pager was followed"
    );
    assert!(
        pages.iter().any(|p| p.starts_with("/admin/messages?")),
        "the messages filter form was submitted"
    );
    assert!(
        pages
            .iter()
            .filter(|p| p.starts_with("/admin/clients/"))
            .count()
            > 10,
        "client pages visited"
    );
    assert!(pages.len() > 60, "only {} pages", pages.len());
    // The expired client's page, explicitly (it may sort past the cap).
    let (status, html) = admin.get_text(&format!("/admin/clients/{expired}")).await;
    assert_eq!(status, 200, "expired client's page");
    assert!(problems("expired client", &html, &catalog_keys()).is_empty());
    app.cleanup().await;
}
both_backends!(every_page_on_every_state, super::every_page_on_every_state);

#[test]
fn raw_keys_are_found_as_words_only() {
    let keys = vec!["sub_days_ago".to_string(), "cobranza.title".to_string()];
    assert_eq!(
        raw_key_in("vence sub_days_ago", &keys),
        Some("sub_days_ago")
    );
    assert_eq!(
        raw_key_in("x cobranza.title.", &keys),
        Some("cobranza.title")
    );
    assert_eq!(raw_key_in("AVISA_sub_days_ago_x", &keys), None);
    assert_eq!(raw_key_in("Cobranza", &keys), None);
    let text = visible_text(
        "<p title=\"a &amp; b\">Hola <b>mundo</b></p><script src=x></script><style>.x{}</style>\
         <td data-label=\"sub_days_ago\">",
    );
    assert!(text.contains("Hola") && text.contains("mundo") && text.contains("a & b"));
    assert!(!text.contains(".x{}"));
    assert_eq!(raw_key_in(&text, &keys), Some("sub_days_ago"));
}

#[test]
fn forms_submit_their_defaults() {
    let form = "<form method=\"get\" action=\"/admin/messages\"><input type=\"search\" name=\"phone\" value=\"\">\
                <select name=\"kind\"><option value=\"\">Todos</option><option value=\"reply\" selected>R</option></select>\
                <input type=\"checkbox\" name=\"x\"><input type=\"date\" name=\"from\" value=\"2026-11-01\">\
                <button type=\"submit\">Filtrar</button></form>";
    let page = Url::parse("http://127.0.0.1:1/admin/messages?page=2").unwrap();
    let found = discover(&page, form);
    assert_eq!(
        found[0].as_str(),
        "http://127.0.0.1:1/admin/messages?phone=&from=2026-11-01&kind=reply"
    );
    assert_eq!(
        shape(&Url::parse("http://h/admin/clients/12?page=2&q=a").unwrap()),
        "/admin/clients/{id}?page&q"
    );
}
