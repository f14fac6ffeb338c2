//! The device authorization grant (RFC 8628): logging in on a machine without a usable
//! browser (SSH sessions, containers, CI runners).
//!
//! [`OAuthService::authenticate_device`] asks the provider's device authorization endpoint for
//! a device code and a user code, hands the user code and the verification URI to the caller
//! (who prints them), optionally opens the verification URI in a browser, and polls the token
//! endpoint until the user has approved or denied the request on any device, or the device
//! code expired. The tokens are stored exactly like those of the browser flow.
//!
//! **Invariant:** the device code is a bearer secret: it lives in a [`DeviceCode`], leaves the
//! process only in the token requests' form bodies, and never reaches a log line, an error or
//! `Debug` output. The user code and the verification URI are not secrets and are shown.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use oauth_primitives::{
    ClientSecret, DeviceCode, Endpoint, ErrorCode, OAuthTokens, ProviderName, ServerError,
    TokenRecord, Url, check_openable, sanitize_for_terminal,
};
use serde_json::{Map, Value};
use tokio::time::Instant;
use tracing::{debug, info, instrument, warn};

use crate::error::{Error, Result};
use crate::http::{self, Response};
use crate::providers::Entry;
use crate::service::{
    LoginOutcome, OAuthService, Resolved, TokenFailure, tokens_from, union_scopes,
};

/// The polling interval when the device authorization response has none (RFC 8628 §3.2).
pub const DEFAULT_DEVICE_INTERVAL: Duration = Duration::from_secs(5);
/// The longest [`OAuthService::authenticate_device`] waits for the user, even when the device
/// code lives longer (Google's device codes live 30 minutes, GitHub's and Microsoft's 15).
pub const DEFAULT_DEVICE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// What `slow_down` adds to the interval, for this and every later poll (RFC 8628 §3.5).
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// No interval, the server's or the caller's, is shorter than this: a server answering
/// `interval: 0` does not make the client hammer it.
const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// The longest pause between polls while the network or the server fails.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// The grant type of the device access token request (RFC 8628 §3.4).
const DEVICE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Called once with what the user must see: the verification URI and the user code.
pub type PromptCallback = Arc<dyn Fn(&DevicePrompt) + Send + Sync>;

/// What the user needs to approve a device login on any device (RFC 8628 §3.3). None of it is
/// secret; the device code is not part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePrompt {
    /// Where to enter the code (`https://github.com/login/device`).
    pub verification_uri: Url,
    /// The verification URI with the code already filled in, when the server offers one: the
    /// URL to open in a browser or to render as a QR code.
    pub verification_uri_complete: Option<Url>,
    /// The code the user types (`WDJB-MJHT`), stripped of control characters.
    pub user_code: String,
    /// How long the code stays valid.
    pub expires_in: Duration,
}

/// Options of one [`OAuthService::authenticate_device`] call.
#[derive(Clone)]
pub struct DeviceOptions {
    /// Overrides the configured client id (highest precedence).
    pub client_id: Option<String>,
    /// Overrides the configured client secret.
    pub client_secret: Option<ClientSecret>,
    /// Scopes added to the provider's default scopes (the union is requested).
    pub scopes: Vec<String>,
    /// Whether to open `verification_uri_complete` (else `verification_uri`) with the
    /// configured browser opener. A browser that fails to open is only a warning here: the
    /// prompt has been shown.
    pub open_browser: bool,
    /// Always called with the prompt before polling starts (print it for the user).
    pub on_prompt: Option<PromptCallback>,
    /// The polling interval when the server sends none (default 5 s, RFC 8628 §3.2). An
    /// interval sent by the server always wins, so this never makes polling faster than the
    /// server allows; tests shorten it to stay fast. Values under 1 s count as 1 s.
    pub default_interval: Duration,
    /// The longest wait for the user, even when the device code lives longer (default 30 min).
    pub timeout: Duration,
}

