//! Zero-configuration login to an MCP server by its URL (MCP authorization 2025-11-25).
//!
//! [`OAuthService::authenticate_url`] turns a URL into an ordinary provider:
//!
//! 1. **Probe** the URL without credentials: an MCP `initialize` POST, then a GET. A 401's
//!    `WWW-Authenticate: Bearer resource_metadata="…", scope="…"` says where the protected
//!    resource metadata is (RFC 9728 §5.1).
//! 2. **Protected resource metadata** from that pointer, or else from
//!    `/.well-known/oauth-protected-resource/<path>` then `/.well-known/oauth-protected-resource`
//!    on the origin. Its `resource` must name the URL it describes (RFC 9728 §3.3; the rule is in
//!    [`resource_metadata`]) and it must list `authorization_servers`; the first usable one wins.
//! 3. **Authorization-server metadata** (RFC 8414 / OpenID Discovery in the MCP order; the
//!    `issuer` must be identical, S256 must be advertised), through the service's discovery.
//! 4. **Client identity**: `--client-id` > `{NAME}_CLIENT_ID` > `[mcp.NAME] client_id` >
//!    ch's Client ID Metadata Document (`CH_CLIENT_METADATA_URL` or `client_metadata_url` in
//!    `config.toml`) where the server supports such documents > the registration stored for
//!    that issuer > dynamic client registration (RFC 7591), stored per issuer under
//!    `$CH_HOME/registrations/`. (A `[providers.NAME]` section in `config.toml` is a complete
//!    provider of its own, so its name cannot be reused for a discovered one.)
//! 5. **Login** through the service's authorization-code + PKCE flow with `resource` (RFC 8707)
//!    on the authorization, token and every refresh request and the RFC 9207 `iss` check; then
//!    the provider is saved under `$CH_HOME/discovered/NAME.json`.
//!
//! Every fetch goes through the service's HTTP client: connect and total timeouts, a 256 KB
//! cap, no redirects followed; documents must be JSON. Only https URLs, or http on loopback,
//! are ever fetched ([`Endpoint`]).

mod persist;
pub(crate) mod registration;
pub(crate) mod resource_metadata;
mod www_authenticate;

use std::path::PathBuf;

use oauth_primitives::{
    Endpoint, ErrorCode, ProviderName, ServerError, Url, sanitize_for_terminal, unix_seconds,
};
use snafu::Snafu;
use tracing::{debug, info, instrument, warn};

pub(crate) use persist::merge_discovered;
pub use www_authenticate::{BearerChallenge, parse_bearer_challenge};

use crate::discovery::{self, Metadata};
use crate::error::{Error, Result};
use crate::providers::ProviderSource;
use crate::service::{AuthOptions, LoginOutcome, OAuthService};
use persist::DiscoveredFile;
use registration::Registration;
use resource_metadata::ResourceMetadata;

/// Who ch is at the authorization server for one login by URL.
struct ClientIdentity {
    client_id: String,
    /// The dynamic registration behind `client_id`, if any.
    registration: Option<Registration>,
    /// That registration was stored by an earlier login (not made now).
    reused: bool,
    /// `client_id` came with the call (`--client-id`).
    given: bool,
}

/// The environment variable naming ch's OAuth Client ID Metadata Document (an https URL that
/// serves as ch's client id where the authorization server supports such documents).
pub const CLIENT_METADATA_URL_VAR: &str = "CH_CLIENT_METADATA_URL";

/// Options of one [`OAuthService::authenticate_url`] call.
#[derive(Debug, Clone, Default)]
pub struct McpAuthOptions {
    /// The browser-login options. `client_id` skips registration; `scopes` are added to the
    /// scopes the server asks for (the union is requested, for step-up).
    pub auth: AuthOptions,
    /// The provider name to store the login under (default: made from the URL's host with
    /// [`ProviderName::from_host`]).
    pub name: Option<String>,
    /// Register a new client even when one is stored for the authorization server (which has
    /// forgotten it, say), replacing the stored one. An error when a client id is given.
    pub register_again: bool,
}

