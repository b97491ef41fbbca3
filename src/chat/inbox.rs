//! The Bandeja as staff read it: `/bandeja` in WhatsApp, and the waiting
//! times and reasons the panel shows too.

use chrono::{DateTime, Utc};

use crate::domain::Locale;
use crate::i18n;
use crate::services::{JobError, Services};
use crate::store::{InboxReason, InboxRow};

/// At most this many entries in one `/bandeja` answer.
const STAFF_LIST: i64 = 20;

/// How long someone has waited, in words: "5 min", "3 h", "2 días".
pub fn waited(locale: Locale, since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (now - since).num_minutes().max(0);
    if minutes < 60 {
        i18n::plural(locale, "inbox.waited_minutes", minutes)
    } else if minutes < 48 * 60 {
        i18n::plural(locale, "inbox.waited_hours", minutes / 60)
    } else {
        i18n::plural(locale, "inbox.waited_days", minutes / (24 * 60))
    }
}

/// Why the entry is there, in words.
pub fn reason_text(locale: Locale, reason: InboxReason) -> String {
    i18n::text(locale, &format!("inbox.reason.{}", reason.as_str()))
}

/// `/bandeja`: the conversations waiting for a person, oldest first, with
/// their phones.
pub(super) async fn staff_list(services: &Services) -> Result<String, JobError> {
    let locale = services.config.locale;
    let now = services.clock.now();
    let store = &services.store;
    let total = store.count_inbox().await?;
    if total == 0 {
        return Ok(i18n::text(locale, "inbox.staff_empty"));
    }
    let entries = store.inbox(STAFF_LIST).await?;
    let mut text = i18n::plural(locale, "inbox.staff_title", total);
    for entry in &entries {
        text.push('\n');
        text.push_str(&staff_line(locale, entry, now));
    }
    if total > STAFF_LIST {
        text.push('\n');
        text.push_str(&i18n::plural(
            locale,
            "inbox.staff_more",
            total - STAFF_LIST,
        ));
    }
    Ok(text)
}

fn staff_line(locale: Locale, entry: &InboxRow, now: DateTime<Utc>) -> String {
    let name = entry
        .client_name
        .clone()
        .unwrap_or_else(|| i18n::text(locale, "inbox.unknown_client"));
    let mut line = i18n::format(
        locale,
        "inbox.staff_line",
        &[
            ("name", &name),
            ("phone", &entry.phone),
            ("reason", &reason_text(locale, entry.reason)),
            ("waited", &waited(locale, entry.waiting_since, now)),
        ],
    );
    if entry.receipt_id.is_some() {
        line.push_str(&i18n::text(locale, "inbox.staff_receipt"));
    }
    line
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    #[test]
    fn waiting_times_read_naturally_in_both_languages() {
        let now = Utc.with_ymd_and_hms(2026, 12, 2, 12, 0, 0).unwrap();
        let ago = |m: i64| now - Duration::minutes(m);
        assert_eq!(waited(Locale::Es, ago(0), now), "0 min");
        assert_eq!(waited(Locale::Es, ago(1), now), "1 min");
        assert_eq!(waited(Locale::Es, ago(60), now), "1 hora");
        assert_eq!(waited(Locale::Es, ago(150), now), "2 horas");
        assert_eq!(waited(Locale::Es, ago(49 * 60), now), "2 días");
        assert_eq!(waited(Locale::En, ago(24 * 60), now), "24 hours");
        assert_eq!(waited(Locale::En, ago(3 * 24 * 60), now), "3 days");
        assert_eq!(waited(Locale::En, ago(1), now), "1 min");
        // A clock that moved back never shows a negative wait.
        assert_eq!(waited(Locale::Es, now + Duration::minutes(5), now), "0 min");
    }

    #[test]
    fn every_reason_has_words() {
        for reason in InboxReason::ALL {
            for locale in [Locale::Es, Locale::En] {
                let key = format!("inbox.reason.{}", reason.as_str());
                assert!(i18n::has(locale, &key), "{key}");
            }
        }
    }
}