impl Default for DeviceOptions {
    fn default() -> Self {
        Self {
            client_id: None,
            client_secret: None,
            scopes: Vec::new(),
            open_browser: true,
            on_prompt: None,
            default_interval: DEFAULT_DEVICE_INTERVAL,
            timeout: DEFAULT_DEVICE_TIMEOUT,
        }
    }
}

impl fmt::Debug for DeviceOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceOptions")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("scopes", &self.scopes)
            .field("open_browser", &self.open_browser)
            .field(
                "on_prompt",
                &self.on_prompt.as_ref().map(|_| "Fn(&DevicePrompt)"),
            )
            .field("default_interval", &self.default_interval)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A device authorization response (RFC 8628 §3.2).
struct DeviceAuthorization {
    device_code: DeviceCode,
    prompt: DevicePrompt,
    /// The minimum pause between polls, when the server said.
    interval: Option<Duration>,
}

impl fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("device_code", &self.device_code)
            .field("prompt", &self.prompt)
            .field("interval", &self.interval)
            .finish()
    }
}

impl OAuthService {
    /// Logs in with the device authorization grant (RFC 8628), for machines where no browser
    /// can reach a loopback redirect.
    ///
    /// Posts `client_id` and `scope` (plus `audience`/`resource` when configured, and client
    /// authentication for confidential clients) to the provider's `device_authorization_url`
    /// (or the `device_authorization_endpoint` from discovery), calls
    /// [`DeviceOptions::on_prompt`] with the user code and verification URI, opens the
    /// verification URI when asked and possible, then polls the token endpoint: never faster
    /// than the server's `interval` (5 s when absent), 5 s slower after each `slow_down`,
    /// going on through `authorization_pending`, and backing off (doubling the pause, at most
    /// 60 s) through network errors and 5xx answers.
    ///
    /// Errors: no device endpoint -> `CONFIG_MISSING`; `access_denied` -> `AUTH_CANCELLED`;
    /// `expired_token`, or the device code's `expires_in` (capped by
    /// [`DeviceOptions::timeout`]) elapsed -> `TIMEOUT`; any other refusal -> `AUTH_FAILED`
    /// with the server's sanitized error.
    ///
    /// **Cancellation is safe:** dropping the future (Ctrl-C in the command line) stops the
    /// polling. Nothing is stored until the token endpoint has issued tokens, and the store
    /// saves atomically, so a dropped login leaves the previously stored tokens (if any) as
    /// they were.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use oauth_service::{DeviceOptions, DevicePrompt, OAuthService};
    ///
    /// # async fn login(service: OAuthService) -> Result<(), oauth_service::Error> {
    /// let options = DeviceOptions {
    ///     on_prompt: Some(Arc::new(|p: &DevicePrompt| {
    ///         eprintln!("open {} and enter the code {}", p.verification_uri, p.user_code);
    ///     })),
    ///     ..DeviceOptions::default()
    /// };
    /// let outcome = service.authenticate_device("github", options).await?;
    /// eprintln!("logged in; tokens saved in {}", outcome.storage);
    /// # Ok(())
    /// # }
    /// ```
    #[instrument(skip_all, fields(provider = %name))]
    pub async fn authenticate_device(
        &self,
        name: &str,
        options: DeviceOptions,
    ) -> Result<LoginOutcome> {
        let (name, entry) = self.lookup(name)?;
        let client_id = self.client_id(&entry, options.client_id.as_deref(), None)?;
        let client_secret = self.client_secret(&entry, options.client_secret.clone());
        let resolved = self.resolve(&entry).await?;
        let device_url = match resolved.provider.device_authorization_url.clone() {
            Some(url) => url,
            None => self.discovered_device_endpoint(&name, &entry).await?,
        };
        let client = http::Client {
            id: &client_id,
            secret: client_secret.as_ref(),
            auth: resolved.client_auth,
        };
        let started = Instant::now();
        let authorization = self
            .request_device_authorization(&name, &resolved, &device_url, &client, &options)
            .await?;
        let prompt = &authorization.prompt;
        info!(
            expires_in = prompt.expires_in.as_secs(),
            server_interval = authorization.interval.map(|i| i.as_secs()),
            "device authorization granted; waiting for the user"
        );
        if let Some(on_prompt) = &options.on_prompt {
            on_prompt(prompt);
        }
        if options.open_browser {
            self.open_verification_uri(prompt);
        }
        let tokens = self
            .poll_device_token(&name, &resolved, &client, &authorization, started, &options)
            .await?;
        drop(authorization);

        let record = TokenRecord::new(tokens, Some(client_id));
        let _lock = self.lock(&name).await?;
        let storage = self.save(&name, &record).await?;
        info!(storage = %storage, "logged in with the device flow");
        Ok(LoginOutcome {
            provider: name,
            expires_at: record.tokens.expires_at(),
            scope: record.tokens.scope.clone(),
            storage,
        })
    }

