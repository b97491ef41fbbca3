//! Staff commands: parse, act, answer the staff member (kind `staff`).

use chrono::{Duration, NaiveDate};
use serde_json::json;

use super::end_handoff;
use super::render::LineCtx;
use super::staff_views as views;
use crate::conversation::{StaffCommand, Target, help_text, normalize, parse_command};
use crate::domain::{Locale, Money, Phone, long_date};
use crate::i18n;
use crate::services::{JobError, Services};
use crate::store::{
    MessageKind, NewSubscription, SETTING_PAUSED, StoreError, SubscriptionStatus, SubscriptionView,
};

/// The answer when a command failed midway (the database went away).
pub(super) fn failed(locale: Locale) -> String {
    i18n::text(locale, "staff.failed")
}

pub(super) async fn handle(services: &Services, staff: &Phone, text: &str) -> Result<(), JobError> {
    let config = &services.config;
    let locale = config.locale;
    let answer = match parse_command(text, config.default_region) {
        Err(usage) => usage.message(locale),
        Ok(None) => help_text(locale),
        Ok(Some(command)) => {
            tracing::info!(staff = %staff, command = ?command.kind(), "staff command");
            run(services, staff, command).await?
        }
    };
    super::queue(services, staff, None, MessageKind::Staff, answer, None).await?;
    Ok(())
}

async fn run(
    services: &Services,
    staff: &Phone,
    command: StaffCommand,
) -> Result<String, JobError> {
    let locale = services.config.locale;
    let now = services.clock.now();
    let store = &services.store;
    Ok(match command {
        StaffCommand::Help => help_text(locale),
        StaffCommand::Renew {
            target,
            service,
            months,
        } => renew(services, staff, target, service.as_deref(), months).await?,
        StaffCommand::Pending => views::pending(services).await?,
        StaffCommand::Due { days } => views::ending(services, days, false).await?,
        StaffCommand::Overdue { days } => views::ending(services, days, true).await?,
        StaffCommand::Client(query) => views::client(services, query).await?,
        StaffCommand::Add {
            phone,
            service,
            end_date,
            price,
            name,
        } => add(services, phone, service, end_date, price, name).await?,
        StaffCommand::Cancel { phone, service } => {
            cancel(services, &phone, service.as_deref()).await?
        }
        StaffCommand::Undo => undo(services, staff).await?,
        StaffCommand::Pause => {
            store
                .set_setting(SETTING_PAUSED, Some("staff"), now)
                .await?;
            i18n::text(locale, "staff.paused")
        }
        StaffCommand::Resume => {
            store.set_setting(SETTING_PAUSED, None, now).await?;
            i18n::text(locale, "staff.resumed")
        }
        StaffCommand::Summary => views::summary(services).await?,
        StaffCommand::Inbox => super::inbox::staff_list(services).await?,
        StaffCommand::Payments => super::payment::staff_today(services).await?,
    })
}

fn not_found(locale: Locale, what: &str) -> String {
    i18n::format(locale, "staff.not_found", &[("what", &what)])
}

/// Subscriptions whose service matches `wanted` (exact, else partial,
/// accent- and case-insensitive).
fn matching<'a>(subs: &'a [SubscriptionView], wanted: &str) -> Vec<&'a SubscriptionView> {
    let wanted = normalize(wanted);
    let exact: Vec<_> = subs
        .iter()
        .filter(|s| normalize(&s.service) == wanted)
        .collect();
    if !exact.is_empty() {
        return exact;
    }
    subs.iter()
        .filter(|s| normalize(&s.service).contains(&wanted))
        .collect()
}

async fn renew(
    services: &Services,
    staff: &Phone,
    target: Target,
    service: Option<&str>,
    months: u32,
) -> Result<String, JobError> {
    let store = &services.store;
    let locale = services.config.locale;
    let today = super::today(services);
    let sub = match target {
        Target::Subscription(id) => match store.subscription(id).await? {
            Some(sub) => sub,
            None => return Ok(not_found(locale, &format!("#{id}"))),
        },
        Target::Phone(phone) => {
            let Some(client) = store.client_by_phone(phone.as_str()).await? else {
                return Ok(not_found(locale, phone.as_str()));
            };
            let active: Vec<SubscriptionView> = store
                .subscriptions_of_client(client.id)
                .await?
                .into_iter()
                .filter(SubscriptionView::is_active)
                .collect();
            let candidates = match service {
                Some(wanted) => matching(&active, wanted),
                None => active.iter().collect(),
            };
            match candidates.as_slice() {
                [] => {
                    let what = service.map_or_else(
                        || i18n::text(locale, "staff.active_services"),
                        str::to_string,
                    );
                    return Ok(not_found(locale, &format!("{what} ({})", client.phone)));
                }
                [only] => (*only).clone(),
                several => {
                    let items: Vec<LineCtx> = several
                        .iter()
                        .map(|s| views::line(s, today, locale))
                        .collect();
                    return Ok(services.templates.render(
                        "staff_choose.txt",
                        json!({"clients": [], "query": "", "client_name": client.name, "items": items}),
                    )?);
                }
            }
        }
    };
    let new_end = match super::renewal::renew(services, &sub, months, staff.as_str()).await {
        Ok(done) => done.new_end_date,
        Err(JobError::Store(StoreError::Conflict(_))) => {
            return Ok(i18n::text(locale, "staff.date_changed"));
        }
        Err(e) => return Err(e),
    };
    Ok(services.templates.render(
        "staff_renewed.txt",
        json!({
            "subscription_id": sub.id,
            "client_name": sub.client_name,
            "phone": sub.phone,
            "service": sub.service,
            "months": months,
            "old_date": long_date(sub.end_date, locale),
            "new_date": long_date(new_end, locale),
        }),
    )?)
}

