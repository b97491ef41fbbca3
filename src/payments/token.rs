//! Payment link tokens: 128 random bits, URL-safe base64 without padding
//! (22 characters).

use base64::Engine as _;

/// Length of a token's text.
pub const TOKEN_LEN: usize = 22;

/// A new random token.
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes[..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `text` could be a token (checked before any lookup).
pub fn looks_like_token(text: &str) -> bool {
    text.len() == TOKEN_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The customer's link for `token`: `{public_url}/pagar/{token}`.
pub fn link_url(public_url: &reqwest::Url, token: &str) -> String {
    format!(
        "{}/pagar/{token}",
        public_url.as_str().trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_url_safe_random_and_recognised() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), TOKEN_LEN);
        assert!(looks_like_token(&a) && looks_like_token(&b));
        assert!(!looks_like_token("short"));
        assert!(!looks_like_token(&format!("{}/", &a[..21])));
        assert!(!looks_like_token(&format!("{a}x")));
        let url = reqwest::Url::parse("https://avisa.example.com/").unwrap();
        assert_eq!(
            link_url(&url, &a),
            format!("https://avisa.example.com/pagar/{a}")
        );
    }
}
