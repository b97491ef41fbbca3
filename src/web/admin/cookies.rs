//! Cookie plumbing for the panel: random tokens, their SHA-256 for storage,
//! HMAC-SHA256 signed values (`token.signature`), parsing and `Set-Cookie`.

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::web::WebState;

pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    URL_SAFE_NO_PAD.encode(buf)
}

pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn mac(key: &[u8], token: &str) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; the error case cannot happen.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA256 takes any key length"),
    };
    mac.update(token.as_bytes());
    mac
}

/// `token.signature`, both base64url: the cookie value.
pub fn sign(key: &[u8], token: &str) -> String {
    let signature = mac(key, token).finalize().into_bytes();
    format!("{token}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The token of a cookie value whose signature is right (constant time).
pub fn verify(key: &[u8], value: &str) -> Option<String> {
    let (token, signature) = value.rsplit_once('.')?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    mac(key, token).verify_slice(&signature).ok()?;
    Some(token.to_string())
}

/// The value of cookie `name` in the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_string())
}

/// Whether cookies should be `Secure`: the request came over HTTPS (as the
/// proxy says) or the public URL is https.
pub fn is_https(state: &WebState, headers: &HeaderMap) -> bool {
    let forwarded = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    let public = state
        .services
        .config
        .public_url
        .as_ref()
        .is_some_and(|u| u.scheme() == "https");
    forwarded || public
}

/// A `Set-Cookie` value scoped to the panel; `max_age` 0 deletes it.
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> String {
    let mut cookie = format!("{name}={value}; Path=/admin; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::admin::session::SESSION_COOKIE;

    #[test]
    fn signed_cookies_verify_and_tampering_is_rejected() {
        let key = b"0123456789abcdef0123456789abcdef";
        let token = random_token(32);
        let value = sign(key, &token);
        assert_eq!(verify(key, &value).as_deref(), Some(token.as_str()));
        // Another key, another token, a changed signature: all rejected.
        assert_eq!(verify(b"another key of enough length 1234", &value), None);
        let (_, signature) = value.rsplit_once('.').unwrap();
        assert_eq!(
            verify(key, &format!("{}.{signature}", random_token(32))),
            None
        );
        let mut flipped = value.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(verify(key, &String::from_utf8(flipped).unwrap()), None);
        assert_eq!(verify(key, &token), None);
        assert_eq!(verify(key, ""), None);
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = random_token(32);
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token(32));
        assert_eq!(token_hash("abc").len(), 64);
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn cookies_are_parsed_and_flagged() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; avisa_session=x.y; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("x.y"));
        assert_eq!(cookie(&headers, "c"), None);
        let set = set_cookie(SESSION_COOKIE, "v", None, true);
        assert_eq!(
            set,
            "avisa_session=v; Path=/admin; HttpOnly; SameSite=Lax; Secure"
        );
        assert!(set_cookie("x", "", Some(0), false).ends_with("Max-Age=0"));
    }
}
