//! Tokens as issued by a token endpoint (RFC 6749 §5.1) and their expiry.

use serde_json::{Map, Value};
use snafu::Snafu;
use std::fmt;
use std::time::{Duration, SystemTime};

use crate::ErrorCode;
use crate::clock::{Clock, SystemClock, unix_seconds};
use crate::secret::{AccessToken, RefreshToken};
use crate::text::sanitize_for_terminal;

/// How long before its expiry an access token is already treated as expired, so that it does
/// not die in flight: 60 seconds, as in the original design.
pub const DEFAULT_EXPIRY_BUFFER: Duration = Duration::from_secs(60);

/// The tokens of one grant: what a token endpoint returns, plus when it was issued.
///
/// `Debug` shows which secrets are present, never their values.
#[derive(Clone)]
pub struct OAuthTokens {
    /// The access token.
    pub access_token: AccessToken,
    /// `Bearer` (normalised from any case, and assumed when the server omits it).
    pub token_type: String,
    /// Lifetime in seconds from `issued_at`; `None` when the server did not say.
    pub expires_in: Option<u64>,
    /// The refresh token, when the server issued one.
    pub refresh_token: Option<RefreshToken>,
    /// Granted scope (space-separated), when the server said.
    pub scope: Option<String>,
    /// When the tokens were issued, in Unix seconds (taken from the client's clock).
    pub issued_at: u64,
}

impl fmt::Debug for OAuthTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthTokens")
            .field("access_token", &self.access_token)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token)
            .field("scope", &self.scope)
            .field("issued_at", &self.issued_at)
            .finish()
    }
}

impl OAuthTokens {
    /// Tokens with only an access token, issued now, of unknown lifetime.
    #[must_use]
    pub fn new(access_token: AccessToken) -> Self {
        Self {
            access_token,
            token_type: "Bearer".to_owned(),
            expires_in: None,
            refresh_token: None,
            scope: None,
            issued_at: SystemClock.unix_seconds(),
        }
    }

    /// The absolute expiry in Unix seconds, or `None` when the lifetime is unknown.
    #[must_use]
    pub fn expires_at(&self) -> Option<u64> {
        self.expires_in.map(|e| self.issued_at.saturating_add(e))
    }

    /// Whether the access token expires within `buffer` from now. A token of unknown lifetime
    /// is treated as valid until a server rejects it.
    #[must_use]
    pub fn is_expired(&self, buffer: Duration) -> bool {
        self.is_expired_with(buffer, &SystemClock)
    }

    /// [`is_expired`](Self::is_expired) against an injected clock.
    #[must_use]
    pub fn is_expired_with(&self, buffer: Duration, clock: &dyn Clock) -> bool {
        self.expires_at()
            .is_some_and(|at| clock.unix_seconds().saturating_add(buffer.as_secs()) >= at)
    }

    /// Parses a token-endpoint response body as real servers send it.
    ///
    /// Accepts JSON (RFC 6749 §5.1) and, for servers such as GitHub that answer form-encoded
    /// bodies unless asked for JSON, `application/x-www-form-urlencoded`. Tolerates
    /// `expires_in` as a number or a numeric string, a missing `expires_in` (unknown expiry),
    /// a missing or lower-case `token_type`, and `scope` as a string or an array. An `error`
    /// member is an error even in a 200 response (GitHub reports some errors that way).
    ///
    /// Error messages never contain the body: it may hold a token.
    pub fn from_response(
        body: &[u8],
        content_type: Option<&str>,
        issued_at: SystemTime,
    ) -> Result<Self, TokenResponseError> {
        let fields = parse_fields(body, content_type)?;
        if let Some(err) = ServerError::from_fields(&fields) {
            return Err(TokenResponseError::Server { error: err });
        }
        let access_token = match fields.get("access_token") {
            Some(Value::String(s)) if !s.is_empty() => AccessToken::new(s.as_str()),
            Some(_) => {
                return MalformedSnafu {
                    what: "access_token is not a non-empty string",
                }
                .fail();
            }
            None => {
                return MalformedSnafu {
                    what: "the response has no access_token",
                }
                .fail();
            }
        };
        let token_type = match fields.get("token_type") {
            None | Some(Value::Null) => "Bearer".to_owned(),
            Some(Value::String(t)) if t.eq_ignore_ascii_case("bearer") => "Bearer".to_owned(),
            Some(Value::String(t)) => sanitize_for_terminal(t, 32),
            Some(_) => {
                return MalformedSnafu {
                    what: "token_type is not a string",
                }
                .fail();
            }
        };
        let expires_in = match fields.get("expires_in") {
            None | Some(Value::Null) => None,
            Some(v) => Some(seconds_from(v).ok_or(TokenResponseError::Malformed {
                what: "expires_in is not a non-negative number of seconds",
            })?),
        };
        let refresh_token = match fields.get("refresh_token") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(RefreshToken::new(s.as_str())),
            Some(_) => {
                return MalformedSnafu {
                    what: "refresh_token is not a string",
                }
                .fail();
            }
        };
        let scope = match fields.get("scope") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            Some(_) => {
                return MalformedSnafu {
                    what: "scope is not a string",
                }
                .fail();
            }
        };
        Ok(Self {
            access_token,
            token_type,
            expires_in,
            refresh_token,
            scope,
            issued_at: unix_seconds(issued_at),
        })
    }
}

