//! Finding an MCP server's authorization server: the unauthenticated probe, the
//! `WWW-Authenticate` pointer or the well-known fallback (RFC 9728), and validation of the
//! protected resource metadata.
//!
//! **Resource comparison rule.** RFC 9728 §3.3 requires the metadata's `resource` to be
//! *identical* to the URL it describes. Both sides are compared in their canonical form
//! ([`canonical_resource`]): parsed as URLs (which lower-cases the scheme and host, converts
//! an internationalised host to its ASCII form and drops the scheme's default port), without
//! a fragment, and with the root path `/` written as nothing (`https://a.example/` and
//! `https://a.example` are one identifier). Everything else must match exactly: the path is
//! case-sensitive, a trailing slash after a non-empty path is significant, and so is the
//! query. A `resource` that is not an absolute URL never matches.

use oauth_primitives::{Endpoint, ErrorCode, Url, sanitize_for_terminal};
use reqwest::header::{ACCEPT, CONTENT_TYPE, WWW_AUTHENTICATE};
use serde::Deserialize;

use super::McpError;
use super::www_authenticate::{BearerChallenge, parse_bearer_challenge};
use crate::error::{Error, Result};
use crate::http::{Http, Response, url_for_humans};

/// The canonical form of a resource identifier (RFC 8707 §2, MCP "Canonical Server URI"):
/// lower-case scheme and host, no default port, no fragment, and no trailing `/` when the
/// path is just `/`. This is also the `resource` parameter ch sends.
pub(crate) fn canonical_resource(url: &Url) -> String {
    let mut u = url.clone();
    u.set_fragment(None);
    let s = u.as_str();
    if u.path() == "/" && u.query().is_none() {
        s.strip_suffix('/').unwrap_or(s).to_owned()
    } else {
        s.to_owned()
    }
}

/// Whether the metadata's `resource` names `expected` under the rule in the module docs.
pub(crate) fn same_resource(found: &str, expected: &Url) -> bool {
    Url::parse(found).is_ok_and(|u| canonical_resource(&u) == canonical_resource(expected))
}

/// What the unauthenticated probe learned.
#[derive(Debug, Default)]
pub(crate) struct Probe {
    /// The `Bearer` challenge of a 401/403, if any.
    pub(crate) challenge: Option<BearerChallenge>,
    /// The status of the last probe request (for messages).
    pub(crate) status: Option<u16>,
}

const INITIALIZE: &str = concat!(
    r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","#,
    r#""capabilities":{},"clientInfo":{"name":"ch","version":""#,
    env!("CARGO_PKG_VERSION"),
    r#""}}}"#
);

/// POSTs an MCP `initialize` request without credentials and, unless that yields a `Bearer`
/// challenge, GETs the URL. The bodies are not read.
pub(crate) async fn probe(http: &Http, server: &Endpoint) -> Result<Probe> {
    let client = http.client()?;
    let accept = "application/json, text/event-stream";
    let mut result = Probe::default();
    for post in [true, false] {
        let request = if post {
            client
                .post(server.url().clone())
                .header(CONTENT_TYPE, "application/json")
                .body(INITIALIZE)
        } else {
            client.get(server.url().clone())
        };
        let response = request
            .header(ACCEPT, accept)
            .send()
            .await
            .map_err(|e| Error::Http {
                what: "MCP probe",
                url: url_for_humans(server),
                reason: crate::http::reason(&e),
                timed_out: e.is_timeout(),
            })?;
        let status = response.status().as_u16();
        let values: Vec<&str> = response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let challenge = if matches!(status, 401 | 403) {
            parse_bearer_challenge(&values)
        } else {
            None
        };
        tracing::debug!(
            method = if post { "POST" } else { "GET" },
            status,
            bearer = challenge.is_some(),
            "MCP probe"
        );
        result.status = Some(status);
        if let Some(c) = challenge {
            let has_pointer = c.resource_metadata.is_some();
            result.challenge = Some(c);
            if has_pointer || status == 401 {
                break;
            }
        } else if status == 401 {
            // Unauthorised without a usable challenge: GET will not say more.
            break;
        }
    }
    Ok(result)
}

/// The parts of protected resource metadata (RFC 9728 §2) that ch uses.
#[derive(Debug, Clone)]
pub(crate) struct ResourceMetadata {
    /// Where it was read (for messages).
    pub(crate) document: String,
    /// The validated `resource`, canonical.
    pub(crate) resource: String,
    /// `authorization_servers`, in order.
    pub(crate) authorization_servers: Vec<String>,
    /// `scopes_supported`.
    pub(crate) scopes_supported: Vec<String>,
}

#[derive(Deserialize)]
struct Raw {
    resource: Option<serde_json::Value>,
    authorization_servers: Option<serde_json::Value>,
    scopes_supported: Option<serde_json::Value>,
}

