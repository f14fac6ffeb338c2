//! Parsing the query of a redirect to the callback URI (RFC 6749 §4.1.2 and §4.1.2.1,
//! RFC 9207 §2).

use oauth_primitives::AuthorizationCode;
use std::fmt;
use zeroize::Zeroizing;

/// The parameters of one request to the callback path, as received and not yet checked.
///
/// Secrets (`code`, `state`) print as `[redacted]` in `Debug`. Unrecognised parameters are
/// ignored (OAuth 2.1 §4.1.2). Parameters that RFC 6749 §3.1 forbids repeating are recorded in
/// [`CallbackParams::repeated`] rather than resolved by picking one.
#[derive(Default)]
pub struct CallbackParams {
    /// `code`, when present and non-empty.
    pub code: Option<AuthorizationCode>,
    /// `state`, as received (compare it only with `oauth_pkce::State::matches`).
    pub state: Option<Zeroizing<String>>,
    /// `error`, when present and non-empty (raw: sanitize before display).
    pub error: Option<String>,
    /// `error_description` (raw: sanitize before display).
    pub error_description: Option<String>,
    /// `error_uri` (raw; never followed or linked).
    pub error_uri: Option<String>,
    /// `iss` (RFC 9207), exactly as received, including an empty value.
    pub iss: Option<String>,
    /// The first of `code`, `state`, `error`, `error_description`, `error_uri` or `iss` that
    /// appeared more than once.
    pub repeated: Option<&'static str>,
}

impl fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackParams")
            .field("code", &self.code)
            .field("state", &self.state.as_ref().map(|_| "[redacted]"))
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .field("error_uri", &self.error_uri)
            .field("iss", &self.iss)
            .field("repeated", &self.repeated)
            .finish()
    }
}

/// Parses the query string of a callback request (without the leading `?`).
///
/// Pure and total: any input gives a value, never a panic. Values are percent-decoded
/// (`application/x-www-form-urlencoded`, so `+` is a space); invalid UTF-8 becomes U+FFFD.
/// An empty `code` or `error` counts as absent.
#[must_use]
pub fn parse_callback_query(query: &str) -> CallbackParams {
    const NAMES: [&str; 6] = [
        "code",
        "state",
        "error",
        "error_description",
        "error_uri",
        "iss",
    ];
    let mut params = CallbackParams::default();
    let mut seen = [false; NAMES.len()];
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let Some(i) = NAMES.iter().position(|n| *n == name) else {
            continue;
        };
        if std::mem::replace(&mut seen[i], true) && params.repeated.is_none() {
            params.repeated = Some(NAMES[i]);
        }
        let value = value.into_owned();
        match i {
            0 => params.code = (!value.is_empty()).then(|| AuthorizationCode::new(value)),
            1 => params.state = Some(Zeroizing::new(value)),
            2 => params.error = (!value.is_empty()).then_some(value),
            3 => params.error_description = Some(value),
            4 => params.error_uri = Some(value),
            _ => params.iss = Some(value),
        }
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(p: &CallbackParams) -> Option<&str> {
        p.state.as_ref().map(|s| s.as_str())
    }

    #[test]
    fn reads_a_success_response() {
        let p = parse_callback_query("code=abc%2Fdef&state=xyz&iss=https%3A%2F%2Fid.example");
        assert_eq!(p.code.as_ref().unwrap().expose_secret(), "abc/def");
        assert_eq!(state(&p), Some("xyz"));
        assert_eq!(p.iss.as_deref(), Some("https://id.example"));
        assert!(p.error.is_none() && p.repeated.is_none());
    }

    #[test]
    fn reads_an_error_response() {
        let p = parse_callback_query(
            "error=access_denied&error_description=The+user+said+no&error_uri=x&state=s&extra=1",
        );
        assert_eq!(p.error.as_deref(), Some("access_denied"));
        assert_eq!(p.error_description.as_deref(), Some("The user said no"));
        assert_eq!(p.error_uri.as_deref(), Some("x"));
        assert!(p.code.is_none());
    }

    #[test]
    fn empty_code_and_error_count_as_absent_but_empty_iss_is_kept() {
        let p = parse_callback_query("code=&error=&iss=&state=");
        assert!(p.code.is_none() && p.error.is_none());
        assert_eq!(p.iss.as_deref(), Some(""));
        assert_eq!(state(&p), Some(""));
    }

    #[test]
    fn repeated_parameters_are_recorded_not_resolved() {
        for (query, name) in [
            ("code=a&code=b&state=s", "code"),
            ("code=a&state=s&state=t", "state"),
            ("state=s&iss=a&iss=a", "iss"),
            ("error=x&error=y", "error"),
            ("code=a&code=&state=s", "code"),
            ("code=&code=a&state=s", "code"),
            (
                "error_description=a&error_description=b&iss=1&iss=2",
                "error_description",
            ),
        ] {
            assert_eq!(parse_callback_query(query).repeated, Some(name), "{query}");
        }
    }

    #[test]
    fn tolerates_garbage() {
        for query in [
            "",
            "&&&",
            "=",
            "%",
            "%zz=%ff",
            "code",
            "state=%E2%82",
            "a=b=c",
        ] {
            let _ = parse_callback_query(query);
        }
        assert_eq!(state(&parse_callback_query("state=%ff")), Some("\u{fffd}"));
    }

    #[test]
    fn debug_hides_code_and_state() {
        let p = parse_callback_query("code=CODE-SECRET&state=STATE-SECRET");
        let shown = format!("{p:?}");
        assert!(
            !shown.contains("CODE-SECRET") && !shown.contains("STATE-SECRET"),
            "{shown}"
        );
    }
}