    /// The device authorization request (RFC 8628 §3.1).
    async fn request_device_authorization(
        &self,
        name: &ProviderName,
        resolved: &Resolved,
        device_url: &Endpoint,
        client: &http::Client<'_>,
        options: &DeviceOptions,
    ) -> Result<DeviceAuthorization> {
        let provider = &resolved.provider;
        let scope = union_scopes(&provider.scopes, &options.scopes).join(" ");
        let mut params = vec![];
        if !scope.is_empty() {
            params.push(("scope", scope.as_str()));
        }
        if let Some(audience) = &provider.audience {
            params.push(("audience", audience.as_str()));
        }
        if let Some(resource) = &provider.resource {
            params.push(("resource", resource.as_str()));
        }
        let response = self
            .http()
            .post_form("device authorization", device_url, &params, client)
            .await?;
        parse_authorization(name, device_url, &response)
    }

    /// Polls the token endpoint (RFC 8628 §3.4, §3.5) until tokens, a final refusal, or the
    /// deadline: `started` (just before the device authorization request) plus the code's
    /// lifetime, capped by the options' timeout.
    async fn poll_device_token(
        &self,
        name: &ProviderName,
        resolved: &Resolved,
        client: &http::Client<'_>,
        authorization: &DeviceAuthorization,
        started: Instant,
        options: &DeviceOptions,
    ) -> Result<OAuthTokens> {
        let lifetime = authorization.prompt.expires_in.min(options.timeout);
        let deadline = started + lifetime;
        let mut interval = authorization
            .interval
            .unwrap_or(options.default_interval)
            .max(MIN_INTERVAL);
        let mut params = vec![
            ("grant_type", DEVICE_GRANT_TYPE),
            ("device_code", authorization.device_code.expose_secret()),
        ];
        if let Some(resource) = &resolved.provider.resource {
            params.push(("resource", resource.as_str()));
        }
        let token_url = &resolved.token_url;
        let mut wait = interval;
        loop {
            if Instant::now() + wait >= deadline {
                // The next poll would come too late: the code is dead by then.
                tokio::time::sleep_until(deadline).await;
                return Err(expired(name, lifetime));
            }
            tokio::time::sleep(wait).await;
            let issued = self.now();
            let result = self
                .http()
                .post_form("token", token_url, &params, client)
                .await
                .map_err(TokenFailure::Other)
                .and_then(|r| tokens_from(name, "token", token_url, &r, issued));
            let error = match result {
                Ok(tokens) => return Ok(tokens),
                Err(TokenFailure::Refused(error)) => error,
                Err(TokenFailure::Other(e)) if transient(&e) => {
                    wait = backoff(wait, interval);
                    warn!(
                        error = %e,
                        retry_in_s = wait.as_secs(),
                        "polling the token endpoint failed; retrying"
                    );
                    continue;
                }
                Err(TokenFailure::Other(e)) => return Err(e),
            };
            match error.error.as_str() {
                "authorization_pending" => debug!("authorization pending"),
                "slow_down" => {
                    interval += SLOW_DOWN_STEP;
                    info!(
                        interval_s = interval.as_secs(),
                        "slow_down: polling less often"
                    );
                }
                "access_denied" => {
                    debug!("the user denied the device login");
                    return Err(Error::DeviceDenied {
                        provider: name.clone(),
                    });
                }
                "expired_token" => return Err(expired(name, lifetime)),
                _ => {
                    warn!(error = %error.error, "the token endpoint refused the device code");
                    return Err(Error::DeviceGrantRefused {
                        provider: name.clone(),
                        error,
                    });
                }
            }
            wait = interval;
        }
    }

