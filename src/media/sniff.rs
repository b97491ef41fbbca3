//! What a file is, from its first bytes (a magic-number table): a file
//! that claims `image/jpeg` and is a PDF is a PDF. Anything not in the
//! table is `application/octet-stream`, served as a download.

use sha2::{Digest, Sha256};

/// A file's facts as stored beside its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    pub content_type: &'static str,
    /// Lowercase hex.
    pub sha256: String,
    pub size: usize,
}

pub fn inspect(bytes: &[u8]) -> Inspected {
    let digest = Sha256::digest(bytes);
    Inspected {
        content_type: sniff(bytes),
        sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
        size: bytes.len(),
    }
}

/// The content type the bytes show.
pub fn sniff(bytes: &[u8]) -> &'static str {
    let at = |offset: usize, magic: &[u8]| bytes.get(offset..offset + magic.len()) == Some(magic);
    if at(0, b"\xFF\xD8\xFF") {
        "image/jpeg"
    } else if at(0, b"\x89PNG\r\n\x1A\n") {
        "image/png"
    } else if at(0, b"GIF87a") || at(0, b"GIF89a") {
        "image/gif"
    } else if at(0, b"RIFF") && at(8, b"WEBP") {
        "image/webp"
    } else if at(0, b"RIFF") && at(8, b"WAVE") {
        "audio/wav"
    } else if at(0, b"%PDF-") {
        "application/pdf"
    } else if at(4, b"ftyp") {
        iso_media(bytes.get(8..12).unwrap_or_default())
    } else if at(0, b"OggS") {
        "audio/ogg"
    } else if at(0, b"ID3") || is_mpeg_audio_frame(bytes) {
        "audio/mpeg"
    } else if at(0, b"#!AMR") {
        "audio/amr"
    } else if at(0, b"\x1A\x45\xDF\xA3") {
        "video/webm"
    } else if at(0, b"PK\x03\x04") {
        "application/zip"
    } else {
        "application/octet-stream"
    }
}

/// An ISO base media file (`....ftyp<brand>`): MP4 video unless the brand
/// says audio (m4a), QuickTime, 3GPP or HEIC.
fn iso_media(brand: &[u8]) -> &'static str {
    match brand {
        b"M4A " | b"M4B " => "audio/mp4",
        b"qt  " => "video/quicktime",
        b"heic" | b"heix" | b"mif1" | b"msf1" => "image/heic",
        [b'3', b'g', ..] => "video/3gpp",
        _ => "video/mp4",
    }
}

/// An MPEG audio frame header without an ID3 tag: 11 sync bits, a
/// version and a layer that exist (AAC's ADTS has layer 00: not MP3).
fn is_mpeg_audio_frame(bytes: &[u8]) -> bool {
    match bytes {
        [0xFF, second, ..] => second & 0xE0 == 0xE0 && second & 0x06 != 0 && second & 0x18 != 0x08,
        _ => false,
    }
}

/// The usual extension of a content type, for a download name.
pub fn extension(content_type: &str) -> &'static str {
    match content_type {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "image/heic" => "heic",
        "application/pdf" => "pdf",
        "video/mp4" => "mp4",
        "video/quicktime" => "mov",
        "video/3gpp" => "3gp",
        "video/webm" => "webm",
        "audio/mp4" => "m4a",
        "audio/ogg" => "ogg",
        "audio/mpeg" => "mp3",
        "audio/amr" => "amr",
        "audio/wav" => "wav",
        "application/zip" => "zip",
        _ => "bin",
    }
}

/// Shown in the browser (images and PDFs) rather than downloaded.
pub fn is_inline(content_type: &str) -> bool {
    content_type.starts_with("image/") || content_type == "application/pdf"
}

/// The name a download gets: the sender's name reduced to letters, digits,
/// `.`, `-`, `_` and spaces (nothing that could end the header or climb a
/// folder), at most 100 characters; `archivo.<ext>` without one.
pub fn safe_file_name(name: Option<&str>, content_type: &str) -> String {
    let cleaned: String = name
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        format!("archivo.{}", extension(content_type))
    } else {
        cleaned.to_string()
    }
}

