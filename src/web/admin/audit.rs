//! `/admin/audit`: who did what, newest first, 50 a page, filtered by user,
//! action (the known codes, shown by name) and local days.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use chrono::{Duration, NaiveDate, NaiveTime};
use chrono_tz::Tz;
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::session::encode_component;
use super::{CurrentUser, i18n, pages};
use crate::domain::clock::local_to_utc;
use crate::domain::{Locale, parse_date};
use crate::store::AuditFilter;
use crate::web::{WebResult, WebState};

pub const PAGE_SIZE: i64 = 50;

/// Every action code the panel records, in the order the filter lists them.
pub const ACTIONS: &[&str] = &[
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
    "renewal.undo",
    "subscription.cancel",
    "subscription.delete",
    "service.create",
    "service.update",
    "message.retry",
    "message.manual",
    "inbox.resolve",
    "messages.export",
    "reminders.pause",
    "reminders.resume",
    "reminders.run",
    "request.confirm",
    "import",
    "export",
];

/// What an audit code (`subscription.renew`) means, in the panel's
/// language; the code itself when the catalog has no wording for it.
pub fn action_label(locale: Locale, action: &str) -> String {
    let key = format!("audit_action_{}", action.replace('.', "_"));
    i18n::lookup(locale, &key).unwrap_or(action).to_string()
}

/// The filter form as typed (every field may be empty).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct AuditQuery {
    pub user: String,
    pub action: String,
    pub from: String,
    pub to: String,
    #[serde(skip_serializing)]
    pub page: String,
}

impl AuditQuery {
    /// The store filter, or the i18n key of the problem per field; `from`
    /// and `to` are local days in `tz` (both inclusive) as UTC bounds.
    pub fn filter(&self, tz: Tz) -> Result<AuditFilter, BTreeMap<&'static str, &'static str>> {
        let mut errors = BTreeMap::new();
        let user = self.user.trim();
        let action = self.action.trim();
        if !action.is_empty() && !ACTIONS.contains(&action) {
            errors.insert("action", "ops_error_choice");
        }
        let mut date = |field: &'static str, value: &str| -> Option<NaiveDate> {
            let value = value.trim();
            if value.is_empty() {
                return None;
            }
            parse_date(value)
                .map_err(|_| errors.insert(field, "ops_error_date"))
                .ok()
        };
        let from = date("from", &self.from);
        let to = date("to", &self.to);
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            errors.insert("to", "ops_error_range");
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(AuditFilter {
            user: (!user.is_empty()).then(|| user.to_string()),
            action: (!action.is_empty()).then(|| action.to_string()),
            from: from.map(|d| local_to_utc(tz, d, NaiveTime::MIN)),
            until: to.map(|d| local_to_utc(tz, d + Duration::days(1), NaiveTime::MIN)),
        })
    }

    pub fn page(&self) -> i64 {
        self.page.trim().parse::<i64>().unwrap_or(1).max(1)
    }

    /// `/admin/audit?user=…&action=…&` for the pager links.
    pub fn pager_base(&self) -> String {
        let mut base = String::from("/admin/audit?");
        for (name, value) in [
            ("user", &self.user),
            ("action", &self.action),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            let value = value.trim();
            if !value.is_empty() {
                base.push_str(&format!("{name}={}&", encode_component(value)));
            }
        }
        base
    }
}

pub async fn show(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(query): Query<AuditQuery>,
) -> WebResult {
    let store = &state.services.store;
    let config = &state.services.config;
    let locale = config.locale;
    let actions: Vec<(&str, String)> = ACTIONS
        .iter()
        .map(|a| (*a, action_label(locale, a)))
        .collect();
    let form = context! {
        values => &query, users => store.audit_users().await?, actions => actions,
        pager_base => query.pager_base(),
    };
    let (filter, status, errors) = match query.filter(config.timezone) {
        Ok(filter) => (Some(filter), StatusCode::OK, BTreeMap::new()),
        Err(errors) => {
            let errors: BTreeMap<&str, String> = errors
                .into_iter()
                .map(|(field, key)| (field, i18n::text(locale, key)))
                .collect();
            (None, StatusCode::UNPROCESSABLE_ENTITY, errors)
        }
    };
    let (rows, total, page, pages_count) = match filter {
        Some(filter) => {
            let (_, total) = store.audit_search(&filter, 0, 0).await?;
            let pages_count = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
            let page = query.page().clamp(1, pages_count);
            let (rows, _) = store
                .audit_search(&filter, PAGE_SIZE, (page - 1) * PAGE_SIZE)
                .await?;
            (rows, total, page, pages_count)
        }
        None => (Vec::new(), 0, 1, 1),
    };
    let rows: Vec<_> = rows
        .into_iter()
        .map(|row| {
            let label = action_label(locale, &row.action);
            context! { created_at => row.created_at, user_email => row.user_email,
            action => row.action, action_label => label, detail => row.detail }
        })
        .collect();
    let page_ctx = context! {
        rows => rows, page => page, pages => pages_count, total => total, errors => errors,
    };
    Ok(pages::render_status(
        &state,
        status,
        "audit.html",
        Some(&user),
        minijinja::value::merge_maps([form, page_ctx]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recorded_action_reads_as_words_in_both_languages() {
        for &action in ACTIONS {
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

    #[test]
    fn filters_use_local_days_and_known_actions() {
        use chrono::{TimeZone, Utc};
        let tz: Tz = "America/Guayaquil".parse().unwrap();
        let query = AuditQuery {
            user: " ana@example.com ".into(),
            action: "renewal.undo".into(),
            from: "2026-11-24".into(),
            to: "25/11/2026".into(),
            page: "2".into(),
        };
        let filter = query.filter(tz).unwrap();
        assert_eq!(filter.user.as_deref(), Some("ana@example.com"));
        assert_eq!(
            filter.from,
            Some(Utc.with_ymd_and_hms(2026, 11, 24, 5, 0, 0).unwrap())
        );
        assert_eq!(
            filter.until,
            Some(Utc.with_ymd_and_hms(2026, 11, 26, 5, 0, 0).unwrap())
        );
        assert_eq!(
            query.pager_base(),
            "/admin/audit?user=ana%40example.com&action=renewal.undo&from=2026-11-24&to=25/11/2026&"
        );
        let bad = AuditQuery {
            action: "drop.table".into(),
            from: "2026-11-26".into(),
            to: "2026-11-25".into(),
            ..AuditQuery::default()
        };
        let errors = bad.filter(tz).unwrap_err();
        assert_eq!(errors.keys().copied().collect::<Vec<_>>(), ["action", "to"]);
    }
}
