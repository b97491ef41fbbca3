//! The customer conversation: one inbound message + stored state + facts
//! about the client → new state, replies and effects. No I/O, so every
//! transition is unit-tested.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::flows::{Flows, Intent};
use super::reply::{
    Effect, InboundContent, MediaKind, Reply, StaffNotice, SubscriptionLine, WaitReason,
};
use crate::domain::{Money, days_left};

/// How long an unfinished conversation is remembered (DESIGN.md).
const STATE_TTL_HOURS: i64 = 24;

/// Per-phone conversation state, stored as JSON by the caller.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConversationState {
    #[default]
    Idle,
    /// The bot listed these subscriptions; a number picks one (1-based).
    ChoosingRenewal { options: Vec<i64> },
    /// A person is handling the chat; the bot stays quiet until `until`.
    Handoff { until: DateTime<Utc> },
    /// The last `times` messages in a row were not understood (each got the
    /// menu); from the second one the chat waits for a person.
    NotUnderstood { times: u32 },
}

/// The state as loaded, with when it was last saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredState {
    pub state: ConversationState,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionFact {
    pub subscription_id: i64,
    pub service: String,
    pub end_date: NaiveDate,
    pub price: Money,
    /// Not cancelled (an expired subscription is still active).
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFacts {
    pub client_id: i64,
    pub name: String,
    pub opted_out: bool,
    pub subscriptions: Vec<SubscriptionFact>,
    /// Subscription id of the client's open renewal request, if any.
    pub pending_request: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct CustomerInput {
    pub state: Option<StoredState>,
    pub now: DateTime<Utc>,
    /// Business-time-zone date, for days left.
    pub today: NaiveDate,
    pub message: InboundContent,
    /// `None`: the number is not a client.
    pub client: Option<ClientFacts>,
    pub handoff_hours: u32,
    /// An unknown number already got its one reply (and staff their one
    /// notice) today.
    pub unknown_already_answered_today: bool,
}

/// The caller saves `state` (with `updated_at = now`), renders and queues
/// `replies` in order, and applies `effects`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub state: ConversationState,
    pub replies: Vec<Reply>,
    pub effects: Vec<Effect>,
}

impl Outcome {
    fn reply(state: ConversationState, reply: Reply) -> Outcome {
        Outcome {
            state,
            replies: vec![reply],
            effects: Vec::new(),
        }
    }

    fn silent(state: ConversationState) -> Outcome {
        Outcome {
            state,
            replies: Vec::new(),
            effects: Vec::new(),
        }
    }

    fn with(mut self, effect: Effect) -> Outcome {
        self.effects.push(effect);
        self
    }
}

/// Decides what to do with one inbound message.
pub fn handle(input: &CustomerInput, flows: &Flows) -> Outcome {
    let Some(client) = &input.client else {
        return unknown_number(input);
    };
    let chat = Chat {
        input,
        client,
        flows,
    };
    match current_state(input) {
        ConversationState::Handoff { until } if until > input.now => chat.in_handoff(until),
        // A handoff that has run out is over.
        ConversationState::Handoff { .. } => chat.converse(ConversationState::Idle),
        state => chat.converse(state),
    }
}

/// The stored state, or Idle once it is older than 24 h. A handoff carries
/// its own deadline, so it is not cut short by the 24 h rule.
fn current_state(input: &CustomerInput) -> ConversationState {
    let Some(stored) = &input.state else {
        return ConversationState::Idle;
    };
    let stale = input.now - stored.updated_at > Duration::hours(STATE_TTL_HOURS);
    match &stored.state {
        ConversationState::Handoff { .. } => stored.state.clone(),
        _ if stale => ConversationState::Idle,
        state => state.clone(),
    }
}

fn unknown_number(input: &CustomerInput) -> Outcome {
    if input.unknown_already_answered_today {
        return Outcome::silent(ConversationState::Idle);
    }
    Outcome::reply(ConversationState::Idle, Reply::UnknownNumber).with(Effect::NotifyStaff(
        StaffNotice::UnknownNumberWrote {
            message: input.message.clone(),
        },
    ))
}

struct Chat<'a> {
    input: &'a CustomerInput,
    client: &'a ClientFacts,
    flows: &'a Flows,
}

