//! `avisa user add|passwd|list`: staff panel accounts. Passwords are asked
//! twice without echo on a terminal, or read as one line from stdin
//! otherwise (`echo "$PASS" | avisa user add ana@example.com`).

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, bail};
use clap::Subcommand;

use crate::config::Config;
use crate::i18n;
use crate::store::{self, StoreError};
use crate::web::admin::password;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a panel user (asks for the password).
    Add { email: String },
    /// Set a new password for a panel user and end their sessions.
    Passwd { email: String },
    /// List panel users: email, created, last login.
    List,
}

/// A plausible email: something@domain.tld, no spaces; lowercased.
pub fn normalize_email(input: &str) -> anyhow::Result<String> {
    let email = input.trim().to_lowercase();
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        }
        None => false,
    };
    if !valid || email.chars().any(char::is_whitespace) {
        bail!("`{input}` is not an email address");
    }
    Ok(email)
}

/// The new password: twice without echo on a terminal, else one stdin line.
fn read_new_password() -> anyhow::Result<String> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password (at least 10 characters): ")
            .context("cannot read the password")?;
        password::check_strength(&first)?;
        let second = rpassword::prompt_password("Repeat the password: ")
            .context("cannot read the password")?;
        if first != second {
            bail!("the passwords do not match");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    password::check_strength(&password)?;
    Ok(password)
}

pub async fn run(config: Config, command: UserCommand) -> anyhow::Result<()> {
    let locale = config.locale;
    match command {
        UserCommand::Add { email } => {
            let email = normalize_email(&email)?;
            let store = store::connect(&config.database_url).await?;
            if store.user_credentials(&email).await?.is_some() {
                bail!(i18n::format(
                    locale,
                    "cli.user_exists",
                    &[("email", &email)]
                ));
            }
            let secret = read_new_password()?;
            let hash = tokio::task::spawn_blocking(move || password::hash(&secret)).await??;
            match store.create_user(&email, &hash, chrono::Utc::now()).await {
                Ok(_) => println!(
                    "{}",
                    i18n::format(locale, "cli.user_created", &[("email", &email)])
                ),
                Err(StoreError::Conflict(reason)) => bail!(reason),
                Err(e) => return Err(e.into()),
            }
        }
        UserCommand::Passwd { email } => {
            let email = normalize_email(&email)?;
            let store = store::connect(&config.database_url).await?;
            let Some(user) = store.user_credentials(&email).await? else {
                bail!(i18n::format(
                    locale,
                    "cli.user_missing",
                    &[("email", &email)]
                ));
            };
            let secret = read_new_password()?;
            let hash = tokio::task::spawn_blocking(move || password::hash(&secret)).await??;
            store.set_user_password(user.id, &hash).await?;
            let ended = store.delete_user_sessions(user.id).await?;
            let sessions = i18n::plural(locale, "count.sessions_ended", ended);
            println!(
                "{}",
                i18n::format(
                    locale,
                    "cli.password_changed",
                    &[("email", &email), ("sessions", &sessions)],
                )
            );
        }
        UserCommand::List => {
            let store = store::connect(&config.database_url).await?;
            let users = store.users().await?;
            if users.is_empty() {
                println!("{}", i18n::text(locale, "cli.no_users"));
            }
            let tz = config.timezone;
            let local = |t: chrono::DateTime<chrono::Utc>| {
                t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
            };
            let width = users
                .iter()
                .map(|u| u.email.len())
                .max()
                .unwrap_or(5)
                .max(5);
            if !users.is_empty() {
                println!(
                    "{:<width$}  {:<16}  {}",
                    i18n::text(locale, "cli.users_email"),
                    i18n::text(locale, "cli.users_created"),
                    i18n::text(locale, "cli.users_last_login")
                );
            }
            for user in users {
                let last = user
                    .last_login_at
                    .map(local)
                    .unwrap_or_else(|| i18n::text(locale, "cli.users_never"));
                println!(
                    "{:<width$}  {:<16}  {last}",
                    user.email,
                    local(user.created_at)
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_and_lowercased() {
        assert_eq!(
            normalize_email(" Ana@Example.COM ").unwrap(),
            "ana@example.com"
        );
        for bad in [
            "ana",
            "ana@",
            "@x.com",
            "ana@localhost",
            "a b@x.com",
            "a@x.com.",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
