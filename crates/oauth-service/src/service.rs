//! `OAuthService`: the login, refresh, status and logout lifecycle.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth_pkce::{CodeVerifier, State};
use oauth_primitives::{
    AccessToken, AuthStatus, BrowserOpener, ClientSecret, Clock, DEFAULT_EXPIRY_BUFFER, Endpoint,
    OAuthProvider, OAuthTokens, ProviderName, ServerError, StorageBackend, StoreError,
    StoredRecord, SystemClock, TokenRecord, TokenResponseError, TokenStore, Url, check_openable,
};
use snafu::ResultExt;
use tracing::{debug, info, instrument, warn};

use crate::config;
use crate::discovery::{self, Metadata};
use crate::error::{BrowserSnafu, CallbackSnafu, Error, InvalidNameSnafu, PkceSnafu, Result};
use crate::http::{self, Http, Response, Timeouts};
use crate::listener::{CallbackListener, CallbackRequest};
use crate::providers::{ClientAuth, Entry, ProviderInfo, ProviderSource, builtins};

/// Default connect timeout of every HTTP request.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default total timeout of every HTTP request.
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(30);
/// Default wait for the user to finish the login in the browser.
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

type EnvFn = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;
/// Called with the authorization URL before the service waits for the browser.
pub type UrlCallback = Arc<dyn Fn(&Url) + Send + Sync>;

/// Options of one [`OAuthService::authenticate`] call.
#[derive(Clone)]
pub struct AuthOptions {
    /// Overrides the configured client id (highest precedence).
    pub client_id: Option<String>,
    /// Overrides the configured client secret.
    pub client_secret: Option<ClientSecret>,
    /// Scopes added to the provider's default scopes (the union is requested).
    pub scopes: Vec<String>,
    /// Whether to hand the URL to the browser opener. The URL always reaches `on_url`.
    pub open_browser: bool,
    /// Always called with the authorization URL before waiting (print it for the user).
    pub on_url: Option<UrlCallback>,
    /// Listen on exactly this port (else the provider's ports, then an ephemeral one).
    pub port: Option<u16>,
    /// How long to wait for the user.
    pub timeout: Duration,
}

impl Default for AuthOptions {
    fn default() -> Self {
        Self {
            client_id: None,
            client_secret: None,
            scopes: Vec::new(),
            open_browser: true,
            on_url: None,
            port: None,
            timeout: DEFAULT_LOGIN_TIMEOUT,
        }
    }
}

impl fmt::Debug for AuthOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthOptions")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("scopes", &self.scopes)
            .field("open_browser", &self.open_browser)
            .field("on_url", &self.on_url.as_ref().map(|_| "Fn(&Url)"))
            .field("port", &self.port)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// What [`OAuthService::get_status`] reports (never a token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// The provider.
    pub provider: ProviderName,
    /// The state.
    pub status: AuthStatus,
    /// Access-token expiry in Unix seconds, when known.
    pub expires_at: Option<u64>,
    /// Granted scope.
    pub scope: Option<String>,
    /// Whether a refresh token is stored.
    pub has_refresh_token: bool,
    /// Where the record lives (`None` when there is none).
    pub storage: Option<StorageBackend>,
}

/// The result of a login or refresh (never a token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginOutcome {
    /// The provider.
    pub provider: ProviderName,
    /// Access-token expiry in Unix seconds, when known.
    pub expires_at: Option<u64>,
    /// Granted scope.
    pub scope: Option<String>,
    /// Where the tokens were saved.
    pub storage: StorageBackend,
}

/// The result of [`OAuthService::logout`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutOutcome {
    /// A local record existed and was deleted.
    pub logged_out: bool,
    /// Every token sent to the revocation endpoint was accepted (RFC 7009).
    pub revoked: bool,
    /// Why revocation failed or was skipped with tokens present, if it did.
    pub revocation_error: Option<String>,
}

/// The OAuth 2.1 client lifecycle for many providers: login (authorization code + PKCE through
/// the browser and a loopback redirect), single-flight refresh, status, and logout with
/// revocation.
///
/// Cheap to clone (an `Arc` inside); `Send + Sync`. Build one with [`OAuthService::builder`].
#[derive(Clone)]
pub struct OAuthService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn TokenStore>,
    browser: Option<Arc<dyn BrowserOpener>>,
    listener: Option<Arc<dyn CallbackListener>>,
    providers: BTreeMap<ProviderName, Entry>,
    config_path: Option<PathBuf>,
    clock: Arc<dyn Clock>,
    expiry_buffer: Duration,
    lock_timeout: Duration,
    env: EnvFn,
    http: Http,
    metadata: Mutex<HashMap<ProviderName, Arc<Metadata>>>,
}

impl fmt::Debug for OAuthService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthService")
            .field("store", &self.inner.store)
            .field(
                "providers",
                &self.inner.providers.keys().collect::<Vec<_>>(),
            )
            .field("config_path", &self.inner.config_path)
            .field("expiry_buffer", &self.inner.expiry_buffer)
            .finish_non_exhaustive()
    }
}

/// Builds an [`OAuthService`]. Only the store is required.
#[must_use]
pub struct OAuthServiceBuilder {
    store: Option<Arc<dyn TokenStore>>,
    browser: Option<Arc<dyn BrowserOpener>>,
    listener: Option<Arc<dyn CallbackListener>>,
    ch_home: Option<PathBuf>,
    clock: Arc<dyn Clock>,
    expiry_buffer: Duration,
    timeouts: Timeouts,
    lock_timeout: Option<Duration>,
    env: EnvFn,
    extra: Vec<(OAuthProvider, Option<String>)>,
}