    /// The device endpoint from discovery, for providers whose other endpoints are configured
    /// (so [`resolve`](Self::resolve) did not discover) but which name an issuer.
    async fn discovered_device_endpoint(
        &self,
        name: &ProviderName,
        entry: &Entry,
    ) -> Result<Endpoint> {
        let configured = entry.provider.auth_url.is_some() && entry.provider.token_url.is_some();
        if let (true, Some(issuer)) = (configured, &entry.provider.issuer) {
            let metadata = self.metadata(name, issuer).await?;
            if let Some(url) = &metadata.device_authorization_endpoint {
                return Ok(url.clone());
            }
        }
        Err(Error::NoDeviceEndpoint {
            provider: name.clone(),
            config: self.config_display(),
        })
    }

    /// Opens the verification URI; failure is only a warning (the prompt was shown).
    fn open_verification_uri(&self, prompt: &DevicePrompt) {
        let url = prompt
            .verification_uri_complete
            .as_ref()
            .unwrap_or(&prompt.verification_uri);
        let Some(browser) = self.browser() else {
            debug!("no browser opener is configured; the user opens the verification URI");
            return;
        };
        if let Err(e) = check_openable(url).and_then(|()| browser.open(url)) {
            warn!(error = %e, "could not open the browser; open the printed URL yourself");
        }
    }
}

fn expired(name: &ProviderName, lifetime: Duration) -> Error {
    warn!("the device code expired before the user finished");
    Error::DeviceExpired {
        provider: name.clone(),
        secs: lifetime.as_secs(),
    }
}

/// Whether a failed poll is worth repeating: the network failed or the server answered 5xx.
fn transient(e: &Error) -> bool {
    match e {
        Error::Http { what, .. } => *what != "client set-up",
        Error::BadResponse { code, .. } => *code == ErrorCode::NetworkError,
        _ => false,
    }
}

/// The pause after a failed poll: twice the last one, at most [`MAX_BACKOFF`], never less than
/// the interval (RFC 8628 §3.5: exponential backoff on connection failures).
fn backoff(last: Duration, interval: Duration) -> Duration {
    (last * 2).min(MAX_BACKOFF.max(interval)).max(interval)
}

