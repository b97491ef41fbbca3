//! avisa: WhatsApp renewal reminders, customer chat and staff commands for
//! subscription resellers.

pub mod domain;
pub mod whatsapp;