impl fmt::Debug for OAuthServiceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthServiceBuilder")
            .field("ch_home", &self.ch_home)
            .finish_non_exhaustive()
    }
}

impl Default for OAuthServiceBuilder {
    fn default() -> Self {
        Self {
            store: None,
            browser: None,
            listener: None,
            ch_home: None,
            clock: Arc::new(SystemClock),
            expiry_buffer: DEFAULT_EXPIRY_BUFFER,
            timeouts: Timeouts {
                connect: DEFAULT_CONNECT_TIMEOUT,
                total: DEFAULT_TOTAL_TIMEOUT,
            },
            lock_timeout: None,
            env: Arc::new(|k| std::env::var(k).ok()),
            extra: Vec::new(),
        }
    }
}

impl OAuthServiceBuilder {
    /// Where tokens are kept (required).
    pub fn store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// How the authorization URL reaches the browser. Without one, logins only report the URL
    /// through [`AuthOptions::on_url`].
    pub fn browser(mut self, browser: Arc<dyn BrowserOpener>) -> Self {
        self.browser = Some(browser);
        self
    }

    /// Where authorization responses arrive (required for [`OAuthService::authenticate`]).
    pub fn listener(mut self, listener: Arc<dyn CallbackListener>) -> Self {
        self.listener = Some(listener);
        self
    }

    /// The state directory: `ch_home/config.toml` is read for `[providers.NAME]` sections.
    pub fn ch_home(mut self, ch_home: impl Into<PathBuf>) -> Self {
        self.ch_home = Some(ch_home.into());
        self
    }

    /// The clock used for expiry decisions (tests inject a fixed one).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How long before expiry a token is refreshed (default 60 s).
    pub fn expiry_buffer(mut self, buffer: Duration) -> Self {
        self.expiry_buffer = buffer;
        self
    }

    /// Connect and total timeouts of every HTTP request (default 10 s / 30 s).
    pub fn http_timeouts(mut self, connect: Duration, total: Duration) -> Self {
        self.timeouts = Timeouts { connect, total };
        self
    }

    /// How long to wait for another process's refresh (default: the total HTTP timeout plus
    /// 10 s).
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = Some(timeout);
        self
    }

    /// Where environment variables come from (default `std::env::var`).
    pub fn env(mut self, env: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.env = Arc::new(env);
        self
    }

    /// Adds (or replaces) a provider found at run time, for example from an MCP server's
    /// metadata; it is listed with source `discovered`.
    pub fn provider(mut self, provider: OAuthProvider, client_id: Option<String>) -> Self {
        self.extra.push((provider, client_id));
        self
    }

    /// Builds the service: reads `config.toml` when a `ch_home` was given.
    pub fn build(self) -> Result<OAuthService> {
        let store = self.store.ok_or_else(|| Error::NotConfigured {
            what: "no token store: build the service with .store(...)".to_owned(),
        })?;
        let mut providers: BTreeMap<ProviderName, Entry> = builtins()
            .into_iter()
            .map(|e| (e.provider.name.clone(), e))
            .collect();
        let config_path = self.ch_home.map(|h| h.join("config.toml"));
        if let Some(path) = &config_path {
            config::merge_file(path, &mut providers)?;
        }
        crate::mcp::merge_discovered(config_path.as_deref(), &mut providers);
        for (provider, client_id) in self.extra {
            provider.validate().map_err(|e| Error::NotConfigured {
                what: e.to_string(),
            })?;
            let name = provider.name.clone();
            providers.insert(
                name,
                Entry {
                    provider,
                    source: ProviderSource::Discovered,
                    client_id,
                    client_secret: None,
                    client_auth: None,
                    server_url: None,
                    client_id_given: false,
                },
            );
        }
        Ok(OAuthService {
            inner: Arc::new(Inner {
                store,
                browser: self.browser,
                listener: self.listener,
                providers,
                config_path,
                clock: self.clock,
                expiry_buffer: self.expiry_buffer,
                lock_timeout: self
                    .lock_timeout
                    .unwrap_or(self.timeouts.total + Duration::from_secs(10)),
                env: self.env,
                http: Http::new(self.timeouts),
                metadata: Mutex::new(HashMap::new()),
            }),
        })
    }
}

/// A provider with every endpoint a flow needs.
pub(crate) struct Resolved {
    pub(crate) provider: OAuthProvider,
    pub(crate) auth_url: Endpoint,
    pub(crate) token_url: Endpoint,
    pub(crate) client_auth: ClientAuth,
}

/// Why a token request did not yield tokens.
pub(crate) enum TokenFailure {
    /// The server answered with an OAuth error (RFC 6749 §5.2).
    Refused(ServerError),
    /// Anything else: network, 5xx, garbage.
    Other(Error),
}

enum RefreshMode {
    /// Refresh only if the record (re-read under the lock) still expires within the buffer.
    IfExpiring,
    /// Refresh unless another process replaced this access token meanwhile.
    Force { seen: AccessToken },
}

const RESERVED_AUTH_PARAMS: [&str; 7] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
];

impl OAuthService {
    /// A builder with the defaults: system clock, 60 s expiry buffer, 10 s / 30 s HTTP
    /// timeouts, `std::env::var`, no config file.
    pub fn builder() -> OAuthServiceBuilder {
        OAuthServiceBuilder::default()
    }

