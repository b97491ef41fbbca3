//! Login and logout. Failed logins get one generic message (unknown email
//! and wrong password alike, with the same argon2 work), are rate limited
//! per account and per client address, and are slowed a little.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use chrono::Duration;
use minijinja::context;
use serde::Deserialize;

use super::session::{
    ABSOLUTE_TIMEOUT, IDLE_TIMEOUT, LOGIN_CSRF_COOKIE, MaybeUser, SESSION_COOKIE, client_address,
    cookie, is_https, peer, random_token, set_cookie, sign, token_hash,
};
use super::{audit, audit_as, i18n, pages, password, secret_key};
use crate::store::NewAdminSession;
use crate::web::{WebResult, WebState};

/// Failures counted over this window…
pub const FAILURE_WINDOW: Duration = Duration::minutes(15);
/// …block an account from one client address after this many (the owner
/// on another address still gets in)…
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
/// …and a client address after this many (several staff may share one).
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;
/// Each failure answers this much later.
const FAILURE_DELAY: std::time::Duration = std::time::Duration::from_millis(300);

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// Only a path inside the panel, never another site.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/admin") && !n.starts_with("//") && !n.contains('\\') => {
            n.to_string()
        }
        _ => "/admin".to_string(),
    }
}

async fn login_form(
    state: &WebState,
    headers: &HeaderMap,
    status: StatusCode,
    email: &str,
    next: &str,
    error: Option<&str>,
) -> WebResult {
    let no_users = state.services.store.count_users().await? == 0;
    // Reuse the pre-session token while the cookie lives (several tabs).
    let existing = cookie(headers, LOGIN_CSRF_COOKIE).filter(|t| t.len() >= 20);
    let token = existing.clone().unwrap_or_else(|| random_token(24));
    let mut response = pages::render_status(
        state,
        status,
        "login.html",
        None,
        context! { login_csrf => token, email => email, next => next, error => error,
        no_users => no_users },
    );
    if existing.is_none() {
        let value = set_cookie(LOGIN_CSRF_COOKIE, &token, None, is_https(state, headers));
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(response)
}

/// GET /admin/login
pub async fn login_page(
    State(state): State<WebState>,
    MaybeUser(user): MaybeUser,
    Query(query): Query<LoginQuery>,
    headers: HeaderMap,
) -> WebResult {
    let next = safe_next(query.next.as_deref());
    if user.is_some() {
        return Ok(Redirect::to(&next).into_response());
    }
    login_form(&state, &headers, StatusCode::OK, "", &next, None).await
}

/// POST /admin/login (CSRF checked by the middleware against the
/// pre-session cookie).
pub async fn login(
    State(state): State<WebState>,
    headers: HeaderMap,
    extensions: Extensions,
    Form(form): Form<LoginForm>,
) -> WebResult {
    let headers = &headers;
    let next = safe_next(form.next.as_deref());
    let email = form.email.trim().to_lowercase();
    let address = client_address(&state, headers, peer(&extensions));
    let services = &state.services;
    let store = &services.store;
    let now = services.clock.now();
    let failures = store
        .login_failures_since(&email, &address, now - FAILURE_WINDOW)
        .await?;
    if failures.by_account_at_address >= MAX_FAILURES_PER_ACCOUNT
        || failures.by_address >= MAX_FAILURES_PER_ADDRESS
    {
        audit_as(
            &state,
            None,
            &email,
            "login_blocked",
            &format!("address {address}"),
        )
        .await;
        tokio::time::sleep(FAILURE_DELAY).await;
        return Ok(pages::message(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            None,
            "login_blocked_title",
            "login_blocked",
        ));
    }
    let credentials = store.user_credentials(&email).await?;
    let password = form.password;
    let stored = credentials.as_ref().map(|c| c.password_hash.clone());
    let matches = tokio::task::spawn_blocking(move || match stored {
        Some(hash) => password::verify(&password, &hash),
        None => {
            password::verify_dummy(&password);
            false
        }
    })
    .await
    .unwrap_or(false);
    let user = match credentials {
        Some(user) if matches => user,
        other => {
            store.record_login_failure(&email, &address, now).await?;
            let detail = i18n::format(
                state.services.config.locale,
                "audit.address",
                &[("address", &address)],
            );
            audit_as(&state, other.map(|u| u.id), &email, "login_failed", &detail).await;
            tokio::time::sleep(FAILURE_DELAY).await;
            return login_form(
                &state,
                headers,
                StatusCode::UNAUTHORIZED,
                &email,
                &next,
                Some("login_error"),
            )
            .await;
        }
    };
    let token = start_session(&state, user.id, &email).await?;
    let current = super::CurrentUser {
        id: user.id,
        email: user.email.clone(),
        csrf: String::new(),
        session: token_hash(&token),
    };
    let detail = i18n::format(
        state.services.config.locale,
        "audit.address",
        &[("address", &address)],
    );
    audit(&state, &current, "login", &detail).await;
    let key = secret_key(&state).await?;
    let secure = is_https(&state, headers);
    let mut response = Redirect::to(&next).into_response();
    let cookies = [
        set_cookie(SESSION_COOKIE, &sign(&key, &token), None, secure),
        set_cookie(LOGIN_CSRF_COOKIE, "", Some(0), secure),
    ];
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(response)
}

/// Records the login and a new session; returns the cookie's token.
async fn start_session(
    state: &WebState,
    user_id: i64,
    email: &str,
) -> Result<String, crate::store::StoreError> {
    let store = &state.services.store;
    let now = state.services.clock.now();
    store
        .clear_login_failures(email, now - Duration::days(1))
        .await?;
    store
        .delete_expired_admin_sessions(now - IDLE_TIMEOUT, now)
        .await?;
    let token = random_token(32);
    store
        .create_admin_session(&NewAdminSession {
            token_hash: token_hash(&token),
            user_id,
            csrf: random_token(24),
            created_at: now,
            expires_at: now + ABSOLUTE_TIMEOUT,
        })
        .await?;
    store.record_user_login(user_id, now).await?;
    Ok(token)
}

/// POST /admin/logout: deletes the session and the cookie.
pub async fn logout(
    State(state): State<WebState>,
    MaybeUser(user): MaybeUser,
    headers: HeaderMap,
) -> WebResult {
    if let Some(user) = &user {
        state
            .services
            .store
            .delete_admin_session(&user.session)
            .await?;
        audit(&state, user, "logout", "").await;
    }
    let mut response = Redirect::to("/admin/login?notice=notice_logged_out").into_response();
    let clear = set_cookie(SESSION_COOKIE, "", Some(0), is_https(&state, &headers));
    if let Ok(v) = HeaderValue::from_str(&clear) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_inside_the_panel() {
        assert_eq!(safe_next(Some("/admin/clients?q=a")), "/admin/clients?q=a");
        assert_eq!(safe_next(Some("https://evil.example")), "/admin");
        assert_eq!(safe_next(Some("//evil.example")), "/admin");
        assert_eq!(safe_next(None), "/admin");
    }
}
