//! `avisa user add|passwd|list`: staff panel accounts. Passwords are asked
//! twice without echo on a terminal, or read as one line from stdin
//! otherwise (`echo "$PASS" | avisa user add ana@example.com`).

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, bail};
use clap::Subcommand;

use crate::config::Config;
use crate::domain::Locale;
use crate::i18n;
use crate::store::{self, StoreError};
use crate::web::admin::password;

/// `avisa user …`; the words of its help are in the catalog
/// (`help.user.*`, see `cli::help`).
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    Add { email: String },
    Passwd { email: String },
    List,
}

/// A plausible email: something@domain.tld, no spaces; lowercased.
pub fn normalize_email(locale: Locale, input: &str) -> anyhow::Result<String> {
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
        bail!(i18n::format(locale, "cli.bad_email", &[("value", &input)]));
    }
    Ok(email)
}

/// The new password: twice without echo on a terminal, else one stdin line.
fn read_new_password(locale: Locale) -> anyhow::Result<String> {
    let min = password::MIN_PASSWORD_CHARS;
    let unreadable = || i18n::text(locale, "cli.password_unreadable");
    let strong = |password: &str| {
        password::check_strength(password)
            .map_err(|_| anyhow::anyhow!(i18n::plural(locale, "cli.password_short", min)))
    };
    let password = if std::io::stdin().is_terminal() {
        let prompt = i18n::plural(locale, "cli.password_prompt", min);
        let first = rpassword::prompt_password(prompt).with_context(unreadable)?;
        strong(&first)?;
        let again = i18n::text(locale, "cli.password_repeat");
        let second = rpassword::prompt_password(again).with_context(unreadable)?;
        if first != second {
            bail!(i18n::text(locale, "cli.password_mismatch"));
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .with_context(unreadable)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    strong(&password)?;
    Ok(password)
}

pub async fn run(config: Config, command: UserCommand) -> anyhow::Result<()> {
    let locale = config.locale;
    match command {
        UserCommand::Add { email } => {
            let email = normalize_email(locale, &email)?;
            let store = store::connect(&config.database_url).await?;
            if store.user_credentials(&email).await?.is_some() {
                bail!(i18n::format(
                    locale,
                    "cli.user_exists",
                    &[("email", &email)]
                ));
            }
            let secret = read_new_password(locale)?;
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
            let email = normalize_email(locale, &email)?;
            let store = store::connect(&config.database_url).await?;
            let Some(user) = store.user_credentials(&email).await? else {
                bail!(i18n::format(
                    locale,
                    "cli.user_missing",
                    &[("email", &email)]
                ));
            };
            let secret = read_new_password(locale)?;
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
            normalize_email(Locale::Es, " Ana@Example.COM ").unwrap(),
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
            assert!(normalize_email(Locale::Es, bad).is_err(), "{bad}");
        }
    }
}
