//! The customer side: facts from the store → `conversation::handle` →
//! state, effects and replies.

use super::notice_context::NoticeExtra;
use crate::conversation::{
    ClientFacts, ConversationState, CustomerInput, Effect, Flows, InboundContent, MediaKind, Reply,
    StaffNotice, StoredState, SubscriptionFact, WaitReason, handle as decide,
};
use crate::domain::{Money, Phone};
use crate::jobs::queue::{SEND_JOBS, fetch_media_job};
use crate::services::{JobError, Services};
use crate::store::{InboundOutcome, InboxReason, MessageKind, MessageRow, NewOutbound};

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
    let mut about = None;
    let facts = match &client {
        None => None,
        Some(client) => {
            let views = store.subscriptions_of_client(client.id).await?;
            open_request = store.open_request_for_client(client.id).await?;
            about = Some(super::customer_context(
                services,
                client.id,
                &views,
                open_request.as_ref(),
            ));
            let subscriptions = views
                .into_iter()
                .map(|s| SubscriptionFact {
                    subscription_id: s.id,
                    active: s.is_active(),
                    service: s.service,
                    end_date: s.end_date,
                    price: Money::from_cents(s.price_cents),
                })
                .collect();
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
    // An unknown number is answered once a day: this message takes the
    // mark (with everything else it changes) if nobody has today.
    let unknown_mark = format!("unknown:{phone}");
    let unknown_already_answered_today = match facts {
        Some(_) => false,
        None => store.daily_mark_taken(&unknown_mark, today).await?,
    };
    let is_unknown = facts.is_none();
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
    // A file from a client is fetched by a job of its own, queued with
    // the rest below; a receipt's notice then waits for the file.
    let media_source = match (&client, row.media_kind.as_deref()) {
        (Some(_), Some("image" | "document" | "audio" | "video")) => {
            store.media_source(row.id).await?
        }
        _ => None,
    };
    let mut notify_after_fetch = false;
    let state =
        serde_json::to_string(&outcome.state).map_err(|e| JobError::State(e.to_string()))?;

    // Everything below is written in one transaction by `apply_inbound`.
    let client_id = client.as_ref().map(|c| c.id);
    let texts = super::texts(services);
    let mut changes = InboundOutcome {
        message_id: row.id,
        conversation: Some((phone.as_str().to_string(), state)),
        daily_mark: (is_unknown && !unknown_already_answered_today)
            .then_some((unknown_mark, today)),
        ..InboundOutcome::default()
    };
    for effect in &outcome.effects {
        match effect {
            Effect::OptOut => changes.opt_out = client_id.map(|id| (id, Some(now))),
            Effect::OptIn => changes.opt_out = client_id.map(|id| (id, None)),
            Effect::CreateRenewalRequest { subscription_id } => {
                changes.renewal_request = client_id.map(|id| (id, Some(*subscription_id)));
            }
            Effect::NotifyStaff(notice) => {
                if let StaffNotice::ReceiptReceived { .. } = notice {
                    changes.receipt_for_request = open_request.as_ref().map(|r| r.id);
                    if media_source.is_some() {
                        notify_after_fetch = true;
                        continue;
                    }
                }
                let extra = NoticeExtra {
                    customer: about.clone(),
                    file: None,
                };
                let body = texts.notice(notice, phone.as_str(), &extra)?;
                for staff in &services.config.staff_phones {
                    changes.outbox.push(NewOutbound {
                        phone: staff.clone(),
                        client_id: None,
                        kind: MessageKind::Notice,
                        body: body.clone(),
                        template_args: None,
                    });
                }
            }
            Effect::WaitForPerson(reason) => {
                changes.inbox =
                    Some((phone.as_str().to_string(), client_id, inbox_reason(*reason)));
            }
        }
    }
    for reply in &outcome.replies {
        // The "renovar" answer carries the subscription's payment link.
        let link = match reply {
            Reply::RenewInstructions { item, .. } if services.payments.provider().is_some() => {
                super::payment::link_for(services, item.subscription_id, item.end_date).await?
            }
            _ => String::new(),
        };
        changes.outbox.push(NewOutbound {
            phone: phone.clone(),
            client_id,
            kind: MessageKind::Reply,
            body: texts.reply_with_link(reply, &link)?,
            template_args: None,
        });
    }
    if media_source.is_some() {
        changes.media_job = Some(fetch_media_job(row.id, notify_after_fetch));
    }
    if let Some(queued) = store.apply_inbound(&changes, &SEND_JOBS, now).await? {
        services.queue.pushed_in_store(&queued);
        if changes.media_job.is_some() {
            services.queue.wakeups.media.notify_one();
        }
    }
    Ok(())
}

fn inbox_reason(reason: WaitReason) -> InboxReason {
    match reason {
        WaitReason::AskedPerson => InboxReason::AskedPerson,
        WaitReason::Receipt => InboxReason::Receipt,
        WaitReason::NotUnderstood => InboxReason::NotUnderstood,
        WaitReason::DuringTakeover => InboxReason::DuringTakeover,
    }
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
