//! The WhatsApp session state the dashboard, Operaciones and `/healthz`
//! show, computed in one place ([`WhatsAppState::read`]) from what is known
//! for sure: no API key means nothing is sent (console provider); otherwise
//! the last `session.status` webhook says connected or not, with its time;
//! with no event received yet the state is unknown, never "connected".
//!
//! The webhook records each event with [`record`]: settings keys
//! `session_disconnected` (the raw status while down; it holds sending),
//! `session_disconnected_since` (when it went down, RFC 3339) and
//! `session_connected_at` (the last connected event, RFC 3339).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::json;

use crate::domain::Locale;
use crate::i18n;
use crate::services::Services;
use crate::store::{
    SETTING_SESSION_CONNECTED_AT, SETTING_SESSION_DOWN, SETTING_SESSION_DOWN_SINCE, Store,
    StoreError,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WhatsAppState {
    /// No `WASENDER_API_KEY`: messages are printed, nothing is sent.
    Console,
    /// The last `session.status` event said connected, at `since`.
    Connected { since: DateTime<Utc> },
    /// A `session.status` event said not connected; `since` is when it went
    /// down (`None` if it went down before that time was recorded).
    Disconnected { since: Option<DateTime<Utc>> },
    /// A key, but no `session.status` event received yet.
    Unknown,
}

fn parse_time(value: Option<String>) -> Option<DateTime<Utc>> {
    value
        .and_then(|v| DateTime::parse_from_rfc3339(&v).ok())
        .map(|t| t.with_timezone(&Utc))
}

impl WhatsAppState {
    /// The state from the provider kind and the three settings' values.
    pub fn from_settings(
        console: bool,
        down: Option<String>,
        down_since: Option<String>,
        connected_at: Option<String>,
    ) -> WhatsAppState {
        if console {
            WhatsAppState::Console
        } else if down.is_some() {
            WhatsAppState::Disconnected {
                since: parse_time(down_since),
            }
        } else if let Some(since) = parse_time(connected_at) {
            WhatsAppState::Connected { since }
        } else {
            WhatsAppState::Unknown
        }
    }

    pub async fn read(services: &Services) -> Result<WhatsAppState, StoreError> {
        let store = services.store.as_ref();
        if services.provider.is_console() {
            return Ok(WhatsAppState::Console);
        }
        Ok(WhatsAppState::from_settings(
            false,
            store.setting(SETTING_SESSION_DOWN).await?,
            store.setting(SETTING_SESSION_DOWN_SINCE).await?,
            store.setting(SETTING_SESSION_CONNECTED_AT).await?,
        ))
    }

    /// `console`, `connected`, `disconnected` or `unknown` (`/healthz`, and
    /// the panel's CSS class).
    pub fn code(&self) -> &'static str {
        match self {
            WhatsAppState::Console => "console",
            WhatsAppState::Connected { .. } => "connected",
            WhatsAppState::Disconnected { .. } => "disconnected",
            WhatsAppState::Unknown => "unknown",
        }
    }

    pub fn since(&self) -> Option<DateTime<Utc>> {
        match self {
            WhatsAppState::Connected { since } => Some(*since),
            WhatsAppState::Disconnected { since } => *since,
            WhatsAppState::Console | WhatsAppState::Unknown => None,
        }
    }

    /// `{"state": …, "since": RFC 3339 or null}` for `/healthz`.
    pub fn json(&self) -> serde_json::Value {
        json!({
            "state": self.code(),
            "since": self.since().map(|t| t.to_rfc3339()),
        })
    }

    /// The words the panel shows: "conectada (último aviso 10:04)",
    /// "desconectada desde 09:30", "modo consola: no se envía nada", "sin
    /// datos de la sesión todavía". Times are local `HH:MM`, with the date
    /// in front when not today.
    pub fn text(&self, locale: Locale, tz: Tz, now: DateTime<Utc>) -> String {
        let at = |t: DateTime<Utc>| {
            let local = t.with_timezone(&tz);
            if local.date_naive() == now.with_timezone(&tz).date_naive() {
                local.format("%H:%M").to_string()
            } else {
                local.format("%Y-%m-%d %H:%M").to_string()
            }
        };
        match self {
            WhatsAppState::Console => i18n::text(locale, "wa_state_console"),
            WhatsAppState::Connected { since } => {
                i18n::format(locale, "wa_state_connected", &[("at", &at(*since))])
            }
            WhatsAppState::Disconnected { since: Some(since) } => {
                i18n::format(locale, "wa_state_disconnected", &[("at", &at(*since))])
            }
            WhatsAppState::Disconnected { since: None } => {
                i18n::text(locale, "wa_state_disconnected_untimed")
            }
            WhatsAppState::Unknown => i18n::text(locale, "wa_state_unknown"),
        }
    }
}

