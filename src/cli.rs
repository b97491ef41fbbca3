//! The `avisa` command line. `main.rs` only calls [`run`]. What it prints
//! comes from the i18n catalog (`cli.*`): Spanish by default, English with
//! `AVISA_LOCALE=en`.

mod help;
mod users;

pub use help::{command, locale_from_env};

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use clap::{Parser, Subcommand};

use crate::app::{self, Application, Overrides};
use crate::config::{Config, DatabaseUrl, LogFormat};
use crate::domain::clock::local_today;
use crate::domain::{Phone, parse_date};
use crate::i18n;
use crate::import::FieldError;
use crate::services::Services;
use crate::store::{self, NewInbound};

/// The command line. Its words (about, arguments' help) come from the
/// catalog: build it with [`command`], not `Cli::parse`.
#[derive(Debug, Parser)]
#[command(name = "avisa", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Serve,
    Migrate,
    Import {
        file: PathBuf,
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        skip_invalid: bool,
    },
    Remind {
        #[arg(long)]
        date: Option<String>,
        #[arg(long)]
        dry_run: bool,
    },
    Chat {
        #[arg(long)]
        from: String,
        text: Vec<String>,
    },
    Pause,
    Resume,
    User {
        #[command(subcommand)]
        command: users::UserCommand,
    },
    Stats {
        #[arg(long)]
        date: Option<String>,
    },
    Backup {
        file: PathBuf,
    },
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,sqlx=warn,apalis=warn,tower_http=warn")
    });
    // Colours only for a person at a terminal: not in files, journald or
    // `fly logs`, where escape codes show as `[2m…[0m` noise.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.init(),
    }
}

/// An error and its causes on one line, each said once: a cause whose text
/// its parent already shows (`cannot listen on …: Address already in use`
/// over the `Address already in use` it wraps) is not repeated.
pub fn error_report(error: &anyhow::Error) -> String {
    let mut report = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if text.is_empty() || report.contains(&text) {
            continue;
        }
        if !report.is_empty() {
            report.push_str(": ");
        }
        report.push_str(&text);
    }
    report
}

/// The command line of this process, with `--help` in the language of
/// `AVISA_LOCALE` (clap exits for `--help`, `--version` and usage errors).
pub fn parse() -> Cli {
    use clap::FromArgMatches;
    let matches = command(locale_from_env()).get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
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
                "{}",
                i18n::format(
                    config.locale,
                    "cli.migrated",
                    &[
                        ("database", &config.database_url.redacted()),
                        ("backend", &store.backend_name()),
                    ],
                )
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
            let key = if pause { "cli.paused" } else { "cli.resumed" };
            println!("{}", i18n::text(config.locale, key));
        }
        Command::User { command } => users::run(config, command).await?,
        Command::Stats { date } => {
            let services = app::services(config, Overrides::default()).await?;
            stats(&services, date.as_deref()).await?;
        }
        Command::Backup { file } => return backup(&config, &file).await,
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn day(services: &Services, date: Option<&str>) -> anyhow::Result<NaiveDate> {
    match date {
        Some(text) => parse_date(text).map_err(|e| {
            let reason = FieldError::from(e).message(services.config.locale);
            anyhow::anyhow!("--date: {reason}")
        }),
        None => Ok(local_today(
            services.clock.as_ref(),
            services.config.timezone,
        )),
    }
}

/// A progress bar on a terminal, a plain line every so often otherwise.
fn progress_reporter(label: impl Into<String>) -> Arc<dyn Fn(usize, usize) + Send + Sync> {
    let label: String = label.into();
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
    let locale = services.config.locale;
    let progress = progress_reporter(i18n::text(locale, "cli.progress_sending"));
    let outcome = crate::jobs::remind::run(services, date, dry_run, &*progress).await?;
    if dry_run {
        for message in &outcome.preview {
            let to = i18n::format(locale, "cli.dry_run_to", &[("phone", &message.phone)]);
            println!("{to}\n{}\n", message.body);
        }
        println!(
            "{}",
            i18n::plural(locale, "cli.dry_run_count", outcome.preview.len())
        );
    }
    print!("{}", crate::jobs::remind::table(&outcome, locale));
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
    let locale = config.locale;
    let loaded = crate::import::load::import_file(
        file,
        config.default_region,
        store.as_deref(),
        skip_invalid,
        move |error| eprintln!("{}", error.render(locale)),
    )
    .await
    .map_err(|e| anyhow::anyhow!(e.render(locale)))?;
    if loaded.rows == 0 && loaded.invalid_lines == 0 {
        // Exit 1, like a file with bad rows: a cron job importing an export
        // that came out empty should fail loudly, and nothing is lost by it
        // (nothing was written).
        let file = file.display();
        eprintln!(
            "{}",
            i18n::format(locale, "cli.import_no_data", &[("file", &file)])
        );
        return Ok(std::process::ExitCode::FAILURE);
    }
    if loaded.invalid_lines > 0 && !skip_invalid {
        let invalid = i18n::plural(locale, "import.invalid_rows", loaded.invalid_lines);
        eprintln!(
            "{}",
            i18n::format(locale, "cli.import_rejected", &[("invalid", &invalid)])
        );
        return Ok(std::process::ExitCode::FAILURE);
    }
    let Some(written) = loaded.written else {
        let valid = i18n::plural(locale, "count.valid_rows", loaded.rows);
        println!(
            "{}",
            i18n::format(locale, "cli.import_dry_run", &[("valid", &valid)])
        );
        return Ok(std::process::ExitCode::SUCCESS);
    };
    println!("{}", import_summary(locale, &loaded, &written.summary));
    Ok(std::process::ExitCode::SUCCESS)
}

