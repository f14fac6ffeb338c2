//! The built-in providers and the registry entry type.

use std::collections::BTreeMap;

use oauth_primitives::{ClientSecret, Endpoint, OAuthProvider, ProviderName};

/// Where a provider's definition came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderSource {
    /// Compiled into this crate.
    Builtin,
    /// A `[providers.NAME]` section of `$CH_HOME/config.toml` (possibly extending a built-in).
    Config,
    /// Added at run time from discovery (for example an MCP server's metadata).
    Discovered,
}

impl ProviderSource {
    /// `builtin`, `config` or `discovered`, as in `--json` output.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ProviderSource::Builtin => "builtin",
            ProviderSource::Config => "config",
            ProviderSource::Discovered => "discovered",
        }
    }
}

impl std::fmt::Display for ProviderSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a confidential client authenticates at the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    /// `client_secret_basic`: HTTP Basic with the form-encoded id and secret.
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    Post,
}

/// One provider as the service knows it: the template plus credentials from the config file.
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) provider: OAuthProvider,
    pub(crate) source: ProviderSource,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<ClientSecret>,
    /// `None`: decide from metadata (Basic when the server lists it, RFC 6749's default).
    pub(crate) client_auth: Option<ClientAuth>,
    /// The MCP server a discovered provider was logged in to by URL.
    pub(crate) server_url: Option<String>,
    /// For such a provider: `client_id` was given with that login (`--client-id`).
    pub(crate) client_id_given: bool,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("provider", &self.provider.name)
            .field("source", &self.source)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .finish_non_exhaustive()
    }
}

/// What `list_providers` reports about one provider (never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInfo {
    /// The name used on the command line.
    pub name: ProviderName,
    /// A human name.
    pub display_name: String,
    /// Where the definition came from.
    pub source: ProviderSource,
    /// The authorization endpoint, unless it is discovered from `issuer` at login.
    pub auth_url: Option<String>,
    /// The token endpoint, unless it is discovered from `issuer` at login.
    pub token_url: Option<String>,
    /// Scopes requested by default.
    pub scopes: Vec<String>,
    /// Whether a client id is available without `--client-id` (environment or config).
    pub client_id_configured: bool,
    /// Where to register an OAuth app.
    pub setup_url: Option<String>,
    /// The environment variable that supplies the client id (`GITHUB_CLIENT_ID`).
    pub env_client_id_var: String,
    /// For a provider discovered by logging in to an MCP server by URL: that URL. A new login
    /// to such a provider discovers again from it.
    pub server_url: Option<String>,
}

fn ep(url: &str) -> Option<Endpoint> {
    // The built-in URLs are constants checked by `builtin_endpoints_are_valid`.
    Endpoint::parse(url).ok()
}