async fn add(
    services: &Services,
    phone: Phone,
    service: String,
    end_date: NaiveDate,
    price: Option<Money>,
    name: Option<String>,
) -> Result<String, JobError> {
    let store = &services.store;
    let locale = services.config.locale;
    let existing = store.client_by_phone(phone.as_str()).await?;
    let mut known_price = None;
    if let Some(client) = &existing {
        let subs = store.subscriptions_of_client(client.id).await?;
        known_price = matching(&subs, &service).first().map(|s| s.price());
    }
    let name = name
        .or_else(|| existing.as_ref().map(|c| c.name.clone()))
        .unwrap_or_else(|| phone.to_string());
    let price = price.or(known_price).unwrap_or_default();
    let row = NewSubscription {
        name: name.clone(),
        phone: phone.clone(),
        email: None,
        service: service.clone(),
        end_date,
        price,
    };
    store
        .upsert_subscriptions(&[row], services.clock.now())
        .await?;
    end_handoff(services, &phone).await?;
    let date = long_date(end_date, locale);
    Ok(i18n::format(
        locale,
        "staff.added",
        &[
            ("name", &name),
            ("phone", &phone),
            ("service", &service),
            ("date", &date),
            ("price", &price),
        ],
    ))
}

async fn cancel(
    services: &Services,
    phone: &Phone,
    service: Option<&str>,
) -> Result<String, JobError> {
    let store = &services.store;
    let locale = services.config.locale;
    let Some(client) = store.client_by_phone(phone.as_str()).await? else {
        return Ok(not_found(locale, phone.as_str()));
    };
    let active: Vec<SubscriptionView> = store
        .subscriptions_of_client(client.id)
        .await?
        .into_iter()
        .filter(SubscriptionView::is_active)
        .collect();
    let candidates = match service {
        Some(wanted) => matching(&active, wanted),
        None => active.iter().collect(),
    };
    match candidates.as_slice() {
        [] => Ok(not_found(
            locale,
            &format!("{} ({phone})", service.unwrap_or("-")),
        )),
        [only] => {
            store
                .set_subscription_status(
                    only.id,
                    SubscriptionStatus::Cancelled,
                    services.clock.now(),
                )
                .await?;
            end_handoff(services, phone).await?;
            Ok(i18n::format(
                locale,
                "staff.cancelled",
                &[
                    ("service", &only.service),
                    ("client", &client.name),
                    ("phone", phone),
                ],
            ))
        }
        several => {
            let names: Vec<&str> = several.iter().map(|s| s.service.as_str()).collect();
            let names = names.join(", ");
            Ok(i18n::format(
                locale,
                "staff.several_services",
                &[
                    ("client", &client.name),
                    ("names", &names),
                    ("phone", phone),
                ],
            ))
        }
    }
}

async fn undo(services: &Services, staff: &Phone) -> Result<String, JobError> {
    let store = &services.store;
    let locale = services.config.locale;
    let now = services.clock.now();
    let Some(last) = store
        .last_renewal_by(staff.as_str(), now - Duration::hours(24))
        .await?
    else {
        return Ok(i18n::text(locale, "staff.nothing_to_undo"));
    };
    let sub = store.subscription(last.subscription_id).await?;
    let service = sub.as_ref().map_or("?", |s| s.service.as_str());
    let client = sub.as_ref().map_or("?", |s| s.client_name.as_str());
    let date = long_date(last.old_end_date, locale);
    if store.undo_renewal(last.id, now).await? {
        Ok(i18n::format(
            locale,
            "staff.undone",
            &[("service", &service), ("client", &client), ("date", &date)],
        ))
    } else {
        Ok(i18n::text(locale, "staff.undo_failed"))
    }
}