/// Records a `session.status` event at `now`; true when the session was
/// down before (the caller tells staff it is back).
pub async fn record(
    store: &dyn Store,
    connected: bool,
    raw: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let was_down = store.setting(SETTING_SESSION_DOWN).await?.is_some();
    let stamp = now.to_rfc3339();
    if connected {
        store
            .set_setting(SETTING_SESSION_CONNECTED_AT, Some(&stamp), now)
            .await?;
        if was_down {
            store.set_setting(SETTING_SESSION_DOWN, None, now).await?;
        }
        store
            .set_setting(SETTING_SESSION_DOWN_SINCE, None, now)
            .await?;
    } else {
        // Repeated "down" events keep the time it first went down.
        if !was_down || store.setting(SETTING_SESSION_DOWN_SINCE).await?.is_none() {
            store
                .set_setting(SETTING_SESSION_DOWN_SINCE, Some(&stamp), now)
                .await?;
        }
        store
            .set_setting(SETTING_SESSION_DOWN, Some(raw), now)
            .await?;
    }
    Ok(was_down)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, h, m, 0).unwrap()
    }

    #[test]
    fn console_wins_then_down_then_the_last_connected_event() {
        let stamp = || Some(at(15, 4).to_rfc3339());
        let state = |console, down: Option<&str>, since, connected| {
            WhatsAppState::from_settings(console, down.map(String::from), since, connected)
        };
        assert_eq!(
            state(true, Some("need_scan"), stamp(), stamp()),
            WhatsAppState::Console
        );
        assert_eq!(
            state(false, Some("need_scan"), stamp(), stamp()),
            WhatsAppState::Disconnected {
                since: Some(at(15, 4))
            }
        );
        assert_eq!(
            state(false, Some("need_scan"), None, None),
            WhatsAppState::Disconnected { since: None }
        );
        assert_eq!(
            state(false, None, None, stamp()),
            WhatsAppState::Connected { since: at(15, 4) }
        );
        assert_eq!(state(false, None, None, None), WhatsAppState::Unknown);
        assert_eq!(
            state(false, None, None, Some("garbage".into())),
            WhatsAppState::Unknown
        );
    }

    #[test]
    fn texts_use_local_time_and_the_date_when_not_today() {
        let tz: Tz = "America/Guayaquil".parse().unwrap();
        let now = at(20, 0);
        let es = |s: &WhatsAppState| s.text(Locale::Es, tz, now);
        assert_eq!(
            es(&WhatsAppState::Console),
            "modo consola: no se envía nada"
        );
        assert_eq!(
            es(&WhatsAppState::Connected { since: at(15, 4) }),
            "conectada (último aviso 10:04)"
        );
        assert_eq!(
            es(&WhatsAppState::Disconnected {
                since: Some(at(14, 30))
            }),
            "desconectada desde 09:30"
        );
        // 03:00 UTC on the 25th is still the 24th in Ecuador.
        assert_eq!(
            es(&WhatsAppState::Disconnected {
                since: Some(at(3, 0))
            }),
            "desconectada desde 2026-11-24 22:00"
        );
        assert_eq!(
            es(&WhatsAppState::Unknown),
            "sin datos de la sesión todavía"
        );
        assert_eq!(
            WhatsAppState::Console.text(Locale::En, tz, now),
            "console mode: nothing is sent"
        );
        assert_eq!(
            WhatsAppState::Connected { since: at(15, 4) }.json(),
            json!({"state": "connected", "since": "2026-11-25T15:04:00+00:00"})
        );
        assert_eq!(
            WhatsAppState::Unknown.json(),
            json!({"state": "unknown", "since": null})
        );
    }
}
