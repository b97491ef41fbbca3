//! The customer side: facts from the store → `conversation::handle` →
//! state, effects and replies.

use crate::conversation::{
    ClientFacts, ConversationState, CustomerInput, Effect, Flows, InboundContent, MediaKind,
    StaffNotice, StoredState, SubscriptionFact, handle as decide,
};
use crate::domain::{Money, Phone};
use crate::jobs::{JobError, Services};
use crate::store::{MessageKind, MessageRow};

pub(super) async fn handle(
    services: &Services,
    flows: &Flows,
    phone: &Phone,
    row: &MessageRow,
) -> Result<(), JobError> {
    let store = &services.store;
    let now = services.clock.now();
    let today = super::today(services);
    let client = store.client_by_phone(phone.as_str()).await?;
    let mut open_request = None;
    let facts = match &client {
        None => None,
        Some(client) => {
            let subscriptions = store
                .subscriptions_of_client(client.id)
                .await?
                .into_iter()
                .map(|s| SubscriptionFact {
                    subscription_id: s.id,
                    active: s.is_active(),
                    service: s.service,
                    end_date: s.end_date,
                    price: Money::from_cents(s.price_cents),
                })
                .collect();
            open_request = store.open_request_for_client(client.id).await?;
            Some(ClientFacts {
                client_id: client.id,
                name: client.name.clone(),
                opted_out: client.opted_out_at.is_some(),
                subscriptions,
                pending_request: open_request.as_ref().and_then(|r| r.subscription_id),
            })
        }
    };
    let state = match store.conversation(phone.as_str()).await? {
        None => None,
        Some(saved) => match serde_json::from_str::<ConversationState>(&saved.state) {
            Ok(state) => Some(StoredState {
                state,
                updated_at: saved.updated_at,
            }),
            Err(e) => {
                tracing::warn!(phone = %phone, error = %e, "unreadable conversation state; starting over");
                None
            }
        },
    };
    // An unknown number is answered once a day: taking the mark now is
    // what decides whether this message gets that answer.
    let unknown_already_answered_today = match facts {
        Some(_) => false,
        None => {
            !store
                .mark_once(&format!("unknown:{phone}"), today, now)
                .await?
        }
    };
    let input = CustomerInput {
        state,
        now,
        today,
        message: content(row),
        client: facts,
        handoff_hours: services.config.handoff_hours,
        unknown_already_answered_today,
    };
    let outcome = decide(&input, flows);
    super::save_state(services, phone, &outcome.state).await?;

    let client_id = client.as_ref().map(|c| c.id);
    let texts = super::texts(services);
    for effect in &outcome.effects {
        match effect {
            Effect::OptOut => {
                if let Some(id) = client_id {
                    store.set_opted_out(id, Some(now)).await?;
                }
            }
            Effect::OptIn => {
                if let Some(id) = client_id {
                    store.set_opted_out(id, None).await?;
                }
            }
            Effect::CreateRenewalRequest { subscription_id } => {
                if let Some(id) = client_id {
                    store
                        .create_renewal_request(id, Some(*subscription_id), now)
                        .await?;
                }
            }
            Effect::NotifyStaff(notice) => {
                if let StaffNotice::ReceiptReceived { .. } = notice
                    && let Some(request) = &open_request
                {
                    store.attach_receipt(request.id, row.id).await?;
                }
                let body = texts.notice(notice, phone.as_str())?;
                for staff in &services.config.staff_phones {
                    super::queue(services, staff, None, MessageKind::Notice, body.clone()).await?;
                }
            }
        }
    }
    for reply in &outcome.replies {
        let body = texts.reply(reply)?;
        super::queue(services, phone, client_id, MessageKind::Reply, body).await?;
    }
    Ok(())
}

/// The stored inbound row as the conversation sees it.
fn content(row: &MessageRow) -> InboundContent {
    let kind = match row.media_kind.as_deref() {
        None => return InboundContent::Text(row.body.clone()),
        Some("image") => MediaKind::Image,
        Some("document") => MediaKind::Document,
        Some(_) => MediaKind::Other,
    };
    let caption = Some(row.body.trim())
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    InboundContent::Media { kind, caption }
}
