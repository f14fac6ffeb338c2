//! What to answer to one request, and whether it ends the wait. No I/O here.

use hyper::http::{Method, Uri};
use oauth_pkce::State;
use oauth_primitives::{RedirectPath, ServerError, sanitize_for_terminal};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::AuthorizationResponse;
use crate::error::CallbackError;
use crate::page::Page;
use crate::params::{CallbackParams, parse_callback_query};

/// Longest request target (path and query) taken as a possible authorization response.
/// Real responses are a few hundred bytes to a few KiB; longer targets get 414.
pub(crate) const MAX_TARGET_LEN: usize = 16 * 1024;

/// How many characters of an issuer identifier reach a terminal.
const MAX_ISSUER_SHOWN: usize = 200;

/// What one listener expects, shared by every connection.
pub(crate) struct Expectation {
    pub(crate) state: Arc<State>,
    pub(crate) path: RedirectPath,
    pub(crate) expected_issuer: Option<String>,
    pub(crate) iss_required: bool,
    /// `Host` header values accepted: the loopback spellings with the bound port.
    pub(crate) hosts: [String; 3],
    /// Set by the first request that carries the right `state`.
    pub(crate) completed: AtomicBool,
}

impl Expectation {
    pub(crate) fn new(
        state: Arc<State>,
        path: RedirectPath,
        expected_issuer: Option<String>,
        iss_required: bool,
        port: u16,
    ) -> Self {
        Self {
            state,
            path,
            expected_issuer,
            iss_required,
            hosts: [
                format!("127.0.0.1:{port}"),
                format!("[::1]:{port}"),
                format!("localhost:{port}"),
            ],
            completed: AtomicBool::new(false),
        }
    }
}

/// The answer to one request.
pub(crate) enum Verdict {
    /// Answer with the page; the wait goes on.
    Ignore(Page),
    /// Answer with the page and end the wait with this result.
    Complete(Page, Result<AuthorizationResponse, CallbackError>),
}

impl Verdict {
    /// A short, secret-free name for logs.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Verdict::Ignore(_) => "ignored",
            Verdict::Complete(_, Ok(_)) => "code",
            Verdict::Complete(_, Err(CallbackError::Cancelled { .. })) => "cancelled",
            Verdict::Complete(_, Err(_)) => "failed",
        }
    }
}

/// Decides the answer to a request with this method, target and `Host` header.
pub(crate) fn respond(
    expect: &Expectation,
    method: &Method,
    uri: &Uri,
    host: Option<&[u8]>,
) -> Verdict {
    let host_ok = host.is_some_and(|h| {
        expect
            .hosts
            .iter()
            .any(|allowed| allowed.as_bytes().eq_ignore_ascii_case(h))
    });
    if !host_ok {
        // A DNS-rebinding page or a misaddressed client: never a browser sent here by the
        // authorization server, which uses the exact loopback redirect URI.
        return Verdict::Ignore(Page::misdirected());
    }
    if uri.path() != expect.path.as_str() {
        return Verdict::Ignore(Page::not_found());
    }
    if method != Method::GET {
        return Verdict::Ignore(Page::method_not_allowed());
    }
    let target_len = uri.path_and_query().map_or(0, |pq| pq.as_str().len());
    if target_len > MAX_TARGET_LEN {
        return Verdict::Ignore(Page::uri_too_long());
    }
    let params = parse_callback_query(uri.query().unwrap_or(""));
    let state_ok = params.repeated != Some("state")
        && params
            .state
            .as_ref()
            .is_some_and(|s| expect.state.matches(s));
    if !state_ok {
        tracing::warn!("ignored a callback request without the state of this login");
        return Verdict::Ignore(Page::wrong_state());
    }
    if expect.completed.swap(true, Ordering::AcqRel) {
        return Verdict::Ignore(Page::already_done());
    }
    match check(expect, params) {
        Ok(response) => Verdict::Complete(Page::success(), Ok(response)),
        Err(CallbackError::Cancelled { description }) => Verdict::Complete(
            Page::cancelled(description.as_deref()),
            Err(CallbackError::Cancelled { description }),
        ),
        Err(err) => Verdict::Complete(Page::failed(&err.to_string()), Err(err)),
    }
}

