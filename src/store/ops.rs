//! Rows and pure helpers for the staff panel's operations area: the messages
//! log, retrying failed sends, CSV export and the import preview.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::{
    Direction, MessageKind, MessageRow, MessageStatus, NewSubscription, SubscriptionStatus,
    UpsertSummary,
};

/// Filters for the messages log; `None` means "any". `phone` is E.164 (the
/// caller normalises what staff typed with `Phone::parse`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageFilter {
    pub phone: Option<String>,
    pub kind: Option<MessageKind>,
    pub status: Option<MessageStatus>,
    pub direction: Option<Direction>,
    /// `created_at >= from`
    pub from: Option<DateTime<Utc>>,
    /// `created_at < until`
    pub until: Option<DateTime<Utc>>,
}

/// One page of the messages log, newest first, and how many match in all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MessagePage {
    pub rows: Vec<MessageRow>,
    pub total: i64,
}

/// A client with one of its subscriptions (or none), for the CSV export.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct ExportRow {
    pub client_id: i64,
    pub name: String,
    pub phone: String,
    pub email: Option<String>,
    pub service: Option<String>,
    pub end_date: Option<NaiveDate>,
    pub price_cents: Option<i64>,
    /// `None` when the client has no subscription.
    pub status: Option<SubscriptionStatus>,
}

/// What the database holds that an import could change, for
/// [`preview_upsert`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSnapshot {
    /// (phone, name, email)
    pub clients: Vec<(String, String, Option<String>)>,
    /// (phone, service name, end date, price cents, status)
    pub subscriptions: Vec<(String, String, NaiveDate, i64, SubscriptionStatus)>,
}

struct ClientState {
    name: String,
    email: Option<String>,
    existed: bool,
}

/// The counts `Store::upsert_subscriptions` would report for `rows` against
/// `snapshot`, without writing: same rules (client by phone, name or a new
/// email is an update and counts once per client; subscription by phone and
/// service ignoring case; end date, price or a cancelled status is an update).
pub fn preview_upsert(snapshot: &ImportSnapshot, rows: &[NewSubscription]) -> UpsertSummary {
    let mut clients: HashMap<String, ClientState> = snapshot
        .clients
        .iter()
        .map(|(phone, name, email)| {
            (
                phone.clone(),
                ClientState {
                    name: name.clone(),
                    email: email.clone(),
                    existed: true,
                },
            )
        })
        .collect();
    let mut subscriptions: HashMap<(String, String), (NaiveDate, i64, bool)> = snapshot
        .subscriptions
        .iter()
        .map(|(phone, service, end, cents, status)| {
            (
                (phone.clone(), service.to_lowercase()),
                (*end, *cents, *status == SubscriptionStatus::Active),
            )
        })
        .collect();
    let mut touched: HashSet<String> = HashSet::new();
    let mut summary = UpsertSummary::default();
    for row in rows {
        let phone = row.phone.as_str().to_string();
        match clients.get_mut(&phone) {
            None => {
                clients.insert(
                    phone.clone(),
                    ClientState {
                        name: row.name.clone(),
                        email: row.email.clone(),
                        existed: false,
                    },
                );
                summary.clients_created += 1;
                touched.insert(phone.clone());
            }
            Some(client) => {
                let email_changed = row.email.is_some() && row.email != client.email;
                if client.name != row.name || email_changed {
                    client.name = row.name.clone();
                    if row.email.is_some() {
                        client.email = row.email.clone();
                    }
                    if touched.insert(phone.clone()) && client.existed {
                        summary.clients_updated += 1;
                    }
                }
            }
        }
        let key = (phone, row.service.to_lowercase());
        let wanted = (row.end_date, row.price.cents(), true);
        match subscriptions.insert(key, wanted) {
            None => summary.subscriptions_created += 1,
            Some(found) if found != wanted => summary.subscriptions_updated += 1,
            Some(_) => {}
        }
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Money, Phone, Region};

    fn row(name: &str, phone: &str, service: &str, day: u32, cents: i64) -> NewSubscription {
        NewSubscription {
            name: name.into(),
            phone: Phone::parse(phone, Region::default()).unwrap(),
            email: None,
            service: service.into(),
            end_date: NaiveDate::from_ymd_opt(2026, 12, day).unwrap(),
            price: Money::from_cents(cents),
        }
    }

    #[test]
    fn counts_like_the_upsert() {
        let snapshot = ImportSnapshot {
            clients: vec![("+593991234567".into(), "Ana".into(), None)],
            subscriptions: vec![
                (
                    "+593991234567".into(),
                    "Netflix".into(),
                    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
                    750,
                    SubscriptionStatus::Active,
                ),
                (
                    "+593991234567".into(),
                    "Spotify".into(),
                    NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(),
                    399,
                    SubscriptionStatus::Cancelled,
                ),
            ],
        };
        // Unchanged, reactivated, new service for an old client, new client twice.
        let rows = [
            row("Ana", "0991234567", "NETFLIX", 1, 750),
            row("Ana", "0991234567", "Spotify", 2, 399),
            row("Ana", "0991234567", "HBO", 3, 599),
            row("Luis", "0987654321", "Netflix", 4, 750),
            row("Luis M", "0987654321", "HBO", 4, 599),
        ];
        assert_eq!(
            preview_upsert(&snapshot, &rows),
            UpsertSummary {
                clients_created: 1,
                clients_updated: 0,
                subscriptions_created: 3,
                subscriptions_updated: 1,
            }
        );
        let renamed = [row("Ana B", "0991234567", "Netflix", 1, 750)];
        assert_eq!(preview_upsert(&snapshot, &renamed).clients_updated, 1);
        assert_eq!(preview_upsert(&snapshot, &[]), UpsertSummary::default());
    }
}
