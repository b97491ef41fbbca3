//! Staff commands typed in the WhatsApp chat, e.g. `/renovar 0991234567 2`.
//!
//! Argument rules, chosen so staff can type naturally on a phone:
//! - A phone may be written with spaces (`+593 99 123 4567`): the longest
//!   run of phone-looking words that is a valid number is taken.
//! - `/renovar`: a trailing whole number is the months (1..=36, optionally
//!   followed by "meses"/"months"); the words between target and months are
//!   the service.
//! - `/alta`: the service is every word between the phone and the date, so
//!   multi-word services need no quotes (`/alta 099… Disney Plus 01/12/2026`);
//!   quotes around it are accepted and removed. After the date, a word
//!   starting with a digit or `$` is the price; the rest is the name.

use chrono::NaiveDate;

use super::flows::normalize;
use crate::domain::{Money, Phone, Region, parse_date};

mod usage;

pub use usage::{CommandKind, Problem, UsageError, help_text};

/// Whom `/renovar` applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Phone(Phone),
    /// `#123`: a subscription id, as listed by `/pendientes` and `/vencen`.
    Subscription(i64),
}

/// The client a staff `/cliente` command names (the panel's search box is
/// `store::ClientQuery`, which also matches parts of numbers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientLookup {
    Phone(Phone),
    /// Part of a client's name, as typed.
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaffCommand {
    Help,
    Renew {
        target: Target,
        service: Option<String>,
        months: u32,
    },
    Pending,
    /// Ending from today through today + `days`.
    Due {
        days: u32,
    },
    /// Ended within the last `days` days.
    Overdue {
        days: u32,
    },
    Client(ClientLookup),
    Add {
        phone: Phone,
        service: String,
        end_date: NaiveDate,
        price: Option<Money>,
        name: Option<String>,
    },
    Cancel {
        phone: Phone,
        service: Option<String>,
    },
    Undo,
    Pause,
    Resume,
    Summary,
    /// Conversations waiting for a person (the panel's Bandeja).
    Inbox,
    /// Today's online payments (the panel's Pagos).
    Payments,
}

impl StaffCommand {
    pub fn kind(&self) -> CommandKind {
        match self {
            StaffCommand::Help => CommandKind::Help,
            StaffCommand::Renew { .. } => CommandKind::Renew,
            StaffCommand::Pending => CommandKind::Pending,
            StaffCommand::Due { .. } => CommandKind::Due,
            StaffCommand::Overdue { .. } => CommandKind::Overdue,
            StaffCommand::Client(_) => CommandKind::Client,
            StaffCommand::Add { .. } => CommandKind::Add,
            StaffCommand::Cancel { .. } => CommandKind::Cancel,
            StaffCommand::Undo => CommandKind::Undo,
            StaffCommand::Pause => CommandKind::Pause,
            StaffCommand::Resume => CommandKind::Resume,
            StaffCommand::Summary => CommandKind::Summary,
            StaffCommand::Inbox => CommandKind::Inbox,
            StaffCommand::Payments => CommandKind::Payments,
        }
    }
}

pub const DEFAULT_DUE_DAYS: u32 = 7;
pub const DEFAULT_OVERDUE_DAYS: u32 = 30;
const MAX_MONTHS: u32 = 36;
const MAX_DAYS: u32 = 366;
/// More words than any phone spelling needs; bounds the longest-run search.
const MAX_PHONE_WORDS: usize = 6;

/// `Ok(None)` when the text is not a command (no leading `/`), so the caller
/// treats it as ordinary conversation.
pub fn parse_command(text: &str, region: Region) -> Result<Option<StaffCommand>, UsageError> {
    let Some(rest) = text.trim_start().strip_prefix('/') else {
        return Ok(None);
    };
    let mut words = rest.split_whitespace();
    let name = words.next().unwrap_or("");
    let args: Vec<&str> = words.collect();
    let kind = CommandKind::from_name(&normalize(name)).ok_or_else(|| UsageError::Unknown {
        name: name.to_string(),
    })?;
    let bad = |problem| UsageError::BadArguments {
        command: kind,
        problem,
    };
    parse_args(kind, &args, region).map(Some).map_err(bad)
}

fn parse_args(kind: CommandKind, args: &[&str], region: Region) -> Result<StaffCommand, Problem> {
    let no_args = |command: StaffCommand| match args.first() {
        Some(extra) => Err(Problem::Extra(extra.to_string())),
        None => Ok(command),
    };
    match kind {
        // Help is harmless: anything after it is ignored.
        CommandKind::Help => Ok(StaffCommand::Help),
        CommandKind::Pending => no_args(StaffCommand::Pending),
        CommandKind::Undo => no_args(StaffCommand::Undo),
        CommandKind::Pause => no_args(StaffCommand::Pause),
        CommandKind::Resume => no_args(StaffCommand::Resume),
        CommandKind::Summary => no_args(StaffCommand::Summary),
        CommandKind::Inbox => no_args(StaffCommand::Inbox),
        CommandKind::Payments => no_args(StaffCommand::Payments),
        CommandKind::Due => days_arg(args, DEFAULT_DUE_DAYS).map(|days| StaffCommand::Due { days }),
        CommandKind::Overdue => {
            days_arg(args, DEFAULT_OVERDUE_DAYS).map(|days| StaffCommand::Overdue { days })
        }
        CommandKind::Renew => parse_renew(args, region),
        CommandKind::Client => parse_client(args, region),
        CommandKind::Add => parse_add(args, region),
        CommandKind::Cancel => {
            let (phone, used) = take_phone(args, region)?;
            Ok(StaffCommand::Cancel {
                phone,
                service: join_clean(&args[used..]),
            })
        }
    }
}

