//! The `avisa` command line. `main.rs` only calls [`run`].

mod users;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use clap::{Parser, Subcommand};

use crate::app::{self, Application, Overrides};
use crate::config::{Config, LogFormat};
use crate::domain::clock::local_today;
use crate::domain::{Phone, parse_date};
use crate::jobs::Services;
use crate::store::{self, NewInbound};

#[derive(Debug, Parser)]
#[command(
    name = "avisa",
    version,
    about = "WhatsApp renewal reminders, customer chat and staff commands"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server, the job worker and the daily schedule.
    Serve,
    /// Create or upgrade the database tables, then exit.
    Migrate,
    /// Import clients and subscriptions from a CSV file (upsert by phone + service).
    Import {
        file: PathBuf,
        /// Check the file and report, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Import the good rows and list the bad ones instead of rejecting the file.
        #[arg(long)]
        skip_invalid: bool,
    },
    /// Plan a day's reminders and send them now (quiet hours do not apply).
    Remind {
        /// Day to plan (YYYY-MM-DD or DD/MM/YYYY); default today.
        #[arg(long)]
        date: Option<String>,
        /// Print the messages that would be sent; write and send nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Feed one inbound message through the conversation and print the replies.
    Chat {
        /// The sender's phone number.
        #[arg(long)]
        from: String,
        /// The message text.
        text: Vec<String>,
    },
    /// Stop automatic reminders until `avisa resume` (nothing queued is lost).
    Pause,
    /// Resume automatic reminders.
    Resume,
    /// Staff web panel users.
    User {
        #[command(subcommand)]
        command: users::UserCommand,
    },
    /// Sends per tier and status for a day.
    Stats {
        /// Day (YYYY-MM-DD or DD/MM/YYYY); default today.
        #[arg(long)]
        date: Option<String>,
    },
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,sqlx=warn,apalis=warn,tower_http=warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.init(),
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    // Every setting is validated before any command runs.
    let config = Config::from_env().map_err(|e| anyhow::anyhow!("invalid setting: {e}"))?;
    init_tracing(config.log_format);
    match cli.command {
        Command::Serve => {
            let application = Application::build(config, Overrides::default()).await?;
            application
                .run_until_stopped(app::shutdown_signal())
                .await?;
        }
        Command::Migrate => {
            let store = store::connect(&config.database_url).await?;
            println!(
                "database {} is up to date ({})",
                config.database_url.redacted(),
                store.backend_name()
            );
        }
        Command::Import {
            file,
            dry_run,
            skip_invalid,
        } => return import(config, &file, dry_run, skip_invalid).await,
        Command::Remind { date, dry_run } => {
            let services = app::services(config, Overrides::default()).await?;
            return remind(&services, date.as_deref(), dry_run).await;
        }
        Command::Chat { from, text } => {
            let services = app::services(config, Overrides::default()).await?;
            chat(&services, &from, &text.join(" ")).await?;
        }
        Command::Pause | Command::Resume => {
            let store = store::connect(&config.database_url).await?;
            let pause = matches!(cli.command, Command::Pause);
            store
                .set_setting(
                    store::SETTING_PAUSED,
                    pause.then_some("cli"),
                    chrono::Utc::now(),
                )
                .await?;
            println!(
                "{}",
                if pause {
                    "automatic reminders paused"
                } else {
                    "automatic reminders resumed"
                }
            );
        }
        Command::User { command } => users::run(config, command).await?,
        Command::Stats { date } => {
            let services = app::services(config, Overrides::default()).await?;
            stats(&services, date.as_deref()).await?;
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn day(services: &Services, date: Option<&str>) -> anyhow::Result<NaiveDate> {
    match date {
        Some(text) => parse_date(text).map_err(|e| anyhow::anyhow!("--date: {e}")),
        None => Ok(local_today(
            services.clock.as_ref(),
            services.config.timezone,
        )),
    }
}

/// A progress bar on a terminal, a plain line every so often otherwise.
fn progress_reporter(label: &'static str) -> Arc<dyn Fn(usize, usize) + Send + Sync> {
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(0);
        let style =
            indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ETA {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(label);
        Arc::new(move |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            if done == total {
                bar.finish();
            }
        })
    } else {
        let started = std::time::Instant::now();
        Arc::new(move |done, total| {
            if total > 0 && (done == total || done % 10 == 0) {
                let elapsed = started.elapsed().as_secs();
                eprintln!("{label}: {done}/{total} ({elapsed}s)");
            }
        })
    }
}

async fn remind(
    services: &Services,
    date: Option<&str>,
    dry_run: bool,
) -> anyhow::Result<std::process::ExitCode> {
    let date = day(services, date)?;
    let progress = progress_reporter("sending");
    let outcome = crate::jobs::remind::run(services, date, dry_run, &*progress).await?;
    if dry_run {
        for message in &outcome.preview {
            println!("--- to {} ---\n{}\n", message.phone, message.body);
        }
        println!(
            "{} message(s) would be sent (dry run: nothing written)",
            outcome.preview.len()
        );
    }
    print!("{}", crate::jobs::remind::table(&outcome));
    Ok(if outcome.auth_error.is_some() {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    })
}

async fn import(
    config: Config,
    file: &std::path::Path,
    dry_run: bool,
    skip_invalid: bool,
) -> anyhow::Result<std::process::ExitCode> {
    // Without `--dry-run` the rows are staged in the database while the
    // file is read; nothing is written unless the whole file was good.
    let store = if dry_run {
        None
    } else {
        Some(store::connect(&config.database_url).await?)
    };
    let loaded = crate::import::load::import_file(
        file,
        config.default_region,
        store.as_deref(),
        skip_invalid,
        |error| eprintln!("{error}"),
    )
    .await?;
    if loaded.invalid_lines > 0 && !skip_invalid {
        eprintln!(
            "{} invalid row(s): nothing imported (fix them, or use --skip-invalid)",
            loaded.invalid_lines
        );
        return Ok(std::process::ExitCode::FAILURE);
    }
    let Some(written) = loaded.written else {
        println!("{} valid row(s); dry run: nothing written", loaded.rows);
        return Ok(std::process::ExitCode::SUCCESS);
    };
    let total = written.summary;
    println!(
        "imported {} row(s): clients {} created, {} updated; subscriptions {} created, {} updated{}",
        loaded.rows,
        total.clients_created,
        total.clients_updated,
        total.subscriptions_created,
        total.subscriptions_updated,
        if loaded.invalid_lines == 0 {
            String::new()
        } else {
            format!("; {} invalid row(s) skipped", loaded.invalid_lines)
        }
    );
    Ok(std::process::ExitCode::SUCCESS)
}

async fn chat(services: &Services, from: &str, text: &str) -> anyhow::Result<()> {
    let phone = Phone::parse(from, services.config.default_region)
        .map_err(|e| anyhow::anyhow!("--from: {e}"))?;
    if text.trim().is_empty() {
        bail!("the message text is empty");
    }
    let store = &services.store;
    let client = store.client_by_phone(phone.as_str()).await?;
    let inbound = NewInbound {
        phone: phone.to_string(),
        client_id: client.map(|c| c.id),
        kind: crate::chat::inbound_kind(&services.config, &phone, text),
        body: text.to_string(),
        media_kind: None,
        wa_message_id: None,
    };
    let id = store
        .insert_inbound(&inbound, services.clock.now())
        .await?
        .context("the inbound message was not stored")?;
    crate::chat::handle_inbound(services, id).await?;
    // Send what the conversation queued, like the worker would.
    let mut queued = store.queued_messages(1000).await?;
    queued.retain(|m| m.id > id);
    for message in queued {
        let row = store.message(message.id).await?;
        crate::jobs::send::deliver(services, message.id, crate::jobs::send::Mode::Operator).await?;
        // The console provider already printed it.
        if let Some(row) = row.filter(|_| !services.provider.is_console()) {
            println!("→ {} [{}]\n{}\n", row.phone, row.kind, row.body);
        }
    }
    Ok(())
}

async fn stats(services: &Services, date: Option<&str>) -> anyhow::Result<()> {
    let date = day(services, date)?;
    let counts = services.store.reminder_counts(date).await?;
    println!("Reminders planned on {date}, by tier and status:");
    if counts.is_empty() {
        println!("  (none)");
    }
    for c in &counts {
        println!("  tier {:>3}  {:<10} {:>6}", c.tier, c.status, c.count);
    }
    let tz = services.config.timezone;
    let start = crate::domain::clock::local_to_utc(tz, date, chrono::NaiveTime::MIN);
    let end = crate::domain::clock::local_to_utc(
        tz,
        date + chrono::Duration::days(1),
        chrono::NaiveTime::MIN,
    );
    let messages = services.store.message_counts(start, end).await?;
    println!("Outbound messages created on {date}, by kind and status:");
    if messages.is_empty() {
        println!("  (none)");
    }
    for m in &messages {
        println!("  {:<9} {:<10} {:>6}", m.kind, m.status, m.count);
    }
    Ok(())
}
