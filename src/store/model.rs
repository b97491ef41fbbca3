//! Rows and inputs the store reads and writes.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::text_enum::text_enum;
use crate::domain::{Money, Phone};

/// A client with one subscription, as import and `/alta` write them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription {
    pub name: String,
    pub phone: Phone,
    pub email: Option<String>,
    pub service: String,
    pub end_date: NaiveDate,
    pub price: Money,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UpsertSummary {
    pub clients_created: u64,
    pub clients_updated: u64,
    pub subscriptions_created: u64,
    pub subscriptions_updated: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct ClientRow {
    pub id: i64,
    pub name: String,
    pub phone: Phone,
    pub email: Option<String>,
    pub opted_out_at: Option<DateTime<Utc>>,
    pub notes: String,
}

/// An active or cancelled subscription joined with its client and service.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct SubscriptionView {
    pub id: i64,
    pub client_id: i64,
    pub client_name: String,
    pub phone: Phone,
    pub opted_out_at: Option<DateTime<Utc>>,
    pub service_id: i64,
    pub service: String,
    pub end_date: NaiveDate,
    pub price_cents: i64,
    pub currency: String,
    pub status: SubscriptionStatus,
}

impl SubscriptionView {
    pub fn price(&self) -> Money {
        Money::from_cents(self.price_cents)
    }

    pub fn is_active(&self) -> bool {
        self.status == SubscriptionStatus::Active
    }
}

/// One (subscription, end_date, tier) reminder key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReminderKey {
    pub subscription_id: i64,
    pub end_date: NaiveDate,
    pub tier: i32,
}

/// A reminder message for one client covering one or more subscriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedMessage {
    pub client_id: i64,
    pub phone: Phone,
    pub body: String,
    /// (key, days_left) for every subscription in the message.
    pub reminders: Vec<(ReminderKey, i64)>,
    /// What the reminder offers a Cloud API template (JSON).
    pub template_args: Option<String>,
}

text_enum!(
    /// What a message is: a reminder, a reply in the conversation (a
    /// customer's message or the bot's answer), a staff command or answer,
    /// a notice to staff, or a person's own message to a customer (from
    /// the business phone or the panel).
    MessageKind {
        Reminder => "reminder",
        Reply => "reply",
        Staff => "staff",
        Notice => "notice",
        Manual => "manual",
    }
);

text_enum!(
    /// Why a conversation waits for a person (the panel's Bandeja).
    InboxReason {
        AskedPerson => "asked_person",
        Receipt => "receipt",
        NotUnderstood => "not_understood",
        DuringTakeover => "during_takeover",
    }
);

text_enum!(
    /// `in` from WhatsApp, `out` to it.
    Direction {
        In => "in",
        Out => "out",
    }
);

text_enum!(
    /// A message's state. Inbound: received → processed. Outbound: queued
    /// → sending → sent → delivered → read, or failed, cancelled, or
    /// unknown (the request may have reached WhatsApp: never resent
    /// automatically).
    MessageStatus {
        Received => "received",
        Processed => "processed",
        Queued => "queued",
        Sending => "sending",
        Sent => "sent",
        Delivered => "delivered",
        Read => "read",
        Failed => "failed",
        Cancelled => "cancelled",
        Unknown => "unknown",
    }
);

text_enum!(
    /// A subscription's state: active, or cancelled (kept for history).
    SubscriptionStatus {
        Active => "active",
        Cancelled => "cancelled",
    }
);

text_enum!(
    /// A renewal request: open until staff renew (or close) it.
    RequestStatus {
        Open => "open",
        Closed => "closed",
    }
);

impl MessageStatus {
    /// Sent and accepted by WhatsApp (sent, delivered or read).
    pub fn is_sent(self) -> bool {
        matches!(
            self,
            MessageStatus::Sent | MessageStatus::Delivered | MessageStatus::Read
        )
    }
}

/// Send order: conversation replies and staff traffic before bulk reminders.
pub const PRIORITY_INTERACTIVE: i32 = 0;
pub const PRIORITY_BULK: i32 = 1;

/// An outbound message to queue (replies, staff notices, confirmations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutbound {
    pub phone: Phone,
    pub client_id: Option<i64>,
    pub kind: MessageKind,
    pub body: String,
    /// What the message offers a Cloud API template
    /// ([`crate::whatsapp::TemplateArgs`] as JSON): set for the renewal
    /// confirmation; notices derive theirs from the text when sent.
    pub template_args: Option<String>,
}

