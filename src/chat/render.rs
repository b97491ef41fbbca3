//! Turns conversation replies and staff notices into text with templates.
//! Prices, dates and "in 3 days" are formatted here, so templates only
//! place ready-made strings.

use chrono::NaiveDate;
use serde::Serialize;

use super::notice_context::{CustomerCtx, FileNote, NoticeExtra};
use crate::conversation::{InboundContent, MediaKind, Reply, StaffNotice, SubscriptionLine};
use crate::domain::{Locale, Money, days_left, days_phrase, long_date, short_date};
use crate::templates::{TemplateError, Templates};

/// What rendering replies and staff notices needs besides the templates.
#[derive(Debug, Clone, Copy)]
pub struct ReplyTexts<'a> {
    pub templates: &'a Templates,
    pub locale: Locale,
    pub business_name: &'a str,
    pub payment_instructions: &'a str,
    pub handoff_hours: u32,
}

/// A subscription line with its text already formatted.
#[derive(Debug, Clone, Serialize)]
pub struct LineCtx {
    pub id: i64,
    pub service: String,
    pub long_date: String,
    pub date: String,
    pub when: String,
    pub days_left: i64,
    pub price: String,
}

impl LineCtx {
    pub fn new(
        id: i64,
        service: &str,
        end_date: NaiveDate,
        today: NaiveDate,
        price: Money,
        locale: Locale,
    ) -> LineCtx {
        let days = days_left(end_date, today);
        LineCtx {
            id,
            service: service.to_string(),
            long_date: long_date(end_date, locale),
            date: short_date(end_date, locale),
            when: days_phrase(days, locale),
            days_left: days,
            price: price.to_string(),
        }
    }

    fn from_line(line: &SubscriptionLine, locale: Locale) -> LineCtx {
        LineCtx {
            id: line.subscription_id,
            service: line.service.clone(),
            long_date: long_date(line.end_date, locale),
            date: short_date(line.end_date, locale),
            when: days_phrase(line.days_left, locale),
            days_left: line.days_left,
            price: line.price.to_string(),
        }
    }
}

impl ReplyTexts<'_> {
    fn lines(&self, items: &[SubscriptionLine]) -> Vec<LineCtx> {
        items
            .iter()
            .map(|l| LineCtx::from_line(l, self.locale))
            .collect()
    }

    /// The text of one reply to a customer.
    pub fn reply(&self, reply: &Reply) -> Result<String, TemplateError> {
        self.reply_with_link(reply, "")
    }

    /// [`ReplyTexts::reply`], the "renovar" instructions carrying
    /// `payment_link` (empty: none).
    pub fn reply_with_link(
        &self,
        reply: &Reply,
        payment_link: &str,
    ) -> Result<String, TemplateError> {
        use serde_json::json;
        let business_name = self.business_name;
        let (name, ctx) = match reply {
            Reply::Menu {
                name,
                options,
                not_understood,
            } => (
                "reply_menu.txt",
                json!({"name": name, "options": options, "not_understood": not_understood}),
            ),
            Reply::Expiry { items } => ("reply_expiry.txt", json!({"items": self.lines(items)})),
            Reply::NoActiveSubscriptions => ("reply_no_active.txt", json!({})),
            Reply::RenewInstructions {
                item,
                already_requested,
            } => (
                "reply_renew_instructions.txt",
                json!({
                    "item": LineCtx::from_line(item, self.locale),
                    "already_requested": already_requested,
                    "payment_instructions": self.payment_instructions,
                    "payment_link": payment_link,
                    "business_name": business_name,
                }),
            ),
            Reply::RenewChoose { items } => (
                "reply_renew_choose.txt",
                json!({"items": self.lines(items), "invalid": false}),
            ),
            Reply::InvalidChoice { items } => (
                "reply_renew_choose.txt",
                json!({"items": self.lines(items), "invalid": true}),
            ),
            Reply::ReceiptAck { pending_request } => (
                "reply_receipt_ack.txt",
                json!({"pending_request": pending_request}),
            ),
            Reply::HandoffAck { hours } => ("reply_handoff_ack.txt", json!({"hours": hours})),
            Reply::OptedOut => ("reply_opted_out.txt", json!({})),
            Reply::OptedIn => ("reply_opted_in.txt", json!({})),
            Reply::UnknownNumber => (
                "reply_unknown_number.txt",
                json!({"business_name": business_name}),
            ),
        };
        self.templates.render(name, ctx)
    }

    /// The text of a notice to staff about the customer at `phone`, with
    /// what `extra` says of them (services, open request, panel link) and
    /// of a receipt's file.
    pub fn notice(
        &self,
        notice: &StaffNotice,
        phone: &str,
        extra: &NoticeExtra,
    ) -> Result<String, TemplateError> {
        let mut ctx = NoticeCtx {
            notice: notice_kind(notice),
            phone: phone.to_string(),
            hours: self.handoff_hours,
            customer: extra.customer.clone(),
            file: extra.file,
            ..NoticeCtx::default()
        };
        match notice {
            StaffNotice::RenewalRequested {
                client_id,
                client_name,
                subscription_id,
                service,
                end_date,
                price,
                ..
            } => {
                ctx.client_id = Some(*client_id);
                ctx.client_name = Some(client_name.clone());
                ctx.subscription_id = Some(*subscription_id);
                ctx.service = Some(service.clone());
                ctx.long_date = Some(long_date(*end_date, self.locale));
                ctx.price = Some(price.to_string());
            }
            StaffNotice::RenewalWithoutSubscription {
                client_id,
                client_name,
            }
            | StaffNotice::HandoffRequested {
                client_id,
                client_name,
            } => {
                ctx.client_id = Some(*client_id);
                ctx.client_name = Some(client_name.clone());
            }
            StaffNotice::ReceiptReceived {
                client_id,
                client_name,
                kind,
                caption,
                pending_request,
                service,
            } => {
                ctx.client_id = Some(*client_id);
                ctx.client_name = Some(client_name.clone());
                ctx.media = Some(media_name(*kind));
                ctx.caption = caption.clone();
                ctx.subscription_id = *pending_request;
                ctx.service = service.clone();
            }
            StaffNotice::UnknownNumberWrote { message } => {
                ctx.message = Some(match message {
                    InboundContent::Text(text) => text.clone(),
                    InboundContent::Media { kind, caption } => {
                        let caption = caption.as_deref().unwrap_or("");
                        format!("[{}] {caption}", media_name(*kind))
                            .trim()
                            .to_string()
                    }
                });
            }
        }
        self.templates.render("staff_notice.txt", &ctx)
    }
}

#[derive(Debug, Default, Serialize)]
struct NoticeCtx {
    notice: &'static str,
    phone: String,
    hours: u32,
    client_id: Option<i64>,
    client_name: Option<String>,
    subscription_id: Option<i64>,
    service: Option<String>,
    long_date: Option<String>,
    price: Option<String>,
    media: Option<&'static str>,
    caption: Option<String>,
    message: Option<String>,
    customer: Option<CustomerCtx>,
    file: Option<FileNote>,
}

fn notice_kind(notice: &StaffNotice) -> &'static str {
    match notice {
        StaffNotice::RenewalRequested { .. } => "renewal_requested",
        StaffNotice::RenewalWithoutSubscription { .. } => "renewal_without_subscription",
        StaffNotice::ReceiptReceived { .. } => "receipt_received",
        StaffNotice::HandoffRequested { .. } => "handoff_requested",
        StaffNotice::UnknownNumberWrote { .. } => "unknown_number_wrote",
    }
}

fn media_name(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "image",
        MediaKind::Document => "document",
        MediaKind::Other => "media",
    }
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