    /// Every known provider: built-in, configured and discovered, sorted by name.
    #[must_use]
    pub fn list_providers(&self) -> Vec<ProviderInfo> {
        self.inner
            .providers
            .values()
            .map(|e| {
                let p = &e.provider;
                let var = format!("{}_CLIENT_ID", p.name.env_stem());
                ProviderInfo {
                    name: p.name.clone(),
                    display_name: p.display_name.clone(),
                    source: e.source,
                    auth_url: p.auth_url.as_ref().map(|u| u.as_str().to_owned()),
                    token_url: p.token_url.as_ref().map(|u| u.as_str().to_owned()),
                    scopes: p.scopes.clone(),
                    client_id_configured: self.env_nonempty(&var).is_some()
                        || e.client_id.is_some(),
                    setup_url: p.setup_url.as_ref().map(|u| u.as_str().to_owned()),
                    env_client_id_var: var,
                    server_url: e.server_url.clone(),
                }
            })
            .collect()
    }

    /// The state of the stored tokens, without network I/O.
    #[instrument(skip_all, fields(provider = %name))]
    pub async fn get_status(&self, name: &str) -> Result<StatusReport> {
        let (name, _) = self.lookup(name)?;
        let Some(stored) = self.load(&name).await? else {
            return Ok(StatusReport {
                provider: name,
                status: AuthStatus::NotAuthenticated,
                expires_at: None,
                scope: None,
                has_refresh_token: false,
                storage: None,
            });
        };
        let record = &stored.record;
        let tokens = &record.tokens;
        let has_refresh_token = tokens.refresh_token.is_some();
        let status = if record.refresh_failed {
            AuthStatus::TokenRefreshFailed
        } else if !has_refresh_token && tokens.is_expired_with(Duration::ZERO, &*self.inner.clock) {
            AuthStatus::TokenExpired
        } else {
            AuthStatus::Authenticated
        };
        Ok(StatusReport {
            provider: name,
            status,
            expires_at: tokens.expires_at(),
            scope: tokens.scope.clone(),
            has_refresh_token,
            storage: Some(stored.backend),
        })
    }

    /// The stored tokens as they are (no refresh). `AUTH_REQUIRED` when there are none.
    #[instrument(skip_all, fields(provider = %name))]
    pub async fn get_tokens(&self, name: &str) -> Result<OAuthTokens> {
        let (name, _) = self.lookup(name)?;
        match self.load(&name).await? {
            Some(stored) => Ok(stored.record.tokens),
            None => Err(Error::AuthRequired { provider: name }),
        }
    }

    /// A valid access token ([`ensure_valid_token`](Self::ensure_valid_token), then the token).
    #[instrument(skip_all, fields(provider = %name))]
    pub async fn get_bearer_token(&self, name: &str) -> Result<AccessToken> {
        self.ensure_valid_token(name)
            .await
            .map(|tokens| tokens.access_token)
    }

    /// The stored tokens, refreshed first when the access token expires within the buffer.
    ///
    /// With a valid stored token this does no network I/O and does not even build the HTTP
    /// client. A refresh runs under the store's per-provider lock, so concurrent processes
    /// produce one refresh grant between them.
    #[instrument(skip_all, fields(provider = %name))]
    pub async fn ensure_valid_token(&self, name: &str) -> Result<OAuthTokens> {
        let (name, entry) = self.lookup(name)?;
        let Some(stored) = self.load(&name).await? else {
            return Err(Error::AuthRequired { provider: name });
        };
        let record = stored.record;
        if record.refresh_failed {
            return Err(Error::RefreshMarkedFailed { provider: name });
        }
        if !self.expiring(&record.tokens) {
            return Ok(record.tokens);
        }
        if record.tokens.refresh_token.is_none() {
            return Err(Error::TokenExpired { provider: name });
        }
        debug!("access token expires within the buffer: refreshing");
        match self
            .refresh_locked(&name, &entry, RefreshMode::IfExpiring)
            .await
        {
            Ok((fresh, _)) => Ok(fresh.tokens),
            // A network failure, a server error or a timeout while the current access token
            // has not actually expired yet: that token still works, so a blip costs nothing.
            // A refusal (the refresh token is dead) is never papered over.
            Err(e)
                if matches!(
                    e.code(),
                    oauth_primitives::ErrorCode::NetworkError
                        | oauth_primitives::ErrorCode::Timeout
                ) && !record
                    .tokens
                    .is_expired_with(Duration::ZERO, &*self.inner.clock) =>
            {
                let left = record.tokens.expires_at().map_or(0, |at| {
                    at.saturating_sub(oauth_primitives::unix_seconds(self.now()))
                });
                warn!(
                    provider = %name,
                    error = %e,
                    "refresh failed; using the current access token, valid for {left} s more"
                );
                Ok(record.tokens)
            }
            Err(e) => Err(e),
        }
    }

    /// Runs a refresh grant now (unless another process just did one).
    #[instrument(skip_all, fields(provider = %name))]
    pub async fn refresh_tokens(&self, name: &str) -> Result<LoginOutcome> {
        let (name, entry) = self.lookup(name)?;
        let Some(stored) = self.load(&name).await? else {
            return Err(Error::AuthRequired { provider: name });
        };
        if stored.record.tokens.refresh_token.is_none() {
            return Err(Error::TokenExpired { provider: name });
        }
        let seen = stored.record.tokens.access_token;
        let (record, storage) = self
            .refresh_locked(&name, &entry, RefreshMode::Force { seen })
            .await?;
        Ok(LoginOutcome {
            provider: name,
            expires_at: record.tokens.expires_at(),
            scope: record.tokens.scope,
            storage,
        })
    }

