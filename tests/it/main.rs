//! All integration tests in one binary: one link instead of fifteen (the
//! build, not the tests, is most of CI time). One module per area.

#[macro_use]
mod support;

mod admin_auth;
mod admin_clients;
mod admin_collections;
mod admin_crawl;
mod admin_msglog;
mod admin_ops;
mod admin_renewpay;
mod admin_subscriptions;
mod admin_transfer;
mod admin_users_cli;
mod admin_whatsapp;
mod backup;
mod bad_input;
mod browser;
mod browser_inbox;
mod browser_layout;
mod chat;
mod chat_e2e;
mod import;
mod inbound_faults;
mod ingest;
mod layout_rules;
mod media;
mod outage;
mod payments;
mod payments_panel;
mod providers;
mod providers_cloud;
mod reliability;
mod reminders;
mod reminders_sending;
mod shutdown;
mod store;
mod store_clients;
mod store_ops;
mod store_outbox;
mod takeover;
mod webhook;