fn days_arg(args: &[&str], default: u32) -> Result<u32, Problem> {
    match args {
        [] => Ok(default),
        [days] => days
            .parse::<u32>()
            .ok()
            .filter(|d| *d <= MAX_DAYS)
            .ok_or_else(|| Problem::BadDays(days.to_string())),
        [_, extra, ..] => Err(Problem::Extra(extra.to_string())),
    }
}

fn parse_renew(args: &[&str], region: Region) -> Result<StaffCommand, Problem> {
    let (target, used) = match args.first() {
        None => return Err(Problem::MissingTarget),
        Some(word) if word.starts_with('#') => {
            let id = word[1..]
                .parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| Problem::BadId(word.to_string()))?;
            (Target::Subscription(id), 1)
        }
        Some(_) => {
            let (phone, used) = take_phone(args, region)?;
            (Target::Phone(phone), used)
        }
    };
    let mut rest = &args[used..];
    if let [head @ .., number, unit] = rest
        && is_integer(number)
        && matches!(
            normalize(unit).as_str(),
            "mes" | "meses" | "month" | "months"
        )
    {
        rest = &rest[..head.len() + 1];
    }
    let mut months = 1;
    if let [head @ .., last] = rest
        && is_integer(last)
    {
        months = last
            .parse::<u32>()
            .ok()
            .filter(|m| (1..=MAX_MONTHS).contains(m))
            .ok_or_else(|| Problem::BadMonths(last.to_string()))?;
        rest = head;
    }
    Ok(StaffCommand::Renew {
        target,
        service: join_clean(rest),
        months,
    })
}

fn parse_client(args: &[&str], region: Region) -> Result<StaffCommand, Problem> {
    if args.is_empty() {
        return Err(Problem::MissingClient);
    }
    // A name never looks like a phone, so digits mean a phone.
    if args.iter().all(|w| phone_like(w)) {
        let (phone, used) = take_phone(args, region)?;
        return match args.get(used) {
            Some(extra) => Err(Problem::Extra(extra.to_string())),
            None => Ok(StaffCommand::Client(ClientLookup::Phone(phone))),
        };
    }
    join_clean(args)
        .map(|name| StaffCommand::Client(ClientLookup::Name(name)))
        .ok_or(Problem::MissingClient)
}

fn parse_add(args: &[&str], region: Region) -> Result<StaffCommand, Problem> {
    let (phone, used) = take_phone(args, region)?;
    let rest = &args[used..];
    let Some(date_at) = rest.iter().position(|w| date_like(w)) else {
        return Err(if rest.is_empty() {
            Problem::MissingService
        } else {
            Problem::MissingDate
        });
    };
    let service = join_clean(&rest[..date_at]).ok_or(Problem::MissingService)?;
    let end_date =
        parse_date(rest[date_at]).map_err(|_| Problem::BadDate(rest[date_at].to_string()))?;
    let mut tail = &rest[date_at + 1..];
    let mut price = None;
    if let [first, after @ ..] = tail
        && first.starts_with(|c: char| c.is_ascii_digit() || c == '$')
    {
        price = Some(Money::parse(first).map_err(|_| Problem::BadPrice(first.to_string()))?);
        tail = after;
    }
    Ok(StaffCommand::Add {
        phone,
        service,
        end_date,
        price,
        name: join_clean(tail),
    })
}

/// The phone at the start of `args` and how many words it used.
fn take_phone(args: &[&str], region: Region) -> Result<(Phone, usize), Problem> {
    let Some(first) = args.first() else {
        return Err(Problem::MissingPhone);
    };
    let run = args
        .iter()
        .take(MAX_PHONE_WORDS)
        .take_while(|w| phone_like(w))
        .count();
    (1..=run)
        .rev()
        .find_map(|n| {
            Phone::parse(&args[..n].join(" "), region)
                .ok()
                .map(|p| (p, n))
        })
        .ok_or_else(|| Problem::BadPhone(first.to_string()))
}

fn phone_like(word: &str) -> bool {
    word.chars().any(|c| c.is_ascii_digit())
        && word
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '(' | ')' | '.'))
}

fn date_like(word: &str) -> bool {
    word.chars().any(|c| c.is_ascii_digit())
        && word.contains(['/', '-'])
        && word
            .chars()
            .all(|c| c.is_ascii_digit() || c == '/' || c == '-')
}

fn is_integer(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit())
}

/// Joins words, dropping surrounding quotes (including the curly ones phone
/// keyboards insert); `None` when nothing is left.
fn join_clean(words: &[&str]) -> Option<String> {
    let joined = words.join(" ");
    let cleaned = joined.trim_matches(|c: char| {
        matches!(c, '"' | '\'' | '“' | '”' | '«' | '»') || c.is_whitespace()
    });
    (!cleaned.is_empty()).then(|| cleaned.to_string())
}

#[cfg(test)]
mod tests;