/// Checks a response whose `state` is right (RFC 9207 §2.4 first, then the error, then the
/// code).
fn check(
    expect: &Expectation,
    params: CallbackParams,
) -> Result<AuthorizationResponse, CallbackError> {
    if let Some(name) = params.repeated {
        return Err(CallbackError::Malformed {
            what: format!("the {name} parameter appears more than once"),
        });
    }
    match (&expect.expected_issuer, &params.iss) {
        (Some(expected), Some(received)) if expected != received => {
            // RFC 9207 §2.4 / MCP: error fields of such a response are neither acted on nor shown.
            return Err(CallbackError::IssuerMismatch {
                expected: sanitize_for_terminal(expected, MAX_ISSUER_SHOWN),
                received: sanitize_for_terminal(received, MAX_ISSUER_SHOWN),
            });
        }
        (_, None) if expect.iss_required => return Err(CallbackError::IssuerMissing),
        _ => {}
    }
    if let Some(error) = params.error {
        let server = ServerError::new(&error, params.error_description.as_deref());
        return Err(if error == "access_denied" {
            CallbackError::Cancelled {
                description: server.description,
            }
        } else {
            CallbackError::Refused { error: server }
        });
    }
    match params.code {
        Some(code) => Ok(AuthorizationResponse {
            code,
            iss: params.iss,
        }),
        None => Err(CallbackError::Malformed {
            what: "it has neither code nor error".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oauth_primitives::ErrorCode;

    const ISSUER: &str = "https://id.example";

    fn expectation(issuer: Option<&str>, iss_required: bool) -> (Expectation, String) {
        let state = State::generate().unwrap();
        let value = state.expose_secret().to_owned();
        (
            Expectation::new(
                Arc::new(state),
                RedirectPath::default(),
                issuer.map(str::to_owned),
                iss_required,
                4711,
            ),
            value,
        )
    }

    fn get(expect: &Expectation, target: &str) -> Verdict {
        respond(
            expect,
            &Method::GET,
            &target.parse().unwrap(),
            Some(b"127.0.0.1:4711"),
        )
    }

    fn outcome(verdict: Verdict) -> Result<AuthorizationResponse, CallbackError> {
        match verdict {
            Verdict::Complete(_, result) => result,
            Verdict::Ignore(page) => panic!("ignored with {}", page.status),
        }
    }

    fn ignored_status(verdict: &Verdict) -> u16 {
        match verdict {
            Verdict::Ignore(page) => page.status.as_u16(),
            Verdict::Complete(..) => panic!("completed"),
        }
    }

    #[test]
    fn right_state_and_code_complete() {
        let (e, s) = expectation(None, false);
        let r = outcome(get(&e, &format!("/callback?code=C1&state={s}"))).unwrap();
        assert_eq!(r.code.expose_secret(), "C1");
        assert_eq!(r.iss, None);
        // A second valid request cannot complete again.
        assert_eq!(
            ignored_status(&get(&e, &format!("/callback?code=C2&state={s}"))),
            409
        );
    }

    #[test]
    fn wrong_missing_or_repeated_state_is_ignored() {
        let (e, s) = expectation(None, false);
        for target in [
            "/callback?code=C".to_owned(),
            "/callback?code=C&state=forged".to_owned(),
            format!("/callback?code=C&state={s}x"),
            format!("/callback?code=C&state={s}&state={s}"),
            "/callback?error=access_denied".to_owned(),
        ] {
            assert_eq!(ignored_status(&get(&e, &target)), 400, "{target}");
        }
        assert!(outcome(get(&e, &format!("/callback?code=C&state={s}"))).is_ok());
    }

    #[test]
    fn errors_map_to_codes() {
        let (e, s) = expectation(None, false);
        let err =
            outcome(get(&e, &format!("/callback?error=access_denied&state={s}"))).unwrap_err();
        assert_eq!(err.code(), ErrorCode::AuthCancelled);

        let (e, s) = expectation(None, false);
        let err = outcome(get(
            &e,
            &format!("/callback?error=server_error&error_description=%1B%5B2Jboom%0A&state={s}"),
        ))
        .unwrap_err();
        assert_eq!(err.code(), ErrorCode::AuthFailed);
        assert_eq!(
            err.to_string(),
            "the authorization server refused the request: server_error: [2Jboom"
        );

        let (e, s) = expectation(None, false);
        let err = outcome(get(&e, &format!("/callback?state={s}"))).unwrap_err();
        assert!(matches!(err, CallbackError::Malformed { .. }));

        let (e, s) = expectation(None, false);
        let err = outcome(get(&e, &format!("/callback?code=a&code=b&state={s}"))).unwrap_err();
        assert_eq!(err.code(), ErrorCode::AuthFailed);
    }

    #[test]
    fn issuer_rules_of_rfc9207() {
        let check_one = |issuer: Option<&str>, required: bool, iss: Option<&str>, ok: bool| {
            let (e, s) = expectation(issuer, required);
            let iss_param = iss.map_or(String::new(), |i| {
                format!(
                    "&iss={}",
                    url::form_urlencoded::byte_serialize(i.as_bytes()).collect::<String>()
                )
            });
            let result = outcome(get(&e, &format!("/callback?code=C&state={s}{iss_param}")));
            assert_eq!(result.is_ok(), ok, "{issuer:?} {required} {iss:?}");
            if let Ok(r) = result {
                assert_eq!(r.iss.as_deref(), iss);
            }
        };
        check_one(Some(ISSUER), false, Some(ISSUER), true);
        check_one(Some(ISSUER), true, Some(ISSUER), true);
        check_one(Some(ISSUER), false, None, true);
        check_one(Some(ISSUER), true, None, false);
        check_one(None, true, None, false);
        check_one(None, false, Some("https://other.example"), true);
        // Simple string comparison: no normalisation of any kind.
        for near in [
            "https://id.example/",
            "https://ID.example",
            "https://id.example:443",
            "https://id%2Eexample",
            "",
        ] {
            check_one(Some(ISSUER), false, Some(near), false);
        }
    }

    #[test]
    fn issuer_mismatch_hides_the_error_fields() {
        let (e, s) = expectation(Some(ISSUER), true);
        let verdict = get(
            &e,
            &format!(
                "/callback?error=evil_code&error_description=call+evil.example&state={s}&iss=https%3A%2F%2Fevil.example"
            ),
        );
        let Verdict::Complete(page, Err(err)) = verdict else {
            panic!("expected a failure");
        };
        assert!(matches!(err, CallbackError::IssuerMismatch { .. }));
        let shown = format!("{err} {err:?} {}", page.html());
        assert!(
            !shown.contains("evil_code") && !shown.contains("call evil"),
            "{shown}"
        );
    }

    #[test]
    fn other_paths_methods_hosts_and_long_targets_are_ignored() {
        let (e, s) = expectation(None, false);
        assert_eq!(ignored_status(&get(&e, "/favicon.ico")), 404);
        assert_eq!(
            ignored_status(&get(&e, &format!("/callback/?code=C&state={s}"))),
            404
        );
        assert_eq!(
            ignored_status(&get(&e, &format!("/Callback?code=C&state={s}"))),
            404
        );
        let uri: Uri = format!("/callback?code=C&state={s}").parse().unwrap();
        for method in [Method::POST, Method::HEAD, Method::PUT, Method::OPTIONS] {
            let v = respond(&e, &method, &uri, Some(b"127.0.0.1:4711"));
            assert_eq!(ignored_status(&v), 405, "{method}");
        }
        for host in [
            None,
            Some(&b"evil.example:4711"[..]),
            Some(b"127.0.0.1:4712"),
            Some(b"127.0.0.1"),
        ] {
            assert_eq!(ignored_status(&respond(&e, &Method::GET, &uri, host)), 421);
        }
        for host in [&b"LOCALHOST:4711"[..], b"[::1]:4711"] {
            assert!(matches!(
                respond(&e, &Method::GET, &uri, Some(host)),
                Verdict::Complete(..)
            ));
            e.completed.store(false, Ordering::SeqCst);
        }
        let long = format!(
            "/callback?code=C&state={s}&pad={}",
            "a".repeat(MAX_TARGET_LEN)
        );
        assert_eq!(ignored_status(&get(&e, &long)), 414);
        assert!(matches!(
            get(&e, &format!("/callback?code=C&state={s}")),
            Verdict::Complete(..)
        ));
    }
}
