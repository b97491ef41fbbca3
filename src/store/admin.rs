//! The staff panel's accounts: users, sessions, login attempts and the
//! audit log.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::backend::{SqlStore, begin_write, on_pool};
use super::{
    AdminSessionRow, AuditRow, LoginFailures, NewAdminSession, NewAudit, StoreError, StoreResult,
    UserCredentials, UserRow,
};

const COUNT_USERS: &str = "SELECT COUNT(*) FROM users";
const USER_BY_EMAIL: &str = "SELECT id FROM users WHERE lower(email) = lower($1)";
const CREATE_USER: &str =
    "INSERT INTO users (email, password_hash, created_at) VALUES ($1, $2, $3) RETURNING id";
const USERS: &str = "SELECT id, email, created_at, last_login_at FROM users ORDER BY lower(email)";
const CREDENTIALS: &str =
    "SELECT id, email, password_hash FROM users WHERE lower(email) = lower($1)";
const SET_PASSWORD: &str = "UPDATE users SET password_hash = $1 WHERE id = $2";
const RECORD_LOGIN: &str = "UPDATE users SET last_login_at = $1 WHERE id = $2";

const CREATE_SESSION: &str = "INSERT INTO admin_sessions \
     (token_hash, user_id, csrf, created_at, expires_at, last_seen) \
     VALUES ($1, $2, $3, $4, $5, $4)";
const SESSION: &str = "SELECT s.token_hash, s.user_id, u.email, s.csrf, s.created_at, \
     s.expires_at, s.last_seen \
     FROM admin_sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1";
const TOUCH_SESSION: &str = "UPDATE admin_sessions SET last_seen = $1 WHERE token_hash = $2";
const DELETE_SESSION: &str = "DELETE FROM admin_sessions WHERE token_hash = $1";
const DELETE_USER_SESSIONS: &str = "DELETE FROM admin_sessions WHERE user_id = $1";
const DELETE_EXPIRED_SESSIONS: &str =
    "DELETE FROM admin_sessions WHERE expires_at <= $1 OR last_seen < $2";

const RECORD_FAILURE: &str =
    "INSERT INTO login_attempts (email, address, created_at) VALUES (lower($1), $2, $3)";
const FAILURES_OF_ACCOUNT_AT: &str = "SELECT COUNT(*) FROM login_attempts \
     WHERE email = lower($1) AND created_at >= $2 AND address = $3";
const FAILURES_AT: &str =
    "SELECT COUNT(*) FROM login_attempts WHERE address = $1 AND created_at >= $2";
const CLEAR_FAILURES: &str =
    "DELETE FROM login_attempts WHERE email = lower($1) OR created_at < $2";

const INSERT_AUDIT: &str = "INSERT INTO audit_log \
     (user_id, user_email, action, detail, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id";
const AUDIT_PAGE: &str = "SELECT id, user_id, user_email, action, detail, created_at \
     FROM audit_log ORDER BY id DESC LIMIT $1 OFFSET $2";
const COUNT_AUDIT: &str = "SELECT COUNT(*) FROM audit_log";

#[async_trait]
pub trait AdminStore {
    async fn count_users(&self) -> StoreResult<i64>;
    /// `Conflict` when the email (any case) is taken.
    async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<i64>;
    async fn users(&self) -> StoreResult<Vec<UserRow>>;
    /// The user with this email, compared without case.
    async fn user_credentials(&self, email: &str) -> StoreResult<Option<UserCredentials>>;
    async fn set_user_password(&self, user_id: i64, password_hash: &str) -> StoreResult<()>;
    async fn record_user_login(&self, user_id: i64, now: DateTime<Utc>) -> StoreResult<()>;
    async fn create_admin_session(&self, session: &NewAdminSession) -> StoreResult<()>;
    async fn admin_session(&self, token_hash: &str) -> StoreResult<Option<AdminSessionRow>>;
    async fn touch_admin_session(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<()>;
    async fn delete_admin_session(&self, token_hash: &str) -> StoreResult<()>;
    async fn delete_user_sessions(&self, user_id: i64) -> StoreResult<u64>;
    /// Deletes sessions past `expires_at` or not seen since `idle_before`.
    async fn delete_expired_admin_sessions(
        &self,
        idle_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    async fn record_login_failure(
        &self,
        email: &str,
        address: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn login_failures_since(
        &self,
        email: &str,
        address: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<LoginFailures>;
    /// Forgets this account's failures, and everyone's older than `before`.
    async fn clear_login_failures(&self, email: &str, before: DateTime<Utc>) -> StoreResult<()>;
    async fn insert_audit(&self, entry: &NewAudit, now: DateTime<Utc>) -> StoreResult<i64>;
    /// Newest first.
    async fn audit_entries(&self, limit: i64, offset: i64) -> StoreResult<Vec<AuditRow>>;
    async fn count_audit(&self) -> StoreResult<i64>;
}

#[async_trait]
impl<S: SqlStore> AdminStore for S {
    async fn count_users(&self) -> StoreResult<i64> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar(COUNT_USERS)
            .fetch_one(pool)
            .await?))
    }

    async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        on_pool!(self, |pool| {
            let mut tx = begin_write(pool).await?;
            let taken: Option<i64> = sqlx::query_scalar(USER_BY_EMAIL)
                .bind(email)
                .fetch_optional(&mut *tx)
                .await?;
            if taken.is_some() {
                return Err(StoreError::Conflict(format!(
                    "a user with email {email} already exists"
                )));
            }
            let id: i64 = sqlx::query_scalar(CREATE_USER)
                .bind(email)
                .bind(password_hash)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(id)
        })
    }