/// Seconds from a JSON number (integer or float) or a numeric string.
fn seconds_from(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0 && *f < 1e15)
                .map(float_to_secs)
        }),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<u64>()
                .ok()
                .or_else(|| seconds_from(&Value::Number(s.parse().ok()?)))
        }
        _ => None,
    }
}

#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "callers pass a finite value in 0..1e15"
)]
fn float_to_secs(f: f64) -> u64 {
    f as u64
}

/// Reads a response body into name/value pairs, from JSON or from a form-encoded body.
pub(crate) fn parse_fields(
    body: &[u8],
    content_type: Option<&str>,
) -> Result<Map<String, Value>, TokenResponseError> {
    let media = content_type
        .and_then(|c| c.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase());
    let looks_like_json = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if media.as_deref() == Some("application/x-www-form-urlencoded") && !looks_like_json {
        return Ok(url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => MalformedSnafu {
            what: "the response is JSON but not an object",
        }
        .fail(),
        Err(_) => NotJsonSnafu {
            content_type: media.unwrap_or_else(|| "none".to_owned()),
            len: body.len(),
        }
        .fail(),
    }
}

/// An OAuth error response (RFC 6749 §5.2), with its fields made safe to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    /// The `error` code, such as `invalid_grant`.
    pub error: String,
    /// The `error_description`, if any.
    pub description: Option<String>,
}

impl ServerError {
    /// Reads the error fields from a parsed response, if it has an `error` member.
    #[must_use]
    pub fn from_fields(fields: &Map<String, Value>) -> Option<Self> {
        let error = match fields.get("error")? {
            Value::String(s) => s.as_str(),
            Value::Null => return None,
            _ => "invalid_error_member",
        };
        Some(Self::new(
            error,
            fields.get("error_description").and_then(Value::as_str),
        ))
    }

    /// Builds an error from raw fields, stripping control characters and capping lengths.
    #[must_use]
    pub fn new(error: &str, description: Option<&str>) -> Self {
        Self {
            error: sanitize_for_terminal(error, 64),
            description: description
                .map(|d| sanitize_for_terminal(d, 300))
                .filter(|d| !d.is_empty()),
        }
    }

    /// Parses an error response body (JSON or form); `None` when it is not one.
    #[must_use]
    pub fn from_body(body: &[u8], content_type: Option<&str>) -> Option<Self> {
        Self::from_fields(&parse_fields(body, content_type).ok()?)
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.description {
            Some(d) => write!(f, "{}: {d}", self.error),
            None => f.write_str(&self.error),
        }
    }
}

/// A token-endpoint response could not be turned into tokens.
#[derive(Debug, Snafu)]
#[non_exhaustive]
pub enum TokenResponseError {
    /// The server answered with an OAuth error.
    #[snafu(display("the server refused: {error}"))]
    Server {
        /// The error, safe to print.
        error: ServerError,
    },
    /// The body is not JSON (and not a form body).
    #[snafu(display("token response is not JSON (content-type {content_type}, {len} bytes)"))]
    NotJson {
        /// The media type the server declared.
        content_type: String,
        /// Body length in bytes.
        len: usize,
    },
    /// The body is JSON but breaks RFC 6749 §5.1.
    #[snafu(display("invalid token response: {what}"))]
    Malformed {
        /// What is wrong.
        what: &'static str,
    },
}

impl TokenResponseError {
    /// [`ErrorCode::AuthFailed`] for a server refusal, [`ErrorCode::InvalidResponse`] otherwise.
    /// The service refines `invalid_grant` during a refresh into `TOKEN_REFRESH_FAILED`.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        match self {
            TokenResponseError::Server { .. } => ErrorCode::AuthFailed,
            _ => ErrorCode::InvalidResponse,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use std::time::UNIX_EPOCH;

    const T0: u64 = 1_700_000_000;

    fn parse(body: &str, ct: Option<&str>) -> Result<OAuthTokens, TokenResponseError> {
        OAuthTokens::from_response(body.as_bytes(), ct, UNIX_EPOCH + Duration::from_secs(T0))
    }

    fn json(body: &str) -> OAuthTokens {
        parse(body, Some("application/json")).unwrap()
    }

    #[test]
    fn parses_a_complete_response() {
        let t = json(
            r#"{"access_token":"at","token_type":"Bearer","expires_in":3600,"refresh_token":"rt","scope":"a b"}"#,
        );
        assert_eq!(t.access_token.expose_secret(), "at");
        assert_eq!(t.refresh_token.as_ref().unwrap().expose_secret(), "rt");
        assert_eq!(t.expires_at(), Some(T0 + 3600));
        assert_eq!(t.scope.as_deref(), Some("a b"));
    }

