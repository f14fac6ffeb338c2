//! `$CH_HOME/config.toml`: custom providers and overrides of the built-in ones.
//!
//! ```toml
//! [providers.corp]
//! display_name = "Corp SSO"
//! issuer = "https://login.corp.example"
//! scopes = ["openid", "offline_access"]
//! client_id = "ch-cli"
//! ```
//!
//! Every key of a provider section is optional, unknown keys are errors, and an error names the
//! file, the line and the key but never quotes a `client_secret`.
//!
//! A `client_secret` written here is stored in plain text: prefer `{NAME}_CLIENT_SECRET` in
//! the environment, and keep the file private (mode 0600). Native apps are public clients
//! anyway (RFC 8252 §8.5): a secret shipped with one proves nothing.

use std::collections::BTreeMap;
use std::path::Path;

use oauth_primitives::{
    ClientSecret, Endpoint, OAuthProvider, ProviderName, RedirectHost, RedirectPath,
};
use serde::Deserialize;

use crate::providers::{Entry, ProviderSource};

#[derive(Deserialize)]
struct ConfigFile {
    /// ch's OAuth Client ID Metadata Document: its https URL is ch's client id at any MCP
    /// authorization server that accepts such documents.
    client_metadata_url: Option<String>,
    #[serde(default)]
    providers: BTreeMap<String, ProviderSection>,
    #[serde(default)]
    mcp: BTreeMap<String, McpSection>,
}

/// Checks a Client ID Metadata Document URL (draft-ietf-oauth-client-id-metadata-document):
/// https, a path, no fragment, no credentials, no dot segments. The URL as given (trimmed) is
/// the client id, compared by the server as a string, so it is not normalised.
pub(crate) fn check_client_metadata_url(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    let url = url::Url::parse(raw).map_err(|e| format!("{e}"))?;
    if url.scheme() != "https" {
        return Err("it must be an https URL".to_owned());
    }
    if url.path() == "/" || url.path().is_empty() {
        return Err("it must have a path (such as /ch/client.json)".to_owned());
    }
    if url.fragment().is_some() {
        return Err("it must not have a fragment".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("it must not carry credentials".to_owned());
    }
    if raw.split(['/', '?']).any(|seg| seg == "." || seg == "..") {
        return Err("it must not contain . or .. segments".to_owned());
    }
    Ok(raw.to_owned())
}

impl ConfigFile {
    /// The top-level `client_metadata_url`, checked; the error names the key.
    fn client_metadata_url(&self) -> Result<Option<String>, String> {
        self.client_metadata_url
            .as_deref()
            .map(|u| {
                check_client_metadata_url(u).map_err(|e| {
                    format!(
                        "client_metadata_url {:?}: {e}",
                        oauth_primitives::sanitize_for_terminal(u, 200)
                    )
                })
            })
            .transpose()
    }
}

/// One `[mcp.NAME]` section: the pre-registered client to use when logging in to an MCP
/// server by URL under NAME (`ch mcp auth <URL> --name NAME`), instead of registering one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct McpSection {
    client_id: String,
}

/// One `[providers.NAME]` section.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ProviderSection {
    display_name: Option<String>,
    auth_url: Option<Endpoint>,
    token_url: Option<Endpoint>,
    issuer: Option<String>,
    scopes: Option<Vec<String>>,
    client_id: Option<String>,
    client_secret: Option<String>,
    audience: Option<String>,
    resource: Option<String>,
    extra_auth_params: Option<BTreeMap<String, String>>,
    revocation_url: Option<Endpoint>,
    device_authorization_url: Option<Endpoint>,
    resources_url: Option<Endpoint>,
    setup_url: Option<Endpoint>,
    redirect_host: Option<RedirectHost>,
    redirect_path: Option<RedirectPath>,
    ports: Option<Vec<u16>>,
}

