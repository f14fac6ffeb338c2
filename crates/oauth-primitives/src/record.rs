//! The versioned storage form of a provider's tokens.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use snafu::{ResultExt, Snafu, ensure};
use std::fmt;
use zeroize::Zeroizing;

use crate::ErrorCode;
use crate::secret::{AccessToken, RefreshToken};
use crate::tokens::OAuthTokens;

/// The storage-format version this build writes.
pub const RECORD_VERSION: u32 = 1;

/// What a token store keeps for one provider: the tokens plus bookkeeping.
///
/// Serialised as one JSON object:
///
/// ```json
/// {"version":1,"access_token":"…","token_type":"Bearer","expires_in":3600,
///  "refresh_token":"…","scope":"read","issued_at":1700000000,"expires_at":1700003600,
///  "client_id":"abc","refresh_failed":false}
/// ```
///
/// Fields this version does not know are kept and written back unchanged, so an older `ch`
/// never strips what a newer one stored. A record of a newer *version* is refused instead of
/// being misread. Files written by the original Python tool (no `version`, fractional
/// `issued_at`) are read as version 0.
#[derive(Clone)]
pub struct TokenRecord {
    /// The tokens.
    pub tokens: OAuthTokens,
    /// The client id the tokens were issued to, so a refresh works even when the login used
    /// `--client-id` and nothing is configured.
    pub client_id: Option<String>,
    /// Set when a refresh grant was refused (`invalid_grant`): the user must log in again.
    pub refresh_failed: bool,
    extra: Map<String, Value>,
}

impl fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRecord")
            .field("tokens", &self.tokens)
            .field("client_id", &self.client_id)
            .field("refresh_failed", &self.refresh_failed)
            .field("extra_fields", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A stored record could not be read.
#[derive(Debug, Snafu)]
#[non_exhaustive]
pub enum RecordError {
    /// Not JSON, or JSON of the wrong shape. The source is deliberately not kept: serde's
    /// messages can quote the input, which holds tokens.
    #[snafu(display("the token record is not valid JSON of the expected shape ({len} bytes{})", hint(*truncated)))]
    Corrupt {
        /// Length of the bytes that failed to parse.
        len: usize,
        /// Whether the bytes end in the middle of a JSON document.
        truncated: bool,
    },
    /// Written by a newer version of ch.
    #[snafu(display(
        "the token record has version {found}, newer than this ch understands ({RECORD_VERSION}); upgrade ch"
    ))]
    FutureVersion {
        /// The version found.
        found: u64,
    },
    /// A required field is missing or empty.
    #[snafu(display("the token record has no {field}"))]
    Missing {
        /// The field.
        field: &'static str,
    },
    /// Serialising failed (cannot happen with well-formed extras, but never panics).
    #[snafu(display("could not serialise the token record"))]
    Serialize {
        /// The cause.
        source: serde_json::Error,
    },
}

fn hint(truncated: bool) -> &'static str {
    if truncated { ", truncated" } else { "" }
}

impl RecordError {
    /// Always [`ErrorCode::StorageError`].
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        ErrorCode::StorageError
    }
}

#[derive(Serialize)]
struct RecordOut<'a> {
    version: u32,
    access_token: &'a str,
    token_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
    issued_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    refresh_failed: bool,
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
}

#[derive(Deserialize)]
struct RecordIn {
    version: Option<u64>,
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<serde_json::Number>,
    refresh_token: Option<String>,
    scope: Option<String>,
    issued_at: Option<serde_json::Number>,
    client_id: Option<String>,
    #[serde(default)]
    refresh_failed: bool,
    // Derived on every write; accepted and dropped on read.
    #[serde(default, rename = "expires_at")]
    _expires_at: Option<serde_json::Number>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "clamped to 0..=u64::MAX seconds before the cast"
)]
fn number_secs(n: &serde_json::Number) -> Option<u64> {
    n.as_u64().or_else(|| {
        n.as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f.min(1e18) as u64)
    })
}

impl TokenRecord {
    /// A fresh record for newly issued tokens.
    #[must_use]
    pub fn new(tokens: OAuthTokens, client_id: Option<String>) -> Self {
        Self {
            tokens,
            client_id,
            refresh_failed: false,
            extra: Map::new(),
        }
    }

    /// Names of fields this version did not recognise and will write back unchanged.
    pub fn unknown_fields(&self) -> impl Iterator<Item = &str> {
        self.extra.keys().map(String::as_str)
    }

    /// Serialises the record. The buffer is zeroized when dropped.
    pub fn to_json(&self) -> Result<Zeroizing<Vec<u8>>, RecordError> {
        let t = &self.tokens;
        let out = RecordOut {
            version: RECORD_VERSION,
            access_token: t.access_token.expose_secret(),
            token_type: &t.token_type,
            expires_in: t.expires_in,
            refresh_token: t.refresh_token.as_ref().map(RefreshToken::expose_secret),
            scope: t.scope.as_deref(),
            issued_at: t.issued_at,
            expires_at: t.expires_at(),
            client_id: self.client_id.as_deref(),
            refresh_failed: self.refresh_failed,
            extra: &self.extra,
        };
        let mut buf = Zeroizing::new(Vec::with_capacity(512));
        serde_json::to_writer(&mut *buf, &out).context(SerializeSnafu)?;
        Ok(buf)
    }

