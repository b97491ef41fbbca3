//! The webhook side of the provider contract: each provider's route checks
//! a delivery and parses it into the same [`WebhookEvent`]s.
//!
//! The HTTP layer runs the checks in one documented order for every
//! provider: size (the route's body limit) → configured (the provider's
//! secret is set, else 503) → signature (401) → parse (400). Nothing is
//! stored before all four pass.

use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;

use super::{ProviderKind, WebhookEvent, WebhookParseError};

/// Why a delivery was refused before it was read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookAuthError {
    /// The provider's webhook secret is not set: nothing can be trusted.
    #[error("webhook secret not configured")]
    NotConfigured,
    /// No signature header.
    #[error("missing signature")]
    Missing,
    /// A signature that does not match the body.
    #[error("invalid signature")]
    Invalid,
}

/// One provider's webhook: authentication and parsing, no I/O.
pub trait WebhookSource: Send + Sync + std::fmt::Debug {
    fn provider(&self) -> ProviderKind;

    /// Checks the delivery's signature (constant time). `NotConfigured`
    /// when this provider's secret is not set.
    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), WebhookAuthError>;

    /// Reads a verified delivery; a delivery with nothing for us yields
    /// [`WebhookEvent::Ignored`].
    fn parse(&self, body: &[u8]) -> Result<Vec<WebhookEvent>, WebhookParseError>;
}

/// The three webhook routes' sources, built from the settings whichever
/// provider sends (a route whose secret is unset answers 503).
#[derive(Debug)]
pub struct WebhookSources {
    pub wasender: Box<dyn WebhookSource>,
    /// Concrete: its route also answers Meta's subscription handshake.
    pub cloud: super::CloudWebhook,
    pub waha: Box<dyn WebhookSource>,
}

/// A header's value as text, `Missing` when absent or empty.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, WebhookAuthError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(WebhookAuthError::Missing)
}

/// The configured secret, or `NotConfigured`.
pub fn configured(secret: Option<&SecretString>) -> Result<&[u8], WebhookAuthError> {
    secret
        .map(|s| s.expose_secret().as_bytes())
        .filter(|s| !s.is_empty())
        .ok_or(WebhookAuthError::NotConfigured)
}

/// Whether `presented_hex` is HMAC-SHA256(`key`, `body`) in hex (either
/// case), compared in constant time.
pub fn hmac_sha256_matches(key: &[u8], body: &[u8], presented_hex: &str) -> bool {
    let Some(presented) = decode_hex(presented_hex) else {
        return false;
    };
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any size");
    mac.update(body);
    mac.verify_slice(&presented).is_ok()
}

/// Whether `presented_hex` is HMAC-SHA512(`key`, `body`) in hex.
pub fn hmac_sha512_matches(key: &[u8], body: &[u8], presented_hex: &str) -> bool {
    let Some(presented) = decode_hex(presented_hex) else {
        return false;
    };
    let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(key).expect("HMAC takes keys of any size");
    mac.update(body);
    mac.verify_slice(&presented).is_ok()
}

/// Hex HMAC-SHA256 (tests and benches sign deliveries with it).
pub fn sign_sha256_hex(key: &[u8], body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any size");
    mac.update(body);
    to_hex(&mac.finalize().into_bytes())
}

/// Hex HMAC-SHA512.
pub fn sign_sha512_hex(key: &[u8], body: &[u8]) -> String {
    let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(key).expect("HMAC takes keys of any size");
    mac.update(body);
    to_hex(&mac.finalize().into_bytes())
}

/// Plain secrets (WaSender's header, the Cloud verify token) compared in
/// constant time.
pub fn secret_equals(presented: &[u8], expected: &[u8]) -> bool {
    presented.ct_eq(expected).into()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors computed independently with Python:
    // hmac.new(b"key", b'{"a":1}', hashlib.sha256 / sha512).hexdigest()
    const SHA256: &str = "88a67f24bbcdaed0e6c997404bb79a743baf44c6bab2f4c27328e3009d22e342";
    const SHA512: &str = "dc7d8a6a7926059e98697ef54a65f745d924fc3e13c1176879dcdc84eac480bae377fa06d1ebcc6fab1375cd9bd611a1899694cc4ca7dc0f629d8b8133c5c83d";

    #[test]
    fn signatures_round_trip_and_refuse_tampering() {
        let body = br#"{"a":1}"#;
        assert_eq!(sign_sha256_hex(b"key", body), SHA256);
        assert_eq!(sign_sha512_hex(b"key", body), SHA512);
        let sig = sign_sha256_hex(b"key", body);
        assert!(hmac_sha256_matches(b"key", body, &sig));
        assert!(hmac_sha256_matches(b"key", body, &sig.to_uppercase()));
        assert!(!hmac_sha256_matches(b"key", br#"{"a":2}"#, &sig));
        assert!(!hmac_sha256_matches(b"other", body, &sig));
        assert!(!hmac_sha256_matches(b"key", body, "zz"));
        assert!(!hmac_sha256_matches(b"key", body, &sig[..10]));
        let sig = sign_sha512_hex(b"key", body);
        assert_eq!(sig.len(), 128);
        assert!(hmac_sha512_matches(b"key", body, &sig));
        assert!(!hmac_sha512_matches(b"key", b"{}", &sig));
        assert!(!hmac_sha256_matches(b"key", body, &sig));
    }

    #[test]
    fn headers_and_secrets() {
        let mut headers = HeaderMap::new();
        assert_eq!(header(&headers, "x-a"), Err(WebhookAuthError::Missing));
        headers.insert("x-a", " v ".parse().unwrap());
        assert_eq!(header(&headers, "x-a"), Ok("v"));
        assert_eq!(configured(None), Err(WebhookAuthError::NotConfigured));
        let empty = SecretString::from(String::new());
        assert_eq!(
            configured(Some(&empty)),
            Err(WebhookAuthError::NotConfigured)
        );
        assert!(secret_equals(b"abc", b"abc") && !secret_equals(b"ab", b"abc"));
    }
}