/// Classifies a device authorization response. Error messages never contain the body: it
/// holds the device code.
fn parse_authorization(
    name: &ProviderName,
    url: &Endpoint,
    r: &Response,
) -> Result<DeviceAuthorization> {
    let ct = r.content_type.as_deref();
    let bad = |detail: String, code| Error::BadResponse {
        what: "device authorization",
        url: http::url_for_humans(url),
        detail,
        code,
    };
    let refused = |error| Error::DeviceRefused {
        provider: name.clone(),
        error,
    };
    match r.status {
        200..=299 => {}
        400..=499 => {
            return Err(match ServerError::from_body(&r.body, ct) {
                Some(error) => refused(error),
                None => bad(
                    format!("{} that is not an OAuth error response", r.describe()),
                    ErrorCode::InvalidResponse,
                ),
            });
        }
        500..=599 => {
            return Err(bad(
                format!("{}: the server failed; try again later", r.describe()),
                ErrorCode::NetworkError,
            ));
        }
        _ => {
            return Err(bad(
                format!("{} (redirects are not followed)", r.describe()),
                ErrorCode::InvalidResponse,
            ));
        }
    }
    let Some(fields) = fields(&r.body, ct) else {
        return Err(bad(
            format!("{} that is not a JSON object", r.describe()),
            ErrorCode::InvalidResponse,
        ));
    };
    // GitHub reports some errors with HTTP 200 and an `error` member.
    if let Some(error) = ServerError::from_fields(&fields) {
        return Err(refused(error));
    }
    let malformed = |what: &str| {
        bad(
            format!("{} with {what}", r.describe()),
            ErrorCode::InvalidResponse,
        )
    };
    let text = |key: &str| match fields.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.as_str()),
        _ => None,
    };
    let device_code = text("device_code")
        .map(DeviceCode::new)
        .ok_or_else(|| malformed("no device_code"))?;
    let user_code = text("user_code")
        .map(|c| sanitize_for_terminal(c.trim(), 64))
        .filter(|c| !c.is_empty())
        .ok_or_else(|| malformed("no user_code"))?;
    // Google spells it `verification_url`.
    let verification_uri = text("verification_uri")
        .or_else(|| text("verification_url"))
        .ok_or_else(|| malformed("no verification_uri"))?;
    let verification_uri = Endpoint::parse(verification_uri)
        .map_err(|_| malformed("a verification_uri that is not an https URL"))?
        .url()
        .clone();
    let verification_uri_complete = text("verification_uri_complete").and_then(|u| {
        let parsed = Endpoint::parse(u).ok().map(|e| e.url().clone());
        if parsed.is_none() {
            warn!("ignoring a verification_uri_complete that is not an https URL");
        }
        parsed
    });
    let expires_in = match fields.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(v) => Some(seconds(v).ok_or_else(|| malformed("an unusable expires_in"))?),
    };
    // Without expires_in (it is REQUIRED) the caller's timeout bounds the wait.
    let expires_in = expires_in.map_or(DEFAULT_DEVICE_TIMEOUT, Duration::from_secs);
    let interval = match fields.get("interval") {
        None | Some(Value::Null) => None,
        Some(v) => Some(Duration::from_secs(
            seconds(v).ok_or_else(|| malformed("an unusable interval"))?,
        )),
    };
    Ok(DeviceAuthorization {
        device_code,
        prompt: DevicePrompt {
            verification_uri,
            verification_uri_complete,
            user_code,
            expires_in,
        },
        interval,
    })
}

