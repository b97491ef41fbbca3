//! Subscriptions: add one to a client, edit, renew (the shared
//! `chat::renewal::renew`, as `/renovar` does), cancel, delete.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use minijinja::context;
use serde::Deserialize;

use super::client_page;
use super::forms::{
    self, Errors, RENEW_MONTHS, ServiceChoice, SubscriptionForm, ValidSubscription, deleted, done,
    found,
};
use super::{CurrentUser, audit, pages};
use crate::chat::renewal;
use crate::domain::Money;
use crate::services::JobError;
use crate::store::{Store, StoreError, StoreResult, SubscriptionInput, SubscriptionView};
use crate::web::{Id, WebError, WebResult, WebState};

/// The service a valid form names and the price that applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedService {
    /// `None`: a new service, created when the subscription is written.
    pub id: Option<i64>,
    pub name: String,
    pub price: Money,
}

/// Looks the form's service up: an unknown id is a `service` error; a new
/// name that exists (any case) is that service. An empty price takes the
/// service's default price, else is a `price` error.
pub async fn resolve_service(
    store: &dyn Store,
    valid: &ValidSubscription,
    errors: &mut Errors,
) -> StoreResult<Option<ResolvedService>> {
    let (id, name, default) = match &valid.service {
        ServiceChoice::Existing(id) => match store.service(*id).await? {
            Some(row) => (Some(row.id), row.name, row.default_price_cents),
            None => {
                errors.insert("service", "field_service_unknown");
                return Ok(None);
            }
        },
        ServiceChoice::New(name) => match store.service_by_name(name).await? {
            Some(row) => (Some(row.id), row.name, row.default_price_cents),
            None => (None, name.clone(), None),
        },
    };
    let Some(price) = valid.price.or(default.map(Money::from_cents)) else {
        errors.insert("price", "field_price_empty");
        return Ok(None);
    };
    Ok(Some(ResolvedService { id, name, price }))
}

/// The service's id, creating (and auditing) a new one.
pub async fn service_id_for(
    state: &WebState,
    user: &CurrentUser,
    resolved: &ResolvedService,
    now: DateTime<Utc>,
) -> StoreResult<i64> {
    if let Some(id) = resolved.id {
        return Ok(id);
    }
    let store = &state.services.store;
    match store.create_service(&resolved.name, None, now).await {
        Ok(id) => {
            let detail = format!("#{id} {}", resolved.name);
            audit(state, user, "service.create", &detail).await;
            Ok(id)
        }
        // Created meanwhile by someone else: use it.
        Err(StoreError::Duplicate(_)) => store
            .service_by_name(&resolved.name)
            .await?
            .map(|s| s.id)
            .ok_or_else(|| StoreError::NotFound(format!("service {}", resolved.name))),
        Err(e) => Err(e),
    }
}

/// Validates a subscription form up to the store: `Ok(None)` when `errors`
/// got something.
async fn checked(
    state: &WebState,
    user: &CurrentUser,
    form: &SubscriptionForm,
    errors: &mut Errors,
) -> StoreResult<Option<SubscriptionInput>> {
    let store = state.services.store.as_ref();
    let Some(valid) = form.validate(errors) else {
        return Ok(None);
    };
    let Some(resolved) = resolve_service(store, &valid, errors).await? else {
        return Ok(None);
    };
    let service_id = service_id_for(state, user, &resolved, state.services.clock.now()).await?;
    Ok(Some(SubscriptionInput {
        service_id,
        end_date: valid.end_date,
        price: resolved.price,
    }))
}

fn describe(sub: &SubscriptionView) -> String {
    format!(
        "#{} {} ({}) {}: {}, {}",
        sub.id,
        sub.client_name,
        sub.phone,
        sub.service,
        sub.end_date,
        sub.price()
    )
}

async fn load(state: &WebState, id: i64) -> Result<SubscriptionView, WebError> {
    found(state.services.store.subscription(id).await)
}

/// `POST /admin/clients/{id}/subscriptions`; errors re-render the client page.
pub async fn add(
    State(state): State<WebState>,
    user: CurrentUser,
    Id(client_id): Id,
    Form(form): Form<SubscriptionForm>,
) -> WebResult {
    let store = &state.services.store;
    found(store.client(client_id).await)?;
    let mut errors = Errors::new();
    let input = checked(&state, &user, &form, &mut errors).await?;
    let created = match &input {
        Some(input) => {
            let now = state.services.clock.now();
            match store.create_subscription(client_id, input, now).await {
                Ok(id) => Some(id),
                Err(StoreError::Duplicate(_)) => {
                    errors.insert("service", "field_service_taken");
                    None
                }
                Err(e) => return Err(e.into()),
            }
        }
        None => None,
    };
    let Some(id) = created else {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return client_page::page(&state, &user, client_id, status, &form, &errors).await;
    };
    if let Ok(Some(sub)) = store.subscription(id).await {
        audit(&state, &user, "subscription.create", &describe(&sub)).await;
    }
    Ok(done(
        &format!("/admin/clients/{client_id}"),
        "notice_subscription_added",
    ))
}

