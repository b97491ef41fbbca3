//! What every staff notice about a customer carries besides its news (issue
//! 15 part 6): their services with end dates, the open renewal request and
//! the panel link, so staff can act from the message alone. Pure: built
//! from rows the caller has read.

use chrono::NaiveDate;
use serde::Serialize;

use crate::domain::{Locale, days_left, days_phrase, long_date, short_date};
use crate::store::{RenewalRequestRow, SubscriptionView};

/// The customer as staff see them under a notice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CustomerCtx {
    /// Active subscriptions, soonest end first.
    pub services: Vec<ServiceLine>,
    pub request: Option<RequestLine>,
    /// `AVISA_PUBLIC_URL/admin/clients/{id}`; none without a public URL.
    pub link: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceLine {
    pub service: String,
    /// "martes 1 de diciembre de 2026".
    pub long_date: String,
    /// "en 6 días", "hoy", "hace 3 días".
    pub when: String,
    /// Negative once expired.
    pub days_left: i64,
}

/// The open renewal request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestLine {
    pub service: Option<String>,
    /// When it was opened: "25 de noviembre".
    pub since: String,
    /// A receipt is attached to it.
    pub receipt: bool,
}

/// What became of a receipt's file, for its notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileNote {
    /// Sent with the notice.
    Attached,
    /// Stored, but there is no public URL to send it by: see the panel.
    InPanel,
    /// WhatsApp would not give it (expired, refused, no session).
    NotFetched,
    /// Over 16 MB: not kept.
    TooLarge,
}

/// What a notice says besides its own news.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NoticeExtra {
    /// `None` for an unknown number.
    pub customer: Option<CustomerCtx>,
    /// For a receipt whose file was fetched (or given up).
    pub file: Option<FileNote>,
}

impl CustomerCtx {
    pub fn new(
        client_id: i64,
        subscriptions: &[SubscriptionView],
        request: Option<&RenewalRequestRow>,
        today: NaiveDate,
        locale: Locale,
        timezone: chrono_tz::Tz,
        public_url: Option<&str>,
    ) -> CustomerCtx {
        let mut active: Vec<&SubscriptionView> =
            subscriptions.iter().filter(|s| s.is_active()).collect();
        active.sort_by(|a, b| (a.end_date, &a.service, a.id).cmp(&(b.end_date, &b.service, b.id)));
        let services = active
            .into_iter()
            .map(|s| {
                let days = days_left(s.end_date, today);
                ServiceLine {
                    service: s.service.clone(),
                    long_date: long_date(s.end_date, locale),
                    when: days_phrase(days, locale),
                    days_left: days,
                }
            })
            .collect();
        let request = request.map(|r| RequestLine {
            service: r.subscription_id.and_then(|id| {
                subscriptions
                    .iter()
                    .find(|s| s.id == id)
                    .map(|s| s.service.clone())
            }),
            since: short_date(r.created_at.with_timezone(&timezone).date_naive(), locale),
            receipt: r.receipt_message_id.is_some(),
        });
        CustomerCtx {
            services,
            request,
            link: public_url
                .map(|url| format!("{}/admin/clients/{client_id}", url.trim_end_matches('/'))),
        }
    }
}
