//! `/admin/audit`: who did what, newest first, 50 a page.

use axum::extract::{Query, State};
use minijinja::context;
use serde::Deserialize;

use super::{CurrentUser, i18n, pages};
use crate::domain::Locale;
use crate::web::{WebResult, WebState};

pub const PAGE_SIZE: i64 = 50;

/// What an audit code (`subscription.renew`) means, in the panel's
/// language; the code itself when the catalog has no wording for it.
pub fn action_label(locale: Locale, action: &str) -> String {
    let key = format!("audit_action_{}", action.replace('.', "_"));
    i18n::lookup(locale, &key).unwrap_or(action).to_string()
}

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    page: Option<i64>,
}

pub async fn show(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(query): Query<AuditQuery>,
) -> WebResult {
    let store = &state.services.store;
    let total = store.count_audit().await?;
    let pages_count = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let page = query.page.unwrap_or(1).clamp(1, pages_count);
    let locale = state.services.config.locale;
    let rows: Vec<_> = store
        .audit_entries(PAGE_SIZE, (page - 1) * PAGE_SIZE)
        .await?
        .into_iter()
        .map(|row| {
            let label = action_label(locale, &row.action);
            context! { created_at => row.created_at, user_email => row.user_email,
            action => row.action, action_label => label, detail => row.detail }
        })
        .collect();
    Ok(pages::render(
        &state,
        "audit.html",
        &user,
        context! { rows => rows, page => page, pages => pages_count, total => total },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recorded_action_reads_as_words_in_both_languages() {
        let recorded = [
            "login",
            "login_failed",
            "login_blocked",
            "logout",
            "client.create",
            "client.update",
            "client.delete",
            "client.opt_out",
            "client.opt_in",
            "subscription.create",
            "subscription.update",
            "subscription.renew",
            "subscription.cancel",
            "subscription.delete",
            "service.create",
            "service.update",
            "message.retry",
            "reminders.pause",
            "reminders.resume",
            "reminders.run",
            "request.confirm",
            "import",
            "export",
        ];
        for action in recorded {
            for locale in [Locale::Es, Locale::En] {
                let label = action_label(locale, action);
                assert_ne!(label, action, "{action} has no wording");
            }
        }
        assert_eq!(
            action_label(Locale::Es, "subscription.renew"),
            "Suscripción renovada"
        );
        assert_eq!(action_label(Locale::Es, "something.new"), "something.new");
    }
}
