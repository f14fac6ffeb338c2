//! Provider names: the one user-chosen string that becomes part of a file path.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use snafu::{Snafu, ensure};
use std::fmt;
use std::str::FromStr;

use crate::ErrorCode;

/// The longest provider name accepted (characters).
pub const MAX_PROVIDER_NAME_LEN: usize = 64;

/// A validated provider name such as `github` or `my-corp_sso`.
///
/// It matches `[a-z0-9][a-z0-9_-]{0,63}`, so it can never hold `/`, `..`, a NUL byte or
/// upper-case letters that would collide on case-insensitive file systems: joining it to the
/// state directory never leaves that directory.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProviderName(String);

/// A provider name was rejected.
#[derive(Debug, Snafu)]
#[snafu(display(
    "invalid provider name {shown:?}: use 1 to 64 characters from a-z, 0-9, '_' and '-', starting with a letter or digit"
))]
pub struct InvalidProviderName {
    shown: String,
}

impl InvalidProviderName {
    /// Always [`ErrorCode::NotFound`]: no provider can have such a name.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        ErrorCode::NotFound
    }
}

impl ProviderName {
    /// Validates `name`.
    pub fn new(name: &str) -> Result<Self, InvalidProviderName> {
        let bytes = name.as_bytes();
        let valid_first = bytes
            .first()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let valid_rest = bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-');
        ensure!(
            valid_first && valid_rest && bytes.len() <= MAX_PROVIDER_NAME_LEN,
            InvalidProviderNameSnafu {
                shown: crate::text::sanitize_for_terminal(name, 80),
            }
        );
        Ok(Self(name.to_owned()))
    }

    /// Makes a name from a host name, as `ch mcp auth <URL>` does: lower-cased, every character
    /// outside `[a-z0-9_-]` replaced by `-`, cut to the maximum length. Returns `None` when
    /// nothing usable is left.
    #[must_use]
    pub fn from_host(host: &str) -> Option<Self> {
        let mapped: String = host
            .chars()
            .map(|c| {
                let c = c.to_ascii_lowercase();
                if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let trimmed = mapped.trim_start_matches(['-', '_']);
        let cut: String = trimmed.chars().take(MAX_PROVIDER_NAME_LEN).collect();
        Self::new(&cut).ok()
    }

    /// The name as a string slice.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The environment-variable stem: upper-cased, `-` replaced by `_` (`my-corp` -> `MY_CORP`).
    #[must_use]
    pub fn env_stem(&self) -> String {
        self.0.to_ascii_uppercase().replace('-', "_")
    }
}

impl fmt::Display for ProviderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ProviderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl AsRef<str> for ProviderName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for ProviderName {
    type Err = InvalidProviderName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<&str> for ProviderName {
    type Error = InvalidProviderName;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl Serialize for ProviderName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ProviderName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, ok: bool) {
        assert_eq!(ProviderName::new(input).is_ok(), ok, "{input:?}");
    }

    #[test]
    fn accepts_plain_names() {
        for name in ["github", "a", "0", "my-corp_sso", &"a".repeat(64)] {
            check(name, true);
        }
    }

    #[test]
    fn rejects_names_that_could_escape_or_collide() {
        for name in [
            "",
            "..",
            "../etc",
            "a/b",
            "a\\b",
            "GitHub",
            "-lead",
            "_lead",
            "a b",
            "a\0b",
            "caf\u{e9}",
            &"a".repeat(65),
        ] {
            check(name, false);
        }
    }

    #[test]
    fn error_message_names_the_rule_and_strips_control_characters() {
        let err = ProviderName::new("bad\x1b[31mname").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("a-z, 0-9"), "{msg}");
        assert!(!msg.contains('\x1b'), "{msg}");
        assert_eq!(err.code(), ErrorCode::NotFound);
    }

    #[test]
    fn from_host_maps_every_other_character_to_dash() {
        let name = ProviderName::from_host("MCP.Example.com").unwrap();
        assert_eq!(name.as_str(), "mcp-example-com");
        assert_eq!(
            ProviderName::from_host("[::1]").unwrap().as_str(),
            "1-",
            "leading separators are dropped"
        );
        assert!(ProviderName::from_host("...").is_none());
    }

    #[test]
    fn env_stem_upper_cases_and_replaces_dashes() {
        assert_eq!(ProviderName::new("my-corp").unwrap().env_stem(), "MY_CORP");
    }
}
