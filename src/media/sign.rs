//! Expiring links to a stored file for WhatsApp to fetch:
//! `{AVISA_PUBLIC_URL}/media/{id}?exp={unix seconds}&sig={hex}`, where
//! `sig` is HMAC-SHA256 of `{id}.{exp}` with the secret key. A link is good
//! for [`LINK_VALIDITY_SECS`]; one that has expired, was altered or is
//! malformed is refused (compared in constant time).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a link lives: WhatsApp fetches the file as the message is sent.
pub const LINK_VALIDITY_SECS: i64 = 60 * 60;

fn mac(key: &[u8], id: i64, exp: i64) -> Hmac<Sha256> {
    // HMAC takes a key of any length: `new_from_slice` cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA256 takes any key length"),
    };
    mac.update(format!("{id}.{exp}").as_bytes());
    mac
}

/// The hex signature of file `id` until `exp`.
pub fn signature(key: &[u8], id: i64, exp: i64) -> String {
    let bytes = mac(key, id, exp).finalize().into_bytes();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `/media/{id}?exp=…&sig=…`, good for an hour from `now_unix`.
pub fn media_path(key: &[u8], id: i64, now_unix: i64) -> String {
    let exp = now_unix + LINK_VALIDITY_SECS;
    format!("/media/{id}?exp={exp}&sig={}", signature(key, id, exp))
}

/// The link under the public URL (with or without a trailing slash or a
/// path of its own, e.g. `https://example.com/avisa`).
pub fn signed_link(public_url: &str, key: &[u8], id: i64, now_unix: i64) -> String {
    format!(
        "{}{}",
        public_url.trim_end_matches('/'),
        media_path(key, id, now_unix)
    )
}

/// Whether `sig` signs file `id` until `exp` and `exp` has not passed (nor
/// lies further ahead than a link ever does).
pub fn verify(key: &[u8], id: i64, exp: i64, sig: &str, now_unix: i64) -> bool {
    if exp <= now_unix || exp > now_unix + LINK_VALIDITY_SECS {
        return false;
    }
    let Some(bytes) = from_hex(sig) else {
        return false;
    };
    mac(key, id, exp).verify_slice(&bytes).is_ok()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_764_082_800;

    fn parts(link: &str) -> (i64, i64, String) {
        let (path, query) = link.split_once('?').unwrap();
        let id = path.rsplit('/').next().unwrap().parse().unwrap();
        let mut exp = 0;
        let mut sig = String::new();
        for pair in query.split('&') {
            match pair.split_once('=').unwrap() {
                ("exp", v) => exp = v.parse().unwrap(),
                ("sig", v) => sig = v.to_string(),
                _ => panic!("{pair}"),
            }
        }
        (id, exp, sig)
    }

    #[test]
    fn a_link_verifies_for_an_hour() {
        let link = signed_link("https://avisa.example.com/", KEY, 42, NOW);
        assert!(
            link.starts_with("https://avisa.example.com/media/42?exp="),
            "{link}"
        );
        let (id, exp, sig) = parts(&link);
        assert_eq!((id, exp), (42, NOW + 3600));
        assert_eq!(sig.len(), 64);
        assert!(verify(KEY, id, exp, &sig, NOW));
        assert!(verify(KEY, id, exp, &sig, NOW + 3599));
        // Expired, at the second and after.
        assert!(!verify(KEY, id, exp, &sig, NOW + 3600));
        assert!(!verify(KEY, id, exp, &sig, NOW + 86_400));
    }

    #[test]
    fn tampered_or_malformed_links_are_refused() {
        let (id, exp, sig) = parts(&media_path(KEY, 42, NOW));
        assert!(!verify(KEY, 43, exp, &sig, NOW), "another file");
        assert!(!verify(KEY, id, exp + 60, &sig, NOW), "a later expiry");
        assert!(!verify(
            b"another key, long enough to sign!",
            id,
            exp,
            &sig,
            NOW
        ));
        let mut flipped = sig.clone().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        assert!(!verify(
            KEY,
            id,
            exp,
            &String::from_utf8(flipped).unwrap(),
            NOW
        ));
        let mut not_hex = sig.clone();
        not_hex.replace_range(0..1, "g");
        assert!(!verify(KEY, id, exp, &not_hex, NOW));
        assert!(!verify(KEY, id, exp, &sig[..62], NOW), "too short");
        assert!(!verify(KEY, id, exp, "", NOW));
        assert!(
            !verify(KEY, id, exp, "é".repeat(32).as_str(), NOW),
            "not ASCII"
        );
        // Signed by us but further ahead than any link we make.
        let far = NOW + 10 * 3600;
        assert!(!verify(KEY, id, far, &signature(KEY, id, far), NOW));
    }

    #[test]
    fn a_public_url_with_a_path_keeps_it() {
        let link = signed_link("https://example.com/avisa", KEY, 7, NOW);
        assert!(
            link.starts_with("https://example.com/avisa/media/7?exp="),
            "{link}"
        );
    }
}