/// Why MCP discovery or registration failed. Reached through [`Error::Mcp`].
#[derive(Debug, Snafu)]
#[snafu(visibility(pub(crate)))]
#[non_exhaustive]
pub enum McpError {
    /// The URL given is not a usable MCP server URL.
    #[snafu(display("{url} is not a usable MCP server URL: {reason}"))]
    BadServerUrl {
        /// The URL, made safe to print.
        url: String,
        /// Why.
        reason: String,
    },
    /// No provider name could be made from the host.
    #[snafu(display(
        "no provider name can be made from the host of {url}; choose one with --name"
    ))]
    NoName {
        /// The URL.
        url: String,
    },
    /// The name is taken by a built-in or configured provider.
    #[snafu(display(
        "the name {name} belongs to a {kind} provider; choose another name with --name"
    ))]
    NameTaken {
        /// The name.
        name: ProviderName,
        /// The other provider's source.
        kind: ProviderSource,
    },
    /// Neither a `WWW-Authenticate` pointer nor a well-known document was found.
    #[snafu(display("{url} does not say where to log in: {reason}; tried {tried}"))]
    NoResourceMetadata {
        /// The MCP server URL.
        url: String,
        /// What the probe saw.
        reason: String,
        /// The documents tried.
        tried: String,
    },
    /// A protected resource metadata document is unusable.
    #[snafu(display("the protected resource metadata {document} is unusable: {reason}"))]
    ResourceMetadata {
        /// The document URL.
        document: String,
        /// What is wrong, naming the rule.
        reason: String,
        /// The code.
        code: ErrorCode,
    },
    /// The authorization server refused to register ch.
    #[snafu(display(
        "the authorization server {issuer} refused to register ch as a client ({error}); register a client there yourself and pass --client-id"
    ))]
    RegistrationRefused {
        /// The issuer.
        issuer: String,
        /// The OAuth error, sanitised.
        error: ServerError,
    },
    /// The registration endpoint answered something unusable.
    #[snafu(display(
        "the client registration endpoint {url} answered {detail}; register a client yourself and pass --client-id"
    ))]
    BadRegistration {
        /// The endpoint.
        url: String,
        /// What came back (never a secret).
        detail: String,
        /// The code.
        code: ErrorCode,
    },
    /// No client id and no way to register one.
    #[snafu(display(
        "the authorization server {issuer} offers no dynamic client registration: register a client there and pass --client-id or set {var}"
    ))]
    NoRegistration {
        /// The issuer.
        issuer: String,
        /// The environment variable that would supply a client id.
        var: String,
    },
    /// The authorization server refused the client ch registered there at an earlier login.
    #[snafu(display(
        "the authorization server {issuer} no longer accepts the client ch registered there earlier ({error}); ch has forgotten that registration, so the same ch mcp auth will register anew"
    ))]
    StaleRegistration {
        /// The issuer.
        issuer: String,
        /// The OAuth error, sanitised.
        error: ServerError,
    },
    /// A login with a stored registration got no authorization response.
    #[snafu(display(
        "{source}. If the browser showed an error about an unknown or invalid client, the authorization server {issuer} has forgotten the client ch registered there: run ch mcp auth again with --reregister"
    ))]
    StoredClientTimeout {
        /// The issuer.
        issuer: String,
        /// The timeout.
        source: Box<Error>,
    },
    /// `CH_CLIENT_METADATA_URL` is not a usable client metadata document URL.
    #[snafu(display(
        "CH_CLIENT_METADATA_URL={url:?} is not a usable client metadata document URL: {reason}"
    ))]
    BadClientMetadataUrl {
        /// The value, made safe to print.
        url: String,
        /// Why.
        reason: String,
    },
    /// A new registration was asked for, but the client id comes from elsewhere.
    #[snafu(display(
        "--reregister asks for a new client registration, but the client id comes from {origin}; drop one of the two"
    ))]
    RegisterAgainWithClientId {
        /// Where the client id came from.
        origin: String,
    },
    /// Discovery needs a state directory.
    #[snafu(display(
        "login by URL needs a state directory to keep the discovered provider: build the service with .ch_home(...)"
    ))]
    NoChHome,
    /// A file under `$CH_HOME` could not be written.
    #[snafu(display("could not write {}: {source}", path.display()))]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl McpError {
    /// The error code.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        match self {
            McpError::BadServerUrl { .. }
            | McpError::NoName { .. }
            | McpError::NameTaken { .. }
            | McpError::RegistrationRefused { .. }
            | McpError::NoRegistration { .. }
            | McpError::StaleRegistration { .. }
            | McpError::RegisterAgainWithClientId { .. }
            | McpError::BadClientMetadataUrl { .. }
            | McpError::NoChHome => ErrorCode::ConfigMissing,
            McpError::StoredClientTimeout { source, .. } => source.code(),
            McpError::NoResourceMetadata { .. } => ErrorCode::InvalidResponse,
            McpError::ResourceMetadata { code, .. } | McpError::BadRegistration { code, .. } => {
                *code
            }
            McpError::Write { .. } => ErrorCode::StorageError,
        }
    }
}

