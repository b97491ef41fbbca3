//! `/admin/services`: the list with subscription counts, create, rename
//! and default price (names unique without regard to case).

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use minijinja::context;

use super::forms::{self, Errors, ServiceForm, done, found};
use super::{CurrentUser, audit, pages};
use crate::domain::Money;
use crate::store::StoreError;
use crate::web::{Id, WebResult, WebState};

/// The form that failed: the create form (`None`) or a service's row.
struct Failed<'a> {
    id: Option<i64>,
    form: &'a ServiceForm,
    errors: &'a Errors,
}

async fn list_page(
    state: &WebState,
    user: &CurrentUser,
    status: StatusCode,
    failed: Option<Failed<'_>>,
) -> WebResult {
    let rows = state.services.store.services_with_counts().await?;
    let locale = state.services.config.locale;
    let empty = ServiceForm::default();
    let (new_form, new_errors, edit_id, edit_form, edit_errors) = match failed {
        Some(Failed {
            id: None,
            form,
            errors,
        }) => (
            form,
            forms::messages(locale, errors),
            None,
            &empty,
            Default::default(),
        ),
        Some(Failed {
            id: Some(id),
            form,
            errors,
        }) => (
            &empty,
            Default::default(),
            Some(id),
            form,
            forms::messages(locale, errors),
        ),
        None => (&empty, Default::default(), None, &empty, Default::default()),
    };
    Ok(pages::render_status(
        state,
        status,
        "services.html",
        Some(user),
        context! { rows => rows, form => new_form, errors => new_errors, edit_id => edit_id,
        edit_form => edit_form, edit_errors => edit_errors },
    ))
}

pub async fn list(State(state): State<WebState>, user: CurrentUser) -> WebResult {
    list_page(&state, &user, StatusCode::OK, None).await
}

fn price_text(price: Option<Money>) -> String {
    price.map_or_else(|| "-".to_string(), |p| p.to_string())
}

/// `POST /admin/services`: name and optional default price.
pub async fn create(
    State(state): State<WebState>,
    user: CurrentUser,
    Form(form): Form<ServiceForm>,
) -> WebResult {
    let mut errors = Errors::new();
    let valid = form.validate(&mut errors);
    if let Some((name, price)) = &valid {
        let now = state.services.clock.now();
        match state.services.store.create_service(name, *price, now).await {
            Ok(id) => {
                let detail = format!("#{id} {name} ({})", price_text(*price));
                audit(&state, &user, "service.create", &detail).await;
                return Ok(done("/admin/services", "notice_service_created"));
            }
            Err(StoreError::Duplicate(_)) => {
                errors.insert("name", "field_service_name_taken");
            }
            Err(e) => return Err(e.into()),
        }
    }
    let failed = Failed {
        id: None,
        form: &form,
        errors: &errors,
    };
    list_page(
        &state,
        &user,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some(failed),
    )
    .await
}

/// `POST /admin/services/{id}`: rename and set the default price.
pub async fn update(
    State(state): State<WebState>,
    user: CurrentUser,
    Id(id): Id,
    Form(form): Form<ServiceForm>,
) -> WebResult {
    let store = &state.services.store;
    let before = found(store.service(id).await)?;
    let mut errors = Errors::new();
    if let Some((name, price)) = form.validate(&mut errors) {
        match store.update_service(id, &name, price).await {
            Ok(()) => {
                let old_price = before.default_price_cents.map(Money::from_cents);
                let detail = format!(
                    "#{id} {} ({}) → {name} ({})",
                    before.name,
                    price_text(old_price),
                    price_text(price)
                );
                audit(&state, &user, "service.update", &detail).await;
                return Ok(done("/admin/services", "notice_service_updated"));
            }
            Err(StoreError::Duplicate(_)) => {
                errors.insert("name", "field_service_name_taken");
            }
            Err(e) => return Err(e.into()),
        }
    }
    let failed = Failed {
        id: Some(id),
        form: &form,
        errors: &errors,
    };
    list_page(
        &state,
        &user,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some(failed),
    )
    .await
}
