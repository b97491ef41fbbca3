//! The messages log's filter form: what staff typed → a `MessageFilter`
//! (phone in any format → E.164, local dates → UTC bounds), and the pager
//! links that keep it.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::session::encode_component;
use crate::domain::clock::local_to_utc;
use crate::domain::{Phone, Region, parse_date};
use crate::store::{MessageFilter, MessageSearch};

pub const KINDS: [&str; 5] = ["reminder", "reply", "staff", "notice", "manual"];
pub const STATUSES: [&str; 10] = [
    "queued",
    "sending",
    "sent",
    "delivered",
    "read",
    "failed",
    "unknown",
    "cancelled",
    "received",
    "processed",
];
pub const DIRECTIONS: [&str; 2] = ["out", "in"];

/// An optional choice from a fixed list: empty is "any", anything not on
/// the list is an error.
fn choice<T: std::str::FromStr>(value: &str) -> Result<Option<T>, ()> {
    let value = value.trim();
    if value.is_empty() {
        Ok(None)
    } else {
        value.parse().map(Some).map_err(|_| ())
    }
}

/// The filter form as typed (every field may be empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct MessagesQuery {
    pub phone: String,
    pub kind: String,
    pub status: String,
    pub direction: String,
    pub from: String,
    pub to: String,
    /// Text to look for in the message (case and accents ignored).
    pub q: String,
    #[serde(skip_serializing)]
    pub page: String,
}

/// Longest text search accepted (characters).
pub const MAX_SEARCH_CHARS: usize = 200;

impl MessagesQuery {
    /// The store filter, or the i18n key of the problem per field. Phones in
    /// any format are read in `region`; `from`/`to` are local dates in `tz`
    /// (both inclusive) turned into UTC bounds.
    pub fn filter(
        &self,
        region: Region,
        tz: Tz,
    ) -> Result<MessageFilter, BTreeMap<&'static str, &'static str>> {
        let mut errors = BTreeMap::new();
        let mut filter = MessageFilter::default();
        let phone = self.phone.trim();
        if !phone.is_empty() {
            match Phone::parse(phone, region) {
                Ok(p) => filter.phone = Some(p.as_str().to_string()),
                Err(_) => {
                    errors.insert("phone", "ops_error_phone");
                }
            }
        }
        match choice(&self.kind) {
            Ok(v) => filter.kind = v,
            Err(()) => _ = errors.insert("kind", "ops_error_choice"),
        }
        match choice(&self.status) {
            Ok(v) => filter.status = v,
            Err(()) => _ = errors.insert("status", "ops_error_choice"),
        }
        match choice(&self.direction) {
            Ok(v) => filter.direction = v,
            Err(()) => _ = errors.insert("direction", "ops_error_choice"),
        }
        let mut date = |field: &'static str, value: &str| -> Option<NaiveDate> {
            let value = value.trim();
            if value.is_empty() {
                return None;
            }
            parse_date(value)
                .map_err(|_| errors.insert(field, "ops_error_date"))
                .ok()
        };
        let from = date("from", &self.from);
        let to = date("to", &self.to);
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            errors.insert("to", "ops_error_range");
        }
        filter.from = from.map(|d| local_midnight(tz, d));
        filter.until = to.map(|d| local_midnight(tz, d + Duration::days(1)));
        if errors.is_empty() {
            Ok(filter)
        } else {
            Err(errors)
        }
    }

    /// [`MessagesQuery::filter`] and the text search.
    pub fn search(
        &self,
        region: Region,
        tz: Tz,
    ) -> Result<MessageSearch, BTreeMap<&'static str, &'static str>> {
        let text = self.q.trim();
        let long = text.chars().count() > MAX_SEARCH_CHARS;
        match self.filter(region, tz) {
            Ok(_) if long => Err(BTreeMap::from([("q", "ops_error_search_long")])),
            Err(mut errors) => {
                if long {
                    errors.insert("q", "ops_error_search_long");
                }
                Err(errors)
            }
            Ok(filter) => Ok(MessageSearch {
                filter,
                text: (!text.is_empty()).then(|| text.to_string()),
            }),
        }
    }

    pub fn page(&self) -> i64 {
        self.page.trim().parse::<i64>().unwrap_or(1).max(1)
    }

    /// `/admin/messages?phone=…&kind=…&` for the pager links.
    pub fn pager_base(&self) -> String {
        self.link("/admin/messages?")
    }

    /// The CSV of the same filters: `/admin/messages.csv?phone=…&`.
    pub fn csv_href(&self) -> String {
        self.link("/admin/messages.csv?")
    }

    fn link(&self, start: &str) -> String {
        let mut base = String::from(start);
        for (name, value) in [
            ("phone", &self.phone),
            ("kind", &self.kind),
            ("status", &self.status),
            ("direction", &self.direction),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
        ] {
            let value = value.trim();
            if !value.is_empty() {
                base.push_str(&format!("{name}={}&", encode_component(value)));
            }
        }
        base
    }
}