impl From<McpError> for Error {
    fn from(source: McpError) -> Self {
        Error::Mcp { source }
    }
}

/// The scopes to ask for: the challenge's, else the metadata's `scopes_supported`, then the
/// caller's added (union, in order, each once), then `offline_access` when the authorization
/// server lists it (`offline`) and something else is asked for: without it such servers issue
/// no refresh token, and `ch mcp token` would need the browser again within the hour. (MCP
/// 2026-07-28 "Refresh Tokens": MAY. With no scope at all the server's default stays, so it
/// is not added alone.)
fn choose_scopes(
    challenge: Option<&str>,
    prm: &ResourceMetadata,
    extra: &[String],
    offline: bool,
) -> Vec<String> {
    let base: Vec<&str> = match challenge.filter(|s| !s.trim().is_empty()) {
        Some(s) => s.split_whitespace().collect(),
        None => prm.scopes_supported.iter().map(String::as_str).collect(),
    };
    let mut out: Vec<String> = Vec::new();
    for s in base
        .into_iter()
        .chain(extra.iter().flat_map(|s| s.split_whitespace()))
    {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    if offline && !out.is_empty() && !out.iter().any(|o| o == "offline_access") {
        out.push("offline_access".to_owned());
    }
    out
}

impl OAuthService {
    /// Logs in to the MCP server at `server_url` with nothing configured: discovers its
    /// authorization server (RFC 9728, RFC 8414 / OpenID Discovery), registers ch as a client
    /// when no client id is given (RFC 7591, remembered per authorization server), runs the
    /// browser login with `resource` = the server's canonical URI (RFC 8707), and saves the
    /// result as a provider with source [`ProviderSource::Discovered`].
    ///
    /// The provider is named `options.name` or after the URL's host (`mcp.example.com` ->
    /// `mcp-example-com`). It is saved under `$CH_HOME/discovered/NAME.json`, so services
    /// built later (the next `ch` command) list it and serve `token`, `refresh`, `status` and
    /// `logout` for it without any discovery. This service value keeps its provider list; use
    /// a new one for those calls.
    #[instrument(skip_all, fields(server = %sanitize_for_terminal(server_url, 200)))]
    pub async fn authenticate_url(
        &self,
        server_url: &str,
        options: McpAuthOptions,
    ) -> Result<LoginOutcome> {
        let ch_home = self.ch_home().ok_or(McpError::NoChHome)?.to_owned();
        let server = parse_server_url(server_url)?;
        let name = self.name_for(&server, options.name.as_deref())?;

        // 1-2. Probe, then protected resource metadata.
        let probe = resource_metadata::probe(self.http(), &server).await?;
        let challenge_scope = probe.challenge.as_ref().and_then(|c| c.scope.clone());
        let prm = self.resource_metadata(&server, &probe).await?;
        info!(document = %prm.document, "protected resource metadata found");

        // 3. The first usable authorization server.
        let metadata = self.authorization_server(&prm).await?;
        let issuer = metadata.issuer.clone();

        // 4. Client identity.
        let ClientIdentity {
            client_id,
            registration,
            reused,
            given,
        } = self
            .client_identity(&ch_home, &name, &metadata, &options)
            .await?;

        // 5. Login with the discovered provider.
        // Step-up (MCP 2025-11-25): a new login to the same resource keeps what was asked
        // for before, so the request is the union of earlier, challenged and added scopes.
        let mut extra = options.auth.scopes.clone();
        if let Some(earlier) = self.entry(&name).filter(|e| {
            e.source == ProviderSource::Discovered
                && e.provider.resource.as_deref() == Some(prm.resource.as_str())
        }) {
            extra.extend(earlier.provider.scopes.iter().cloned());
        }
        let scopes = choose_scopes(
            challenge_scope.as_deref(),
            &prm,
            &extra,
            metadata.offers_offline_access,
        );
        let client_auth = registration
            .as_ref()
            .filter(|r| r.client_secret.is_some())
            .map(|r| r.token_endpoint_auth_method.clone());
        let file = DiscoveredFile {
            version: 1,
            name: name.clone(),
            display_name: server.url().host_str().unwrap_or_default().to_owned(),
            server_url: resource_metadata::canonical_resource(server.url()),
            resource: prm.resource.clone(),
            issuer: issuer.clone(),
            authorization_endpoint: metadata.authorization_endpoint.clone(),
            token_endpoint: metadata.token_endpoint.clone(),
            revocation_endpoint: metadata.revocation_endpoint.clone(),
            device_authorization_endpoint: metadata.device_authorization_endpoint.clone(),
            iss_parameter_supported: metadata.iss_parameter_supported,
            scopes,
            client_id: client_id.clone(),
            client_id_given: given,
            client_auth,
            discovered_at: unix_seconds(self.now()),
        };
        let mut entry = file.to_entry(registration.as_ref().and_then(|r| r.client_secret.clone()));
        if entry.client_auth.is_none() {
            entry.client_auth = Some(metadata.client_auth);
        }
        let mut auth = options.auth;
        auth.client_id = Some(client_id);
        debug!(provider = %name, resource = %prm.resource, "logging in with the discovered provider");
        let outcome = match self.authenticate_entry(name, entry, auth).await {
            Ok(outcome) => outcome,
            Err(e) if reused => return Err(stored_client_failed(&ch_home, &issuer, e)),
            Err(e) => return Err(e),
        };
        let path = persist::save_discovered(&ch_home, &file)?;
        info!(path = %path.display(), "discovered provider saved");
        Ok(outcome)
    }

    /// `options.name`, else the host's name; never a built-in or configured provider's name.
    fn name_for(&self, server: &Endpoint, name: Option<&str>) -> Result<ProviderName> {
        let name = match name {
            Some(n) => ProviderName::new(n).map_err(|source| Error::InvalidName { source })?,
            None => server
                .url()
                .host_str()
                .and_then(ProviderName::from_host)
                .ok_or_else(|| McpError::NoName {
                    url: crate::http::url_for_humans(server),
                })?,
        };
        // A built-in or configured provider keeps its name (a discovered one is replaced).
        if let Some(e) = self
            .entry(&name)
            .filter(|e| e.source != ProviderSource::Discovered)
        {
            return Err(McpError::NameTaken {
                name,
                kind: e.source,
            }
            .into());
        }
        Ok(name)
    }

    async fn resource_metadata(
        &self,
        server: &Endpoint,
        probe: &resource_metadata::Probe,
    ) -> Result<ResourceMetadata> {
        // RFC 9728 §5.1 / MCP: a pointer in the challenge must be used when present.
        if let Some(pointer) = probe
            .challenge
            .as_ref()
            .and_then(|c| c.resource_metadata.as_deref())
        {
            let document = Endpoint::parse(pointer).map_err(|e| McpError::ResourceMetadata {
                document: sanitize_for_terminal(pointer, 200),
                reason: format!("the WWW-Authenticate resource_metadata URL is not usable: {e}"),
                code: ErrorCode::InvalidResponse,
            })?;
            return match resource_metadata::fetch(self.http(), &document, server.url()).await? {
                Some(m) => Ok(m),
                None => Err(McpError::ResourceMetadata {
                    document: crate::http::url_for_humans(&document),
                    reason: "it does not exist (HTTP 404), although the server's WWW-Authenticate points to it".to_owned(),
                    code: ErrorCode::InvalidResponse,
                }
                .into()),
            };
        }
        let mut tried = Vec::new();
        for (document, identifier) in resource_metadata::well_known(server.url()) {
            if let Some(m) = resource_metadata::fetch(self.http(), &document, &identifier).await? {
                return Ok(m);
            }
            tried.push(crate::http::url_for_humans(&document));
        }
        let reason = match (probe.status, &probe.challenge) {
            (Some(401 | 403), Some(_)) => {
                "its WWW-Authenticate challenge has no resource_metadata".to_owned()
            }
            (Some(401 | 403), None) => {
                "its 401 has no Bearer WWW-Authenticate challenge".to_owned()
            }
            (Some(s), _) => format!("it answered HTTP {s} without credentials"),
            (None, _) => "the probe got no answer".to_owned(),
        };
        Err(McpError::NoResourceMetadata {
            url: crate::http::url_for_humans(server),
            reason,
            tried: tried.join(" and "),
        }
        .into())
    }

    /// The first listed authorization server whose metadata is usable; the first failure
    /// otherwise.
    async fn authorization_server(&self, prm: &ResourceMetadata) -> Result<Metadata> {
        let mut first_error = None;
        for issuer in &prm.authorization_servers {
            match discovery::discover(self.http(), issuer).await {
                Ok(m) => return Ok(m),
                Err(e) => {
                    warn!(issuer = %sanitize_for_terminal(issuer, 200), error = %e, "authorization server not usable");
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or_else(|| {
            McpError::ResourceMetadata {
                document: prm.document.clone(),
                reason: "it lists no authorization_servers".to_owned(),
                code: ErrorCode::InvalidResponse,
            }
            .into()
        }))
    }

    /// The client id of a login by URL: `--client-id` > `{NAME}_CLIENT_ID` > `[mcp.NAME]` in
    /// config.toml > ch's client metadata document (where supported) > the registration
    /// stored for this issuer > dynamic registration (MCP 2025-11-25 "Client Registration
    /// Approaches").
    async fn client_identity(
        &self,
        ch_home: &std::path::Path,
        name: &ProviderName,
        metadata: &Metadata,
        options: &McpAuthOptions,
    ) -> Result<ClientIdentity> {
        let var = format!("{}_CLIENT_ID", name.env_stem());
        let flag = options
            .auth
            .client_id
            .clone()
            .filter(|s| !s.trim().is_empty());
        let given_id = flag.is_some();
        let explicit = flag.or_else(|| self.env_nonempty(&var));
        let config = match self.config_path() {
            Some(path) => crate::config::mcp_client_config(path, name)?,
            None => crate::config::McpClientConfig::default(),
        };
        let configured = if explicit.is_none() {
            config.client_id
        } else {
            None
        };
        if options.register_again && (explicit.is_some() || configured.is_some()) {
            let origin = if options.auth.client_id.is_some() {
                "--client-id".to_owned()
            } else if explicit.is_some() {
                var.clone()
            } else {
                format!("[mcp.{name}] client_id in config.toml")
            };
            return Err(McpError::RegisterAgainWithClientId { origin }.into());
        }
        // Checked even where unused, so a bad value is found before it matters.
        let document_url = self.client_metadata_url(config.client_metadata_url)?;
        let metadata_document = document_url
            .filter(|_| metadata.client_id_metadata_document_supported && !options.register_again);
        let identity = if let Some(id) = explicit.or(configured) {
            ClientIdentity {
                client_id: id,
                registration: None,
                reused: false,
                given: given_id,
            }
        } else if let Some(url) = metadata_document {
            // The server fetches ch's metadata document from this URL: nothing to register
            // or to remember per server.
            info!(client_id = %url, "using ch's client metadata document as the client id");
            ClientIdentity {
                client_id: url,
                registration: None,
                reused: false,
                given: false,
            }
        } else {
            let (r, reused) = self
                .registration(ch_home, metadata, &var, options.register_again)
                .await?;
            ClientIdentity {
                client_id: r.client_id.clone(),
                registration: Some(r),
                reused,
                given: false,
            }
        };
        Ok(identity)
    }

    /// ch's Client ID Metadata Document URL: `CH_CLIENT_METADATA_URL`, else the configured one.
    fn client_metadata_url(&self, configured: Option<String>) -> Result<Option<String>> {
        match self.env_nonempty(CLIENT_METADATA_URL_VAR) {
            Some(raw) => crate::config::check_client_metadata_url(&raw)
                .map(Some)
                .map_err(|reason| {
                    McpError::BadClientMetadataUrl {
                        url: sanitize_for_terminal(&raw, 200),
                        reason,
                    }
                    .into()
                }),
            None => Ok(configured),
        }
    }

    /// The stored registration for this issuer (`true`: reused), or a new one (saved before
    /// the login, so a failed login does not register again). `again` skips the stored one.
    async fn registration(
        &self,
        ch_home: &std::path::Path,
        metadata: &Metadata,
        var: &str,
        again: bool,
    ) -> Result<(Registration, bool)> {
        let now = unix_seconds(self.now());
        if again {
            info!("registering a new client as asked; it replaces any stored one");
        } else if let Some(r) = persist::load_registration(ch_home, &metadata.issuer) {
            if !r.expired(now) {
                debug!("reusing the client registration stored for this issuer");
                return Ok((r, true));
            }
            info!("the stored client registration expired; registering again");
        }
        let Some(endpoint) = &metadata.registration_endpoint else {
            return Err(McpError::NoRegistration {
                issuer: sanitize_for_terminal(&metadata.issuer, 200),
                var: var.to_owned(),
            }
            .into());
        };
        let r = registration::register(self.http(), &metadata.issuer, endpoint, now).await?;
        persist::save_registration(ch_home, &r)?;
        Ok((r, false))
    }
}

/// A login with a registration stored at an earlier login failed with `e`. A token endpoint
/// that refuses the client outright (`invalid_client`, `unauthorized_client`) has forgotten
/// it: the registration is dropped so the next login registers anew. A timeout may be the
/// same thing seen from the browser (an authorization server shows an error page instead of
/// redirecting for an unknown client), so it says how to register anew.
fn stored_client_failed(ch_home: &std::path::Path, issuer: &str, e: Error) -> Error {
    let shown = sanitize_for_terminal(issuer, 200);
    match e {
        Error::ExchangeRefused { error, .. }
            if matches!(
                error.error.as_str(),
                "invalid_client" | "unauthorized_client"
            ) =>
        {
            if let Err(err) = persist::forget_registration(ch_home, issuer) {
                warn!(%err, "could not remove the refused client registration");
            }
            McpError::StaleRegistration {
                issuer: shown,
                error,
            }
            .into()
        }
        e if e.code() == ErrorCode::Timeout
            && matches!(e, Error::LoginTimeout { .. } | Error::Callback { .. }) =>
        {
            McpError::StoredClientTimeout {
                issuer: shown,
                source: Box::new(e),
            }
            .into()
        }
        e => e,
    }
}

/// Parses the user's URL: https (or http on loopback), no credentials; a fragment is dropped.
fn parse_server_url(input: &str) -> Result<Endpoint> {
    let bad = |reason: String| McpError::BadServerUrl {
        url: sanitize_for_terminal(input, 200),
        reason,
    };
    let mut url = Url::parse(input.trim()).map_err(|e| bad(e.to_string()))?;
    url.set_fragment(None);
    Endpoint::try_from(url).map_err(|e| bad(e.to_string()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prm(scopes: &[&str]) -> ResourceMetadata {
        ResourceMetadata {
            document: "d".into(),
            resource: "https://r.example".into(),
            authorization_servers: vec!["https://as.example".into()],
            scopes_supported: scopes.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn scope_selection_follows_the_mcp_strategy() {
        let p = prm(&["a", "b"]);
        assert_eq!(choose_scopes(Some("x y"), &p, &[], false), ["x", "y"]);
        assert_eq!(choose_scopes(None, &p, &[], false), ["a", "b"]);
        assert_eq!(choose_scopes(Some("  "), &p, &[], false), ["a", "b"]);
        assert!(choose_scopes(None, &prm(&[]), &[], false).is_empty());
        assert_eq!(
            choose_scopes(Some("x"), &p, &["y x".into(), "z".into()], false),
            ["x", "y", "z"]
        );
    }

    #[test]
    fn offline_access_is_added_once_when_the_server_offers_it() {
        let p = prm(&["a"]);
        assert_eq!(
            choose_scopes(Some("x"), &p, &[], true),
            ["x", "offline_access"]
        );
        assert_eq!(choose_scopes(None, &p, &[], true), ["a", "offline_access"]);
        // Already asked for (a step-up login keeps it): not twice.
        assert_eq!(
            choose_scopes(Some("x"), &p, &["offline_access".into()], true),
            ["x", "offline_access"]
        );
        // Nothing asked for: the server's default scope stays the request.
        assert!(choose_scopes(None, &prm(&[]), &[], true).is_empty());
    }

    #[test]
    fn server_urls_are_https_or_loopback() {
        assert!(parse_server_url("https://mcp.example.com/mcp#frag").is_ok());
        assert!(parse_server_url("http://127.0.0.1:9/mcp").is_ok());
        for bad in [
            "http://mcp.example.com/mcp",
            "file:///x",
            "mcp.example.com",
            "",
        ] {
            let err = parse_server_url(bad).unwrap_err();
            assert_eq!(err.code(), ErrorCode::ConfigMissing, "{bad}");
        }
    }
}
