//! Authorization-server metadata discovery: RFC 8414, then OpenID Connect Discovery 1.0.

use oauth_primitives::{Endpoint, ErrorCode, sanitize_for_terminal};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::http::{Http, url_for_humans};
use crate::providers::ClientAuth;

/// What the service takes from a metadata document.
#[derive(Debug, Clone)]
pub(crate) struct Metadata {
    pub(crate) issuer: String,
    pub(crate) authorization_endpoint: Endpoint,
    pub(crate) token_endpoint: Endpoint,
    pub(crate) revocation_endpoint: Option<Endpoint>,
    pub(crate) device_authorization_endpoint: Option<Endpoint>,
    pub(crate) iss_parameter_supported: bool,
    /// RFC 7591 dynamic client registration, when offered (MCP login by URL uses it).
    pub(crate) registration_endpoint: Option<Endpoint>,
    /// The confidential-client method to use, from `token_endpoint_auth_methods_supported`.
    pub(crate) client_auth: ClientAuth,
    /// `scopes_supported` lists `offline_access`: asking for it is how such a server is told
    /// to issue a refresh token (MCP 2026-07-28, "Refresh Tokens").
    pub(crate) offers_offline_access: bool,
    /// `client_id_metadata_document_supported`: an https URL may serve as the client id
    /// (OAuth Client ID Metadata Document; MCP 2025-11-25 "Client Registration Approaches").
    pub(crate) client_id_metadata_document_supported: bool,
}

#[derive(Deserialize)]
struct Raw {
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    device_authorization_endpoint: Option<String>,
    code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    registration_endpoint: Option<String>,
    /// Kept loose: a malformed optional list must not cost the whole document.
    #[serde(default)]
    scopes_supported: serde_json::Value,
    #[serde(default)]
    client_id_metadata_document_supported: serde_json::Value,
}

/// The metadata URLs for `issuer`, in the order the MCP specification (2025-11-25) requires:
/// for `https://a.example/tenant1`, RFC 8414 with path insertion, OpenID with path insertion,
/// then OpenID with the suffix appended; for `https://a.example`, RFC 8414 then OpenID.
pub(crate) fn candidate_urls(issuer: &Endpoint) -> Vec<Endpoint> {
    let url = issuer.url();
    let path = url.path().trim_end_matches('/');
    let origin = url.origin().ascii_serialization();
    let mut out = Vec::new();
    let mut push = |s: String| {
        if let Ok(e) = Endpoint::parse(&s) {
            out.push(e);
        }
    };
    if path.is_empty() {
        push(format!("{origin}/.well-known/oauth-authorization-server"));
        push(format!("{origin}/.well-known/openid-configuration"));
    } else {
        push(format!(
            "{origin}/.well-known/oauth-authorization-server{path}"
        ));
        push(format!("{origin}/.well-known/openid-configuration{path}"));
        push(format!("{origin}{path}/.well-known/openid-configuration"));
    }
    out
}

/// Fetches and validates the metadata of `issuer`.
pub(crate) async fn discover(http: &Http, issuer: &str) -> Result<Metadata> {
    let failed = |reason: String, code| Error::DiscoveryFailed {
        issuer: sanitize_for_terminal(issuer, 200),
        reason,
        code,
    };
    let issuer_ep =
        Endpoint::parse(issuer).map_err(|e| failed(e.to_string(), ErrorCode::ConfigMissing))?;
    let mut tried = Vec::new();
    let mut refusal = None;
    for url in candidate_urls(&issuer_ep) {
        let shown = url_for_humans(&url);
        let response = match http.get("discovery", &url).await {
            Ok(r) => r,
            Err(e) => {
                // A network failure is not "no document here": report it at once.
                return Err(failed(e.to_string(), e.code()));
            }
        };
        if response.status != 200 {
            tried.push(format!("{shown} ({})", response.describe()));
            continue;
        }
        if let Err((reason, _)) = crate::mcp::resource_metadata::check_json_document(&response) {
            tried.push(format!("{shown} ({reason})"));
            continue;
        }
        let Ok(raw) = serde_json::from_slice::<Raw>(&response.body) else {
            tried.push(format!("{shown} (not a JSON metadata document)"));
            continue;
        };
        match validate(issuer, raw) {
            Ok(m) => {
                tracing::debug!(url = %shown, "authorization server metadata found");
                return Ok(m);
            }
            Err(reason) => {
                tracing::warn!(url = %shown, %reason, "authorization server metadata refused");
                refusal = Some(format!("{reason} (in {shown})"));
                tried.push(format!("{shown} (refused)"));
            }
        }
    }
    if let Some(reason) = refusal {
        return Err(Error::DiscoveryRefused {
            issuer: sanitize_for_terminal(issuer, 200),
            reason,
        });
    }
    Err(failed(
        format!(
            "no metadata document found; tried {}; check the issuer or configure auth_url and token_url",
            tried.join(", ")
        ),
        ErrorCode::InvalidResponse,
    ))
}