fn local_midnight(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    local_to_utc(tz, date, NaiveTime::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn query(pairs: &[(&str, &str)]) -> MessagesQuery {
        let mut q = MessagesQuery::default();
        for (k, v) in pairs {
            let v = v.to_string();
            match *k {
                "phone" => q.phone = v,
                "kind" => q.kind = v,
                "status" => q.status = v,
                "direction" => q.direction = v,
                "from" => q.from = v,
                "to" => q.to = v,
                "q" => q.q = v,
                "page" => q.page = v,
                _ => panic!("{k}"),
            }
        }
        q
    }

    #[test]
    fn filters_normalise_phone_and_use_local_days() {
        let tz: Tz = "America/Guayaquil".parse().unwrap();
        let f = query(&[
            ("phone", "099 123 4567"),
            ("kind", "reminder"),
            ("from", "2026-11-24"),
            ("to", "25/11/2026"),
        ])
        .filter(Region::default(), tz)
        .unwrap();
        assert_eq!(f.phone.as_deref(), Some("+593991234567"));
        assert_eq!(f.kind, Some(crate::store::MessageKind::Reminder));
        assert_eq!(f.status, None);
        // Guayaquil is UTC-5 all year.
        assert_eq!(
            f.from,
            Some(Utc.with_ymd_and_hms(2026, 11, 24, 5, 0, 0).unwrap())
        );
        assert_eq!(
            f.until,
            Some(Utc.with_ymd_and_hms(2026, 11, 26, 5, 0, 0).unwrap())
        );
        assert_eq!(
            query(&[]).filter(Region::default(), tz).unwrap(),
            MessageFilter::default()
        );
    }

    #[test]
    fn bad_fields_are_reported_each() {
        let tz: Tz = "America/Guayaquil".parse().unwrap();
        let errors = query(&[
            ("phone", "abc"),
            ("kind", "spam"),
            ("status", "lost"),
            ("from", "2026-13-01"),
        ])
        .filter(Region::default(), tz)
        .unwrap_err();
        assert_eq!(
            errors.keys().copied().collect::<Vec<_>>(),
            ["from", "kind", "phone", "status"]
        );
        let reversed = query(&[("from", "2026-11-25"), ("to", "2026-11-24")])
            .filter(Region::default(), tz)
            .unwrap_err();
        assert_eq!(reversed.get("to"), Some(&"ops_error_range"));
    }

    #[test]
    fn pager_keeps_the_filters() {
        let q = query(&[("phone", "+593 99"), ("status", "failed"), ("page", "3")]);
        assert_eq!(
            q.pager_base(),
            "/admin/messages?phone=%2B593%2099&status=failed&"
        );
        assert_eq!(q.page(), 3);
        let q = query(&[("q", " 50% & <b> "), ("kind", "reply")]);
        assert_eq!(
            q.csv_href(),
            "/admin/messages.csv?kind=reply&q=50%25%20%26%20%3Cb%3E&"
        );
        let tz: Tz = "America/Guayaquil".parse().unwrap();
        let search = q.search(Region::default(), tz).unwrap();
        assert_eq!(search.text.as_deref(), Some("50% & <b>"));
        let long = query(&[("q", &"x".repeat(MAX_SEARCH_CHARS + 1))]);
        assert!(
            long.search(Region::default(), tz)
                .unwrap_err()
                .contains_key("q")
        );
        assert_eq!(query(&[("page", "x")]).page(), 1);
        assert_eq!(query(&[("page", "-2")]).page(), 1);
    }
}