    /// Logs in: authorization code with PKCE (S256) through the browser and the loopback
    /// listener, then stores the tokens. A failed or denied login leaves stored tokens as
    /// they were. A provider saved by [`authenticate_url`](Self::authenticate_url) logs in
    /// through it again, with the URL it was found at.
    #[instrument(skip_all, fields(provider = %name))]
    pub async fn authenticate(&self, name: &str, options: AuthOptions) -> Result<LoginOutcome> {
        let (name, entry) = self.lookup(name)?;
        if let Some(server_url) = entry.server_url.clone() {
            // A provider found by logging in to an MCP server by URL: discover again, so
            // changed endpoints, a forgotten registration and step-up scopes are handled as
            // on the first login. A client id given with that login is kept.
            let mut options = options;
            if options.client_id.is_none() && entry.client_id_given {
                options.client_id.clone_from(&entry.client_id);
            }
            let options = crate::McpAuthOptions {
                auth: options,
                name: Some(name.to_string()),
                register_again: false,
            };
            return self.authenticate_url(&server_url, options).await;
        }
        self.authenticate_entry(name, entry, options).await
    }

    /// [`authenticate`](Self::authenticate) with a provider that need not be registered
    /// (MCP login by URL passes the one it discovered).
    pub(crate) async fn authenticate_entry(
        &self,
        name: ProviderName,
        entry: Entry,
        options: AuthOptions,
    ) -> Result<LoginOutcome> {
        let client_id = self.client_id(&entry, options.client_id.as_deref(), None)?;
        let client_secret = self.client_secret(&entry, options.client_secret.clone());
        let listener = self
            .inner
            .listener
            .clone()
            .ok_or_else(|| Error::NotConfigured {
                what: "no callback listener: build the service with .listener(...)".to_owned(),
            })?;
        let resolved = self.resolve(&entry).await?;
        let provider = &resolved.provider;

        let verifier = CodeVerifier::generate().context(PkceSnafu)?;
        let state = Arc::new(State::generate().context(PkceSnafu)?);
        let pending = listener
            .bind(CallbackRequest {
                host: provider.redirect_host,
                path: provider.redirect_path.clone(),
                port: options.port,
                ports: provider.ports.clone(),
                state: Arc::clone(&state),
                expected_issuer: provider.issuer.clone(),
                iss_required: provider.iss_parameter_supported,
                timeout: options.timeout,
            })
            .await
            .context(CallbackSnafu {
                provider: name.clone(),
            })?;
        let redirect_uri = pending.redirect_uri().clone();
        debug!(redirect_uri = %redirect_uri, "callback listener bound");

        let scopes = union_scopes(&provider.scopes, &options.scopes);
        let auth_url = authorization_url(
            &resolved,
            &client_id,
            &redirect_uri,
            &scopes,
            &state,
            &verifier,
        );
        check_openable(&auth_url).context(BrowserSnafu)?;
        self.present(&name, &auth_url, &options, provider)?;
        info!("waiting for the authorization response");
        let grace = Duration::from_secs(5);
        let response = match tokio::time::timeout(options.timeout + grace, pending.wait()).await {
            Ok(r) => r.context(CallbackSnafu {
                provider: name.clone(),
            })?,
            Err(_) => {
                return Err(Error::LoginTimeout {
                    provider: name,
                    secs: options.timeout.as_secs(),
                });
            }
        };
        check_iss(response.iss.as_deref(), provider)?;

        let client = http::Client {
            id: &client_id,
            secret: client_secret.as_ref(),
            auth: resolved.client_auth,
        };
        let tokens = self
            .exchange_code(
                &name,
                &resolved,
                response,
                &redirect_uri,
                &verifier,
                &client,
            )
            .await?;
        let record = TokenRecord::new(tokens, Some(client_id));
        let _lock = self.lock(&name).await?;
        let storage = self.save(&name, &record).await?;
        info!(storage = %storage, "logged in");
        Ok(LoginOutcome {
            provider: name,
            expires_at: record.tokens.expires_at(),
            scope: record.tokens.scope.clone(),
            storage,
        })
    }

    /// Revokes the refresh token, then the access token, when the provider has a revocation
    /// endpoint (RFC 7009), and deletes the local record even if revocation failed.
    #[instrument(skip_all, fields(provider = %name))]
    pub async fn logout(&self, name: &str) -> Result<LogoutOutcome> {
        let (name, entry) = self.lookup(name)?;
        let Some(stored) = self.load(&name).await? else {
            return Ok(LogoutOutcome {
                logged_out: false,
                revoked: false,
                revocation_error: None,
            });
        };
        let (revoked, revocation_error) = match self.revoke(&entry, &stored.record).await {
            Ok(revoked) => (revoked, None),
            Err(e) => {
                debug!(error = %e, "token revocation failed; deleting the local record anyway");
                (false, Some(e))
            }
        };
        let _lock = self.lock(&name).await?;
        let n = name.clone();
        let logged_out = self.blocking(move |s| s.delete(&n)).await?;
        info!(logged_out, revoked, "logged out");
        Ok(LogoutOutcome {
            logged_out,
            revoked,
            revocation_error,
        })
    }

    // ---- internals ----

