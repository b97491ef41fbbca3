//! What the conversation decided: replies (what to say, as data — the
//! caller renders them with templates) and effects (what the caller must do).

use chrono::NaiveDate;
use serde::Serialize;

use super::flows::MenuOption;
use crate::domain::Money;

/// An inbound message, reduced to what the conversation needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InboundContent {
    Text(String),
    Media {
        kind: MediaKind,
        caption: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Document,
    /// Audio, video, sticker…: not taken as a receipt.
    Other,
}

/// One subscription as shown to a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscriptionLine {
    pub subscription_id: i64,
    pub service: String,
    pub end_date: NaiveDate,
    /// Negative once expired.
    pub days_left: i64,
    pub price: Money,
}

/// What to say to the customer. Serialized with a `reply` tag so a template
/// named after [`Reply::kind`] can use the fields directly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// The numbered menu; `not_understood` when it answers something the
    /// bot could not match, so the text can say so first.
    Menu {
        name: String,
        options: Vec<MenuOption>,
        not_understood: bool,
    },
    /// Every active subscription, soonest end date first.
    Expiry {
        items: Vec<SubscriptionLine>,
    },
    NoActiveSubscriptions,
    /// Price plus payment instructions (from settings). `already_requested`
    /// when a request for it was already pending, so none was created.
    RenewInstructions {
        item: SubscriptionLine,
        already_requested: bool,
    },
    /// Numbered list; the customer answers with the position (1-based).
    RenewChoose {
        items: Vec<SubscriptionLine>,
    },
    /// The number picked is not on the list; the list is repeated.
    InvalidChoice {
        items: Vec<SubscriptionLine>,
    },
    ReceiptAck {
        pending_request: bool,
    },
    HandoffAck {
        hours: u32,
    },
    OptedOut,
    OptedIn,
    UnknownNumber,
}

impl Reply {
    /// Stable snake_case name, e.g. for choosing a template file.
    pub fn kind(&self) -> &'static str {
        match self {
            Reply::Menu { .. } => "menu",
            Reply::Expiry { .. } => "expiry",
            Reply::NoActiveSubscriptions => "no_active_subscriptions",
            Reply::RenewInstructions { .. } => "renew_instructions",
            Reply::RenewChoose { .. } => "renew_choose",
            Reply::InvalidChoice { .. } => "invalid_choice",
            Reply::ReceiptAck { .. } => "receipt_ack",
            Reply::HandoffAck { .. } => "handoff_ack",
            Reply::OptedOut => "opted_out",
            Reply::OptedIn => "opted_in",
            Reply::UnknownNumber => "unknown_number",
        }
    }
}

/// Something staff must be told. The caller knows the customer's phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum StaffNotice {
    RenewalRequested {
        client_id: i64,
        client_name: String,
        subscription_id: i64,
        service: String,
        end_date: NaiveDate,
        price: Money,
    },
    /// Wants to renew but has no active subscription: only a person can help.
    RenewalWithoutSubscription {
        client_id: i64,
        client_name: String,
    },
    /// An image or document; the caller forwards the media itself with this
    /// notice. `pending_request`/`service` say what it is probably paying.
    ReceiptReceived {
        client_id: i64,
        client_name: String,
        kind: MediaKind,
        caption: Option<String>,
        pending_request: Option<i64>,
        service: Option<String>,
    },
    HandoffRequested {
        client_id: i64,
        client_name: String,
    },
    UnknownNumberWrote {
        message: InboundContent,
    },
}

/// What the caller must do besides replying. Never creates a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    OptOut,
    OptIn,
    /// Open a pending renewal request for this subscription.
    CreateRenewalRequest {
        subscription_id: i64,
    },
    NotifyStaff(StaffNotice),
    /// The conversation now waits for a person (the panel's Bandeja).
    WaitForPerson(WaitReason),
}

/// Why a conversation waits for a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitReason {
    /// Asked to talk to a person ("asesor").
    AskedPerson,
    /// Sent a receipt (an image or document).
    Receipt,
    /// Not understood twice in a row.
    NotUnderstood,
    /// Wrote while a person is handling the chat (takeover).
    DuringTakeover,
}
