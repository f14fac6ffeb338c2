//! The small, self-contained HTML pages the listener answers with.
//!
//! No page loads anything from anywhere (the CSP forbids it), none redirects, and every piece of
//! request-derived text goes through [`escape`].

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};

/// Forbids every fetch but the inline style and the empty `data:` icon; no framing, no forms.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                   base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// A page: a status, a title and a paragraph of already-escaped HTML.
pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) title: &'static str,
    pub(crate) body_html: String,
}

impl Page {
    fn new(status: StatusCode, title: &'static str, body_html: impl Into<String>) -> Self {
        Self {
            status,
            title,
            body_html: body_html.into(),
        }
    }

    pub(crate) fn success() -> Self {
        Self::new(
            StatusCode::OK,
            "Login complete",
            "You are signed in. You can close this tab and return to the terminal.",
        )
    }

    /// A declined login; `description` is the server's plain text (escaped here).
    pub(crate) fn cancelled(description: Option<&str>) -> Self {
        let said = description
            .map(|d| format!(" The server said: {}", escape(d)))
            .unwrap_or_default();
        Self::new(
            StatusCode::OK,
            "Login cancelled",
            format!(
                "The authorization was declined.{said} You can close this tab; the terminal shows what to do next."
            ),
        )
    }

    /// A failed login; `detail` is plain text (escaped here).
    pub(crate) fn failed(detail: &str) -> Self {
        Self::new(
            StatusCode::OK,
            "Login failed",
            format!(
                "{} You can close this tab and return to the terminal.",
                escape(detail)
            ),
        )
    }

    pub(crate) fn wrong_state() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "Not this login",
            "This request does not belong to the login in progress and was ignored. \
             If you started a login, finish it in the tab that the terminal opened.",
        )
    }

    pub(crate) fn already_done() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "Login already finished",
            "This login has already received its answer. You can close this tab.",
        )
    }

    pub(crate) fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not found", "Nothing here.")
    }

    pub(crate) fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            "Only GET is answered here.",
        )
    }

    pub(crate) fn uri_too_long() -> Self {
        Self::new(
            StatusCode::URI_TOO_LONG,
            "Request too long",
            "The request is too long to be an authorization response.",
        )
    }

    pub(crate) fn misdirected() -> Self {
        Self::new(
            StatusCode::MISDIRECTED_REQUEST,
            "Wrong host",
            "This listener only answers requests addressed to the loopback interface.",
        )
    }

    /// The full HTML document.
    pub(crate) fn html(&self) -> String {
        format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <link rel=\"icon\" href=\"data:,\"><title>{title}</title>\
             <style>body{{font-family:system-ui,sans-serif;max-width:38rem;margin:4rem auto;\
             padding:0 1rem;line-height:1.5;color:#222}}h1{{font-size:1.4rem}}</style></head>\
             <body><h1>{title}</h1><p>{body}</p></body></html>\n",
            title = self.title,
            body = self.body_html
        )
    }

    /// The HTTP response: no caching, no referrer, a strict CSP, no sniffing, no framing.
    pub(crate) fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::from(self.html())));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            headers.insert(header::ALLOW, HeaderValue::from_static("GET"));
        }
        response
    }
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }

    #[test]
    fn failed_page_escapes_its_detail() {
        let html = Page::failed("<img src=x onerror=alert(1)>").html();
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        let html = Page::cancelled(Some("<b>no</b>")).html();
        assert!(
            html.contains("&lt;b&gt;no&lt;/b&gt;") && !html.contains("<b>"),
            "{html}"
        );
    }

    #[test]
    fn pages_are_self_contained_and_never_redirect() {
        for page in [
            Page::success(),
            Page::cancelled(Some("<b>no</b>")),
            Page::cancelled(None),
            Page::failed("x"),
            Page::wrong_state(),
            Page::already_done(),
            Page::not_found(),
            Page::method_not_allowed(),
            Page::uri_too_long(),
            Page::misdirected(),
        ] {
            let status = page.status;
            let html = page.html();
            for forbidden in ["http:", "https:", "//", "<script", "refresh", "src="] {
                assert!(!html.contains(forbidden), "{forbidden} in {html}");
            }
            let response = page.into_response();
            assert_eq!(response.status(), status);
            assert!(!status.is_redirection());
            assert!(response.headers().get(header::LOCATION).is_none());
            assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
            assert_eq!(response.headers()[header::REFERRER_POLICY], "no-referrer");
        }
    }
}
