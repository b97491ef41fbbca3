//! `/admin/clients`: search and list, create (with an optional first
//! subscription), edit, delete, opt-out / opt-in. The client's own page is
//! in `client_page.rs`.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use minijinja::context;
use serde::Deserialize;

use super::forms::{self, ClientForm, Errors, SubscriptionForm, deleted, done, found};
use super::session::encode_component;
use super::subscriptions::{resolve_service, service_id_for};
use super::{CurrentUser, audit, pages};
use crate::store::{ClientQuery, ClientRow, StoreError, SubscriptionInput};
use crate::web::{Id, WebError, WebResult, WebState};

pub const PAGE_SIZE: i64 = 25;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    q: String,
    page: String,
}

/// `GET /admin/clients?q=&page=`: name or phone in any spelling.
pub async fn list(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(query): Query<ListQuery>,
) -> WebResult {
    let services = &state.services;
    let search = ClientQuery::parse(&query.q, services.config.default_region);
    let wanted = query.page.trim().parse::<i64>().unwrap_or(1).max(1);
    let store = &services.store;
    let mut found = store
        .search_clients(&search, (wanted - 1) * PAGE_SIZE, PAGE_SIZE)
        .await?;
    let pages_count = ((found.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let page = wanted.min(pages_count);
    if page != wanted {
        found = store
            .search_clients(&search, (page - 1) * PAGE_SIZE, PAGE_SIZE)
            .await?;
    }
    let q = query.q.trim();
    let base = if q.is_empty() {
        "/admin/clients?".to_string()
    } else {
        format!("/admin/clients?q={}&", encode_component(q))
    };
    Ok(pages::render(
        &state,
        "clients.html",
        &user,
        context! { rows => found.rows, total => found.total, q => q, page => page,
        pages => pages_count, base => base },
    ))
}

/// The new/edit client form; `subscription` only on the new-client form.
async fn form_page(
    state: &WebState,
    user: &CurrentUser,
    status: StatusCode,
    client: Option<&ClientRow>,
    form: &ClientForm,
    subscription: Option<&SubscriptionForm>,
    errors: &Errors,
) -> WebResult {
    let services = state.services.store.services_with_counts().await?;
    let messages = forms::messages(state.services.config.locale, errors);
    Ok(pages::render_status(
        state,
        status,
        "client_form.html",
        Some(user),
        context! { client => client, form => form, sub => subscription,
        services => services, errors => messages },
    ))
}

pub async fn new(State(state): State<WebState>, user: CurrentUser) -> WebResult {
    let empty = SubscriptionForm::default();
    form_page(
        &state,
        &user,
        StatusCode::OK,
        None,
        &ClientForm::default(),
        Some(&empty),
        &Errors::new(),
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
pub struct NewClientForm {
    #[serde(flatten)]
    client: ClientForm,
    #[serde(flatten)]
    subscription: SubscriptionForm,
}

/// `POST /admin/clients`: the client, and its first subscription when any
/// of those fields was filled in.
pub async fn create(
    State(state): State<WebState>,
    user: CurrentUser,
    Form(form): Form<NewClientForm>,
) -> WebResult {
    let services = &state.services;
    let store = &services.store;
    let now = services.clock.now();
    let mut errors = Errors::new();
    let client = form
        .client
        .validate(services.config.default_region, &mut errors);
    let subscription = if form.subscription.is_blank() {
        None
    } else {
        form.subscription.validate(&mut errors)
    };
    let resolved = match &subscription {
        Some(valid) => resolve_service(store.as_ref(), valid, &mut errors).await?,
        None => None,
    };
    let client = client.filter(|_| errors.is_empty());
    let created = match &client {
        Some(client) => match store.create_client(client, now).await {
            Ok(id) => Some(id),
            Err(StoreError::Duplicate(_)) => {
                errors.insert("phone", "field_phone_taken");
                None
            }
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let (Some(client), Some(client_id)) = (client, created) else {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        let sub = Some(&form.subscription);
        return form_page(&state, &user, status, None, &form.client, sub, &errors).await;
    };
    audit(
        &state,
        &user,
        "client.create",
        &format!("#{client_id} {} ({})", client.name, client.phone),
    )
    .await;
    if let (Some(valid), Some(resolved)) = (subscription, resolved) {
        let input = SubscriptionInput {
            service_id: service_id_for(&state, &user, &resolved, now).await?,
            end_date: valid.end_date,
            price: resolved.price,
        };
        let id = store.create_subscription(client_id, &input, now).await?;
        let detail = format!(
            "#{id} {} {}: {}, {}",
            client.name, resolved.name, valid.end_date, resolved.price
        );
        audit(&state, &user, "subscription.create", &detail).await;
    }
    Ok(done(
        &format!("/admin/clients/{client_id}"),
        "notice_client_created",
    ))
}

async fn load(state: &WebState, id: i64) -> Result<ClientRow, WebError> {
    found(state.services.store.client(id).await)
}

pub async fn edit(State(state): State<WebState>, user: CurrentUser, Id(id): Id) -> WebResult {
    let client = load(&state, id).await?;
    let form = ClientForm::from_row(&client);
    form_page(
        &state,
        &user,
        StatusCode::OK,
        Some(&client),
        &form,
        None,
        &Errors::new(),
    )
    .await
}

/// `POST /admin/clients/{id}`: name, phone, email, notes.
pub async fn update(
    State(state): State<WebState>,
    user: CurrentUser,
    Id(id): Id,
    Form(form): Form<ClientForm>,
) -> WebResult {
    let services = &state.services;
    let client = load(&state, id).await?;
    let mut errors = Errors::new();
    let valid = form.validate(services.config.default_region, &mut errors);
    if let Some(input) = &valid {
        match services
            .store
            .update_client(id, input, services.clock.now())
            .await
        {
            Ok(()) => {}
            Err(StoreError::Duplicate(_)) => {
                errors.insert("phone", "field_phone_taken");
            }
            Err(e) => return Err(e.into()),
        }
    }
    let Some(input) = valid.filter(|_| errors.is_empty()) else {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return form_page(&state, &user, status, Some(&client), &form, None, &errors).await;
    };
    let detail = format!(
        "#{id} {} ({}) → {} ({})",
        client.name, client.phone, input.name, input.phone
    );
    audit(&state, &user, "client.update", &detail).await;
    Ok(done(
        &format!("/admin/clients/{id}"),
        "notice_client_updated",
    ))
}

/// `POST /admin/clients/{id}/delete` (the form asks to confirm first).
pub async fn delete(State(state): State<WebState>, user: CurrentUser, Id(id): Id) -> WebResult {
    let client = load(&state, id).await?;
    deleted(state.services.store.delete_client(id).await)?;
    let detail = format!("#{id} {} ({})", client.name, client.phone);
    audit(&state, &user, "client.delete", &detail).await;
    Ok(done("/admin/clients", "notice_client_deleted"))
}

async fn set_opt_out(state: &WebState, user: &CurrentUser, id: i64, out: bool) -> WebResult {
    let client = load(state, id).await?;
    let services = &state.services;
    let at = out.then(|| services.clock.now());
    services.store.set_opted_out(id, at).await?;
    let (action, notice) = if out {
        ("client.opt_out", "notice_client_opted_out")
    } else {
        ("client.opt_in", "notice_client_opted_in")
    };
    let detail = format!("#{id} {} ({})", client.name, client.phone);
    audit(state, user, action, &detail).await;
    Ok(done(&format!("/admin/clients/{id}"), notice))
}

/// `POST /admin/clients/{id}/opt-out`: no more automatic reminders.
pub async fn opt_out(State(state): State<WebState>, user: CurrentUser, Id(id): Id) -> WebResult {
    set_opt_out(&state, &user, id, true).await
}

/// `POST /admin/clients/{id}/opt-in`.
pub async fn opt_in(State(state): State<WebState>, user: CurrentUser, Id(id): Id) -> WebResult {
    set_opt_out(&state, &user, id, false).await
}
