//! Files customers send (receipts) and files staff attach: pure rules, no
//! I/O. `sniff`: the content type from the bytes (never the sender's
//! claim), SHA-256, extensions and safe download names; `sign`: the
//! expiring HMAC links WhatsApp fetches a file through
//! (`/media/{id}?exp=…&sig=…`). The bytes live in the database (`media`
//! table, `store::MediaStore`); `jobs::fetch_media` brings them in and
//! `web::media` serves them.

pub mod sign;
pub mod sniff;

pub use sign::{LINK_VALIDITY_SECS, media_path, signed_link, verify};
pub use sniff::{Inspected, content_disposition, inspect, is_inline, sniff};

/// The largest file kept: a larger one is not stored (its message says so).
pub const MAX_BYTES: usize = 16 * 1024 * 1024;

/// A file's size for people: "840 B", "84 KB", "1,2 MB" (the locale's
/// decimal separator).
pub fn size_text(bytes: i64, locale: crate::domain::Locale) -> String {
    const KB: i64 = 1024;
    const MB: i64 = 1024 * 1024;
    let text = match bytes {
        b if b < KB => format!("{b} B"),
        b if b < MB => format!("{} KB", (b + KB / 2) / KB),
        b => format!("{:.1} MB", b as f64 / MB as f64),
    };
    match locale {
        crate::domain::Locale::Es => text.replace('.', ","),
        _ => text,
    }
}

/// The file name the sender gave, from a stored `decrypt-media` source
/// (`data.messages.message.<kind>.fileName`), if any.
pub fn source_file_name(source: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(source).ok()?;
    let message = value.get("data")?.get("messages")?.get("message")?;
    message
        .as_object()?
        .values()
        .find_map(|media| media.get("fileName")?.as_str())
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_a_file_manager() {
        use crate::domain::Locale;
        assert_eq!(size_text(840, Locale::Es), "840 B");
        assert_eq!(size_text(84_213, Locale::Es), "82 KB");
        assert_eq!(size_text(1_258_291, Locale::Es), "1,2 MB");
        assert_eq!(size_text(1_258_291, Locale::En), "1.2 MB");
    }

    #[test]
    fn the_senders_file_name_is_read_from_the_source() {
        let source = r#"{"data":{"messages":{"key":{"id":"A"},"message":{"documentMessage":
            {"fileName":" recibo.pdf ","mimetype":"application/pdf"}}}}}"#;
        assert_eq!(source_file_name(source).as_deref(), Some("recibo.pdf"));
        let image = r#"{"data":{"messages":{"key":{"id":"A"},"message":{"imageMessage":{}}}}}"#;
        assert_eq!(source_file_name(image), None);
        assert_eq!(source_file_name("not json"), None);
    }
}