/// `Content-Disposition`: inline for images and PDFs, attachment for the
/// rest, with an ASCII `filename` and the full name as `filename*` (UTF-8).
pub fn content_disposition(content_type: &str, file_name: Option<&str>) -> String {
    let name = safe_file_name(file_name, content_type);
    let ascii: String = name
        .chars()
        .map(|c| if c.is_ascii() { c } else { '_' })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let disposition = if is_inline(content_type) {
        "inline"
    } else {
        "attachment"
    };
    format!("{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_bytes() {
        let cases: [(&[u8], &str); 16] = [
            (b"\xFF\xD8\xFF\xE0\x00\x10JFIF", "image/jpeg"),
            (b"\x89PNG\r\n\x1A\n\x00\x00", "image/png"),
            (b"GIF89a\x01\x00", "image/gif"),
            (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
            (b"RIFF\x24\x00\x00\x00WAVEfmt ", "audio/wav"),
            (b"%PDF-1.7\n%\xE2\xE3", "application/pdf"),
            (b"\x00\x00\x00\x18ftypmp42\x00\x00", "video/mp4"),
            (b"\x00\x00\x00\x20ftypM4A \x00\x00", "audio/mp4"),
            (b"\x00\x00\x00\x18ftypheic\x00\x00", "image/heic"),
            (b"\x00\x00\x00\x18ftyp3gp4\x00\x00", "video/3gpp"),
            (b"OggS\x00\x02\x00\x00", "audio/ogg"),
            (b"ID3\x04\x00\x00", "audio/mpeg"),
            (b"\xFF\xFB\x90\x64", "audio/mpeg"),
            (b"#!AMR\n", "audio/amr"),
            (b"PK\x03\x04\x14\x00", "application/zip"),
            (b"hola, esto es texto", "application/octet-stream"),
        ];
        for (bytes, expected) in cases {
            assert_eq!(sniff(bytes), expected, "{bytes:?}");
        }
        // AAC (ADTS) and short or empty files are not guessed.
        assert_eq!(sniff(b"\xFF\xF1\x50\x80"), "application/octet-stream");
        assert_eq!(sniff(b"\xFF"), "application/octet-stream");
        assert_eq!(sniff(b""), "application/octet-stream");
        assert_eq!(sniff(b"RIFF"), "application/octet-stream");
    }

    #[test]
    fn inspection_hashes_and_measures() {
        let facts = inspect(b"abc");
        assert_eq!(facts.size, 3);
        assert_eq!(
            facts.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(facts.content_type, "application/octet-stream");
    }

    #[test]
    fn download_names_are_safe() {
        assert_eq!(
            safe_file_name(Some("recibo noviembre.pdf"), "application/pdf"),
            "recibo noviembre.pdf"
        );
        assert_eq!(
            safe_file_name(Some("../../etc/passwd"), "application/pdf"),
            "_.._etc_passwd"
        );
        assert_eq!(
            safe_file_name(Some("a\"b\r\nc.pdf"), "application/pdf"),
            "a_b__c.pdf"
        );
        assert_eq!(safe_file_name(None, "image/jpeg"), "archivo.jpg");
        assert_eq!(safe_file_name(Some(" .. "), "x/y"), "archivo.bin");
        assert_eq!(safe_file_name(Some(&"a".repeat(300)), "x/y").len(), 100);
    }

    #[test]
    fn images_and_pdfs_show_inline_the_rest_downloads() {
        assert_eq!(
            content_disposition("image/png", None),
            "inline; filename=\"archivo.png\"; filename*=UTF-8''archivo.png"
        );
        assert_eq!(
            content_disposition("application/pdf", Some("pago año.pdf")),
            "inline; filename=\"pago a_o.pdf\"; filename*=UTF-8''pago%20a%C3%B1o.pdf"
        );
        assert!(content_disposition("audio/ogg", None).starts_with("attachment; "));
        assert!(
            content_disposition("application/octet-stream", Some("x.html"))
                .starts_with("attachment; filename=\"x.html\"")
        );
    }
}
