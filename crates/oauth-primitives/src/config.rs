//! Provider templates and runtime configuration.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use snafu::{Snafu, ensure};
use std::collections::BTreeMap;
use std::fmt;

use crate::ErrorCode;
use crate::endpoint::Endpoint;
use crate::name::ProviderName;
use crate::secret::ClientSecret;

/// Loopback ports tried in order for the redirect listener before an ephemeral one, as in the
/// original design. Register `http://127.0.0.1:{port}/callback` for these with providers that
/// cannot accept any loopback port (RFC 8252 §7.3 says they must).
pub const DEFAULT_PORTS: [u16; 3] = [8080, 3000, 57548];

/// The default redirect path.
pub const DEFAULT_REDIRECT_PATH: &str = "/callback";

/// The host written into the redirect URI (RFC 8252 §7.3, OAuth 2.1 §8.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RedirectHost {
    /// `127.0.0.1`: the recommended form; no name resolution involved.
    #[default]
    Ipv4Loopback,
    /// `[::1]`.
    Ipv6Loopback,
    /// `localhost`: for providers that only accept that spelling. The listener then binds both
    /// 127.0.0.1 and `[::1]`, since browsers may resolve it to either.
    Localhost,
}

impl RedirectHost {
    /// The host as written in a URL (`127.0.0.1`, `[::1]`, `localhost`).
    #[must_use]
    pub const fn as_url_host(self) -> &'static str {
        match self {
            RedirectHost::Ipv4Loopback => "127.0.0.1",
            RedirectHost::Ipv6Loopback => "[::1]",
            RedirectHost::Localhost => "localhost",
        }
    }

    /// Parses `127.0.0.1`, `::1`, `[::1]` or `localhost`.
    pub fn parse(s: &str) -> Result<Self, ConfigError> {
        match s {
            "127.0.0.1" => Ok(RedirectHost::Ipv4Loopback),
            "::1" | "[::1]" => Ok(RedirectHost::Ipv6Loopback),
            "localhost" => Ok(RedirectHost::Localhost),
            other => InvalidRedirectHostSnafu {
                shown: crate::text::sanitize_for_terminal(other, 80),
            }
            .fail(),
        }
    }
}

impl Serialize for RedirectHost {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            RedirectHost::Ipv6Loopback => "::1",
            other => other.as_url_host(),
        })
    }
}

impl<'de> Deserialize<'de> for RedirectHost {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The path of the redirect URI: starts with `/`, no query, fragment, spaces or control
/// characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RedirectPath(String);

impl RedirectPath {
    /// Validates `path`.
    pub fn new(path: &str) -> Result<Self, ConfigError> {
        let ok = path.starts_with('/')
            && path.len() <= 256
            && !path.starts_with("//")
            && path
                .chars()
                .all(|c| c.is_ascii_graphic() && !matches!(c, '?' | '#' | '\\' | '%'));
        ensure!(
            ok,
            InvalidRedirectPathSnafu {
                shown: crate::text::sanitize_for_terminal(path, 80),
            }
        );
        Ok(Self(path.to_owned()))
    }

    /// The path.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for RedirectPath {
    fn default() -> Self {
        Self(DEFAULT_REDIRECT_PATH.to_owned())
    }
}

impl fmt::Debug for RedirectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for RedirectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for RedirectPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RedirectPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(&s).map_err(serde::de::Error::custom)
    }
}

/// A provider template: everything about an authorization server except the client's
/// credentials (the original design's `OAuthProvider`).
///
/// Fields hold validated types ([`ProviderName`], [`Endpoint`], [`RedirectPath`]), so a value of
/// this type can only name https endpoints (or loopback http) and a name that stays inside the
/// state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthProvider {
    /// The provider's name (`atlassian`, `github`, a config section name).
    pub name: ProviderName,
    /// A human name (`Atlassian`).
    pub display_name: String,
    /// Authorization endpoint; `None` until discovery fills it from `issuer`.
    pub auth_url: Option<Endpoint>,
    /// Token endpoint; `None` until discovery fills it from `issuer`.
    pub token_url: Option<Endpoint>,
    /// The authorization server's issuer identifier (RFC 8414 §2): enables discovery and the
    /// RFC 9207 `iss` check.
    pub issuer: Option<String>,
    /// Whether the server includes `iss` in authorization responses (RFC 9207): when true a
    /// response without it is refused.
    pub iss_parameter_supported: bool,
    /// Scopes requested by default.
    pub scopes: Vec<String>,
    /// The `audience` authorization parameter (Atlassian requires `api.atlassian.com`).
    pub audience: Option<String>,
    /// The `resource` indicator (RFC 8707), sent on the authorization, token and refresh
    /// requests.
    pub resource: Option<String>,
    /// Extra authorization-request parameters (`prompt = "consent"`, ...).
    pub extra_auth_params: BTreeMap<String, String>,
    /// Token revocation endpoint (RFC 7009).
    pub revocation_url: Option<Endpoint>,
    /// Device authorization endpoint (RFC 8628).
    pub device_authorization_url: Option<Endpoint>,
    /// Where to list the resources a token can reach (Atlassian's accessible-resources).
    pub resources_url: Option<Endpoint>,
    /// Where a user registers an OAuth app for this provider (shown in error messages).
    pub setup_url: Option<Endpoint>,
    /// Host of the redirect URI.
    pub redirect_host: RedirectHost,
    /// Path of the redirect URI.
    pub redirect_path: RedirectPath,
    /// Ports tried in order before an ephemeral one.
    pub ports: Vec<u16>,
}

