//! Password hashes: argon2id in PHC strings, made and checked here so that the database never
//! sees a password. Both are slow on purpose, so the server runs them on blocking threads.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// The shortest password accepted.
pub const MIN_LENGTH: usize = 8;

/// Why a password cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Too short (or long) to be accepted.
    #[error("a password has {MIN_LENGTH} to 1024 characters")]
    Length,
    /// The system's random source failed, or argon2 refused.
    #[error("cannot hash the password: {0}")]
    Hashing(String),
}

/// An argon2id PHC string for `password`, with a random salt and argon2's default cost
/// (19 MiB, 2 passes: OWASP's recommendation).
pub fn hash(password: &str) -> Result<String, PasswordError> {
    let length = password.chars().count();
    if !(MIN_LENGTH..=1024).contains(&length) {
        return Err(PasswordError::Length);
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|err| PasswordError::Hashing(err.to_string()))?;
    let salt =
        SaltString::encode_b64(&salt).map_err(|err| PasswordError::Hashing(err.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| PasswordError::Hashing(err.to_string()))
}

/// A hash nobody's password matches, checked when the address typed has no user, so that
/// the answer takes as long as for one who has.
/// Should the random source fail, the empty string parses as no hash and nobody is let in.
static DUMMY: LazyLock<String> =
    LazyLock::new(|| hash("not anyone's password, ever").unwrap_or_default());

/// Whether `password` matches `hash` (a PHC string); with no hash, checks the dummy and says
/// no. A hash that does not parse matches nothing.
pub fn verify(hash: Option<&str>, password: &str) -> bool {
    let (stored, real) = match hash {
        Some(hash) => (hash, true),
        None => (DUMMY.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let matches = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    matches && real
}

/// `verify` on a blocking thread.
pub async fn verify_blocking(hash: Option<String>, password: String) -> bool {
    tokio::task::spawn_blocking(move || verify(hash.as_deref(), &password))
        .await
        .unwrap_or(false)
}

/// `hash` on a blocking thread.
pub async fn hash_blocking(password: String) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(|err| PasswordError::Hashing(err.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::{hash, verify, PasswordError};

    #[test]
    fn hashes_and_verifies() {
        let stored = hash("correct horse battery").unwrap();
        assert!(stored.starts_with("$argon2id$v=19$"));
        assert!(verify(Some(&stored), "correct horse battery"));
        assert!(!verify(Some(&stored), "correct horse batterY"));
        // The same password gets another salt each time.
        assert_ne!(stored, hash("correct horse battery").unwrap());
    }

    #[test]
    fn no_user_and_broken_hashes_match_nothing() {
        assert!(!verify(None, "not anyone's password, ever"));
        assert!(!verify(Some("plain text"), "plain text"));
    }

    #[test]
    fn too_short_is_refused() {
        assert!(matches!(hash("short"), Err(PasswordError::Length)));
    }
}