/// Fetches a metadata document. `Ok(None)` when it is absent (a 404 or 410, which the
/// well-known fallback treats as "try the next one").
pub(crate) async fn fetch(
    http: &Http,
    document: &Endpoint,
    expected_resource: &Url,
) -> Result<Option<ResourceMetadata>> {
    let shown = url_for_humans(document);
    let response = http.get("protected resource metadata", document).await?;
    if matches!(response.status, 404 | 410) {
        tracing::debug!(url = %shown, status = response.status, "no protected resource metadata here");
        return Ok(None);
    }
    let bad = |reason: String, code: ErrorCode| McpError::ResourceMetadata {
        document: shown.clone(),
        reason,
        code,
    };
    check_json_document(&response).map_err(|(reason, code)| bad(reason, code))?;
    let raw: Raw = serde_json::from_slice(&response.body).map_err(|e| {
        bad(
            format!(
                "it is not a JSON object ({})",
                sanitize_for_terminal(&e.to_string(), 120)
            ),
            ErrorCode::InvalidResponse,
        )
    })?;
    validate(raw, &shown, expected_resource)
        .map(Some)
        .map_err(|reason| bad(reason, ErrorCode::AuthFailed).into())
}

/// A discovery document must be a 200 JSON answer: a redirect is reported (never followed),
/// and an HTML page is named as such.
pub(crate) fn check_json_document(r: &Response) -> std::result::Result<(), (String, ErrorCode)> {
    if (300..400).contains(&r.status) {
        return Err((
            format!(
                "it answered a redirect ({}); ch does not follow redirects during discovery",
                r.describe()
            ),
            ErrorCode::InvalidResponse,
        ));
    }
    if r.status != 200 {
        let code = if r.status >= 500 {
            ErrorCode::NetworkError
        } else {
            ErrorCode::InvalidResponse
        };
        return Err((format!("it answered {}", r.describe()), code));
    }
    let ct = r.content_type.as_deref().unwrap_or("").to_ascii_lowercase();
    let starts_like_html = r
        .body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'<');
    if ct.contains("html") || starts_like_html {
        return Err((
            format!("it is an HTML page, not JSON ({})", r.describe()),
            ErrorCode::InvalidResponse,
        ));
    }
    Ok(())
}

fn strings(v: Option<serde_json::Value>, field: &str) -> std::result::Result<Vec<String>, String> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::Array(items)) => items
            .into_iter()
            .map(|i| match i {
                serde_json::Value::String(s) => Ok(s),
                _ => Err(format!("{field} must be an array of strings")),
            })
            .collect(),
        Some(_) => Err(format!("{field} must be an array of strings")),
    }
}

fn validate(
    raw: Raw,
    document: &str,
    expected: &Url,
) -> std::result::Result<ResourceMetadata, String> {
    let expected_shown = canonical_resource(expected);
    let resource = match raw.resource {
        Some(serde_json::Value::String(s)) => s,
        Some(_) => return Err("its resource is not a string".to_owned()),
        None => return Err("it has no resource (RFC 9728 §2 requires one)".to_owned()),
    };
    if !same_resource(&resource, expected) {
        return Err(format!(
            "its resource {:?} is not {:?}, the URL it must describe (RFC 9728 §3.3: identical after lower-casing scheme and host and dropping a default port, a fragment and a lone trailing slash)",
            sanitize_for_terminal(&resource, 200),
            sanitize_for_terminal(&expected_shown, 200),
        ));
    }
    let authorization_servers = strings(raw.authorization_servers, "authorization_servers")?;
    if authorization_servers.is_empty() {
        return Err(
            "it lists no authorization_servers, so there is nowhere to log in (MCP authorization requires at least one)"
                .to_owned(),
        );
    }
    let scopes_supported = strings(raw.scopes_supported, "scopes_supported")?
        .into_iter()
        .filter(|s| !s.is_empty() && !s.contains(char::is_whitespace))
        .collect();
    Ok(ResourceMetadata {
        document: document.to_owned(),
        resource: expected_shown,
        authorization_servers,
        scopes_supported,
    })
}