/// Parses `text` (the contents of `path`) and merges its providers into `entries`.
///
/// Returns a message naming the line and key on failure (the caller adds the path).
pub(crate) fn merge(text: &str, entries: &mut BTreeMap<ProviderName, Entry>) -> Result<(), String> {
    let file: ConfigFile = toml::from_str(text).map_err(|e| describe(text, &e))?;
    file.client_metadata_url()?;
    for (raw_name, section) in &file.mcp {
        ProviderName::new(raw_name).map_err(|e| format!("[mcp.{raw_name}]: {e}"))?;
        if section.client_id.trim().is_empty() {
            return Err(format!("[mcp.{raw_name}]: client_id must not be empty"));
        }
    }
    for (raw_name, section) in file.providers {
        let line = find_section_line(text, &raw_name);
        let where_ = format!("{}, [providers.{raw_name}]", at_line(line));
        let name = ProviderName::new(&raw_name).map_err(|e| format!("{where_}: {e}"))?;
        let existing = entries.remove(&name);
        let entry = apply(name.clone(), section, existing).map_err(|e| format!("{where_}: {e}"))?;
        entries.insert(name, entry);
    }
    Ok(())
}

/// What `config.toml` says about MCP logins by URL under one name.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct McpClientConfig {
    /// `[mcp.NAME] client_id`.
    pub(crate) client_id: Option<String>,
    /// The top-level `client_metadata_url`, checked.
    pub(crate) client_metadata_url: Option<String>,
}

/// The MCP client settings for logins under `name`. Read only when a login by URL needs
/// them, never on the token hot path.
pub(crate) fn mcp_client_config(
    path: &Path,
    name: &ProviderName,
) -> Result<McpClientConfig, crate::Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(McpClientConfig::default());
        }
        Err(source) => {
            return Err(crate::Error::ReadConfig {
                path: path.to_owned(),
                source,
            });
        }
    };
    let invalid = |message: String| crate::Error::InvalidConfig {
        path: path.to_owned(),
        message,
    };
    let file: ConfigFile = toml::from_str(&text).map_err(|e| invalid(describe(&text, &e)))?;
    let client_metadata_url = file.client_metadata_url().map_err(invalid)?;
    Ok(McpClientConfig {
        client_id: file
            .mcp
            .get(name.as_str())
            .map(|s| s.client_id.trim().to_owned())
            .filter(|id| !id.is_empty()),
        client_metadata_url,
    })
}

/// Reads and merges `path` when it exists. `Ok(false)` when there is no file.
pub(crate) fn merge_file(
    path: &Path,
    entries: &mut BTreeMap<ProviderName, Entry>,
) -> Result<bool, crate::Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(crate::Error::ReadConfig {
                path: path.to_owned(),
                source,
            });
        }
    };
    merge(&text, entries).map_err(|message| crate::Error::InvalidConfig {
        path: path.to_owned(),
        message,
    })?;
    Ok(true)
}

