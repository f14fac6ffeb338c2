//! Newtypes for the secret values of OAuth.
//!
//! Each wraps a [`secrecy::SecretString`]: the bytes are zeroized on drop, `Debug` prints
//! `Name([redacted])`, there is no `Display` and no `Serialize`, and there is no `PartialEq`
//! (comparing secrets with `==` leaks timing). Reading the value is an explicit, grep-able
//! `expose_secret()` call.

use secrecy::{ExposeSecret, SecretString};
use std::fmt;

macro_rules! secret_newtype {
    ($(#[$meta:meta])* $name:ident, clone = $clone:tt) => {
        $(#[$meta])*
        pub struct $name(SecretString);

        impl $name {
            /// Wraps a secret value.
            #[must_use]
            pub fn new(value: impl Into<String>) -> Self {
                Self(SecretString::from(value.into()))
            }

            /// Reveals the secret. Call this only where the value leaves the process on purpose
            /// (an HTTP request, the storage format, `ch mcp token`'s output).
            #[must_use]
            pub fn expose_secret(&self) -> &str {
                self.0.expose_secret()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        secret_newtype!(@clone $name $clone);
    };
    (@clone $name:ident true) => {
        impl Clone for $name {
            fn clone(&self) -> Self {
                Self::new(self.expose_secret())
            }
        }
    };
    (@clone $name:ident false) => {};
}

secret_newtype!(
    /// An OAuth access token (RFC 6749 §1.4), sent as `Authorization: Bearer`.
    AccessToken,
    clone = true
);
secret_newtype!(
    /// An OAuth refresh token (RFC 6749 §1.5). Rotated tokens replace it atomically.
    RefreshToken,
    clone = true
);
secret_newtype!(
    /// A one-time authorization code (RFC 6749 §4.1.2). Deliberately not `Clone`: it is
    /// redeemed exactly once.
    AuthorizationCode,
    clone = false
);
secret_newtype!(
    /// A confidential client's secret (RFC 6749 §2.3.1). Public native clients have none.
    ClientSecret,
    clone = true
);
secret_newtype!(
    /// The device code of the device authorization grant (RFC 8628 §3.2). Unlike the user code
    /// it is a bearer secret and never shown.
    DeviceCode,
    clone = false
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let value = "s3cr3t-value-123";
        let shown = format!(
            "{:?} {:?} {:?} {:?} {:?}",
            AccessToken::new(value),
            RefreshToken::new(value),
            AuthorizationCode::new(value),
            ClientSecret::new(value),
            DeviceCode::new(value),
        );
        assert!(!shown.contains(value), "{shown}");
        assert!(shown.contains("AccessToken([redacted])"));
        assert!(shown.contains("DeviceCode([redacted])"));
    }

    #[test]
    fn expose_returns_the_value() {
        assert_eq!(AccessToken::new("abc").expose_secret(), "abc");
        assert_eq!(RefreshToken::new("abc").clone().expose_secret(), "abc");
    }
}