/// The well-known metadata URLs for `server` with the identifier each must name, in the
/// order the MCP specification (2025-11-25) gives: path insertion, then the origin.
pub(crate) fn well_known(server: &Url) -> Vec<(Endpoint, Url)> {
    let origin = server.origin().ascii_serialization();
    let path = server.path().trim_end_matches('/');
    let mut out = Vec::new();
    let mut push = |doc: String, id: Url| {
        if let Ok(e) = Endpoint::parse(&doc) {
            out.push((e, id));
        }
    };
    if !path.is_empty() {
        let mut id = server.clone();
        id.set_fragment(None);
        push(
            format!(
                "{origin}/.well-known/oauth-protected-resource{}",
                server.path()
            ),
            id,
        );
    }
    if let Ok(root) = Url::parse(&origin) {
        push(
            format!("{origin}/.well-known/oauth-protected-resource"),
            root,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn canonical_form() {
        for (input, want) in [
            ("HTTPS://MCP.Example.COM/", "https://mcp.example.com"),
            (
                "https://mcp.example.com:443/mcp",
                "https://mcp.example.com/mcp",
            ),
            (
                "https://mcp.example.com/mcp/",
                "https://mcp.example.com/mcp/",
            ),
            (
                "https://mcp.example.com/MCP#frag",
                "https://mcp.example.com/MCP",
            ),
            ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
            ("https://a.example/?x=1", "https://a.example/?x=1"),
        ] {
            assert_eq!(canonical_resource(&url(input)), want, "{input}");
        }
    }

    #[test]
    fn resource_comparison_rule() {
        let expected = url("https://mcp.example.com/mcp");
        for (found, same) in [
            ("https://mcp.example.com/mcp", true),
            ("HTTPS://MCP.EXAMPLE.COM/mcp", true),
            ("https://mcp.example.com:443/mcp", true),
            ("https://mcp.example.com/mcp#x", true),
            ("https://mcp.example.com/MCP", false),
            ("https://mcp.example.com/mcp/", false),
            ("https://mcp.example.com/mcp?x", false),
            ("https://mcp.example.com", false),
            ("http://mcp.example.com/mcp", false),
            ("https://mcp.example.com:8443/mcp", false),
            ("/mcp", false),
            ("", false),
        ] {
            assert_eq!(same_resource(found, &expected), same, "{found}");
        }
        assert!(same_resource(
            "https://a.example/",
            &url("https://a.example")
        ));
    }

    #[test]
    fn well_known_order() {
        let docs: Vec<(String, String)> = well_known(&url("https://a.example/mcp"))
            .into_iter()
            .map(|(d, id)| (d.as_str().to_owned(), canonical_resource(&id)))
            .collect();
        assert_eq!(
            docs,
            [
                (
                    "https://a.example/.well-known/oauth-protected-resource/mcp".to_owned(),
                    "https://a.example/mcp".to_owned()
                ),
                (
                    "https://a.example/.well-known/oauth-protected-resource".to_owned(),
                    "https://a.example".to_owned()
                ),
            ]
        );
        assert_eq!(well_known(&url("https://a.example/")).len(), 1);
    }

    fn raw(resource: Option<&str>, servers: serde_json::Value) -> Raw {
        Raw {
            resource: resource.map(|r| serde_json::Value::String(r.to_owned())),
            authorization_servers: Some(servers),
            scopes_supported: Some(serde_json::json!(["a", "b c", ""])),
        }
    }

    #[test]
    fn validation_names_the_rule() {
        let expected = url("https://r.example/mcp");
        let ok = validate(
            raw(
                Some("https://r.example/mcp"),
                serde_json::json!(["https://as.example"]),
            ),
            "doc",
            &expected,
        )
        .unwrap();
        assert_eq!(ok.resource, "https://r.example/mcp");
        assert_eq!(ok.scopes_supported, ["a"]);
        let err = validate(
            raw(
                Some("https://evil.example/mcp"),
                serde_json::json!(["https://as.example"]),
            ),
            "doc",
            &expected,
        )
        .unwrap_err();
        assert!(
            err.contains("RFC 9728 §3.3") && err.contains("evil.example"),
            "{err}"
        );
        let err = validate(raw(None, serde_json::json!(["x"])), "doc", &expected).unwrap_err();
        assert!(err.contains("no resource"), "{err}");
        for servers in [serde_json::json!([]), serde_json::Value::Null] {
            let err = validate(
                raw(Some("https://r.example/mcp"), servers),
                "doc",
                &expected,
            )
            .unwrap_err();
            assert!(err.contains("authorization_servers"), "{err}");
        }
        let err = validate(
            raw(Some("https://r.example/mcp"), serde_json::json!([1])),
            "doc",
            &expected,
        )
        .unwrap_err();
        assert!(err.contains("array of strings"), "{err}");
    }

    #[test]
    fn html_and_redirects_are_named() {
        let r = |status, ct: &str, body: &[u8]| Response {
            status,
            content_type: Some(ct.to_owned()),
            body: body.to_vec(),
        };
        let (e, _) = check_json_document(&r(200, "text/html", b"<html>")).unwrap_err();
        assert!(e.contains("HTML"), "{e}");
        let (e, _) = check_json_document(&r(200, "application/json", b"  <!doctype")).unwrap_err();
        assert!(e.contains("HTML"), "{e}");
        let (e, _) = check_json_document(&r(302, "text/plain", b"")).unwrap_err();
        assert!(e.contains("redirect"), "{e}");
        let (_, code) = check_json_document(&r(503, "text/plain", b"")).unwrap_err();
        assert_eq!(code, ErrorCode::NetworkError);
        assert!(check_json_document(&r(200, "application/json", b"{}")).is_ok());
    }
}
