//! `POST /admin/subscriptions/bulk`: one action on the rows chosen in the
//! Cobranza list (`ids`, repeated): renew N months (the one renewal,
//! `chat::renewal::renew`), send a reminder now (`jobs::remind_now`:
//! through the outbox, once per subscription per day), or cancel.
//!
//! Nothing is half done because of a bad form: the action, the months and
//! every id are checked (each must be a subscription) before anything is
//! written; a bad one answers a 4xx page naming it. Each action is audited
//! once with its count and comes back to the list, with its filter, saying
//! how many rows it changed.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;

use super::collection_filter::{Collections, CollectionsQuery};
use super::{CurrentUser, audit, i18n, pages};
use crate::chat::renewal;
use crate::jobs::remind_now::remind_now;
use crate::services::JobError;
use crate::store::{StoreError, SubscriptionView};
use crate::web::{WebResult, WebState};

/// Most rows one action takes (a page is 50).
pub const MAX_IDS: usize = 500;

/// What to do with the chosen rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkAction {
    Renew { months: u32 },
    Remind,
    Cancel,
}

/// A bulk form, read but not yet checked against the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkForm {
    pub action: BulkAction,
    pub ids: Vec<i64>,
    /// The list's filter and page, to come back to.
    pub back: Collections,
}

/// Why a bulk form is refused, as (i18n key, the offending value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkError {
    pub key: &'static str,
    pub value: String,
}

fn refuse(key: &'static str, value: &str) -> BulkError {
    BulkError {
        key,
        value: value.to_string(),
    }
}

impl BulkForm {
    /// Reads the form's fields (`action`, `months`, `ids` repeated, and the
    /// list's filter fields). Pure.
    pub fn read(fields: &[(String, String)]) -> Result<BulkForm, BulkError> {
        let mut back = CollectionsQuery::default();
        let (mut action, mut months, mut ids) = (String::new(), String::new(), Vec::new());
        for (name, value) in fields {
            match name.as_str() {
                "action" => action.clone_from(value),
                "months" => months.clone_from(value),
                "ids" => ids.push(value.as_str()),
                "vence" => back.vence.clone_from(value),
                "servicio" => back.servicio.clone_from(value),
                "estado" => back.estado.clone_from(value),
                "sin_recordatorios" => back.sin_recordatorios.clone_from(value),
                "orden" => back.orden.clone_from(value),
                "page" => back.page.clone_from(value),
                _ => {}
            }
        }
        let action = match action.trim() {
            "renew" => {
                let months = months
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|m| (1..=12).contains(m))
                    .ok_or_else(|| refuse("cobranza.error_months", &months))?;
                BulkAction::Renew { months }
            }
            "remind" => BulkAction::Remind,
            "cancel" => BulkAction::Cancel,
            other => return Err(refuse("cobranza.error_action", other)),
        };
        if ids.len() > MAX_IDS {
            return Err(refuse("cobranza.error_too_many", &MAX_IDS.to_string()));
        }
        let mut parsed: Vec<i64> = Vec::with_capacity(ids.len());
        for id in ids {
            let number = id
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| refuse("cobranza.error_bad_id", id))?;
            if !parsed.contains(&number) {
                parsed.push(number);
            }
        }
        Ok(BulkForm {
            action,
            ids: parsed,
            back: Collections::parse(&back),
        })
    }
}

/// The refusal page (`status`), naming what was wrong.
fn refused(
    state: &WebState,
    user: &CurrentUser,
    status: StatusCode,
    error: &BulkError,
) -> Response {
    let locale = state.services.config.locale;
    let message = i18n::format(locale, error.key, &[("value", &error.value)]);
    let back = Collections::default().list_path();
    pages::render_status(
        state,
        status,
        "collections_error.html",
        Some(user),
        context! { message => message, back => back },
    )
}

/// 303 to the list (its filter and page) with the action's notice.
fn back_to_list(back: &Collections, notice: &str, n: usize, left_out: usize) -> Response {
    let path = back.back_path();
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut to = format!("{path}{sep}notice={notice}&n={n}");
    if left_out > 0 {
        to.push_str(&format!("&omitidas={left_out}"));
    }
    Redirect::to(&to).into_response()
}