    /// The token request of the authorization-code grant (RFC 6749 §4.1.3, RFC 7636 §4.5).
    async fn exchange_code(
        &self,
        name: &ProviderName,
        resolved: &Resolved,
        response: crate::listener::AuthorizationResponse,
        redirect_uri: &Url,
        verifier: &CodeVerifier,
        client: &http::Client<'_>,
    ) -> Result<OAuthTokens> {
        let mut params = vec![
            ("grant_type", "authorization_code"),
            ("code", response.code.expose_secret()),
            ("redirect_uri", redirect_uri.as_str()),
            ("code_verifier", verifier.expose_secret()),
        ];
        if let Some(resource) = &resolved.provider.resource {
            params.push(("resource", resource));
        }
        let issued = self.inner.clock.now();
        let result = self
            .inner
            .http
            .post_form("token", &resolved.token_url, &params, client)
            .await
            .map_err(TokenFailure::Other)
            .and_then(|r| tokens_from(name, "token", &resolved.token_url, &r, issued));
        match result {
            Ok(t) => Ok(t),
            Err(TokenFailure::Refused(error)) => Err(Error::ExchangeRefused {
                provider: name.clone(),
                error,
            }),
            Err(TokenFailure::Other(e)) => Err(e),
        }
    }

    /// Hands the authorization URL to the caller and, if asked, to the browser. A browser
    /// that fails to open ends the login at once (issue 8): waiting for a redirect that
    /// cannot come helps nobody; the error offers `--no-browser` and the device flow.
    fn present(
        &self,
        name: &ProviderName,
        auth_url: &Url,
        options: &AuthOptions,
        provider: &OAuthProvider,
    ) -> Result<()> {
        if let Some(on_url) = &options.on_url {
            on_url(auth_url);
        }
        if !options.open_browser {
            return Ok(());
        }
        if let Some(browser) = &self.inner.browser {
            if let Err(source) = browser.open(auth_url) {
                debug!(error = %source, "could not open the browser");
                return Err(Error::NoBrowser {
                    provider: name.clone(),
                    source,
                    device: provider.device_authorization_url.is_some(),
                });
            }
        } else {
            warn!("no browser opener is configured; open the printed URL yourself");
        }
        Ok(())
    }

