//! Operaciones' provider card: which provider sends, and for the Cloud API
//! which templates are configured and whether the last send outside the
//! 24-hour window went as one.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::domain::Locale;
use crate::i18n;
use crate::services::Services;
use crate::store::{self, StoreError};
use crate::whatsapp::{ProviderKind, TemplateKind};

/// One automatic message kind and its template, for the table.
#[derive(Debug, Serialize)]
pub struct TemplateRow {
    pub kind: String,
    /// `avisa_recordatorio (es)`, or empty when none is configured.
    pub template: String,
    pub parameters: String,
}

/// The last send outside the window.
#[derive(Debug, Serialize)]
pub struct WindowUse {
    pub at: String,
    pub kind: String,
    pub template: Option<String>,
    pub ok: bool,
}

#[derive(Debug, Serialize)]
pub struct ProviderView {
    pub code: &'static str,
    pub name: String,
    pub cloud: bool,
    pub templates: Vec<TemplateRow>,
    pub last_outside_window: Option<WindowUse>,
}

fn kind_label(locale: Locale, kind: TemplateKind) -> String {
    i18n::text(locale, &format!("ops_template_kind.{}", kind.code()))
}

pub async fn read(services: &Services, tz: Tz) -> Result<ProviderView, StoreError> {
    let locale = services.config.locale;
    let kind = services.provider.kind();
    let cloud = kind == ProviderKind::Cloud;
    let templates = if cloud {
        let configured = &services.config.provider.cloud_templates;
        TemplateKind::ALL
            .into_iter()
            .map(|k| match configured.get(&k) {
                Some(spec) => TemplateRow {
                    kind: kind_label(locale, k),
                    template: format!("{} ({})", spec.name, spec.language),
                    parameters: spec.parameters.join(", "),
                },
                None => TemplateRow {
                    kind: kind_label(locale, k),
                    template: String::new(),
                    parameters: String::new(),
                },
            })
            .collect()
    } else {
        Vec::new()
    };
    let last_outside_window = if cloud {
        services
            .store
            .setting(store::SETTING_LAST_OUTSIDE_WINDOW)
            .await?
            .and_then(|json| serde_json::from_str::<serde_json::Value>(&json).ok())
            .map(|v| {
                let at = v
                    .get("at")
                    .and_then(|a| a.as_str())
                    .and_then(|a| DateTime::parse_from_rfc3339(a).ok())
                    .map(|t| {
                        t.with_timezone(&Utc)
                            .with_timezone(&tz)
                            .format("%Y-%m-%d %H:%M")
                            .to_string()
                    })
                    .unwrap_or_default();
                let kind_code = v.get("kind").and_then(|k| k.as_str()).unwrap_or_default();
                let kind = TemplateKind::ALL
                    .into_iter()
                    .find(|k| k.code() == kind_code)
                    .map_or_else(|| kind_code.to_string(), |k| kind_label(locale, k));
                WindowUse {
                    at,
                    kind,
                    template: v
                        .get("template")
                        .and_then(|t| t.as_str())
                        .map(str::to_string),
                    ok: v.get("ok").and_then(|o| o.as_bool()).unwrap_or(false),
                }
            })
    } else {
        None
    };
    Ok(ProviderView {
        code: kind.code(),
        name: i18n::text(locale, &format!("provider_name.{}", kind.code())),
        cloud,
        templates,
        last_outside_window,
    })
}
