//! Rows of the staff web panel: users, sessions, audit log, dashboard facts.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// A panel user, without the password hash.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

/// What login needs: the user and the argon2id PHC hash.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserCredentials {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
}

impl fmt::Debug for UserCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserCredentials")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("password_hash", &"(hidden)")
            .finish()
    }
}

/// A new panel session. `token_hash` is the hex SHA-256 of the random token
/// in the cookie; the token itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAdminSession {
    pub token_hash: String,
    pub user_id: i64,
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A stored session joined with its user's email.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AdminSessionRow {
    pub token_hash: String,
    pub user_id: i64,
    pub email: String,
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// Failed logins in the current window: for this account from this client
/// address, and from this address for any account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoginFailures {
    pub by_account_at_address: i64,
    pub by_address: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAudit {
    pub user_id: Option<i64>,
    pub user_email: String,
    pub action: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct AuditRow {
    pub id: i64,
    pub user_id: Option<i64>,
    pub user_email: String,
    pub action: String,
    pub detail: String,
    pub created_at: DateTime<Utc>,
}

/// How many of something fall on one calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct DayCount {
    pub day: NaiveDate,
    pub count: i64,
}

/// A subscription's current end date, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct DueSubscription {
    pub id: i64,
    pub end_date: NaiveDate,
    pub status: super::SubscriptionStatus,
}