    #[test]
    fn expires_in_as_string_float_or_missing() {
        assert_eq!(
            json(r#"{"access_token":"a","expires_in":"3599"}"#).expires_in,
            Some(3599)
        );
        assert_eq!(
            json(r#"{"access_token":"a","expires_in":" 60 "}"#).expires_in,
            Some(60)
        );
        assert_eq!(
            json(r#"{"access_token":"a","expires_in":3599.0}"#).expires_in,
            Some(3599)
        );
        assert_eq!(json(r#"{"access_token":"a"}"#).expires_in, None);
        assert_eq!(
            json(r#"{"access_token":"a","expires_in":null}"#).expires_in,
            None
        );
        for bad in [r#""soon""#, "-5", "true", r#""-1""#] {
            let err = parse(
                &format!(r#"{{"access_token":"a","expires_in":{bad}}}"#),
                None,
            )
            .unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidResponse, "{bad}");
        }
    }

    #[test]
    fn token_type_is_normalised_or_defaulted() {
        assert_eq!(
            json(r#"{"access_token":"a","token_type":"bearer"}"#).token_type,
            "Bearer"
        );
        assert_eq!(json(r#"{"access_token":"a"}"#).token_type, "Bearer");
        assert_eq!(
            json(r#"{"access_token":"a","token_type":"DPoP"}"#).token_type,
            "DPoP"
        );
    }

    #[test]
    fn form_encoded_bodies_parse_like_github_sends_them() {
        let t = parse(
            "access_token=gho_abc&scope=repo%2Cuser&token_type=bearer",
            Some("application/x-www-form-urlencoded; charset=utf-8"),
        )
        .unwrap();
        assert_eq!(t.access_token.expose_secret(), "gho_abc");
        assert_eq!(t.scope.as_deref(), Some("repo,user"));
        assert_eq!(t.token_type, "Bearer");
    }

    #[test]
    fn error_member_in_a_200_body_is_an_error() {
        for (body, ct) in [
            (
                r#"{"error":"bad_verification_code","error_description":"The code passed is incorrect"}"#,
                "application/json",
            ),
            (
                "error=bad_verification_code&error_description=The+code+passed+is+incorrect",
                "application/x-www-form-urlencoded",
            ),
        ] {
            match parse(body, Some(ct)).unwrap_err() {
                TokenResponseError::Server { error } => {
                    assert_eq!(error.error, "bad_verification_code");
                    assert_eq!(
                        error.description.as_deref(),
                        Some("The code passed is incorrect")
                    );
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn error_description_is_sanitised() {
        let err = ServerError::from_body(
            br#"{"error":"x\u001b[2J","error_description":"line1\nline2"}"#,
            None,
        )
        .unwrap();
        assert_eq!(err.error, "x[2J");
        assert_eq!(err.description.as_deref(), Some("line1line2"));
    }

    #[test]
    fn non_json_errors_never_echo_the_body() {
        let err = parse("<html>secret-ish</html>", Some("text/html")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("text/html") && !msg.contains("secret-ish"),
            "{msg}"
        );
        assert_eq!(err.code(), ErrorCode::InvalidResponse);
        assert!(matches!(
            parse("[1]", None).unwrap_err(),
            TokenResponseError::Malformed { .. }
        ));
        assert!(matches!(
            parse(r#"{"token_type":"x"}"#, None).unwrap_err(),
            TokenResponseError::Malformed { .. }
        ));
        assert!(matches!(
            parse(r#"{"access_token":""}"#, None).unwrap_err(),
            TokenResponseError::Malformed { .. }
        ));
    }

    #[test]
    fn expiry_honours_the_buffer_and_unknown_lifetimes() {
        let t = json(r#"{"access_token":"a","expires_in":3600}"#);
        assert!(!t.is_expired_with(DEFAULT_EXPIRY_BUFFER, &FixedClock::at_unix(T0)));
        assert!(!t.is_expired_with(DEFAULT_EXPIRY_BUFFER, &FixedClock::at_unix(T0 + 3539)));
        assert!(t.is_expired_with(DEFAULT_EXPIRY_BUFFER, &FixedClock::at_unix(T0 + 3540)));
        assert!(t.is_expired_with(Duration::ZERO, &FixedClock::at_unix(T0 + 3600)));
        assert!(!t.is_expired_with(Duration::ZERO, &FixedClock::at_unix(T0 + 3599)));
        let unknown = json(r#"{"access_token":"a"}"#);
        assert!(
            !unknown.is_expired_with(DEFAULT_EXPIRY_BUFFER, &FixedClock::at_unix(u64::MAX / 2))
        );
    }

    #[test]
    fn debug_hides_tokens() {
        let t = json(r#"{"access_token":"AT-SECRET","refresh_token":"RT-SECRET"}"#);
        let shown = format!("{t:?}");
        assert!(
            !shown.contains("AT-SECRET") && !shown.contains("RT-SECRET"),
            "{shown}"
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_bodies(body in proptest::collection::vec(proptest::num::u8::ANY, 0..256), form in proptest::bool::ANY) {
            let ct = if form { "application/x-www-form-urlencoded" } else { "application/json" };
            let _ = OAuthTokens::from_response(&body, Some(ct), UNIX_EPOCH);
        }
    }
}