/// A JSON object body, or a form-encoded one (GitHub's default without `Accept: json`).
fn fields(body: &[u8], content_type: Option<&str>) -> Option<Map<String, Value>> {
    let form = content_type
        .and_then(|c| c.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    let looks_like_json = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if form && !looks_like_json {
        return Some(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect(),
        );
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// Whole seconds from a JSON number or a numeric string, capped at a day.
fn seconds(v: &Value) -> Option<u64> {
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    Some(n.min(86_400))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name() -> ProviderName {
        ProviderName::new("dev").unwrap()
    }

    fn url() -> Endpoint {
        Endpoint::parse("https://as.example/device?tenant=t").unwrap()
    }

    fn parse(status: u16, ct: Option<&str>, body: &str) -> Result<DeviceAuthorization> {
        let r = Response {
            status,
            content_type: ct.map(str::to_owned),
            body: body.as_bytes().to_vec(),
        };
        parse_authorization(&name(), &url(), &r)
    }

    const SECRET: &str = "dc-SECRET-device-code-4242";

    #[test]
    fn rfc_8628_response_is_parsed() {
        let body = format!(
            r#"{{"device_code":"{SECRET}","user_code":"WDJB-MJHT",
               "verification_uri":"https://as.example/device",
               "verification_uri_complete":"https://as.example/device?user_code=WDJB-MJHT",
               "expires_in":1800,"interval":5}}"#
        );
        let a = parse(200, Some("application/json"), &body).unwrap();
        assert_eq!(a.device_code.expose_secret(), SECRET);
        assert_eq!(a.prompt.user_code, "WDJB-MJHT");
        assert_eq!(
            a.prompt.verification_uri.as_str(),
            "https://as.example/device"
        );
        assert_eq!(
            a.prompt.verification_uri_complete.as_ref().map(Url::as_str),
            Some("https://as.example/device?user_code=WDJB-MJHT")
        );
        assert_eq!(a.prompt.expires_in, Duration::from_secs(1800));
        assert_eq!(a.interval, Some(Duration::from_secs(5)));
        let shown = format!("{a:?}");
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("DeviceCode([redacted])"));
    }

    #[test]
    fn google_github_and_oidc_provider_variants_are_accepted() {
        // Google: verification_url; oidc-provider: no interval; numeric strings.
        let a = parse(
            200,
            Some("application/json; charset=utf-8"),
            r#"{"device_code":"d1234567","user_code":"ABC-DEF","verification_url":"https://www.google.com/device","expires_in":"1800"}"#,
        )
        .unwrap();
        assert_eq!(
            a.prompt.verification_uri.as_str(),
            "https://www.google.com/device"
        );
        assert_eq!(a.prompt.verification_uri_complete, None);
        assert_eq!(a.interval, None);
        assert_eq!(a.prompt.expires_in, Duration::from_secs(1800));
        // GitHub without Accept: json answers form-encoded.
        let a = parse(
            200,
            Some("application/x-www-form-urlencoded"),
            "device_code=d1234567&user_code=WDJB-MJHT&verification_uri=https%3A%2F%2Fgithub.com%2Flogin%2Fdevice&expires_in=899&interval=5",
        )
        .unwrap();
        assert_eq!(
            a.prompt.verification_uri.as_str(),
            "https://github.com/login/device"
        );
        assert_eq!(a.interval, Some(Duration::from_secs(5)));
        // Loopback http is fine (the local test server); control characters are stripped.
        let a = parse(
            200,
            None,
            r#"{"device_code":"d1234567","user_code":"AB\u001b[2JCD","verification_uri":"http://127.0.0.1:9/device","expires_in":5}"#,
        )
        .unwrap();
        assert_eq!(a.prompt.user_code, "AB[2JCD");
    }

    #[test]
    fn refusals_and_garbage_never_echo_the_body() {
        let check = |status, ct, body: &str, code: ErrorCode, words: &[&str]| {
            let err = parse(status, ct, body).unwrap_err();
            let msg = err.to_string();
            assert_eq!(err.code(), code, "{msg}");
            assert!(!msg.contains(SECRET), "{msg}");
            assert!(!msg.contains("tenant=t"), "{msg}");
            for w in words {
                assert!(msg.contains(w), "{msg} lacks {w}");
            }
        };
        let json = Some("application/json");
        check(
            400,
            json,
            r#"{"error":"unauthorized_client","error_description":"device flow disabled"}"#,
            ErrorCode::AuthFailed,
            &[
                "dev",
                "unauthorized_client: device flow disabled",
                "allows the device flow",
            ],
        );
        check(
            200,
            json,
            r#"{"error":"device_flow_disabled"}"#,
            ErrorCode::AuthFailed,
            &["device_flow_disabled"],
        );
        check(
            503,
            Some("text/html"),
            SECRET,
            ErrorCode::NetworkError,
            &["HTTP 503"],
        );
        check(
            404,
            Some("text/html"),
            SECRET,
            ErrorCode::InvalidResponse,
            &["HTTP 404"],
        );
        check(302, None, "", ErrorCode::InvalidResponse, &["redirects"]);
        check(
            200,
            Some("text/html"),
            SECRET,
            ErrorCode::InvalidResponse,
            &["not a JSON object"],
        );
        let missing = [
            (
                r#"{"user_code":"A","verification_uri":"https://a.example/d","expires_in":5}"#
                    .to_owned(),
                "no device_code",
            ),
            (
                format!(r#"{{"device_code":"{SECRET}","verification_uri":"https://a.example/d"}}"#),
                "no user_code",
            ),
            (
                format!(r#"{{"device_code":"{SECRET}","user_code":"A"}}"#),
                "no verification_uri",
            ),
            (
                format!(
                    r#"{{"device_code":"{SECRET}","user_code":"A","verification_uri":"http://evil.example/d"}}"#
                ),
                "not an https URL",
            ),
            (
                format!(
                    r#"{{"device_code":"{SECRET}","user_code":"A","verification_uri":"javascript:alert(1)"}}"#
                ),
                "not an https URL",
            ),
            (
                format!(
                    r#"{{"device_code":"{SECRET}","user_code":"A","verification_uri":"https://a.example/d","interval":-1}}"#
                ),
                "unusable interval",
            ),
            (
                format!(
                    r#"{{"device_code":"{SECRET}","user_code":"A","verification_uri":"https://a.example/d","expires_in":"soon"}}"#
                ),
                "unusable expires_in",
            ),
        ];
        for (body, words) in &missing {
            check(200, json, body, ErrorCode::InvalidResponse, &[words]);
        }
    }

    #[test]
    fn a_bad_complete_uri_is_dropped_and_a_missing_expiry_is_bounded() {
        let a = parse(
            200,
            None,
            r#"{"device_code":"d1234567","user_code":"A","verification_uri":"https://a.example/d","verification_uri_complete":"file:///etc/passwd"}"#,
        )
        .unwrap();
        assert_eq!(a.prompt.verification_uri_complete, None);
        assert_eq!(a.prompt.expires_in, DEFAULT_DEVICE_TIMEOUT);
    }

    #[test]
    fn backoff_doubles_is_capped_and_never_undercuts_the_interval() {
        let s = Duration::from_secs;
        assert_eq!(backoff(s(5), s(5)), s(10));
        assert_eq!(backoff(s(40), s(5)), s(60));
        assert_eq!(backoff(s(60), s(5)), s(60));
        assert_eq!(backoff(s(70), s(70)), s(70));
        assert_eq!(backoff(s(1), s(3)), s(3));
    }

    #[test]
    fn only_network_failures_and_5xx_are_transient() {
        let http = |what| Error::Http {
            what,
            url: String::new(),
            reason: String::new(),
            timed_out: false,
        };
        let bad = |code| Error::BadResponse {
            what: "token",
            url: String::new(),
            detail: String::new(),
            code,
        };
        assert!(transient(&http("token")));
        assert!(!transient(&http("client set-up")));
        assert!(transient(&bad(ErrorCode::NetworkError)));
        assert!(!transient(&bad(ErrorCode::InvalidResponse)));
        assert!(!transient(&Error::DeviceDenied { provider: name() }));
    }

    #[test]
    fn options_default_to_the_rfc_interval_and_hide_the_secret() {
        let o = DeviceOptions {
            client_secret: Some(ClientSecret::new("cs-SECRET-4242")),
            ..DeviceOptions::default()
        };
        assert_eq!(o.default_interval, Duration::from_secs(5));
        assert!(o.open_browser);
        let shown = format!("{o:?}");
        assert!(!shown.contains("cs-SECRET-4242"), "{shown}");
    }

    #[test]
    fn error_codes_follow_the_cli_contract() {
        let error = ServerError::new("invalid_grant", Some("bad \u{1b}[2Jcode"));
        let cases = [
            (
                Error::DeviceDenied { provider: name() },
                ErrorCode::AuthCancelled,
            ),
            (
                Error::DeviceExpired {
                    provider: name(),
                    secs: 600,
                },
                ErrorCode::Timeout,
            ),
            (
                Error::DeviceGrantRefused {
                    provider: name(),
                    error: error.clone(),
                },
                ErrorCode::AuthFailed,
            ),
            (
                Error::DeviceRefused {
                    provider: name(),
                    error,
                },
                ErrorCode::AuthFailed,
            ),
            (
                Error::NoDeviceEndpoint {
                    provider: name(),
                    config: "/h/config.toml".into(),
                },
                ErrorCode::ConfigMissing,
            ),
        ];
        for (err, code) in cases {
            let msg = err.to_string();
            assert_eq!(err.code(), code, "{msg}");
            assert!(!msg.ends_with('.'), "{msg}");
            assert!(!msg.contains('\u{1b}'), "{msg}");
            assert!(msg.contains("dev"), "{msg}");
        }
        let msg = Error::NoDeviceEndpoint {
            provider: name(),
            config: "/h/config.toml".into(),
        }
        .to_string();
        assert!(msg.contains("device_authorization_url"), "{msg}");
        assert!(msg.contains("/h/config.toml"), "{msg}");
    }
}