    async fn users(&self) -> StoreResult<Vec<UserRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(USERS)
            .fetch_all(pool)
            .await?))
    }

    async fn user_credentials(&self, email: &str) -> StoreResult<Option<UserCredentials>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(CREDENTIALS)
            .bind(email.trim())
            .fetch_optional(pool)
            .await?))
    }

    async fn set_user_password(&self, user_id: i64, password_hash: &str) -> StoreResult<()> {
        let n = on_pool!(self, |pool| sqlx::query(SET_PASSWORD)
            .bind(password_hash)
            .bind(user_id)
            .execute(pool)
            .await?
            .rows_affected());
        if n != 1 {
            return Err(StoreError::NotFound(format!("user {user_id}")));
        }
        Ok(())
    }

    async fn record_user_login(&self, user_id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        on_pool!(self, |pool| {
            let record = sqlx::query(RECORD_LOGIN).bind(now).bind(user_id);
            record.execute(pool).await?;
            Ok(())
        })
    }

    async fn create_admin_session(&self, session: &NewAdminSession) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(CREATE_SESSION)
                .bind(&session.token_hash)
                .bind(session.user_id)
                .bind(&session.csrf)
                .bind(session.created_at)
                .bind(session.expires_at)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    async fn admin_session(&self, token_hash: &str) -> StoreResult<Option<AdminSessionRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(SESSION)
            .bind(token_hash)
            .fetch_optional(pool)
            .await?))
    }

    async fn touch_admin_session(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<()> {
        on_pool!(self, |pool| {
            let touch = sqlx::query(TOUCH_SESSION).bind(now).bind(token_hash);
            touch.execute(pool).await?;
            Ok(())
        })
    }

    async fn delete_admin_session(&self, token_hash: &str) -> StoreResult<()> {
        on_pool!(self, |pool| {
            let delete = sqlx::query(DELETE_SESSION).bind(token_hash);
            delete.execute(pool).await?;
            Ok(())
        })
    }

    async fn delete_user_sessions(&self, user_id: i64) -> StoreResult<u64> {
        on_pool!(self, |pool| Ok(sqlx::query(DELETE_USER_SESSIONS)
            .bind(user_id)
            .execute(pool)
            .await?
            .rows_affected()))
    }

    async fn delete_expired_admin_sessions(
        &self,
        idle_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        on_pool!(self, |pool| Ok(sqlx::query(DELETE_EXPIRED_SESSIONS)
            .bind(now)
            .bind(idle_before)
            .execute(pool)
            .await?
            .rows_affected()))
    }

    async fn record_login_failure(
        &self,
        email: &str,
        address: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        on_pool!(self, |pool| {
            let record = sqlx::query(RECORD_FAILURE)
                .bind(email.trim())
                .bind(address)
                .bind(now);
            record.execute(pool).await?;
            Ok(())
        })
    }

    async fn login_failures_since(
        &self,
        email: &str,
        address: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<LoginFailures> {
        on_pool!(self, |pool| {
            // Per account *and* address: a stranger's guesses never lock
            // the owner out from their own phone.
            let by_account_at_address: i64 = sqlx::query_scalar(FAILURES_OF_ACCOUNT_AT)
                .bind(email.trim())
                .bind(since)
                .bind(address)
                .fetch_one(pool)
                .await?;
            let by_address: i64 = sqlx::query_scalar(FAILURES_AT)
                .bind(address)
                .bind(since)
                .fetch_one(pool)
                .await?;
            Ok(LoginFailures {
                by_account_at_address,
                by_address,
            })
        })
    }

    async fn clear_login_failures(&self, email: &str, before: DateTime<Utc>) -> StoreResult<()> {
        on_pool!(self, |pool| {
            let clear = sqlx::query(CLEAR_FAILURES).bind(email.trim()).bind(before);
            clear.execute(pool).await?;
            Ok(())
        })
    }

    async fn insert_audit(&self, entry: &NewAudit, now: DateTime<Utc>) -> StoreResult<i64> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar(INSERT_AUDIT)
            .bind(entry.user_id)
            .bind(&entry.user_email)
            .bind(&entry.action)
            .bind(&entry.detail)
            .bind(now)
            .fetch_one(pool)
            .await?))
    }

    async fn audit_entries(&self, limit: i64, offset: i64) -> StoreResult<Vec<AuditRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as(AUDIT_PAGE)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?))
    }

    async fn count_audit(&self) -> StoreResult<i64> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar(COUNT_AUDIT)
            .fetch_one(pool)
            .await?))
    }
}