    /// Parses a stored record, refusing garbage, truncation and newer versions with an error
    /// that never quotes the bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Self, RecordError> {
        let raw: RecordIn = serde_json::from_slice(bytes).map_err(|e| RecordError::Corrupt {
            len: bytes.len(),
            truncated: e.is_eof(),
        })?;
        if let Some(found) = raw.version {
            ensure!(
                found <= u64::from(RECORD_VERSION),
                FutureVersionSnafu { found }
            );
        }
        let access_token =
            raw.access_token
                .filter(|s| !s.is_empty())
                .ok_or(RecordError::Missing {
                    field: "access_token",
                })?;
        let issued_at = raw
            .issued_at
            .as_ref()
            .and_then(number_secs)
            .ok_or(RecordError::Missing { field: "issued_at" })?;
        let mut extra = raw.extra;
        extra.remove("version");
        Ok(Self {
            tokens: OAuthTokens {
                access_token: AccessToken::new(access_token),
                token_type: raw.token_type.unwrap_or_else(|| "Bearer".to_owned()),
                expires_in: raw.expires_in.as_ref().and_then(number_secs),
                refresh_token: raw
                    .refresh_token
                    .filter(|s| !s.is_empty())
                    .map(RefreshToken::new),
                scope: raw.scope,
                issued_at,
            },
            client_id: raw.client_id,
            refresh_failed: raw.refresh_failed,
            extra,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TokenRecord {
        let mut tokens = OAuthTokens::new(AccessToken::new("AT-1"));
        tokens.expires_in = Some(3600);
        tokens.refresh_token = Some(RefreshToken::new("RT-1"));
        tokens.scope = Some("read write".into());
        tokens.issued_at = 1_700_000_000;
        TokenRecord::new(tokens, Some("client-1".into()))
    }

    #[test]
    fn round_trips() {
        let rec = sample();
        let json = rec.to_json().unwrap();
        let text = std::str::from_utf8(&json).unwrap();
        assert!(text.starts_with(r#"{"version":1,"#), "{text}");
        assert!(text.contains(r#""expires_at":1700003600"#), "{text}");
        let back = TokenRecord::from_json(&json).unwrap();
        assert_eq!(back.tokens.access_token.expose_secret(), "AT-1");
        assert_eq!(
            back.tokens.refresh_token.as_ref().unwrap().expose_secret(),
            "RT-1"
        );
        assert_eq!(back.tokens.expires_at(), Some(1_700_003_600));
        assert_eq!(back.tokens.scope.as_deref(), Some("read write"));
        assert_eq!(back.client_id.as_deref(), Some("client-1"));
        assert!(!back.refresh_failed);
    }

    #[test]
    fn refresh_failed_mark_round_trips() {
        let mut rec = sample();
        rec.refresh_failed = true;
        assert!(
            TokenRecord::from_json(&rec.to_json().unwrap())
                .unwrap()
                .refresh_failed
        );
    }

    #[test]
    fn unknown_fields_are_preserved() {
        let input = br#"{"version":1,"access_token":"a","issued_at":5,"x_future":{"k":[1,2]},"refresh_failed":false}"#;
        let rec = TokenRecord::from_json(input).unwrap();
        assert_eq!(rec.unknown_fields().collect::<Vec<_>>(), ["x_future"]);
        let again = rec.to_json().unwrap();
        let v: Value = serde_json::from_slice(&again).unwrap();
        assert_eq!(v["x_future"]["k"][1], 2);
    }

    #[test]
    fn future_versions_are_refused_not_misread() {
        let err = TokenRecord::from_json(br#"{"version":2,"access_token":"a","issued_at":5}"#)
            .unwrap_err();
        assert!(matches!(err, RecordError::FutureVersion { found: 2 }));
        assert!(err.to_string().contains("upgrade ch"));
        assert_eq!(err.code(), ErrorCode::StorageError);
    }

    #[test]
    fn python_tool_records_are_read() {
        let rec = TokenRecord::from_json(
            br#"{"access_token":"a","token_type":"Bearer","expires_in":3600,"refresh_token":"r","scope":"s","issued_at":1700000000.25}"#,
        )
        .unwrap();
        assert_eq!(rec.tokens.issued_at, 1_700_000_000);
        assert_eq!(rec.tokens.expires_at(), Some(1_700_003_600));
    }

    #[test]
    fn garbage_and_truncation_are_errors_that_do_not_quote_the_bytes() {
        let full = sample().to_json().unwrap();
        let cut = &full[..full.len() / 2];
        let err = TokenRecord::from_json(cut).unwrap_err();
        assert!(
            matches!(
                err,
                RecordError::Corrupt {
                    truncated: true,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(!err.to_string().contains("AT-1"));
        for bad in [
            &b""[..],
            b"\x00\xff",
            b"null",
            b"[]",
            br#"{"access_token":5}"#,
        ] {
            assert!(TokenRecord::from_json(bad).is_err(), "{bad:?}");
        }
        let missing = TokenRecord::from_json(br#"{"version":1,"issued_at":1}"#).unwrap_err();
        assert!(matches!(
            missing,
            RecordError::Missing {
                field: "access_token"
            }
        ));
    }

    #[test]
    fn debug_hides_secrets() {
        let shown = format!("{:?}", sample());
        assert!(
            !shown.contains("AT-1") && !shown.contains("RT-1"),
            "{shown}"
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = TokenRecord::from_json(&bytes);
        }
    }
}