impl Chat<'_> {
    /// Text the conversation reads: the message, or a media caption.
    fn text(&self) -> &str {
        match &self.input.message {
            InboundContent::Text(text) => text,
            InboundContent::Media { caption, .. } => caption.as_deref().unwrap_or(""),
        }
    }

    /// Image or document: always a receipt (DESIGN.md "Receipts").
    fn receipt_kind(&self) -> Option<MediaKind> {
        match self.input.message {
            InboundContent::Media {
                kind: kind @ (MediaKind::Image | MediaKind::Document),
                ..
            } => Some(kind),
            _ => None,
        }
    }

    fn in_handoff(&self, until: DateTime<Utc>) -> Outcome {
        let state = ConversationState::Handoff { until };
        if let Some(kind) = self.receipt_kind() {
            // Staff are handling the chat, but a receipt must still reach them.
            let mut outcome = self.receipt(kind, state);
            outcome.replies.clear();
            return outcome;
        }
        if self.flows.intent(self.text()) == Some(Intent::Menu) {
            return self.menu(false);
        }
        // Logged and left for the person handling the chat.
        Outcome::silent(state).with(Effect::WaitForPerson(WaitReason::DuringTakeover))
    }

    fn converse(&self, state: ConversationState) -> Outcome {
        if let Some(kind) = self.receipt_kind() {
            // A receipt is understood: a run of not-understood ends.
            let state = match state {
                ConversationState::NotUnderstood { .. } => ConversationState::Idle,
                other => other,
            };
            return self.receipt(kind, state);
        }
        let text = self.text();
        if let ConversationState::ChoosingRenewal { options } = &state
            && let Some(n) = self.flows.number(text)
        {
            return self.pick(options, n);
        }
        match self.flows.intent(text) {
            None => self.not_understood(&state),
            Some(Intent::Greeting | Intent::Menu) => self.menu(false),
            Some(Intent::Expiry) => self.expiry(),
            Some(Intent::Renew) => self.renew(),
            Some(Intent::Human) => self.handoff(),
            Some(Intent::OptOut) => self.opt_out(),
            Some(Intent::OptIn) => self.opt_in(),
        }
    }

    fn menu(&self, not_understood: bool) -> Outcome {
        Outcome::reply(
            ConversationState::Idle,
            Reply::Menu {
                name: self.client.name.clone(),
                options: self.flows.menu().to_vec(),
                not_understood,
            },
        )
    }

    /// The menu again, saying so; the second time in a row the chat also
    /// waits for a person.
    fn not_understood(&self, state: &ConversationState) -> Outcome {
        let before = match state {
            ConversationState::NotUnderstood { times } => *times,
            _ => 0,
        };
        let times = before.saturating_add(1);
        let mut outcome = self.menu(true);
        outcome.state = ConversationState::NotUnderstood { times };
        if times >= 2 {
            outcome = outcome.with(Effect::WaitForPerson(WaitReason::NotUnderstood));
        }
        outcome
    }

    /// Active subscriptions, soonest end first; this order numbers the list.
    fn active(&self) -> Vec<&SubscriptionFact> {
        let mut subs: Vec<&SubscriptionFact> = self
            .client
            .subscriptions
            .iter()
            .filter(|s| s.active)
            .collect();
        subs.sort_by(|a, b| {
            (a.end_date, &a.service, a.subscription_id).cmp(&(
                b.end_date,
                &b.service,
                b.subscription_id,
            ))
        });
        subs
    }

    fn line(&self, sub: &SubscriptionFact) -> SubscriptionLine {
        SubscriptionLine {
            subscription_id: sub.subscription_id,
            service: sub.service.clone(),
            end_date: sub.end_date,
            days_left: days_left(sub.end_date, self.input.today),
            price: sub.price,
        }
    }

    fn expiry(&self) -> Outcome {
        let items: Vec<SubscriptionLine> =
            self.active().into_iter().map(|s| self.line(s)).collect();
        if items.is_empty() {
            return Outcome::reply(ConversationState::Idle, Reply::NoActiveSubscriptions);
        }
        Outcome::reply(ConversationState::Idle, Reply::Expiry { items })
    }

    fn renew(&self) -> Outcome {
        match self.active().as_slice() {
            [] => Outcome::reply(ConversationState::Idle, Reply::NoActiveSubscriptions).with(
                Effect::NotifyStaff(StaffNotice::RenewalWithoutSubscription {
                    client_id: self.client.client_id,
                    client_name: self.client.name.clone(),
                }),
            ),
            [only] => self.renew_one(only),
            several => self.choose(several, false),
        }
    }

    fn choose(&self, subs: &[&SubscriptionFact], after_invalid: bool) -> Outcome {
        let items: Vec<SubscriptionLine> = subs.iter().map(|s| self.line(s)).collect();
        let options = subs.iter().map(|s| s.subscription_id).collect();
        let reply = if after_invalid {
            Reply::InvalidChoice { items }
        } else {
            Reply::RenewChoose { items }
        };
        Outcome::reply(ConversationState::ChoosingRenewal { options }, reply)
    }

    /// A number answered the list. Subscriptions may have changed since the
    /// list was sent, so the pick is checked against current facts.
    fn pick(&self, options: &[i64], n: u32) -> Outcome {
        let chosen = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| options.get(i))
            .and_then(|id| self.active().into_iter().find(|s| s.subscription_id == *id));
        if let Some(sub) = chosen {
            return self.renew_one(sub);
        }
        // Out of range, or no longer active: show the current list again
        // rather than guess which one they meant.
        match self.active().as_slice() {
            [] => self.renew(),
            current => self.choose(current, true),
        }
    }

    fn renew_one(&self, sub: &SubscriptionFact) -> Outcome {
        let already_requested = self.client.pending_request == Some(sub.subscription_id);
        let outcome = Outcome::reply(
            ConversationState::Idle,
            Reply::RenewInstructions {
                item: self.line(sub),
                already_requested,
            },
        );
        if already_requested {
            return outcome;
        }
        outcome
            .with(Effect::CreateRenewalRequest {
                subscription_id: sub.subscription_id,
            })
            .with(Effect::NotifyStaff(StaffNotice::RenewalRequested {
                client_id: self.client.client_id,
                client_name: self.client.name.clone(),
                subscription_id: sub.subscription_id,
                service: sub.service.clone(),
                end_date: sub.end_date,
                price: sub.price,
            }))
    }

    fn receipt(&self, kind: MediaKind, state: ConversationState) -> Outcome {
        let pending = self.client.pending_request;
        let service = pending.and_then(|id| {
            self.client
                .subscriptions
                .iter()
                .find(|s| s.subscription_id == id)
                .map(|s| s.service.clone())
        });
        let caption = match &self.input.message {
            InboundContent::Media { caption, .. } => caption.clone(),
            InboundContent::Text(_) => None,
        };
        Outcome::reply(
            state,
            Reply::ReceiptAck {
                pending_request: pending.is_some(),
            },
        )
        .with(Effect::NotifyStaff(StaffNotice::ReceiptReceived {
            client_id: self.client.client_id,
            client_name: self.client.name.clone(),
            kind,
            caption,
            pending_request: pending,
            service,
        }))
        .with(Effect::WaitForPerson(WaitReason::Receipt))
    }

    fn handoff(&self) -> Outcome {
        let hours = self.input.handoff_hours;
        let until = self.input.now + Duration::hours(i64::from(hours));
        Outcome::reply(
            ConversationState::Handoff { until },
            Reply::HandoffAck { hours },
        )
        .with(Effect::NotifyStaff(StaffNotice::HandoffRequested {
            client_id: self.client.client_id,
            client_name: self.client.name.clone(),
        }))
        .with(Effect::WaitForPerson(WaitReason::AskedPerson))
    }

    /// Confirmed every time; the effect only when something changes.
    fn opt_out(&self) -> Outcome {
        let outcome = Outcome::reply(ConversationState::Idle, Reply::OptedOut);
        if self.client.opted_out {
            outcome
        } else {
            outcome.with(Effect::OptOut)
        }
    }

    fn opt_in(&self) -> Outcome {
        let outcome = Outcome::reply(ConversationState::Idle, Reply::OptedIn);
        if self.client.opted_out {
            outcome.with(Effect::OptIn)
        } else {
            outcome
        }
    }
}

#[cfg(test)]
mod tests;