fn named(name: &str, display: &str) -> OAuthProvider {
    let name = ProviderName::new(name).unwrap_or_else(|_| unreachable!("built-in names are valid"));
    let mut p = OAuthProvider::new(name);
    display.clone_into(&mut p.display_name);
    p
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The built-in providers, with their current endpoints (checked against each provider's
/// documentation).
pub(crate) fn builtins() -> Vec<Entry> {
    let entry = |provider: OAuthProvider| Entry {
        provider,
        source: ProviderSource::Builtin,
        client_id: None,
        client_secret: None,
        client_auth: Some(ClientAuth::Post),
        server_url: None,
        client_id_given: false,
    };

    // Atlassian Cloud OAuth 2.0 (3LO): the audience is required, `prompt=consent` is what
    // Atlassian's authorization URL template includes, and `offline_access` yields a
    // (rotating) refresh token.
    let mut atlassian = named("atlassian", "Atlassian");
    atlassian.auth_url = ep("https://auth.atlassian.com/authorize");
    atlassian.token_url = ep("https://auth.atlassian.com/oauth/token");
    atlassian.scopes = strings(&["read:jira-work", "read:me", "offline_access"]);
    atlassian.audience = Some("api.atlassian.com".to_owned());
    atlassian.extra_auth_params = BTreeMap::from([("prompt".to_owned(), "consent".to_owned())]);
    atlassian.resources_url = ep("https://api.atlassian.com/oauth/token/accessible-resources");
    atlassian.setup_url = ep("https://developer.atlassian.com/console/myapps/");

    // GitHub OAuth apps: form-encoded token responses unless `Accept: application/json`
    // (which we always send), errors with HTTP 200, no RFC 7009 revocation endpoint.
    let mut github = named("github", "GitHub");
    github.auth_url = ep("https://github.com/login/oauth/authorize");
    github.token_url = ep("https://github.com/login/oauth/access_token");
    github.device_authorization_url = ep("https://github.com/login/device/code");
    github.scopes = strings(&["repo", "read:user"]);
    github.setup_url = ep("https://github.com/settings/developers");

    // Google: `access_type=offline` is what makes Google issue a refresh token.
    let mut google = named("google", "Google");
    google.issuer = Some("https://accounts.google.com".to_owned());
    google.auth_url = ep("https://accounts.google.com/o/oauth2/v2/auth");
    google.token_url = ep("https://oauth2.googleapis.com/token");
    google.revocation_url = ep("https://oauth2.googleapis.com/revoke");
    google.device_authorization_url = ep("https://oauth2.googleapis.com/device/code");
    google.scopes = strings(&["openid", "email", "profile"]);
    google.extra_auth_params = BTreeMap::from([("access_type".to_owned(), "offline".to_owned())]);
    google.setup_url = ep("https://console.cloud.google.com/apis/credentials");

    // Microsoft Entra ID, multi-tenant `common` endpoint (v2.0). No RFC 7009 endpoint.
    let mut microsoft = named("microsoft", "Microsoft Entra ID");
    microsoft.auth_url = ep("https://login.microsoftonline.com/common/oauth2/v2.0/authorize");
    microsoft.token_url = ep("https://login.microsoftonline.com/common/oauth2/v2.0/token");
    microsoft.device_authorization_url =
        ep("https://login.microsoftonline.com/common/oauth2/v2.0/devicecode");
    microsoft.scopes = strings(&["openid", "profile", "offline_access", "User.Read"]);
    microsoft.setup_url =
        ep("https://learn.microsoft.com/entra/identity-platform/quickstart-register-app");

    // GitLab.com (Doorkeeper): refresh tokens rotate; RFC 7009 at /oauth/revoke.
    let mut gitlab = named("gitlab", "GitLab");
    gitlab.issuer = Some("https://gitlab.com".to_owned());
    gitlab.auth_url = ep("https://gitlab.com/oauth/authorize");
    gitlab.token_url = ep("https://gitlab.com/oauth/token");
    gitlab.revocation_url = ep("https://gitlab.com/oauth/revoke");
    gitlab.device_authorization_url = ep("https://gitlab.com/oauth/authorize_device");
    gitlab.scopes = strings(&["read_user"]);
    gitlab.setup_url = ep("https://gitlab.com/-/user_settings/applications");

    [atlassian, github, google, microsoft, gitlab]
        .into_iter()
        .map(entry)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_endpoints_are_valid() {
        let all = builtins();
        assert_eq!(all.len(), 5);
        for e in &all {
            let p = &e.provider;
            assert!(p.auth_url.is_some(), "{}", p.name);
            assert!(p.token_url.is_some(), "{}", p.name);
            assert!(p.setup_url.is_some(), "{}", p.name);
            assert!(!p.scopes.is_empty(), "{}", p.name);
            assert!(p.validate().is_ok(), "{}", p.name);
        }
        for name in ["github", "google", "microsoft", "gitlab"] {
            let p = &all
                .iter()
                .find(|e| e.provider.name.as_str() == name)
                .unwrap()
                .provider;
            assert!(p.device_authorization_url.is_some(), "{name}");
        }
        let atlassian = &all[0].provider;
        assert_eq!(atlassian.audience.as_deref(), Some("api.atlassian.com"));
        assert!(atlassian.scopes.iter().any(|s| s == "offline_access"));
        assert!(atlassian.resources_url.is_some());
    }
}
