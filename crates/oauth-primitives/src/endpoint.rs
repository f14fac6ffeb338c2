//! URLs the client talks to or sends the user to.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use snafu::{Snafu, ensure};
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use url::{Host, Url};

use crate::ErrorCode;

/// An endpoint URL that is safe to use: `https`, or `http` on a loopback host only
/// (127.0.0.0/8, `::1`, `localhost`), with no fragment and no embedded credentials.
///
/// This is OAuth 2.1 §1.5: authorization-server endpoints use TLS; only local development
/// servers may speak plain HTTP, and those never leave the machine.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Endpoint(Url);

/// An endpoint URL was rejected.
#[derive(Debug, Snafu)]
#[non_exhaustive]
pub enum InvalidEndpoint {
    /// Not a URL at all.
    #[snafu(display("{shown:?} is not a valid URL: {source}"))]
    Parse {
        /// The input, made safe to print.
        shown: String,
        /// Why the URL parser refused it.
        source: url::ParseError,
    },
    /// Not https and not loopback http.
    #[snafu(display(
        "{url} must use https (plain http is allowed only for 127.0.0.1, [::1] and localhost)"
    ))]
    Insecure {
        /// The rejected URL.
        url: String,
    },
    /// Has a `#fragment`, which OAuth endpoints must not have.
    #[snafu(display("{url} must not contain a #fragment"))]
    Fragment {
        /// The rejected URL.
        url: String,
    },
    /// Has `user:password@` in it.
    #[snafu(display("endpoint URLs must not contain a user name or password"))]
    Credentials,
}

impl InvalidEndpoint {
    /// Always [`ErrorCode::ConfigMissing`]: the configuration holds a bad URL.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        ErrorCode::ConfigMissing
    }
}

impl Endpoint {
    /// Parses and validates `input`.
    pub fn parse(input: &str) -> Result<Self, InvalidEndpoint> {
        let url = Url::parse(input).context_parse(input)?;
        Self::try_from(url)
    }

    /// The URL.
    #[must_use]
    pub fn url(&self) -> &Url {
        &self.0
    }

    /// The URL as a string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Consumes the endpoint, giving back the URL.
    #[must_use]
    pub fn into_url(self) -> Url {
        self.0
    }
}

trait ContextParse<T> {
    fn context_parse(self, input: &str) -> Result<T, InvalidEndpoint>;
}

impl<T> ContextParse<T> for Result<T, url::ParseError> {
    fn context_parse(self, input: &str) -> Result<T, InvalidEndpoint> {
        self.map_err(|source| InvalidEndpoint::Parse {
            shown: crate::text::sanitize_for_terminal(input, 200),
            source,
        })
    }
}

/// Whether `url`'s host is a loopback host: 127.0.0.0/8, `::1` or `localhost`.
#[must_use]
pub fn is_loopback_url(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip == Ipv6Addr::LOCALHOST,
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Whether `ip` is a loopback address.
#[must_use]
pub fn is_loopback_ip(ip: IpAddr) -> bool {
    ip.is_loopback()
}

impl TryFrom<Url> for Endpoint {
    type Error = InvalidEndpoint;

    fn try_from(url: Url) -> Result<Self, Self::Error> {
        let secure = match url.scheme() {
            "https" => url.host().is_some(),
            "http" => is_loopback_url(&url),
            _ => false,
        };
        ensure!(
            secure,
            InsecureSnafu {
                url: crate::text::sanitize_for_terminal(url.as_str(), 200)
            }
        );
        ensure!(
            url.fragment().is_none(),
            FragmentSnafu {
                url: crate::text::sanitize_for_terminal(url.as_str(), 200)
            }
        );
        ensure!(
            url.username().is_empty() && url.password().is_none(),
            CredentialsSnafu
        );
        Ok(Self(url))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0.as_str(), f)
    }
}

impl Serialize for Endpoint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, ok: bool) {
        assert_eq!(Endpoint::parse(input).is_ok(), ok, "{input}");
    }

    #[test]
    fn https_anywhere_http_only_on_loopback() {
        check("https://auth.atlassian.com/authorize", true);
        check("http://127.0.0.1:8080/token", true);
        check("http://127.8.9.10/token", true);
        check("http://[::1]:99/token", true);
        check("http://localhost:3000/token", true);
        check("http://LOCALHOST/token", true);
        check("http://example.com/token", false);
        check("http://10.0.0.1/token", false);
        check("http://localhost.evil.com/token", false);
        check("http://127.0.0.1.nip.io/token", false);
        check("javascript:alert(1)", false);
        check("file:///etc/passwd", false);
        check("ftp://example.com/", false);
    }

    #[test]
    fn rejects_fragments_and_credentials() {
        check("https://a.example/token#frag", false);
        check("https://user:pw@a.example/token", false);
    }

    #[test]
    fn insecure_error_names_the_url_and_the_rule() {
        let msg = Endpoint::parse("http://example.com/x")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("http://example.com/x") && msg.contains("https"),
            "{msg}"
        );
    }
}
