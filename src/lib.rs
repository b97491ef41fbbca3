//! avisa: WhatsApp renewal reminders, customer chat and staff commands for
//! subscription resellers.

pub mod conversation;
pub mod domain;
