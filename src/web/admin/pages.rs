//! HTML pages: one minijinja environment over `templates/admin/` (embedded),
//! HTML auto-escaping, undefined values fail when printed or iterated
//! (`{% if errors.email %}` on a missing key is allowed), and `render`,
//! which adds what every page needs (user, csrf, notice, locale, nav).

use std::sync::OnceLock;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use minijinja::value::Kwargs;
use minijinja::{AutoEscape, Environment, ErrorKind, State, UndefinedBehavior, Value, context};

use super::i18n;
use super::request::{CurrentUser, request_info};
use crate::domain::{Locale, Money, long_date, short_date, short_date_with_year};
use crate::web::{ErrorPage, WebError, WebState};

macro_rules! admin_templates {
    ($($name:literal),* $(,)?) => {
        /// (name, source) of every panel template.
        pub const TEMPLATES: &[(&str, &str)] = &[
            $(($name, include_str!(concat!("../../../templates/admin/", $name))),)*
        ];
    };
}

admin_templates!(
    // --- admin: auth
    "layout.html",
    "macros.html",
    "message.html",
    "login.html",
    "dashboard.html",
    "audit.html",
    "payments.html",
    "payment_macros.html",
    // --- admin: pages (clients, subscriptions, services)
    "clients.html",
    "client_form.html",
    "client.html",
    "subscription_form.html",
    "services.html",
    "sub_macros.html",
    "renew.html",
    "collections.html",
    "collections_error.html",
    // (end of pages)
    // --- admin: ops (messages, import, operations)
    "messages.html",
    "import.html",
    "operations.html",
    "inbox.html",
    // (end of ops)
    "media_macros.html",
);

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        for (name, source) in TEMPLATES {
            if let Err(e) = env.add_template(name, source) {
                // Every template is compiled by a unit test.
                tracing::error!(template = name, error = %e, "admin template does not compile");
            }
        }
        env.add_function("t", translate);
        env.add_filter("money", money);
        env.add_filter("date", date_long);
        env.add_filter("short_date", date_short);
        env.add_filter("datetime", datetime);
        env.add_filter("days_left", days_left);
        env
    })
}

fn locale_of(state: &State) -> Locale {
    state
        .lookup("locale")
        .and_then(|v| v.as_str().map(str::to_string))
        .and_then(|code| Locale::parse(&code).ok())
        .unwrap_or_default()
}

/// `t("key")`, or `t("key", n=3, name=…)` filling `{n}`, `{name}` in the
/// text; `n` also picks a plural entry's form ("1 cliente", "3 clientes").
fn translate(state: &State, key: &str, kwargs: Kwargs) -> Result<String, minijinja::Error> {
    let locale = locale_of(state);
    let mut args: Vec<(&str, String)> = Vec::new();
    for name in kwargs.args() {
        let value: Value = kwargs.get(name)?;
        args.push((name, value.to_string()));
    }
    let n = args
        .iter()
        .find(|(name, _)| *name == "n")
        .map(|(_, v)| v.as_str());
    let text = i18n::lookup_form(locale, key, n).ok_or_else(|| {
        minijinja::Error::new(
            ErrorKind::UndefinedError,
            format!("missing i18n key {key:?} ({})", locale.code()),
        )
    })?;
    let args: Vec<(&str, &dyn std::fmt::Display)> = args
        .iter()
        .map(|(name, value)| (*name, value as &dyn std::fmt::Display))
        .collect();
    Ok(i18n::fill(text, &args))
}

/// Cents → `$1.584,05` (es) / `$1,584.05` (en).
fn money(state: &State, cents: i64) -> String {
    Money::from_cents(cents).localized(locale_of(state))
}

/// The business's today (`today` in every page's context), if known.
fn today_of(state: &State) -> Option<NaiveDate> {
    state
        .lookup("today")
        .and_then(|v| v.as_str().and_then(|s| s.parse().ok()))
}

fn parse_date(value: &Value) -> Result<NaiveDate, minijinja::Error> {
    let text = value.to_string();
    text.parse::<NaiveDate>().map_err(|_| {
        minijinja::Error::new(ErrorKind::InvalidOperation, format!("not a date: {text}"))
    })
}

/// A date as "lunes 1 de diciembre de 2026".
fn date_long(state: &State, value: Value) -> Result<String, minijinja::Error> {
    Ok(long_date(parse_date(&value)?, locale_of(state)))
}

/// A date as "1 de diciembre", or "10 de enero de 2027" when it is not in
/// this year.
fn date_short(state: &State, value: Value) -> Result<String, minijinja::Error> {
    let date = parse_date(&value)?;
    let locale = locale_of(state);
    Ok(match today_of(state) {
        Some(today) if today.year() != date.year() => short_date_with_year(date, locale),
        _ => short_date(date, locale),
    })
}

/// Days from today to a date: negative once it has passed (0 without a
/// `today` in the context).
fn days_left(state: &State, value: Value) -> Result<i64, minijinja::Error> {
    let date = parse_date(&value)?;
    Ok(today_of(state).map_or(0, |today| (date - today).num_days()))
}