/// `POST /admin/subscriptions/bulk`.
pub async fn bulk(
    State(state): State<WebState>,
    user: CurrentUser,
    Form(fields): Form<Vec<(String, String)>>,
) -> WebResult {
    let form = match BulkForm::read(&fields) {
        Ok(form) => form,
        Err(error) => {
            return Ok(refused(
                &state,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                &error,
            ));
        }
    };
    if form.ids.is_empty() {
        return Ok(back_to_list(&form.back, "cobranza.notice_none", 0, 0));
    }
    // Every id first: nothing is done unless all of them are subscriptions.
    let store = &state.services.store;
    let mut subs: Vec<SubscriptionView> = Vec::with_capacity(form.ids.len());
    for id in &form.ids {
        match store.subscription(*id).await? {
            Some(sub) => subs.push(sub),
            None => {
                let error = refuse("cobranza.error_no_subscription", &id.to_string());
                return Ok(refused(&state, &user, StatusCode::NOT_FOUND, &error));
            }
        }
    }
    let locale = state.services.config.locale;
    let ids_text = |subs: &[&SubscriptionView]| {
        subs.iter()
            .map(|s| format!("#{}", s.id))
            .collect::<Vec<_>>()
            .join(" ")
    };
    match form.action {
        BulkAction::Renew { months } => {
            let by = format!("web:{}", user.email);
            let mut renewed = Vec::new();
            for sub in &subs {
                match renewal::renew(&state.services, sub, months, &by).await {
                    Ok(_) => renewed.push(sub),
                    // Changed meanwhile (another click, another staff member).
                    Err(JobError::Store(StoreError::Conflict(_))) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            let count = i18n::plural(locale, "cobranza.notice_renewed", renewed.len());
            let detail = format!("{count}, +{months}: {}", ids_text(&renewed));
            audit(&state, &user, "subscription.bulk_renew", &detail).await;
            let left_out = subs.len() - renewed.len();
            Ok(back_to_list(
                &form.back,
                "cobranza.notice_renewed",
                renewed.len(),
                left_out,
            ))
        }
        BulkAction::Remind => {
            let done = remind_now(&state.services, &subs).await?;
            let count = i18n::plural(locale, "cobranza.notice_reminded", done.queued.len());
            let left_out = done.skipped + done.already;
            let detail = format!("{count}; {}", ids_text(&subs.iter().collect::<Vec<_>>()));
            audit(&state, &user, "subscription.bulk_remind", &detail).await;
            Ok(back_to_list(
                &form.back,
                "cobranza.notice_reminded",
                done.queued.len(),
                left_out,
            ))
        }
        BulkAction::Cancel => {
            let now = state.services.clock.now();
            let mut cancelled = Vec::new();
            for sub in subs.iter().filter(|s| s.is_active()) {
                store
                    .set_subscription_status(
                        sub.id,
                        crate::store::SubscriptionStatus::Cancelled,
                        now,
                    )
                    .await?;
                cancelled.push(sub);
            }
            let count = i18n::plural(locale, "cobranza.notice_cancelled", cancelled.len());
            let detail = format!("{count}: {}", ids_text(&cancelled));
            audit(&state, &user, "subscription.bulk_cancel", &detail).await;
            let left_out = subs.len() - cancelled.len();
            Ok(back_to_list(
                &form.back,
                "cobranza.notice_cancelled",
                cancelled.len(),
                left_out,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::admin::collection_filter::Due;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_form_names_its_action_months_and_ids() {
        let form = BulkForm::read(&fields(&[
            ("csrf", "x"),
            ("action", "renew"),
            ("months", "3"),
            ("ids", "7"),
            ("ids", "9"),
            ("ids", "7"),
            ("vence", "hoy"),
            ("page", "2"),
        ]))
        .unwrap();
        assert_eq!(form.action, BulkAction::Renew { months: 3 });
        assert_eq!(form.ids, vec![7, 9]);
        assert_eq!(form.back.due, Due::Today);
        assert_eq!(
            form.back.back_path(),
            "/admin/subscriptions?vence=hoy&page=2"
        );
        let remind = BulkForm::read(&fields(&[("action", "remind")])).unwrap();
        assert_eq!((remind.action, remind.ids.len()), (BulkAction::Remind, 0));
    }

    #[test]
    fn bad_forms_name_what_is_wrong() {
        let error = |pairs: &[(&str, &str)]| BulkForm::read(&fields(pairs)).unwrap_err();
        assert_eq!(
            error(&[("action", "renew"), ("months", "13")]),
            refuse("cobranza.error_months", "13")
        );
        assert_eq!(
            error(&[("action", "renew"), ("months", "")]).key,
            "cobranza.error_months"
        );
        assert_eq!(
            error(&[("action", "delete")]),
            refuse("cobranza.error_action", "delete")
        );
        assert_eq!(
            error(&[("action", "cancel"), ("ids", "3"), ("ids", "abc")]),
            refuse("cobranza.error_bad_id", "abc")
        );
        assert_eq!(
            error(&[("action", "cancel"), ("ids", "-1")]).key,
            "cobranza.error_bad_id"
        );
    }

    #[test]
    fn refusals_read_in_both_languages() {
        for locale in [crate::domain::Locale::Es, crate::domain::Locale::En] {
            for key in [
                "cobranza.error_months",
                "cobranza.error_action",
                "cobranza.error_bad_id",
                "cobranza.error_no_subscription",
                "cobranza.error_too_many",
            ] {
                let text = i18n::format(locale, key, &[("value", &"<42>")]);
                assert!(text.contains("<42>"), "{key}: {text}");
            }
            for action in [
                "subscription.bulk_renew",
                "subscription.bulk_remind",
                "subscription.bulk_cancel",
                "collections.export",
            ] {
                let label = super::super::audit::action_label(locale, action);
                assert_ne!(label, action);
            }
        }
    }
}