    pub(crate) fn lookup(&self, name: &str) -> Result<(ProviderName, Entry)> {
        let name = ProviderName::new(name).context(InvalidNameSnafu)?;
        match self.inner.providers.get(&name) {
            Some(e) => Ok((name, e.clone())),
            None => Err(Error::UnknownProvider {
                name,
                known: self
                    .inner
                    .providers
                    .keys()
                    .map(ProviderName::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                config: self.inner.config_path.as_ref().map_or_else(
                    || "$CH_HOME/config.toml".to_owned(),
                    |p| p.display().to_string(),
                ),
            }),
        }
    }

    pub(crate) fn env_nonempty(&self, var: &str) -> Option<String> {
        (self.inner.env)(var).filter(|v| !v.trim().is_empty())
    }

    /// Client id: explicit > `{NAME}_CLIENT_ID` > config > the one the tokens were issued to.
    pub(crate) fn client_id(
        &self,
        entry: &Entry,
        explicit: Option<&str>,
        record: Option<&TokenRecord>,
    ) -> Result<String> {
        let var = format!("{}_CLIENT_ID", entry.provider.name.env_stem());
        explicit
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
            .or_else(|| self.env_nonempty(&var))
            .or_else(|| entry.client_id.clone())
            .or_else(|| record.and_then(|r| r.client_id.clone()))
            .ok_or_else(|| Error::NoClientId {
                provider: entry.provider.name.clone(),
                var,
                setup_url: entry
                    .provider
                    .setup_url
                    .as_ref()
                    .map(|u| u.as_str().to_owned()),
            })
    }

    /// Client secret: explicit > `{NAME}_CLIENT_SECRET` > config.
    pub(crate) fn client_secret(
        &self,
        entry: &Entry,
        explicit: Option<ClientSecret>,
    ) -> Option<ClientSecret> {
        explicit
            .or_else(|| {
                self.env_nonempty(&format!("{}_CLIENT_SECRET", entry.provider.name.env_stem()))
                    .map(ClientSecret::new)
            })
            .or_else(|| entry.client_secret.clone())
    }

    fn expiring(&self, tokens: &OAuthTokens) -> bool {
        tokens.is_expired_with(self.inner.expiry_buffer, &*self.inner.clock)
    }

    /// Fills endpoints from discovery when only `issuer` is configured (cached per process).
    pub(crate) async fn resolve(&self, entry: &Entry) -> Result<Resolved> {
        let mut provider = entry.provider.clone();
        if let (Some(auth_url), Some(token_url)) =
            (provider.auth_url.clone(), provider.token_url.clone())
        {
            return Ok(Resolved {
                provider,
                auth_url,
                token_url,
                client_auth: entry.client_auth.unwrap_or(ClientAuth::Basic),
            });
        }
        let Some(issuer) = provider.issuer.clone() else {
            return Err(Error::BadEndpoint {
                provider: provider.name.clone(),
                what: "the configuration",
                reason: "it needs auth_url and token_url, or an issuer to discover them from"
                    .to_owned(),
            });
        };
        let metadata = self.metadata(&provider.name, &issuer).await?;
        provider.auth_url = Some(metadata.authorization_endpoint.clone());
        provider.token_url = Some(metadata.token_endpoint.clone());
        if provider.revocation_url.is_none() {
            provider
                .revocation_url
                .clone_from(&metadata.revocation_endpoint);
        }
        if provider.device_authorization_url.is_none() {
            provider
                .device_authorization_url
                .clone_from(&metadata.device_authorization_endpoint);
        }
        provider.iss_parameter_supported = metadata.iss_parameter_supported;
        provider.issuer = Some(metadata.issuer.clone());
        Ok(Resolved {
            auth_url: metadata.authorization_endpoint.clone(),
            token_url: metadata.token_endpoint.clone(),
            client_auth: entry.client_auth.unwrap_or(metadata.client_auth),
            provider,
        })
    }

    pub(crate) async fn metadata(
        &self,
        name: &ProviderName,
        issuer: &str,
    ) -> Result<Arc<Metadata>> {
        if let Some(m) = self.cached_metadata(name) {
            return Ok(m);
        }
        let m = Arc::new(discovery::discover(&self.inner.http, issuer).await?);
        if let Ok(mut cache) = self.inner.metadata.lock() {
            cache.insert(name.clone(), Arc::clone(&m));
        }
        Ok(m)
    }

    fn cached_metadata(&self, name: &ProviderName) -> Option<Arc<Metadata>> {
        self.inner.metadata.lock().ok()?.get(name).cloned()
    }

    // ---- for crate::mcp (login by URL) ----

    pub(crate) fn http(&self) -> &Http {
        &self.inner.http
    }

    /// The state directory (the directory of `config.toml`), when the service has one.
    pub(crate) fn ch_home(&self) -> Option<&std::path::Path> {
        self.inner.config_path.as_deref()?.parent()
    }

    pub(crate) fn config_path(&self) -> Option<&std::path::Path> {
        self.inner.config_path.as_deref()
    }

    pub(crate) fn entry(&self, name: &ProviderName) -> Option<&Entry> {
        self.inner.providers.get(name)
    }

    pub(crate) fn now(&self) -> std::time::SystemTime {
        self.inner.clock.now()
    }

    pub(crate) fn browser(&self) -> Option<&dyn BrowserOpener> {
        self.inner.browser.as_deref()
    }

    /// Where custom providers are configured, for error messages.
    pub(crate) fn config_display(&self) -> String {
        self.inner.config_path.as_ref().map_or_else(
            || "$CH_HOME/config.toml".to_owned(),
            |p| p.display().to_string(),
        )
    }

    /// The refresh grant under the provider's cross-process lock.
    async fn refresh_locked(
        &self,
        name: &ProviderName,
        entry: &Entry,
        mode: RefreshMode,
    ) -> Result<(TokenRecord, StorageBackend)> {
        // Discovery (if any) happens before the lock, so the lock is held for one request.
        let resolved = self.resolve(entry).await?;
        let lock = self.lock(name).await?;
        let Some(StoredRecord {
            record: mut current,
            backend,
        }) = self.load(name).await?
        else {
            return Err(Error::AuthRequired {
                provider: name.clone(),
            });
        };
        match &mode {
            RefreshMode::IfExpiring => {
                if current.refresh_failed {
                    return Err(Error::RefreshMarkedFailed {
                        provider: name.clone(),
                    });
                }
                if !self.expiring(&current.tokens) {
                    debug!("another process refreshed meanwhile: using its tokens");
                    return Ok((current, backend));
                }
            }
            RefreshMode::Force { seen } => {
                if !current.refresh_failed
                    && current.tokens.access_token.expose_secret() != seen.expose_secret()
                {
                    debug!("another process refreshed meanwhile: using its tokens");
                    return Ok((current, backend));
                }
            }
        }
        let Some(refresh_token) = current.tokens.refresh_token.clone() else {
            return Err(Error::TokenExpired {
                provider: name.clone(),
            });
        };
        let client_id = self.client_id(entry, None, Some(&current))?;
        let client_secret = self.client_secret(entry, None);
        let mut params = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose_secret()),
        ];
        if let Some(resource) = &resolved.provider.resource {
            params.push(("resource", resource));
        }
        let client = http::Client {
            id: &client_id,
            secret: client_secret.as_ref(),
            auth: resolved.client_auth,
        };
        let issued = self.inner.clock.now();
        let result = self
            .inner
            .http
            .post_form("refresh", &resolved.token_url, &params, &client)
            .await
            .map_err(TokenFailure::Other)
            .and_then(|r| tokens_from(name, "refresh", &resolved.token_url, &r, issued));
        drop(params);
        match result {
            Ok(mut fresh) => {
                // A response without a refresh token keeps the old one (RFC 6749 §6), and one
                // without a scope keeps the granted scope.
                if fresh.refresh_token.is_none() {
                    fresh.refresh_token = Some(refresh_token);
                }
                if fresh.scope.is_none() {
                    fresh.scope = current.tokens.scope.take();
                }
                current.tokens = fresh;
                current.refresh_failed = false;
                if current.client_id.is_none() {
                    current.client_id = Some(client_id);
                }
                let storage = self.save(name, &current).await?;
                drop(lock);
                info!(storage = %storage, "token refreshed");
                Ok((current, storage))
            }
            Err(TokenFailure::Refused(error)) => {
                if error.error == "invalid_grant" {
                    // The refresh token is dead: mark the record so status says so.
                    current.refresh_failed = true;
                    self.save(name, &current).await?;
                    debug!("refresh token refused (invalid_grant); the user must log in again");
                } else {
                    debug!(error = %error.error, "refresh refused");
                }
                drop(lock);
                Err(Error::RefreshRefused {
                    provider: name.clone(),
                    error,
                })
            }
            Err(TokenFailure::Other(e)) => {
                debug!(error = %e, "refresh failed; the stored tokens are unchanged");
                Err(e)
            }
        }
    }
}