async fn form_page(
    state: &WebState,
    user: &CurrentUser,
    status: StatusCode,
    sub: &SubscriptionView,
    form: &SubscriptionForm,
    errors: &Errors,
) -> WebResult {
    let services = state.services.store.services_with_counts().await?;
    let messages = forms::messages(state.services.config.locale, errors);
    Ok(pages::render_status(
        state,
        status,
        "subscription_form.html",
        Some(user),
        context! { sub => sub, form => form, services => services, errors => messages },
    ))
}

pub async fn edit(State(state): State<WebState>, user: CurrentUser, Id(id): Id) -> WebResult {
    let sub = load(&state, id).await?;
    let form = SubscriptionForm::from_view(&sub);
    form_page(&state, &user, StatusCode::OK, &sub, &form, &Errors::new()).await
}

/// `POST /admin/subscriptions/{id}`: service, end date, price.
pub async fn update(
    State(state): State<WebState>,
    user: CurrentUser,
    Id(id): Id,
    Form(form): Form<SubscriptionForm>,
) -> WebResult {
    let sub = load(&state, id).await?;
    let mut errors = Errors::new();
    let input = checked(&state, &user, &form, &mut errors).await?;
    if let Some(input) = &input {
        let now = state.services.clock.now();
        match state
            .services
            .store
            .update_subscription(id, input, now)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Duplicate(_)) => {
                errors.insert("service", "field_service_taken");
            }
            Err(e) => return Err(e.into()),
        }
    }
    if input.is_none() || !errors.is_empty() {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return form_page(&state, &user, status, &sub, &form, &errors).await;
    }
    let after = match state.services.store.subscription(id).await {
        Ok(Some(after)) => describe(&after),
        _ => String::new(),
    };
    let detail = format!("{} → {after}", describe(&sub));
    audit(&state, &user, "subscription.update", &detail).await;
    Ok(done(
        &format!("/admin/clients/{}", sub.client_id),
        "notice_subscription_updated",
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RenewForm {
    months: String,
    /// Where to come back to: the Cobranza list with its filter
    /// (`collection_filter::is_list_path`); else the client's page.
    back: String,
}

/// `POST /admin/subscriptions/{id}/renew` (`months`, default 1): the same
/// renewal as the staff chat's `/renovar`, recorded as `web:<email>`.
pub async fn renew(
    State(state): State<WebState>,
    user: CurrentUser,
    Id(id): Id,
    Form(form): Form<RenewForm>,
) -> WebResult {
    let months = match form.months.trim() {
        "" => Some(1),
        text => text
            .parse::<u32>()
            .ok()
            .filter(|m| RENEW_MONTHS.contains(m)),
    };
    let Some(months) = months else {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(pages::message(
            &state,
            status,
            Some(&user),
            "error_title",
            "sub_error_months",
        ));
    };
    let sub = load(&state, id).await?;
    let page = if super::collection_filter::is_list_path(&form.back) {
        form.back.clone()
    } else {
        format!("/admin/clients/{}", sub.client_id)
    };
    let by = format!("web:{}", user.email);
    match renewal::renew(&state.services, &sub, months, &by).await {
        Ok(renewed) => {
            let detail = format!("{}; {months} → {}", describe(&sub), renewed.new_end_date);
            audit(&state, &user, "subscription.renew", &detail).await;
            Ok(done(&page, "notice_subscription_renewed"))
        }
        Err(JobError::Store(StoreError::Conflict(_))) => {
            Ok(done(&page, "notice_subscription_renew_conflict"))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/subscriptions/{id}/cancel`: no more reminders for it.
pub async fn cancel(State(state): State<WebState>, user: CurrentUser, Id(id): Id) -> WebResult {
    let sub = load(&state, id).await?;
    let services = &state.services;
    let now = services.clock.now();
    services
        .store
        .set_subscription_status(id, "cancelled", now)
        .await?;
    audit(&state, &user, "subscription.cancel", &describe(&sub)).await;
    Ok(done(
        &format!("/admin/clients/{}", sub.client_id),
        "notice_subscription_cancelled",
    ))
}

/// `POST /admin/subscriptions/{id}/delete` (the form asks to confirm first).
pub async fn delete(State(state): State<WebState>, user: CurrentUser, Id(id): Id) -> WebResult {
    let sub = load(&state, id).await?;
    deleted(state.services.store.delete_subscription(id).await)?;
    audit(&state, &user, "subscription.delete", &describe(&sub)).await;
    Ok(done(
        &format!("/admin/clients/{}", sub.client_id),
        "notice_subscription_deleted",
    ))
}
