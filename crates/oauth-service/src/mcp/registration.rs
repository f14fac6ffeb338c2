//! Dynamic client registration (RFC 7591) of ch as a public native client.

use std::fmt;

use oauth_primitives::{ClientSecret, Endpoint, ErrorCode, ServerError, sanitize_for_terminal};
use reqwest::header::CONTENT_TYPE;
use serde::{Deserialize, Serialize};

use super::McpError;
use crate::error::Result;
use crate::http::{Http, url_for_humans};

/// The redirect URIs ch registers: the three loopback spellings with path `/callback`; the
/// port is left out because a native client's loopback port varies (RFC 8252 §7.3).
pub(crate) const REDIRECT_URIS: [&str; 3] = [
    "http://127.0.0.1/callback",
    "http://localhost/callback",
    "http://[::1]/callback",
];

/// The `client_name` ch registers under.
pub(crate) const CLIENT_NAME: &str = "ch";

/// A client registered at one authorization server (kept per issuer, never reused with
/// another).
#[derive(Clone)]
pub(crate) struct Registration {
    /// The issuer it belongs to.
    pub(crate) issuer: String,
    /// The client id.
    pub(crate) client_id: String,
    /// A secret, if the server issued one despite `token_endpoint_auth_method: none`.
    pub(crate) client_secret: Option<ClientSecret>,
    /// When the secret expires (Unix seconds; `0` or absent: never).
    pub(crate) client_secret_expires_at: Option<u64>,
    /// How the client authenticates at the token endpoint.
    pub(crate) token_endpoint_auth_method: String,
    /// When ch registered it (Unix seconds).
    pub(crate) registered_at: u64,
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field(
                "token_endpoint_auth_method",
                &self.token_endpoint_auth_method,
            )
            .finish_non_exhaustive()
    }
}

impl Registration {
    /// Whether the issued secret has expired (a public client's registration never does).
    pub(crate) fn expired(&self, now: u64) -> bool {
        self.client_secret.is_some()
            && self
                .client_secret_expires_at
                .is_some_and(|at| at != 0 && at <= now)
    }
}

#[derive(Serialize)]
struct Request<'a> {
    client_name: &'a str,
    application_type: &'a str,
    redirect_uris: &'a [&'a str],
    token_endpoint_auth_method: &'a str,
    grant_types: &'a [&'a str],
    response_types: &'a [&'a str],
}

#[derive(Deserialize)]
struct Answer {
    client_id: Option<String>,
    client_secret: Option<String>,
    client_secret_expires_at: Option<u64>,
    token_endpoint_auth_method: Option<String>,
}

/// The registration request body (RFC 7591 §2, MCP "Dynamic Client Registration").
pub(crate) fn request_body() -> Vec<u8> {
    let request = Request {
        client_name: CLIENT_NAME,
        application_type: "native",
        redirect_uris: &REDIRECT_URIS,
        token_endpoint_auth_method: "none",
        grant_types: &["authorization_code", "refresh_token"],
        response_types: &["code"],
    };
    serde_json::to_vec(&request).unwrap_or_default()
}

/// Registers ch at `endpoint` (the issuer's `registration_endpoint`).
pub(crate) async fn register(
    http: &Http,
    issuer: &str,
    endpoint: &Endpoint,
    now: u64,
) -> Result<Registration> {
    let shown = url_for_humans(endpoint);
    let request = http
        .client()?
        .post(endpoint.url().clone())
        .header(CONTENT_TYPE, "application/json")
        .body(request_body());
    let r = http.send("client registration", endpoint, request).await?;
    let bad = |detail: String, code: ErrorCode| McpError::BadRegistration {
        url: shown.clone(),
        detail,
        code,
    };
    match r.status {
        200 | 201 => {}
        400..=499 => {
            return Err(
                match ServerError::from_body(&r.body, r.content_type.as_deref()) {
                    Some(error) => McpError::RegistrationRefused {
                        issuer: sanitize_for_terminal(issuer, 200),
                        error,
                    },
                    None => bad(r.describe(), ErrorCode::AuthFailed),
                }
                .into(),
            );
        }
        500..=599 => return Err(bad(r.describe(), ErrorCode::NetworkError).into()),
        _ => {
            return Err(bad(
                format!("{} (redirects are not followed)", r.describe()),
                ErrorCode::InvalidResponse,
            )
            .into());
        }
    }
    let answer: Answer = serde_json::from_slice(&r.body).map_err(|_| {
        bad(
            format!(
                "{}, which is not a JSON registration response",
                r.describe()
            ),
            ErrorCode::InvalidResponse,
        )
    })?;
    let client_id = answer
        .client_id
        .filter(|id| !id.trim().is_empty() && id.len() <= 1024 && !id.chars().any(char::is_control))
        .ok_or_else(|| {
            bad(
                format!("{} without a usable client_id", r.describe()),
                ErrorCode::InvalidResponse,
            )
        })?;
    let client_secret = answer
        .client_secret
        .filter(|s| !s.is_empty())
        .map(ClientSecret::new);
    let method = answer.token_endpoint_auth_method.unwrap_or_else(|| {
        if client_secret.is_some() {
            "client_secret_basic".to_owned()
        } else {
            "none".to_owned()
        }
    });
    tracing::info!(issuer = %sanitize_for_terminal(issuer, 200), client_id = %sanitize_for_terminal(&client_id, 100), "registered ch as a client");
    Ok(Registration {
        issuer: issuer.to_owned(),
        client_id,
        client_secret,
        client_secret_expires_at: answer.client_secret_expires_at,
        token_endpoint_auth_method: method,
        registered_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_is_a_public_native_client_with_loopback_redirects() {
        let v: serde_json::Value = serde_json::from_slice(&request_body()).unwrap();
        assert_eq!(v["application_type"], "native");
        assert_eq!(v["token_endpoint_auth_method"], "none");
        assert_eq!(v["client_name"], "ch");
        assert_eq!(
            v["grant_types"],
            serde_json::json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(v["response_types"], serde_json::json!(["code"]));
        assert_eq!(
            v["redirect_uris"],
            serde_json::json!([
                "http://127.0.0.1/callback",
                "http://localhost/callback",
                "http://[::1]/callback"
            ])
        );
    }

    #[test]
    fn debug_hides_the_secret_and_expiry_is_checked() {
        let mut r = Registration {
            issuer: "https://as.example".into(),
            client_id: "cid".into(),
            client_secret: Some(ClientSecret::new("s3cr3t-value")),
            client_secret_expires_at: Some(100),
            token_endpoint_auth_method: "client_secret_basic".into(),
            registered_at: 1,
        };
        assert!(!format!("{r:?}").contains("s3cr3t-value"));
        assert!(r.expired(100));
        assert!(!r.expired(99));
        r.client_secret_expires_at = Some(0);
        assert!(!r.expired(u64::MAX));
        r.client_secret = None;
        r.client_secret_expires_at = Some(1);
        assert!(
            !r.expired(u64::MAX),
            "a public client has nothing to expire"
        );
    }
}
