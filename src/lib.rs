//! avisa: WhatsApp renewal reminders, customer chat and staff commands for
//! subscription resellers.

pub mod app;
pub mod chat;
pub mod cli;
pub mod config;
pub mod conversation;
pub mod domain;
pub mod health;
pub mod i18n;
pub mod import;
pub mod jobs;
pub mod media;
pub mod payments;
#[cfg(test)]
mod proptests;
pub mod services;
pub mod store;
pub mod templates;
pub mod web;
pub mod whatsapp;
pub mod workers;