fn validate(issuer: &str, raw: Raw) -> std::result::Result<Metadata, String> {
    // RFC 8414 §3.3 / OIDC Discovery §4.3: identical, no normalisation.
    match raw.issuer.as_deref() {
        Some(found) if found == issuer => {}
        Some(found) => {
            return Err(format!(
                "its metadata names the issuer {:?}, not the configured {:?} (they must be identical)",
                sanitize_for_terminal(found, 200),
                sanitize_for_terminal(issuer, 200)
            ));
        }
        None => return Err("its metadata has no issuer".to_owned()),
    }
    // MCP authorization (2025-11-25): no advertised S256, no login.
    let s256 = raw
        .code_challenge_methods_supported
        .as_ref()
        .is_some_and(|m| m.iter().any(|x| x == "S256"));
    if !s256 {
        return Err(
            "it does not advertise PKCE with S256 (code_challenge_methods_supported), which ch requires"
                .to_owned(),
        );
    }
    let endpoint = |what: &str, v: Option<String>| -> std::result::Result<Endpoint, String> {
        let v = v.ok_or_else(|| format!("its metadata has no {what}"))?;
        Endpoint::parse(&v).map_err(|e| format!("{what}: {e}"))
    };
    let optional = |what: &str, v: Option<String>| {
        v.and_then(|v| match Endpoint::parse(&v) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!(what, error = %e, "ignoring an unusable optional endpoint");
                None
            }
        })
    };
    let methods = raw
        .token_endpoint_auth_methods_supported
        .unwrap_or_default();
    let client_auth = if methods.is_empty() || methods.iter().any(|m| m == "client_secret_basic") {
        ClientAuth::Basic
    } else if methods.iter().any(|m| m == "client_secret_post") {
        ClientAuth::Post
    } else {
        ClientAuth::Basic
    };
    Ok(Metadata {
        issuer: issuer.to_owned(),
        authorization_endpoint: endpoint("authorization_endpoint", raw.authorization_endpoint)?,
        token_endpoint: endpoint("token_endpoint", raw.token_endpoint)?,
        revocation_endpoint: optional("revocation_endpoint", raw.revocation_endpoint),
        device_authorization_endpoint: optional(
            "device_authorization_endpoint",
            raw.device_authorization_endpoint,
        ),
        iss_parameter_supported: raw.authorization_response_iss_parameter_supported,
        registration_endpoint: optional("registration_endpoint", raw.registration_endpoint),
        client_auth,
        offers_offline_access: raw
            .scopes_supported
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s.as_str() == Some("offline_access"))),
        client_id_metadata_document_supported: raw.client_id_metadata_document_supported
            == serde_json::Value::Bool(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(issuer: &str) -> Vec<String> {
        candidate_urls(&Endpoint::parse(issuer).unwrap())
            .iter()
            .map(|e| e.as_str().to_owned())
            .collect()
    }

    #[test]
    fn well_known_order_follows_the_mcp_spec() {
        assert_eq!(
            urls("https://a.example/tenant1"),
            [
                "https://a.example/.well-known/oauth-authorization-server/tenant1",
                "https://a.example/.well-known/openid-configuration/tenant1",
                "https://a.example/tenant1/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            urls("https://a.example"),
            [
                "https://a.example/.well-known/oauth-authorization-server",
                "https://a.example/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            urls("http://127.0.0.1:8080/"),
            [
                "http://127.0.0.1:8080/.well-known/oauth-authorization-server",
                "http://127.0.0.1:8080/.well-known/openid-configuration",
            ]
        );
    }

    fn raw(issuer: &str, methods: Option<Vec<&str>>) -> Raw {
        Raw {
            issuer: Some(issuer.to_owned()),
            authorization_endpoint: Some("https://a.example/auth".into()),
            token_endpoint: Some("https://a.example/token".into()),
            revocation_endpoint: Some("http://evil.example/revoke".into()),
            device_authorization_endpoint: None,
            code_challenge_methods_supported: methods
                .map(|m| m.into_iter().map(str::to_owned).collect()),
            authorization_response_iss_parameter_supported: true,
            token_endpoint_auth_methods_supported: None,
            registration_endpoint: None,
            scopes_supported: serde_json::Value::Null,
            client_id_metadata_document_supported: serde_json::Value::Null,
        }
    }

    #[test]
    fn offline_access_is_seen_only_in_a_well_formed_scopes_supported() {
        let with = |v: serde_json::Value| {
            let mut r = raw("https://a.example", Some(vec!["S256"]));
            r.scopes_supported = v;
            validate("https://a.example", r)
                .unwrap()
                .offers_offline_access
        };
        assert!(with(serde_json::json!(["openid", "offline_access"])));
        assert!(!with(serde_json::json!(["openid"])));
        assert!(!with(serde_json::Value::Null));
        // A malformed list is ignored, not fatal.
        assert!(!with(serde_json::json!("offline_access")));
        assert!(!with(serde_json::json!({"offline_access": true})));
    }

    #[test]
    fn issuer_must_match_exactly_and_s256_must_be_listed() {
        let ok = validate(
            "https://a.example",
            raw("https://a.example", Some(vec!["S256"])),
        )
        .unwrap();
        assert!(ok.iss_parameter_supported);
        assert!(
            ok.revocation_endpoint.is_none(),
            "insecure optional endpoint dropped"
        );
        for (configured, found) in [
            ("https://a.example", "https://a.example/"),
            ("https://a.example", "https://A.example"),
            ("https://a.example", "https://a.example:443"),
        ] {
            let err = validate(configured, raw(found, Some(vec!["S256"]))).unwrap_err();
            assert!(err.contains("identical"), "{err}");
        }
        for methods in [None, Some(vec![]), Some(vec!["plain"])] {
            let err = validate("https://a.example", raw("https://a.example", methods)).unwrap_err();
            assert!(err.contains("S256"), "{err}");
        }
    }
}