impl OAuthProvider {
    /// A template with the defaults: redirect to `http://127.0.0.1:{port}/callback`, ports
    /// 8080, 3000, 57548, no endpoints yet.
    #[must_use]
    pub fn new(name: ProviderName) -> Self {
        Self {
            display_name: name.as_str().to_owned(),
            name,
            auth_url: None,
            token_url: None,
            issuer: None,
            iss_parameter_supported: false,
            scopes: Vec::new(),
            audience: None,
            resource: None,
            extra_auth_params: BTreeMap::new(),
            revocation_url: None,
            device_authorization_url: None,
            resources_url: None,
            setup_url: None,
            redirect_host: RedirectHost::default(),
            redirect_path: RedirectPath::default(),
            ports: DEFAULT_PORTS.to_vec(),
        }
    }

    /// Checks what the field types cannot: that the endpoints are known or discoverable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        ensure!(
            (self.auth_url.is_some() && self.token_url.is_some()) || self.issuer.is_some(),
            NoEndpointsSnafu {
                provider: self.name.clone()
            }
        );
        Ok(())
    }

    /// Adds client credentials, giving the runtime configuration. The endpoints must be known
    /// (fill them by discovery first when only `issuer` is configured).
    pub fn to_config(
        self,
        client_id: String,
        client_secret: Option<ClientSecret>,
    ) -> Result<OAuthConfig, ConfigError> {
        ensure!(
            !client_id.trim().is_empty(),
            EmptyClientIdSnafu {
                provider: self.name.clone()
            }
        );
        let (Some(auth_url), Some(token_url)) = (self.auth_url.clone(), self.token_url.clone())
        else {
            return NoEndpointsSnafu {
                provider: self.name,
            }
            .fail();
        };
        Ok(OAuthConfig {
            provider: self,
            auth_url,
            token_url,
            client_id,
            client_secret,
        })
    }
}

/// A provider plus the client's credentials: everything a flow needs (the original design's
/// `OAuthConfig`). `Debug` never shows the client secret.
#[derive(Clone)]
pub struct OAuthConfig {
    /// The template.
    pub provider: OAuthProvider,
    /// The resolved authorization endpoint.
    pub auth_url: Endpoint,
    /// The resolved token endpoint.
    pub token_url: Endpoint,
    /// The OAuth client id (public, not a secret).
    pub client_id: String,
    /// The client secret, for confidential clients only.
    pub client_secret: Option<ClientSecret>,
}

impl fmt::Debug for OAuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthConfig")
            .field("provider", &self.provider.name)
            .field("auth_url", &self.auth_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .finish_non_exhaustive()
    }
}

/// A configuration value was rejected.
#[derive(Debug, Snafu)]
#[snafu(visibility(pub(crate)))]
#[non_exhaustive]
pub enum ConfigError {
    /// Neither both endpoints nor an issuer.
    #[snafu(display(
        "provider {provider} needs auth_url and token_url, or an issuer to discover them from"
    ))]
    NoEndpoints {
        /// The provider.
        provider: ProviderName,
    },
    /// An empty client id.
    #[snafu(display("the client id for {provider} is empty"))]
    EmptyClientId {
        /// The provider.
        provider: ProviderName,
    },
    /// A redirect host other than the loopback forms.
    #[snafu(display(
        "redirect_host {shown:?} is not allowed: use \"127.0.0.1\", \"::1\" or \"localhost\""
    ))]
    InvalidRedirectHost {
        /// The value, safe to print.
        shown: String,
    },
    /// A malformed redirect path.
    #[snafu(display(
        "redirect_path {shown:?} is not allowed: it must start with '/' and hold no query, fragment, '%', '\\' or spaces"
    ))]
    InvalidRedirectPath {
        /// The value, safe to print.
        shown: String,
    },
}

impl ConfigError {
    /// Always [`ErrorCode::ConfigMissing`].
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        ErrorCode::ConfigMissing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> OAuthProvider {
        OAuthProvider::new(ProviderName::new("demo").unwrap())
    }

    #[test]
    fn defaults_follow_the_original_design() {
        let p = provider();
        assert_eq!(p.ports, [8080, 3000, 57548]);
        assert_eq!(p.redirect_path.as_str(), "/callback");
        assert_eq!(p.redirect_host.as_url_host(), "127.0.0.1");
    }

    #[test]
    fn needs_endpoints_or_issuer() {
        let mut p = provider();
        assert!(p.validate().is_err());
        p.issuer = Some("https://id.example".into());
        assert!(p.validate().is_ok());
        let err = p.clone().to_config("cid".into(), None).unwrap_err();
        assert!(matches!(err, ConfigError::NoEndpoints { .. }));
        p.auth_url = Some(Endpoint::parse("https://id.example/authorize").unwrap());
        p.token_url = Some(Endpoint::parse("https://id.example/token").unwrap());
        assert!(p.clone().to_config(" ".into(), None).is_err());
        let cfg = p
            .to_config("cid".into(), Some(ClientSecret::new("CS-SECRET")))
            .unwrap();
        let shown = format!("{cfg:?}");
        assert!(
            !shown.contains("CS-SECRET") && shown.contains("ClientSecret([redacted])"),
            "{shown}"
        );
    }

    #[test]
    fn redirect_values_are_validated() {
        for ok in ["127.0.0.1", "::1", "[::1]", "localhost"] {
            assert!(RedirectHost::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["0.0.0.0", "example.com", "127.0.0.2", ""] {
            assert!(RedirectHost::parse(bad).is_err(), "{bad}");
        }
        for ok in ["/callback", "/oauth/cb", "/"] {
            assert!(RedirectPath::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "callback",
            "//evil.com",
            "/a?next=x",
            "/a#f",
            "/a b",
            "/%2e",
            "/a\\b",
            "",
        ] {
            assert!(RedirectPath::new(bad).is_err(), "{bad}");
        }
    }
}
