//! Staff passwords: argon2id (the crate's defaults: m=19 MiB, t=2, p=1)
//! in PHC strings. Hashing is slow on purpose; async callers use
//! `spawn_blocking`.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

pub const MIN_PASSWORD_CHARS: usize = 10;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("the password is too short: use at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

pub fn check_strength(password: &str) -> Result<(), PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    Ok(())
}

/// A new argon2id PHC hash with a random salt.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    check_strength(password)?;
    hash_unchecked(password)
}

fn hash_unchecked(password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    rand::fill(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches the stored hash. A malformed hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the same time as a real check, for unknown emails, so response
/// times do not tell which accounts exist.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy =
        DUMMY.get_or_init(|| hash_unchecked("dummy password for timing").unwrap_or_default());
    let _ = verify(password, dummy);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_argon2id() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterY", &h));
        assert!(!verify("x", "not a hash"));
        assert_ne!(h, hash("correct horse battery").unwrap());
        assert_eq!(hash("short"), Err(PasswordError::TooShort));
        assert!(check_strength("ñandú ñandú").is_ok());
        assert!(check_strength("123456789").is_err());
        verify_dummy("anything");
    }
}
