//! The JSON bodies of `POST …/messages`: free text, a file with its
//! caption, or an approved template with its body parameters.

use serde_json::{Value, json};

use crate::domain::Phone;
use crate::whatsapp::template::{TemplateArgs, TemplateSpec};
use crate::whatsapp::{Attachment, AttachmentKind};

/// The fields every message carries. `to` is the number's digits: the
/// Cloud API takes international numbers without the `+`.
fn envelope(to: &Phone, kind: &str, payload: Value) -> Value {
    let mut body = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to.digits(),
        "type": kind,
    });
    body[kind] = payload;
    body
}

/// Free text. Link previews stay off: reminders carry payment links, and a
/// preview would show whatever the page's title says.
pub(super) fn text(to: &Phone, text: &str) -> Value {
    envelope(to, "text", json!({"preview_url": false, "body": text}))
}

/// A photo, or a document with its file name; the text is the caption.
/// WhatsApp fetches the file from `attachment.url`.
pub(super) fn media(to: &Phone, text: &str, attachment: &Attachment) -> Value {
    match attachment.kind {
        AttachmentKind::Image => envelope(
            to,
            "image",
            json!({"link": attachment.url, "caption": text}),
        ),
        AttachmentKind::Document => envelope(
            to,
            "document",
            json!({
                "link": attachment.url,
                "caption": text,
                "filename": attachment.file_name,
            }),
        ),
    }
}

/// The template `spec` filled from `args`; a template without variables
/// goes without `components` (Meta refuses an empty parameter list).
pub(super) fn template(to: &Phone, spec: &TemplateSpec, args: &TemplateArgs) -> Value {
    let mut template = json!({
        "name": spec.name,
        "language": {"code": spec.language},
    });
    let parameters: Vec<Value> = spec
        .body_parameters(args)
        .into_iter()
        .map(|text| json!({"type": "text", "text": text}))
        .collect();
    if !parameters.is_empty() {
        template["components"] = json!([{"type": "body", "parameters": parameters}]);
    }
    envelope(to, "template", template)
}
