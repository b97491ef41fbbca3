//! Webhook signatures, pure: Mercado Pago's `x-signature` and Stripe's
//! `Stripe-Signature`, both HMAC-SHA256 in hex, checked in constant time
//! (`hmac`'s `verify_slice`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a signature was refused (all answered 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature header missing")]
    Missing,
    #[error("signature header malformed")]
    Malformed,
    #[error("signature does not match")]
    Mismatch,
    #[error("signature timestamp outside the tolerance")]
    Stale,
}

/// Stripe's tolerance between the signed time and now (5 minutes).
pub const STRIPE_TOLERANCE_SECONDS: i64 = 300;

fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

/// Checks `signature_hex` (lowercase or uppercase hex) against the HMAC of
/// `message`, in constant time.
fn matches(secret: &[u8], message: &[u8], signature_hex: &str) -> bool {
    let Some(bytes) = decode_hex(signature_hex) else {
        return false;
    };
    let mut mac = mac(secret);
    mac.update(message);
    mac.verify_slice(&bytes).is_ok()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.is_empty() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The hex HMAC-SHA256 of `message` (for tests and fakes that sign).
pub fn sign_hex(secret: &[u8], message: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(message);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `key=value` pairs of a signature header, in order.
fn pairs(header: &str) -> impl Iterator<Item = (&str, &str)> {
    header
        .split(',')
        .filter_map(|part| part.trim().split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
}

/// Mercado Pago's manifest: `id:{data.id};request-id:{x-request-id};ts:{ts};`,
/// a part left out when its value is absent; an alphanumeric id lowercased.
pub fn mercadopago_manifest(data_id: Option<&str>, request_id: Option<&str>, ts: &str) -> String {
    let mut manifest = String::new();
    if let Some(id) = data_id.filter(|id| !id.is_empty()) {
        let id = if id.chars().all(|c| c.is_ascii_alphanumeric()) {
            id.to_ascii_lowercase()
        } else {
            id.to_string()
        };
        manifest.push_str(&format!("id:{id};"));
    }
    if let Some(request) = request_id.filter(|r| !r.is_empty()) {
        manifest.push_str(&format!("request-id:{request};"));
    }
    manifest.push_str(&format!("ts:{ts};"));
    manifest
}

/// Checks Mercado Pago's `x-signature: ts=…,v1=…` header.
pub fn verify_mercadopago(
    secret: &[u8],
    header: Option<&str>,
    request_id: Option<&str>,
    data_id: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let (mut ts, mut v1) = (None, None);
    for (key, value) in pairs(header) {
        match key {
            "ts" => ts = Some(value),
            "v1" => v1 = Some(value),
            _ => {}
        }
    }
    let (Some(ts), Some(v1)) = (ts, v1) else {
        return Err(SignatureError::Malformed);
    };
    let manifest = mercadopago_manifest(data_id, request_id, ts);
    if matches(secret, manifest.as_bytes(), v1) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Checks Stripe's `Stripe-Signature: t=…,v1=…[,v1=…]` header over the raw
/// body: any `v1` may match, and `t` must be within the tolerance of `now`.
pub fn verify_stripe(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
    now_unix: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut t = None;
    let mut signatures = Vec::new();
    for (key, value) in pairs(header) {
        match key {
            "t" => t = Some(value),
            "v1" => signatures.push(value),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    let time: i64 = t.parse().map_err(|_| SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let mut signed = Vec::with_capacity(t.len() + 1 + body.len());
    signed.extend_from_slice(t.as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(body);
    // Every candidate is checked, so the time taken does not say which matched.
    let matched = signatures
        .iter()
        .fold(false, |found, sig| matches(secret, &signed, sig) | found);
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    if (now_unix - time).abs() > STRIPE_TOLERANCE_SECONDS {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &str = "bb56a2f1-6aae-46ac-982e-9dcd3581d08e";

    #[test]
    fn mercadopago_known_vectors() {
        // Computed independently (Python's hmac) over the documented manifest.
        let good = "15732a6b94605d0d7d874cceeaa6ff344d887e7014e7e891422c766884db39f8";
        let header = format!("ts=1742505638683,v1={good}");
        assert_eq!(
            mercadopago_manifest(Some("123456"), Some(REQUEST), "1742505638683"),
            format!("id:123456;request-id:{REQUEST};ts:1742505638683;")
        );
        assert_eq!(
            verify_mercadopago(b"mp-secret", Some(&header), Some(REQUEST), Some("123456")),
            Ok(())
        );
        // Upper-case hex is the same signature.
        let upper = format!("ts=1742505638683, v1={}", good.to_uppercase());
        assert!(
            verify_mercadopago(b"mp-secret", Some(&upper), Some(REQUEST), Some("123456")).is_ok()
        );
        // An alphanumeric id is lowercased; a missing request id is left out.
        let lower = "064e3ff9834c185d74a05a719cc72e5ab7ccab021c18d9795eb30dcebe7fc2ec";
        let header = format!("ts=1742505638683,v1={lower}");
        assert!(verify_mercadopago(b"mp-secret", Some(&header), None, Some("ABC123")).is_ok());
    }

    #[test]
    fn mercadopago_refusals() {
        let good = "15732a6b94605d0d7d874cceeaa6ff344d887e7014e7e891422c766884db39f8";
        let header = format!("ts=1742505638683,v1={good}");
        let check = |secret: &[u8], header: Option<&str>, id: &str| {
            verify_mercadopago(secret, header, Some(REQUEST), Some(id))
        };
        assert_eq!(
            check(b"mp-secret", None, "123456"),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            check(b"mp-secret", Some("v1=abcd"), "123456"),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            check(b"other", Some(&header), "123456"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(b"mp-secret", Some(&header), "123457"),
            Err(SignatureError::Mismatch)
        );
        let changed_ts = format!("ts=1742505638684,v1={good}");
        assert_eq!(
            check(b"mp-secret", Some(&changed_ts), "123456"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(b"mp-secret", Some("ts=1,v1=zz"), "123456"),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stripe_known_vector_any_v1_and_tolerance() {
        let body = br#"{"id":"evt_1"}"#;
        let good = "c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632925";
        assert_eq!(
            sign_hex(b"whsec_test", b"1700000000.{\"id\":\"evt_1\"}"),
            good
        );
        let header = format!("t=1700000000,v1={},v1={good},v0=ignored", "0".repeat(64));
        assert_eq!(
            verify_stripe(b"whsec_test", Some(&header), body, 1_700_000_100),
            Ok(())
        );
        assert_eq!(
            verify_stripe(b"whsec_test", Some(&header), body, 1_700_000_300),
            Ok(())
        );
        assert_eq!(
            verify_stripe(b"whsec_test", Some(&header), body, 1_700_000_301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_stripe(b"whsec_test", Some(&header), body, 1_699_999_699),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_stripe(
                b"whsec_test",
                Some(&header),
                br#"{"id":"evt_2"}"#,
                1_700_000_000
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_stripe(b"whsec_other", Some(&header), body, 1_700_000_000),
            Err(SignatureError::Mismatch)
        );
        for bad in ["", "t=abc,v1=00", "t=1700000000", "v1=00"] {
            assert_eq!(
                verify_stripe(b"whsec_test", Some(bad), body, 1_700_000_000),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            verify_stripe(b"whsec_test", None, body, 0),
            Err(SignatureError::Missing)
        );
    }
}