/// "15 filas importadas: clientes 14 nuevos, 1 actualizado; suscripciones
/// 15 nuevas, 0 actualizadas" (and the invalid rows skipped, if any).
fn import_summary(
    locale: crate::domain::Locale,
    loaded: &crate::import::load::Loaded,
    total: &store::UpsertSummary,
) -> String {
    let count = |key: &str, n: u64| i18n::plural(locale, key, n);
    let summary = i18n::format(
        locale,
        "cli.imported",
        &[
            (
                "rows",
                &i18n::plural(locale, "count.imported_rows", loaded.rows),
            ),
            (
                "clients_created",
                &count("ops_import_created_m", total.clients_created),
            ),
            (
                "clients_updated",
                &count("ops_import_updated_m", total.clients_updated),
            ),
            (
                "subscriptions_created",
                &count("ops_import_created_f", total.subscriptions_created),
            ),
            (
                "subscriptions_updated",
                &count("ops_import_updated_f", total.subscriptions_updated),
            ),
        ],
    );
    if loaded.invalid_lines == 0 {
        return summary;
    }
    let skipped = i18n::plural(locale, "count.skipped_rows", loaded.invalid_lines);
    i18n::format(
        locale,
        "cli.imported_skipped",
        &[("summary", &summary), ("skipped", &skipped)],
    )
}

/// Exit code of `avisa backup` on PostgreSQL: not an error of the run, a
/// job for another tool.
const BACKUP_USE_PG_DUMP: u8 = 2;

async fn backup(config: &Config, file: &Path) -> anyhow::Result<std::process::ExitCode> {
    let database = match &config.database_url {
        DatabaseUrl::Sqlite { path } => path,
        DatabaseUrl::Postgres { .. } => {
            eprintln!(
                "{}",
                i18n::format(
                    config.locale,
                    "cli.backup_postgres",
                    &[
                        ("database", &config.database_url.redacted()),
                        ("file", &file.display()),
                    ],
                )
            );
            return Ok(std::process::ExitCode::from(BACKUP_USE_PG_DUMP));
        }
    };
    let summary = store::backup::backup_sqlite(database, file).await?;
    let locale = config.locale;
    let clients = i18n::plural(locale, "count.clients", summary.clients);
    let subscriptions = i18n::plural(locale, "count.subscriptions", summary.subscriptions);
    let messages = i18n::plural(locale, "count.messages", summary.messages);
    println!(
        "{}",
        i18n::format(
            locale,
            "cli.backup_written",
            &[
                ("file", &file.display()),
                ("bytes", &summary.bytes),
                ("clients", &clients),
                ("subscriptions", &subscriptions),
                ("messages", &messages),
            ],
        )
    );
    println!(
        "{}",
        i18n::format(locale, "cli.backup_restore", &[("db", &database.display())])
    );
    Ok(std::process::ExitCode::SUCCESS)
}

async fn chat(services: &Services, from: &str, text: &str) -> anyhow::Result<()> {
    let locale = services.config.locale;
    let phone = Phone::parse(from, services.config.default_region).map_err(|e| {
        let reason = FieldError::from(e).message(locale);
        anyhow::anyhow!("--from: {reason}")
    })?;
    if text.trim().is_empty() {
        bail!(i18n::text(locale, "cli.chat_empty"));
    }
    let store = &services.store;
    let client = store.client_by_phone(phone.as_str()).await?;
    let inbound = NewInbound {
        phone: phone.clone(),
        client_id: client.map(|c| c.id),
        kind: crate::chat::inbound_kind(&services.config, &phone, text),
        body: text.to_string(),
        media_kind: None,
        wa_message_id: None,
        media_source: None,
    };
    let id = store
        .insert_inbound(&inbound, services.clock.now())
        .await?
        .with_context(|| i18n::text(locale, "cli.chat_not_stored"))?;
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
    let locale = services.config.locale;
    let none = i18n::text(locale, "cli.stats_none");
    let counts = services.store.reminder_counts(date).await?;
    let heading = i18n::format(locale, "cli.stats_reminders", &[("date", &date)]);
    println!("{heading}");
    if counts.is_empty() {
        println!("  {none}");
    }
    let tier = i18n::text(locale, "cli.stats_tier");
    for c in &counts {
        println!("  {tier} {:>3}  {:<10} {:>6}", c.tier, c.status, c.count);
    }
    let tz = services.config.timezone;
    let start = crate::domain::clock::local_to_utc(tz, date, chrono::NaiveTime::MIN);
    let end = crate::domain::clock::local_to_utc(
        tz,
        date + chrono::Duration::days(1),
        chrono::NaiveTime::MIN,
    );
    let messages = services.store.message_counts(start, end).await?;
    let heading = i18n::format(locale, "cli.stats_messages", &[("date", &date)]);
    println!("{heading}");
    if messages.is_empty() {
        println!("  {none}");
    }
    for m in &messages {
        println!("  {:<9} {:<10} {:>6}", m.kind, m.status, m.count);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_report_says_each_cause_once() {
        let io = std::io::Error::from(std::io::ErrorKind::AddrInUse);
        let io_text = io.to_string();
        let bind = crate::app::AppError::Bind {
            addr: "0.0.0.0:8080".into(),
            source: io,
        };
        let report = error_report(&anyhow::Error::new(bind));
        assert_eq!(report, format!("cannot listen on 0.0.0.0:8080: {io_text}"));
        assert_eq!(report.matches(&io_text).count(), 1, "{report}");

        // Causes that add something are kept, outermost first.
        let wrapped = anyhow::Error::new(std::io::Error::other("disk full"))
            .context("cannot write backup.db");
        assert_eq!(error_report(&wrapped), "cannot write backup.db: disk full");
    }
}