/// Classifies a token-endpoint response.
pub(crate) fn tokens_from(
    name: &ProviderName,
    what: &'static str,
    url: &Endpoint,
    r: &Response,
    issued: std::time::SystemTime,
) -> std::result::Result<OAuthTokens, TokenFailure> {
    let ct = r.content_type.as_deref();
    let bad = |detail: String, code| {
        TokenFailure::Other(Error::BadResponse {
            what,
            url: http::url_for_humans(url),
            detail,
            code,
        })
    };
    match r.status {
        200..=299 => match OAuthTokens::from_response(&r.body, ct, issued) {
            Ok(t) => Ok(t),
            Err(TokenResponseError::Server { error }) => Err(TokenFailure::Refused(error)),
            Err(source) => Err(TokenFailure::Other(Error::TokenResponse {
                provider: name.clone(),
                source,
            })),
        },
        400..=499 => match ServerError::from_body(&r.body, ct) {
            Some(error) => Err(TokenFailure::Refused(error)),
            None => Err(bad(
                format!("{} that is not an OAuth error response", r.describe()),
                oauth_primitives::ErrorCode::InvalidResponse,
            )),
        },
        500..=599 => Err(bad(
            format!("{}: the server failed; try again later", r.describe()),
            oauth_primitives::ErrorCode::NetworkError,
        )),
        _ => Err(bad(
            format!("{} (redirects are not followed)", r.describe()),
            oauth_primitives::ErrorCode::InvalidResponse,
        )),
    }
}

impl OAuthService {
    /// RFC 7009: the refresh token first (it usually takes the access token with it), then
    /// the access token. `Ok(false)` when the provider has no revocation endpoint.
    async fn revoke(
        &self,
        entry: &Entry,
        record: &TokenRecord,
    ) -> std::result::Result<bool, String> {
        let mut endpoint = entry.provider.revocation_url.clone();
        let mut client_auth = entry.client_auth.unwrap_or(ClientAuth::Basic);
        if endpoint.is_none() && entry.provider.issuer.is_some() {
            let resolved = self.resolve(entry).await.map_err(|e| e.to_string())?;
            endpoint = resolved.provider.revocation_url;
            client_auth = resolved.client_auth;
        }
        let Some(endpoint) = endpoint else {
            debug!("the provider has no revocation endpoint");
            return Ok(false);
        };
        let client_id = self
            .client_id(entry, None, Some(record))
            .map_err(|e| e.to_string())?;
        let client_secret = self.client_secret(entry, None);
        let client = http::Client {
            id: &client_id,
            secret: client_secret.as_ref(),
            auth: client_auth,
        };
        let tokens = &record.tokens;
        let mut errors = Vec::new();
        let refresh = tokens
            .refresh_token
            .as_ref()
            .map(|t| (t.expose_secret(), "refresh_token"));
        let access = Some((tokens.access_token.expose_secret(), "access_token"));
        for (token, hint) in refresh.into_iter().chain(access) {
            let params = [("token", token), ("token_type_hint", hint)];
            match self
                .inner
                .http
                .post_form("revocation", &endpoint, &params, &client)
                .await
            {
                Ok(r) if r.status == 200 => debug!(hint, "token revoked"),
                Ok(r) => errors.push(
                    match ServerError::from_body(&r.body, r.content_type.as_deref()) {
                        Some(e) => format!("{hint}: {e}"),
                        None => format!("{hint}: {}", r.describe()),
                    },
                ),
                Err(e) => errors.push(format!("{hint}: {e}")),
            }
        }
        if errors.is_empty() {
            Ok(true)
        } else {
            Err(format!(
                "revocation at {} failed: {}",
                http::url_for_humans(&endpoint),
                errors.join("; ")
            ))
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn TokenStore) -> std::result::Result<T, StoreError> + Send + 'static,
    ) -> Result<T> {
        let store = Arc::clone(&self.inner.store);
        tokio::task::spawn_blocking(move || f(&*store))
            .await
            .map_err(|e| Error::StoreTask {
                reason: e.to_string(),
            })?
            .map_err(|source| Error::Store { source })
    }

    async fn load(&self, name: &ProviderName) -> Result<Option<StoredRecord>> {
        let n = name.clone();
        self.blocking(move |s| s.load(&n)).await
    }

    pub(crate) async fn save(
        &self,
        name: &ProviderName,
        record: &TokenRecord,
    ) -> Result<StorageBackend> {
        let n = name.clone();
        let r = record.clone();
        self.blocking(move |s| s.save(&n, &r)).await
    }

    pub(crate) async fn lock(&self, name: &ProviderName) -> Result<oauth_primitives::ProviderLock> {
        let n = name.clone();
        let timeout = self.inner.lock_timeout;
        self.blocking(move |s| s.lock(&n, timeout)).await
    }
}

/// RFC 9207, checked again here in case a listener implementation forgot.
fn check_iss(iss: Option<&str>, provider: &OAuthProvider) -> Result<()> {
    match (iss, &provider.issuer) {
        (Some(iss), Some(expected)) if iss != expected => Err(Error::DiscoveryRefused {
            issuer: expected.clone(),
            reason: "the authorization response came from another issuer (iss mismatch)"
                .to_owned(),
        }),
        (None, Some(expected)) if provider.iss_parameter_supported => {
            Err(Error::DiscoveryRefused {
                issuer: expected.clone(),
                reason: "the authorization response has no iss parameter although the server promised one"
                    .to_owned(),
            })
        }
        _ => Ok(()),
    }
}