fn apply(name: ProviderName, s: ProviderSection, existing: Option<Entry>) -> Result<Entry, String> {
    let mut entry = existing.unwrap_or_else(|| Entry {
        provider: OAuthProvider::new(name),
        source: ProviderSource::Config,
        client_id: None,
        client_secret: None,
        client_auth: None,
        server_url: None,
        client_id_given: false,
    });
    entry.source = ProviderSource::Config;
    entry.server_url = None;
    entry.client_id_given = false;
    let p = &mut entry.provider;
    if let Some(v) = s.display_name {
        p.display_name = v;
    }
    // A section that names new endpoints or a new issuer replaces the built-in ones together,
    // so a half-overridden provider never mixes two servers.
    if s.auth_url.is_some() || s.token_url.is_some() || s.issuer.is_some() {
        p.auth_url = s.auth_url;
        p.token_url = s.token_url;
        p.issuer = s.issuer;
        p.iss_parameter_supported = false;
        p.revocation_url = None;
        p.device_authorization_url = None;
        entry.client_auth = None;
    }
    if let Some(issuer) = &p.issuer {
        Endpoint::parse(issuer).map_err(|e| format!("issuer: {e}"))?;
    }
    if let Some(v) = s.scopes {
        p.scopes = v;
    }
    if let Some(v) = s.audience {
        p.audience = Some(v);
    }
    if let Some(v) = s.resource {
        p.resource = Some(v);
    }
    if let Some(v) = s.extra_auth_params {
        p.extra_auth_params = v;
    }
    if let Some(v) = s.revocation_url {
        p.revocation_url = Some(v);
    }
    if let Some(v) = s.device_authorization_url {
        p.device_authorization_url = Some(v);
    }
    if let Some(v) = s.resources_url {
        p.resources_url = Some(v);
    }
    if let Some(v) = s.setup_url {
        p.setup_url = Some(v);
    }
    if let Some(v) = s.redirect_host {
        p.redirect_host = v;
    }
    if let Some(v) = s.redirect_path {
        p.redirect_path = v;
    }
    if let Some(v) = s.ports {
        p.ports = v;
    }
    if let Some(id) = s.client_id {
        if id.trim().is_empty() {
            return Err("client_id must not be empty".to_owned());
        }
        entry.client_id = Some(id);
    }
    if let Some(secret) = s.client_secret {
        entry.client_secret = Some(ClientSecret::new(secret));
    }
    entry.provider.validate().map_err(|e| e.to_string())?;
    Ok(entry)
}

/// Never echo anything that might be part of a client secret: serde quotes invalid values.
fn scrub_secret(message: &str) -> String {
    if message.contains("client_secret") && !message.starts_with("unknown field") {
        "client_secret must be a string".to_owned()
    } else {
        message.trim().to_owned()
    }
}

fn at_line(line: Option<usize>) -> String {
    line.map_or_else(|| "in the file".to_owned(), |l| format!("line {l}"))
}

/// The 1-based line of `[providers.NAME]` (or a dotted key using it).
fn find_section_line(text: &str, name: &str) -> Option<usize> {
    let header = format!("providers.{name}");
    let quoted = format!("providers.\"{name}\"");
    text.lines()
        .position(|l| {
            let t = l.trim_start();
            t.starts_with('[') && (t.contains(&header) || t.contains(&quoted))
        })
        .map(|i| i + 1)
        .or_else(|| {
            text.lines()
                .position(|l| l.contains(&header))
                .map(|i| i + 1)
        })
}