/// Everything handling one inbound message changes, written together in
/// one transaction by [`crate::store::Store::apply_inbound`]: a failure
/// anywhere leaves the message `received` and nothing else changed, so a
/// retry starts from the same state and nothing is sent twice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboundOutcome {
    /// The inbound message; marked `processed` in the same transaction.
    pub message_id: i64,
    /// The conversation's new state for this phone (JSON), if any.
    pub conversation: Option<(String, String)>,
    /// A once-a-day mark taken by this message (the answer to an unknown
    /// number).
    pub daily_mark: Option<(String, NaiveDate)>,
    /// A client's opt-out set (`Some(time)`) or cleared (`None`).
    pub opt_out: Option<(i64, Option<DateTime<Utc>>)>,
    /// A renewal request opened for (client, subscription).
    pub renewal_request: Option<(i64, Option<i64>)>,
    /// The open renewal request this message (a receipt) is attached to.
    pub receipt_for_request: Option<i64>,
    /// The conversation now waits for a person: (phone, client, why).
    pub inbox: Option<(String, Option<i64>, InboxReason)>,
    /// Replies and notices, in order; each gets its send job.
    pub outbox: Vec<NewOutbound>,
    /// The job that fetches the file this message brought (`fetch_media`).
    pub media_job: Option<PendingJob>,
}

/// A job written into the queue's tables with the rows it is about, in
/// their transaction: its queue and its task, already encoded.
#[derive(Debug, Clone)]
pub struct PendingJob {
    pub queue: &'static str,
    pub task: crate::store::EncodedTask,
}

/// The same queue and arguments (apalis' tasks do not compare).
impl PartialEq for PendingJob {
    fn eq(&self, other: &PendingJob) -> bool {
        self.queue == other.queue && self.task.args == other.task.args
    }
}

impl Eq for PendingJob {}

/// The send job written beside each outbox row (see
/// `jobs::queue::SEND_JOBS`).
#[derive(Debug, Clone, Copy)]
pub struct SendJobs {
    pub queue: &'static str,
    pub task: fn(i64) -> crate::store::EncodedTask,
}

/// An inbound WhatsApp message to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInbound {
    pub phone: Phone,
    pub client_id: Option<i64>,
    pub kind: MessageKind,
    pub body: String,
    pub media_kind: Option<String>,
    pub wa_message_id: Option<String>,
    /// For a file: the body of WaSender's `decrypt-media` request (JSON),
    /// kept until the fetch-media job has the file.
    pub media_source: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct MessageRow {
    pub id: i64,
    pub direction: Direction,
    /// Decoded once from the stored E.164 text.
    pub phone: Phone,
    pub client_id: Option<i64>,
    pub kind: MessageKind,
    pub body: String,
    pub media_kind: Option<String>,
    pub status: MessageStatus,
    pub automatic: bool,
    pub priority: i32,
    pub provider_message_id: Option<String>,
    pub wa_message_id: Option<String>,
    pub attempts: i32,
    pub error: Option<String>,
    pub permanent_failure: bool,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// 429s met so far; they do not use up `attempts`.
    pub rate_limits: i32,
    /// The file this message brought (inbound) or carries (outbound).
    pub media_id: Option<i64>,
    /// Who wrote a `manual` message: a staff email; `None` for the
    /// business phone itself (and for every other kind).
    pub sent_by: Option<String>,
    /// What an automatic message offers a Cloud API template (JSON); read
    /// only by the send job (other queries leave it out).
    #[sqlx(default)]
    #[serde(skip)]
    pub template_args: Option<String>,
    /// The approved template it went as (Cloud API), when it did.
    #[sqlx(default)]
    pub sent_template: Option<String>,
    /// Meta refused it as text for the closed window after accepting it:
    /// it goes as its template (Cloud API).
    #[sqlx(default)]
    pub outside_window: bool,
}

/// A queued message waiting for a send job.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct QueuedMessage {
    pub id: i64,
    pub automatic: bool,
    pub priority: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// Reminder counts for one planning day, per tier and message status.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct TierStatusCount {
    pub tier: i32,
    pub status: MessageStatus,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct KindStatusCount {
    pub kind: MessageKind,
    pub status: MessageStatus,
    pub count: i64,
}

/// A renewal request: open while staff have not renewed it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct RenewalRequestRow {
    pub id: i64,
    pub client_id: i64,
    pub subscription_id: Option<i64>,
    pub status: RequestStatus,
    pub receipt_message_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// An open request with who and what, for `/pendientes`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct PendingRequestView {
    pub id: i64,
    pub client_id: i64,
    pub client_name: String,
    pub phone: Phone,
    pub subscription_id: Option<i64>,
    pub service: Option<String>,
    pub end_date: Option<NaiveDate>,
    pub price_cents: Option<i64>,
    pub receipt_message_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// A renewal to record: the subscription moves from `old_end_date` (which
/// must still be current) to `new_end_date`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRenewal {
    pub subscription_id: i64,
    pub staff: String,
    pub old_end_date: NaiveDate,
    pub new_end_date: NaiveDate,
    pub months: i32,
    pub amount_cents: i64,
}

/// One row of the renewal audit.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct RenewalRow {
    pub id: i64,
    pub subscription_id: i64,
    pub staff: String,
    pub old_end_date: NaiveDate,
    pub new_end_date: NaiveDate,
    pub months: i32,
    pub amount_cents: i64,
    pub created_at: DateTime<Utc>,
    pub undone_at: Option<DateTime<Utc>>,
}

/// A stored conversation state (JSON) and when it was saved.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ConversationRow {
    pub state: String,
    pub updated_at: DateTime<Utc>,
}