/// The provider's scopes plus the requested ones, each once, in order.
pub(crate) fn union_scopes(defaults: &[String], extra: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in defaults
        .iter()
        .chain(extra)
        .flat_map(|s| s.split_whitespace())
    {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    out
}

/// The authorization request (RFC 6749 §4.1.1 with PKCE, RFC 7636 §4.3).
fn authorization_url(
    resolved: &Resolved,
    client_id: &str,
    redirect_uri: &Url,
    scopes: &[String],
    state: &State,
    verifier: &CodeVerifier,
) -> Url {
    let provider = &resolved.provider;
    let mut url = resolved.auth_url.url().clone();
    let challenge = verifier.challenge();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri.as_str());
        if !scopes.is_empty() {
            q.append_pair("scope", &scopes.join(" "));
        }
        q.append_pair("state", state.expose_secret())
            .append_pair("code_challenge", challenge.as_str())
            .append_pair("code_challenge_method", challenge.method());
        if let Some(audience) = &provider.audience {
            q.append_pair("audience", audience);
        }
        if let Some(resource) = &provider.resource {
            q.append_pair("resource", resource);
        }
        for (k, v) in &provider.extra_auth_params {
            let taken = RESERVED_AUTH_PARAMS.contains(&k.as_str())
                || (k == "audience" && provider.audience.is_some())
                || (k == "resource" && provider.resource.is_some());
            if taken {
                warn!(param = %k, "ignoring an extra authorization parameter that ch sets itself");
            } else {
                q.append_pair(k, v);
            }
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One record in memory; `lock` always succeeds.
    #[derive(Debug, Default)]
    struct OneRecord(Mutex<Option<TokenRecord>>);

    impl TokenStore for OneRecord {
        fn load(&self, _: &ProviderName) -> std::result::Result<Option<StoredRecord>, StoreError> {
            Ok(self.0.lock().unwrap().clone().map(|record| StoredRecord {
                record,
                backend: StorageBackend::Memory,
            }))
        }
        fn save(
            &self,
            _: &ProviderName,
            r: &TokenRecord,
        ) -> std::result::Result<StorageBackend, StoreError> {
            *self.0.lock().unwrap() = Some(r.clone());
            Ok(StorageBackend::Memory)
        }
        fn delete(&self, _: &ProviderName) -> std::result::Result<bool, StoreError> {
            Ok(self.0.lock().unwrap().take().is_some())
        }
        fn lock(
            &self,
            _: &ProviderName,
            _: Duration,
        ) -> std::result::Result<oauth_primitives::ProviderLock, StoreError> {
            Ok(oauth_primitives::ProviderLock::new(()))
        }
    }

    #[tokio::test]
    async fn a_valid_token_is_served_without_building_the_http_client() {
        let store = Arc::new(OneRecord::default());
        let mut tokens = OAuthTokens::new(AccessToken::new("AT-valid-0123456789"));
        tokens.expires_in = Some(3600);
        store
            .save(
                &ProviderName::new("github").unwrap(),
                &TokenRecord::new(tokens, None),
            )
            .unwrap();
        let svc = OAuthService::builder()
            .store(store)
            .env(|_| None)
            .build()
            .unwrap();
        let token = svc.get_bearer_token("github").await.unwrap();
        assert_eq!(token.expose_secret(), "AT-valid-0123456789");
        svc.get_status("github").await.unwrap();
        assert!(
            !svc.inner.http.is_built(),
            "the hot path built the HTTP client"
        );
    }

    #[test]
    fn scopes_are_a_union_in_order() {
        let d = vec!["openid".to_owned(), "offline_access".to_owned()];
        assert_eq!(
            union_scopes(
                &d,
                &["email openid".to_owned(), "offline_access".to_owned()]
            ),
            ["openid", "offline_access", "email"]
        );
        assert!(union_scopes(&[], &[]).is_empty());
    }

    #[test]
    fn authorization_url_has_pkce_state_and_extras() {
        let mut p = OAuthProvider::new(ProviderName::new("x").unwrap());
        p.audience = Some("api.example".into());
        p.extra_auth_params
            .insert("prompt".into(), "consent".into());
        p.extra_auth_params.insert("state".into(), "evil".into());
        let auth_url = Endpoint::parse("https://a.example/authorize?tenant=t1").unwrap();
        let resolved = Resolved {
            provider: p,
            auth_url: auth_url.clone(),
            token_url: auth_url,
            client_auth: ClientAuth::Basic,
        };
        let state = State::generate().unwrap();
        let verifier = CodeVerifier::generate().unwrap();
        let redirect = Url::parse("http://127.0.0.1:8080/callback").unwrap();
        let url = authorization_url(
            &resolved,
            "cid",
            &redirect,
            &["a".into(), "b".into()],
            &state,
            &verifier,
        );
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |k: &str| {
            pairs
                .iter()
                .filter(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(get("tenant"), ["t1"]);
        assert_eq!(get("response_type"), ["code"]);
        assert_eq!(get("client_id"), ["cid"]);
        assert_eq!(get("redirect_uri"), ["http://127.0.0.1:8080/callback"]);
        assert_eq!(get("scope"), ["a b"]);
        assert_eq!(get("state"), [state.expose_secret()]);
        assert_eq!(get("code_challenge"), [verifier.challenge().as_str()]);
        assert_eq!(get("code_challenge_method"), ["S256"]);
        assert_eq!(get("audience"), ["api.example"]);
        assert_eq!(get("prompt"), ["consent"]);
        assert!(!url.as_str().contains(verifier.expose_secret()));
    }
}
