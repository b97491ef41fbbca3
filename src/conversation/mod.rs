//! Pure conversation logic: intents from `flows/`, the customer state
//! machine and the staff command parser. Returns replies and effects as
//! data; the caller does all I/O.

pub mod customer;
pub mod flows;
pub mod reply;
pub mod staff;

pub use customer::{
    ClientFacts, ConversationState, CustomerInput, Outcome, StoredState, SubscriptionFact, handle,
};
pub use flows::{Flows, FlowsError, Intent, MenuOption, normalize};
pub use reply::{
    Effect, InboundContent, MediaKind, Reply, StaffNotice, SubscriptionLine, WaitReason,
};
pub use staff::{
    ClientLookup, CommandKind, StaffCommand, Target, UsageError, help_text, parse_command,
};