/// A UTC timestamp as local "2026-11-25 10:04" in `AVISA_TIMEZONE`.
fn datetime(state: &State, value: Value) -> Result<String, minijinja::Error> {
    let text = value.to_string();
    let at: DateTime<Utc> = text.parse().map_err(|_| {
        minijinja::Error::new(ErrorKind::InvalidOperation, format!("not a time: {text}"))
    })?;
    let tz: Tz = state
        .lookup("tz")
        .and_then(|v| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(chrono_tz::UTC);
    Ok(at.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
}

/// The context every page gets, merged under the page's own.
fn base(state: &WebState, user: Option<&CurrentUser>) -> Value {
    let config = &state.services.config;
    let locale = config.locale;
    let info = request_info();
    let notice = info
        .notice
        .as_deref()
        .and_then(|key| i18n::lookup(locale, key));
    context! {
        locale => locale.code(),
        tz => config.timezone.name(),
        today => crate::chat::today(&state.services).to_string(),
        business_name => config.business_name.clone(),
        user => user.map(|u| context! { id => u.id, email => u.email.clone() }),
        csrf => user.map(|u| u.csrf.clone()).unwrap_or_default(),
        notice => notice,
        path => info.path,
    }
}

/// Renders a page for a signed-in user (200).
pub fn render(state: &WebState, name: &str, user: &CurrentUser, context: Value) -> Response {
    render_status(state, StatusCode::OK, name, Some(user), context)
}

/// Renders a page with a status (e.g. 422 for a form with errors); `user`
/// is `None` on public pages (login, errors), which hide the nav. A page
/// that fails to render is the 500 page ([`WebError::Template`]).
pub fn render_status(
    state: &WebState,
    status: StatusCode,
    name: &str,
    user: Option<&CurrentUser>,
    context: Value,
) -> Response {
    match render_to_string(state, name, user, context) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(template = name, "admin page failed to render");
            WebError::Template(e).into_response()
        }
    }
}

pub fn render_to_string(
    state: &WebState,
    name: &str,
    user: Option<&CurrentUser>,
    context: Value,
) -> Result<String, minijinja::Error> {
    let template = environment().get_template(name)?;
    // The page's own values win over the common ones (in merge_maps the last map wins).
    let merged = minijinja::value::merge_maps([base(state, user), context]);
    template.render(merged)
}

/// A short page with a title and a message (403, 404, 429, 500).
pub fn message(
    state: &WebState,
    status: StatusCode,
    user: Option<&CurrentUser>,
    title_key: &str,
    message_key: &str,
) -> Response {
    match render_message(state, user, title_key, message_key) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "admin message page failed to render");
            fallback(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

fn render_message(
    state: &WebState,
    user: Option<&CurrentUser>,
    title_key: &str,
    message_key: &str,
) -> Result<String, minijinja::Error> {
    let context = context! { title_key => title_key, message_key => message_key };
    render_to_string(state, "message.html", user, context)
}

/// The panel's page for a [`WebError`] response (it carries an
/// [`ErrorPage`]): same status, through the layout, with the navigation
/// when `user` is signed in. Any other response passes unchanged.
pub fn error_page(state: &WebState, user: Option<&CurrentUser>, response: Response) -> Response {
    let Some(page) = response.extensions().get::<ErrorPage>().copied() else {
        return response;
    };
    let status = response.status();
    match render_message(state, user, page.title_key, page.message_key) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "admin error page failed to render");
            fallback(status)
        }
    }
}

/// When even the message page cannot render: a bare page that still
/// fits a phone.
fn fallback(status: StatusCode) -> Response {
    (status, Html(FALLBACK_ERROR)).into_response()
}

const FALLBACK_ERROR: &str = "<!doctype html><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Error</title>\
<p>Error interno. Internal error.</p><p><a href=\"/admin\">avisa</a></p>";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn filters_format_money_and_dates() {
        let env = environment();
        let money = |locale: &str| {
            env.render_str("{{ c|money }}", context! { locale => locale, c => 158_405 })
                .unwrap()
        };
        assert_eq!(money("es"), "$1.584,05");
        assert_eq!(money("en"), "$1,584.05");
        // The year shows when the date is not in today's year.
        let dated = env
            .render_str(
                "{{ a|short_date }} / {{ b|short_date }} / {{ b|days_left }} / {{ c|days_left }}",
                context! { locale => "es", today => "2026-11-25", a => "2026-12-01",
                b => "2027-01-10", c => "2026-11-22" },
            )
            .unwrap();
        assert_eq!(dated, "1 de diciembre / 10 de enero de 2027 / 46 / -3");
        let out = env
            .render_str(
                "{{ d|date }} / {{ d|short_date }} / {{ at|datetime }} / {{ t('nav_dashboard') }}",
                context! { locale => "es", tz => "America/Guayaquil", d => "2026-12-01",
                at => "2026-11-25T15:04:00Z" },
            )
            .unwrap();
        assert_eq!(
            out,
            "martes 1 de diciembre de 2026 / 1 de diciembre / 2026-11-25 10:04 / Panel"
        );
        let missing = env.render_str("{{ t('no_such_key') }}", context! { locale => "en" });
        assert!(missing.is_err());
        let filled = env
            .render_str(
                "{{ t('pager_page_of', page=2, pages=5) }}",
                context! { locale => "en" },
            )
            .unwrap();
        assert_eq!(filled, "Page 2 of 5");
    }

    #[test]
    fn field_macro_shows_errors_and_keeps_values() {
        let env = environment();
        let source = "{% from 'macros.html' import field %}\
                      {{ field('phone', 'Teléfono', '099<1>', errors) }}";
        let ok = env
            .render_str(source, context! { locale => "es", errors => context! {} })
            .unwrap();
        assert!(ok.contains("value=\"099&lt;1&gt;\""), "{ok}");
        assert!(!ok.contains("error"), "{ok}");
        let bad = env
            .render_str(
                source,
                context! { locale => "es", errors => context! { phone => "no es un número" } },
            )
            .unwrap();
        assert!(
            bad.contains("has-error")
                && bad.contains("<small class=\"error\">no es un número</small>"),
            "{bad}"
        );
        // Printing an undefined value is an error.
        assert!(env.render_str("{{ nope }}", context! {}).is_err());
    }
}
