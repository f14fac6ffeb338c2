//! The HTTP side: one lazily built reqwest client, form posts to token and revocation
//! endpoints, and capped JSON fetches for discovery.

use std::sync::OnceLock;
use std::time::Duration;

use oauth_primitives::{ClientSecret, Endpoint, sanitize_for_terminal};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};

use crate::error::{Error, Result};
use crate::providers::ClientAuth;

/// The most a token, revocation or metadata response may weigh.
pub(crate) const MAX_BODY: usize = 256 * 1024;

/// Connect and total timeouts of every request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub(crate) connect: Duration,
    pub(crate) total: Duration,
}

/// The reqwest client, built on first network use: a valid cached token never pays for the
/// TLS set-up.
#[derive(Debug)]
pub(crate) struct Http {
    client: OnceLock<reqwest::Client>,
    timeouts: Timeouts,
}

/// A response read into memory (at most [`MAX_BODY`] bytes).
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) content_type: Option<String>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    /// `HTTP 500, text/html, 1234 bytes`: what may be shown about a response (never its body).
    pub(crate) fn describe(&self) -> String {
        format!(
            "HTTP {}, {}, {} bytes",
            self.status,
            self.content_type.as_deref().map_or_else(
                || "no content type".to_owned(),
                |c| sanitize_for_terminal(c, 60)
            ),
            self.body.len()
        )
    }
}

/// Client credentials for one request.
pub(crate) struct Client<'a> {
    pub(crate) id: &'a str,
    pub(crate) secret: Option<&'a ClientSecret>,
    pub(crate) auth: ClientAuth,
}

impl Http {
    pub(crate) fn new(timeouts: Timeouts) -> Self {
        Self {
            client: OnceLock::new(),
            timeouts,
        }
    }

    /// Whether the reqwest client has been built (tests of the no-network hot path).
    #[cfg(test)]
    pub(crate) fn is_built(&self) -> bool {
        self.client.get().is_some()
    }

    pub(crate) fn client(&self) -> Result<&reqwest::Client> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let built = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.timeouts.connect)
            .timeout(self.timeouts.total)
            .default_headers(headers)
            .user_agent(concat!("ch-oauth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Http {
                what: "client set-up",
                url: String::new(),
                reason: reason(&e),
                timed_out: false,
            })?;
        Ok(self.client.get_or_init(|| built))
    }

    /// POSTs a form (`params`, plus client authentication) and reads the response.
    pub(crate) async fn post_form(
        &self,
        what: &'static str,
        url: &Endpoint,
        params: &[(&str, &str)],
        client: &Client<'_>,
    ) -> Result<Response> {
        let mut form: Vec<(&str, &str)> = params.to_vec();
        let mut request = self.client()?.post(url.url().clone());
        match (client.secret, client.auth) {
            (Some(secret), ClientAuth::Basic) => {
                // RFC 6749 §2.3.1: both parts are form-encoded before Basic encoding.
                let id: String =
                    url::form_urlencoded::byte_serialize(client.id.as_bytes()).collect();
                let pw: String =
                    url::form_urlencoded::byte_serialize(secret.expose_secret().as_bytes())
                        .collect();
                request = request.basic_auth(id, Some(pw));
            }
            (Some(secret), ClientAuth::Post) => {
                form.push(("client_id", client.id));
                form.push(("client_secret", secret.expose_secret()));
            }
            (None, _) => form.push(("client_id", client.id)),
        }
        let request = request.form(&form);
        self.send(what, url, request).await
    }

    /// GETs `url` (discovery).
    pub(crate) async fn get(&self, what: &'static str, url: &Endpoint) -> Result<Response> {
        let request = self.client()?.get(url.url().clone());
        self.send(what, url, request).await
    }

    pub(crate) async fn send(
        &self,
        what: &'static str,
        url: &Endpoint,
        request: reqwest::RequestBuilder,
    ) -> Result<Response> {
        let shown = url_for_humans(url);
        let http_err = |e: &reqwest::Error| Error::Http {
            what,
            url: shown.clone(),
            reason: reason(e),
            timed_out: e.is_timeout(),
        };
        let mut response = request.send().await.map_err(|e| http_err(&e))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if response
            .content_length()
            .is_some_and(|len| len > MAX_BODY as u64)
        {
            return Err(too_large(what, &shown, status));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| http_err(&e))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(too_large(what, &shown, status));
            }
            body.extend_from_slice(&chunk);
        }
        tracing::debug!(what, url = %shown, status, bytes = body.len(), "http response");
        Ok(Response {
            status,
            content_type,
            body,
        })
    }
}

fn too_large(what: &'static str, url: &str, status: u16) -> Error {
    Error::BadResponse {
        what,
        url: url.to_owned(),
        detail: format!("HTTP {status} with a body over {} KB", MAX_BODY / 1024),
        code: oauth_primitives::ErrorCode::InvalidResponse,
    }
}

/// The endpoint without its query (a configured endpoint could carry parameters).
pub(crate) fn url_for_humans(url: &Endpoint) -> String {
    let mut u = url.url().clone();
    u.set_query(None);
    sanitize_for_terminal(u.as_str(), 200)
}

/// A reqwest error's chain of causes, without the URL (reqwest puts the full URL, query
/// included, into its messages).
pub(crate) fn reason(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    if e.is_timeout() {
        parts.push("timed out".to_owned());
    } else if e.is_connect() {
        parts.push("could not connect".to_owned());
    } else if e.is_body() || e.is_decode() {
        parts.push("the response body could not be read".to_owned());
    } else if e.is_request() {
        parts.push("the request could not be sent".to_owned());
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !text.contains("://") && !parts.contains(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    if parts.is_empty() {
        parts.push("unknown error".to_owned());
    }
    sanitize_for_terminal(&parts.join(": "), 300)
}
