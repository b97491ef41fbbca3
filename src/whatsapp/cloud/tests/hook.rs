//! The webhook's signature and Meta's subscription check.

use reqwest::header::{HeaderMap, HeaderValue};

use super::*;
use crate::whatsapp::hook::sign_sha256_hex;
use crate::whatsapp::{WebhookAuthError, WebhookSource};

const APP_SECRET: &str = "3c9f1e0b7a6d5c4b3a2f1e0d9c8b7a6f";
const VERIFY_TOKEN: &str = "avisa-verify-Ñandú-42";
const BODY: &[u8] = br#"{"object":"whatsapp_business_account","entry":[]}"#;

fn source() -> CloudWebhook {
    CloudWebhook::new(
        Some(SecretString::from(APP_SECRET.to_string())),
        Some(SecretString::from(VERIFY_TOKEN.to_string())),
    )
}

fn signed(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("X-Hub-Signature-256", HeaderValue::from_str(value).unwrap());
    headers
}

#[test]
fn a_good_signature_passes() {
    let signature = format!("sha256={}", sign_sha256_hex(APP_SECRET.as_bytes(), BODY));
    assert_eq!(source().verify(&signed(&signature), BODY), Ok(()));
    assert_eq!(source().provider(), ProviderKind::Cloud);
}

#[test]
fn bad_signatures_are_refused() {
    let hex = sign_sha256_hex(APP_SECRET.as_bytes(), BODY);
    let source = source();
    assert_eq!(
        source.verify(&HeaderMap::new(), BODY),
        Err(WebhookAuthError::Missing)
    );
    assert_eq!(
        source.verify(&signed(&hex), BODY),
        Err(WebhookAuthError::Invalid),
        "no sha256= prefix"
    );
    assert_eq!(
        source.verify(&signed(&format!("sha1={hex}")), BODY),
        Err(WebhookAuthError::Invalid)
    );
    let tampered = br#"{"object":"whatsapp_business_account","entry":[{}]}"#;
    assert_eq!(
        source.verify(&signed(&format!("sha256={hex}")), tampered),
        Err(WebhookAuthError::Invalid)
    );
    let other_key = sign_sha256_hex(b"another-app-secret", BODY);
    assert_eq!(
        source.verify(&signed(&format!("sha256={other_key}")), BODY),
        Err(WebhookAuthError::Invalid)
    );
}

#[test]
fn without_an_app_secret_nothing_is_trusted() {
    let signature = format!("sha256={}", sign_sha256_hex(b"", BODY));
    for secret in [None, Some(SecretString::from(String::new()))] {
        let source = CloudWebhook::new(secret, None);
        assert_eq!(
            source.verify(&signed(&signature), BODY),
            Err(WebhookAuthError::NotConfigured)
        );
    }
    let shown = format!("{:?}", source());
    assert!(
        !shown.contains(APP_SECRET) && !shown.contains(VERIFY_TOKEN),
        "{shown}"
    );
}

#[test]
fn subscription_checks() {
    let source = source();
    let check = |mode, token, challenge| source.verify_subscription(mode, token, challenge);
    assert_eq!(
        check(Some("subscribe"), Some(VERIFY_TOKEN), Some("1158201444")),
        Ok("1158201444".to_string())
    );
    assert_eq!(
        check(Some("unsubscribe"), Some(VERIFY_TOKEN), Some("1")),
        Err(WebhookAuthError::Invalid)
    );
    assert_eq!(
        check(Some("subscribe"), Some("avisa-verify-Nandu-42"), Some("1")),
        Err(WebhookAuthError::Invalid)
    );
    assert_eq!(
        check(None, Some(VERIFY_TOKEN), Some("1")),
        Err(WebhookAuthError::Missing)
    );
    assert_eq!(
        check(Some("subscribe"), None, Some("1")),
        Err(WebhookAuthError::Missing)
    );
    assert_eq!(
        check(Some("subscribe"), Some(VERIFY_TOKEN), None),
        Err(WebhookAuthError::Missing)
    );
    assert_eq!(
        check(
            Some("subscribe"),
            Some(VERIFY_TOKEN),
            Some("<script>alert(1)</script>")
        ),
        Err(WebhookAuthError::Invalid)
    );
    let unconfigured = CloudWebhook::new(Some(SecretString::from(APP_SECRET.to_string())), None);
    assert_eq!(
        unconfigured.verify_subscription(Some("subscribe"), Some(""), Some("1")),
        Err(WebhookAuthError::NotConfigured)
    );
}
