//! PKCE (RFC 7636) and the `state` parameter: the two values that bind an authorization
//! response to the login attempt that asked for it.
//!
//! The central types are [`CodeVerifier`] (a fresh 256-bit secret per authorization request,
//! with its S256 [`CodeChallenge`]) and [`State`] (a 256-bit CSRF token checked in constant
//! time).
//!
//! Design decisions, each on purpose:
//! - Only `S256` exists. There is no `plain` method to fall back to (OAuth 2.1 §4.1.1).
//! - A verifier is not `Clone` and has no `Display`: it is sent once, in the token request.
//! - Both secrets are zeroized on drop and print as `[redacted]`.
//! - Randomness comes from the operating system (`getrandom`), never from a user-space PRNG.
//!
//! This crate does no I/O beyond asking the OS for random bytes, and is not async.
//!
//! ```
//! use oauth_pkce::{CodeVerifier, State};
//!
//! let verifier = CodeVerifier::generate()?;
//! let challenge = verifier.challenge();
//! assert_eq!(challenge.method(), "S256");
//! assert_eq!(challenge.as_str().len(), 43);
//!
//! let state = State::generate()?;
//! let echoed = state.expose_secret().to_owned(); // what the callback brings back
//! assert!(state.matches(&echoed));
//! assert!(!state.matches("forged"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth_primitives::ErrorCode;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use snafu::{Snafu, ensure};
use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Bytes of randomness in a generated verifier or state (256 bits, RFC 7636 §7.1 recommends
/// 32 octets).
const RANDOM_BYTES: usize = 32;

/// Why a verifier or state could not be made.
#[derive(Debug, Snafu)]
#[non_exhaustive]
pub enum PkceError {
    /// The operating system's random number generator failed.
    #[snafu(display("the operating system's random number generator failed: {source}"))]
    Random {
        /// The cause.
        source: getrandom::Error,
    },
    /// A verifier supplied from outside breaks RFC 7636 §4.1.
    #[snafu(display(
        "a PKCE code verifier must be 43 to 128 characters from A-Z a-z 0-9 - . _ ~ (got {len} characters)"
    ))]
    InvalidVerifier {
        /// Its length.
        len: usize,
    },
}

impl PkceError {
    /// [`ErrorCode::AuthFailed`]: no login can proceed without these values.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        ErrorCode::AuthFailed
    }
}

fn random_token() -> Result<SecretString, PkceError> {
    let mut bytes = Zeroizing::new([0u8; RANDOM_BYTES]);
    getrandom::fill(&mut *bytes).map_err(|source| PkceError::Random { source })?;
    Ok(SecretString::from(URL_SAFE_NO_PAD.encode(*bytes)))
}

/// The PKCE code verifier (RFC 7636 §4.1): a high-entropy secret sent only in the token
/// request. Deliberately not `Clone`.
pub struct CodeVerifier(SecretString);

impl CodeVerifier {
    /// 32 random bytes from the OS, base64url-encoded without padding: 43 characters.
    pub fn generate() -> Result<Self, PkceError> {
        random_token().map(Self)
    }

    /// Wraps an existing verifier after checking RFC 7636 §4.1's length and alphabet.
    pub fn from_secret(value: String) -> Result<Self, PkceError> {
        let len = value.chars().count();
        ensure!(
            (43..=128).contains(&len) && value.bytes().all(is_unreserved),
            InvalidVerifierSnafu { len }
        );
        Ok(Self(SecretString::from(value)))
    }

    /// The S256 challenge: `BASE64URL(SHA256(ASCII(verifier)))` (RFC 7636 §4.2).
    #[must_use]
    pub fn challenge(&self) -> CodeChallenge {
        let digest = Sha256::digest(self.0.expose_secret().as_bytes());
        CodeChallenge(URL_SAFE_NO_PAD.encode(digest))
    }

    /// The verifier, for the token request's `code_verifier` parameter.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for CodeVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeVerifier([redacted])")
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// The S256 code challenge sent in the authorization request. Not secret.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// The challenge value.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Always `S256`, the only method this crate implements.
    #[must_use]
    pub const fn method(&self) -> &'static str {
        "S256"
    }
}