/// A TOML syntax or shape error: line, column, the key on that line and the message. The
/// source line itself is not quoted (it may hold a secret).
fn describe(text: &str, err: &toml::de::Error) -> String {
    let msg = scrub_secret(err.message());
    let Some(span) = err.span() else {
        return msg;
    };
    let start = span.start.min(text.len());
    let before = &text[..start];
    let line_no = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..start].chars().count() + 1;
    let line_text = text[line_start..].lines().next().unwrap_or("");
    let key = line_text
        .split_once('=')
        .map(|(k, _)| k.trim())
        .filter(|k| !k.is_empty() && k.len() <= 80 && !k.starts_with('['));
    let msg = if key.is_some_and(|k| k.contains("client_secret")) {
        "client_secret must be a string".to_owned()
    } else {
        msg
    };
    // The table the key belongs to: the last `[header]` above the error.
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && !l.starts_with("[["))
        .and_then(|l| l.strip_prefix('['))
        .and_then(|l| l.split(']').next())
        .map(str::trim)
        .filter(|t| t.len() <= 100);
    match (key, table) {
        (Some(k), Some(t)) => format!("line {line_no}, column {column}, key {t}.{k}: {msg}"),
        (Some(k), None) => format!("line {line_no}, column {column}, key {k}: {msg}"),
        (None, _) => format!("line {line_no}, column {column}: {msg}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::builtins;

    fn base() -> BTreeMap<ProviderName, Entry> {
        builtins()
            .into_iter()
            .map(|e| (e.provider.name.clone(), e))
            .collect()
    }

    fn check_err(text: &str, needles: &[&str]) {
        let mut entries = base();
        let err = merge(text, &mut entries).unwrap_err();
        for n in needles {
            assert!(err.contains(n), "{err:?} should contain {n:?}");
        }
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[test]
    fn mcp_sections_name_a_client_for_logins_by_url() {
        let dir = std::env::temp_dir().join(format!("ch-config-mcp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.toml");
        std::fs::write(&path, "[mcp.tools]\nclient_id = \" pre-registered \"\n").unwrap();
        let tools = ProviderName::new("tools").unwrap();
        let other = ProviderName::new("other").unwrap();
        assert_eq!(
            mcp_client_config(&path, &tools)
                .unwrap()
                .client_id
                .as_deref(),
            Some("pre-registered")
        );
        assert_eq!(mcp_client_config(&path, &other).unwrap().client_id, None);
        assert_eq!(
            mcp_client_config(&dir.join("missing.toml"), &tools).unwrap(),
            McpClientConfig::default()
        );
        std::fs::write(
            &path,
            "client_metadata_url = \"https://ch.example/client.json\"\n[mcp.tools]\nclient_id = \"x\"\n",
        )
        .unwrap();
        assert_eq!(
            mcp_client_config(&path, &other).unwrap(),
            McpClientConfig {
                client_id: None,
                client_metadata_url: Some("https://ch.example/client.json".into()),
            }
        );
        std::fs::write(&path, "client_metadata_url = \"http://ch.example/c\"\n").unwrap();
        let err = mcp_client_config(&path, &tools).unwrap_err().to_string();
        assert!(
            err.contains("client_metadata_url") && err.contains("https"),
            "{err}"
        );
        let mut entries = base();
        merge("[mcp.tools]\nclient_id = \"x\"\n", &mut entries).unwrap();
        check_err("[mcp.tools]\nclient_id = \"x\"\nscopes = []\n", &["scopes"]);
        check_err(
            "[mcp.tools]\nclient_id = \" \"\n",
            &["[mcp.tools]", "client_id"],
        );
        check_err("[mcp.Bad]\nclient_id = \"x\"\n", &["[mcp.Bad]", "a-z"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn client_metadata_urls_are_https_urls_with_a_path() {
        assert_eq!(
            check_client_metadata_url(" https://ch.example/oauth/client.json ").as_deref(),
            Ok("https://ch.example/oauth/client.json")
        );
        for (bad, why) in [
            ("http://ch.example/client.json", "https"),
            ("https://ch.example", "path"),
            ("https://ch.example/", "path"),
            ("https://ch.example/c#x", "fragment"),
            ("https://u:p@ch.example/c", "credentials"),
            ("https://ch.example/a/../c", ". or .."),
            ("not a url", "relative URL"),
        ] {
            let err = check_client_metadata_url(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        let mut entries = base();
        merge(
            "client_metadata_url = \"https://ch.example/c.json\"\n",
            &mut entries,
        )
        .unwrap();
        check_err(
            "client_metadata_url = \"https://ch.example\"\n",
            &["client_metadata_url", "path"],
        );
    }

    #[test]
    fn custom_provider_with_every_key() {
        let mut entries = base();
        merge(
            r#"
[providers.corp]
display_name = "Corp SSO"
auth_url = "https://login.corp.example/authorize"
token_url = "https://login.corp.example/token"
issuer = "https://login.corp.example"
scopes = ["openid", "offline_access"]
client_id = "ch-cli"
client_secret = "s3cret"
audience = "api"
resource = "https://api.corp.example"
extra_auth_params = { prompt = "consent" }
revocation_url = "https://login.corp.example/revoke"
device_authorization_url = "https://login.corp.example/device"
resources_url = "https://api.corp.example/resources"
setup_url = "https://login.corp.example/apps"
redirect_host = "localhost"
redirect_path = "/oauth/cb"
ports = [9000, 9001]
"#,
            &mut entries,
        )
        .unwrap();
        let e = &entries[&ProviderName::new("corp").unwrap()];
        assert_eq!(e.source, ProviderSource::Config);
        assert_eq!(e.provider.display_name, "Corp SSO");
        assert_eq!(e.provider.ports, [9000, 9001]);
        assert_eq!(e.provider.redirect_host, RedirectHost::Localhost);
        assert_eq!(e.client_id.as_deref(), Some("ch-cli"));
        assert_eq!(e.client_secret.as_ref().unwrap().expose_secret(), "s3cret");
        assert_eq!(e.provider.extra_auth_params["prompt"], "consent");
        assert!(!format!("{e:?}").contains("s3cret"));
    }

    #[test]
    fn a_section_named_like_a_builtin_extends_it() {
        let mut entries = base();
        merge(
            "[providers.github]\nclient_id = \"abc\"\nscopes = [\"repo\"]\n",
            &mut entries,
        )
        .unwrap();
        let e = &entries[&ProviderName::new("github").unwrap()];
        assert_eq!(e.source, ProviderSource::Config);
        assert_eq!(e.client_id.as_deref(), Some("abc"));
        assert_eq!(e.provider.scopes, ["repo"]);
        assert!(e.provider.token_url.is_some(), "endpoints kept");
    }

    #[test]
    fn issuer_only_is_enough() {
        let mut entries = base();
        merge(
            "[providers.idp]\nissuer = \"http://127.0.0.1:9/\"\n",
            &mut entries,
        )
        .unwrap();
        assert!(
            entries[&ProviderName::new("idp").unwrap()]
                .provider
                .auth_url
                .is_none()
        );
    }

    #[test]
    fn errors_name_line_and_key() {
        check_err(
            "[providers.corp]\nauth_url = \"https://a.example/a\"\ntoken_url = \"https://a.example/t\"\ncolour = \"blue\"\n",
            &[
                "line 4",
                "key providers.corp.colour",
                "unknown field `colour`",
            ],
        );
        check_err(
            "\n[providers.corp]\nauth_url = \"http://example.com/a\"\ntoken_url = \"https://a.example/t\"\n",
            &["line 3", "key providers.corp.auth_url", "must use https"],
        );
        check_err(
            "[providers.corp]\nauth_url = \n",
            &["line 2", "key providers.corp.auth_url"],
        );
        check_err(
            "[providers.corp]\nclient_secret = 42\n",
            &["client_secret must be a string"],
        );
        check_err(
            "[providers.corp]\nclient_secret = \"s3cret\nx = 1\n",
            &["line 2", "client_secret must be a string"],
        );
        check_err(
            "[providers.corp]\nscopes = [\"a\"]\n",
            &["needs auth_url and token_url"],
        );
        check_err(
            "[providers.Bad]\nissuer = \"https://a.example\"\n",
            &["line 1", "invalid provider name"],
        );
        check_err(
            "[providers.corp]\nissuer = \"http://a.example\"\n",
            &["issuer", "https"],
        );
        check_err(
            "[providers.corp]\nissuer = \"https://a.example\"\nports = [70000]\n",
            &["providers.corp"],
        );
        check_err(
            "[providers.corp]\nissuer = \"https://a.example\"\nredirect_host = \"0.0.0.0\"\n",
            &["redirect_host"],
        );
    }

    #[test]
    fn garbage_never_panics() {
        for text in [
            "\u{0}",
            "[[[",
            "providers = 5",
            "[providers]\ncorp = 5",
            "[providers.corp]\nports = \"x\"",
        ] {
            let mut entries = base();
            let _ = merge(text, &mut entries);
        }
    }
}