impl fmt::Debug for CodeChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CodeChallenge({:?}, S256)", self.0)
    }
}

/// The `state` parameter (RFC 6749 §10.12): 256 random bits tying the callback to this login.
///
/// Compare it only with [`State::matches`], which runs in constant time. There is no
/// `PartialEq`.
pub struct State(SecretString);

impl State {
    /// 32 random bytes from the OS, base64url-encoded without padding.
    pub fn generate() -> Result<Self, PkceError> {
        random_token().map(Self)
    }

    /// Whether `received` is this state. Constant time in the content (the length of a
    /// generated state is public).
    #[must_use]
    pub fn matches(&self, received: &str) -> bool {
        let expected = self.0.expose_secret().as_bytes();
        let received = received.as_bytes();
        expected.len() == received.len() && bool::from(expected.ct_eq(received))
    }

    /// The state, for the authorization request's `state` parameter.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("State([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn rfc7636_appendix_b_vector() {
        let v = CodeVerifier::from_secret("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into())
            .unwrap();
        assert_eq!(
            v.challenge().as_str(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(v.challenge().method(), "S256");
    }

    #[test]
    fn generated_pairs_are_well_formed_and_distinct() {
        let mut verifiers = HashSet::new();
        let mut states = HashSet::new();
        for _ in 0..2_000 {
            let v = CodeVerifier::generate().unwrap();
            let s = v.expose_secret();
            assert_eq!(s.len(), 43);
            assert!(s.bytes().all(is_unreserved), "{s}");
            let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(s.as_bytes()));
            assert_eq!(v.challenge().as_str(), expected);
            assert!(verifiers.insert(s.to_owned()), "verifier repeated");
            let st = State::generate().unwrap();
            assert!(st.expose_secret().len() >= 22, "at least 128 bits");
            assert!(
                states.insert(st.expose_secret().to_owned()),
                "state repeated"
            );
        }
    }

    #[test]
    fn rejects_verifiers_outside_rfc7636() {
        for bad in [
            "short",
            &"a".repeat(42),
            &"a".repeat(129),
            &format!("{}+", "a".repeat(43)),
            &format!("{} ", "a".repeat(43)),
        ] {
            let err = CodeVerifier::from_secret(bad.to_string()).unwrap_err();
            assert!(
                !err.to_string().contains(bad.trim()) || bad.len() < 10,
                "{err}"
            );
        }
        assert!(CodeVerifier::from_secret("a".repeat(128)).is_ok());
        assert!(CodeVerifier::from_secret("~._-".repeat(11)).is_ok());
    }

    #[test]
    fn state_matches_only_itself() {
        let s = State::generate().unwrap();
        let value = s.expose_secret().to_owned();
        assert!(s.matches(&value));
        assert!(!s.matches(&value[..value.len() - 1]));
        assert!(!s.matches(&format!("{value}x")));
        assert!(!s.matches(""));
        let mut flipped = value.into_bytes();
        flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
        assert!(!s.matches(std::str::from_utf8(&flipped).unwrap()));
    }

    #[test]
    fn debug_is_redacted() {
        let v = CodeVerifier::generate().unwrap();
        let s = State::generate().unwrap();
        let shown = format!("{v:?} {s:?}");
        assert!(!shown.contains(v.expose_secret()) && !shown.contains(s.expose_secret()));
        assert_eq!(shown, "CodeVerifier([redacted]) State([redacted])");
    }

    proptest! {
        #[test]
        fn challenge_is_base64url_sha256_of_any_valid_verifier(v in "[A-Za-z0-9._~-]{43,128}") {
            let verifier = CodeVerifier::from_secret(v.clone()).unwrap();
            let challenge = verifier.challenge();
            prop_assert_eq!(challenge.as_str(), URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())));
            prop_assert_eq!(challenge.as_str().len(), 43);
            prop_assert!(challenge.as_str().bytes().all(is_unreserved));
        }
    }
}
