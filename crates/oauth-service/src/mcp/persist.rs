//! What MCP discovery leaves in `$CH_HOME`:
//!
//! - `registrations/<sha256-hex of the issuer>.json`: the client ch registered at one
//!   authorization server (RFC 7591), reused by the next login there and never with another
//!   server. A public client's file holds no secret; if a server issued one anyway it is kept
//!   only here.
//! - `discovered/<name>.json`: the provider made from an MCP server (endpoints, issuer,
//!   `resource`, scopes, client id), loaded by every later [`OAuthService`](crate::OAuthService)
//!   so `token`, `refresh`, `status` and `logout` need no discovery.
//!
//! Both directories are created with mode 0700 and every file is written with mode 0600 by
//! writing a temporary file in the same directory and renaming it over the old one, so a
//! reader sees the old or the new document, never half of one.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use oauth_primitives::{ClientSecret, Endpoint, OAuthProvider, ProviderName};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::McpError;
use super::registration::Registration;
use crate::providers::{ClientAuth, Entry, ProviderSource};

/// The largest file read back (a real one is about 1 KB).
const MAX_FILE: u64 = 64 * 1024;

/// `registrations/<sha256-hex(issuer)>.json` under `ch_home`.
pub(crate) fn registration_path(ch_home: &Path, issuer: &str) -> PathBuf {
    let digest = Sha256::digest(issuer.as_bytes());
    let hex: String = digest
        .iter()
        .flat_map(|b| [b >> 4, b & 0x0f])
        .map(|n| char::from_digit(u32::from(n), 16).unwrap_or('0'))
        .collect();
    ch_home.join("registrations").join(format!("{hex}.json"))
}

/// `discovered/<name>.json` under `ch_home`.
pub(crate) fn discovered_path(ch_home: &Path, name: &ProviderName) -> PathBuf {
    ch_home
        .join("discovered")
        .join(format!("{}.json", name.as_str()))
}

#[derive(Serialize, Deserialize)]
struct RegistrationFile {
    issuer: String,
    client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_secret_expires_at: Option<u64>,
    token_endpoint_auth_method: String,
    registered_at: u64,
}

/// Saves `r` (0600, atomic).
pub(crate) fn save_registration(ch_home: &Path, r: &Registration) -> Result<PathBuf, McpError> {
    let file = RegistrationFile {
        issuer: r.issuer.clone(),
        client_id: r.client_id.clone(),
        client_secret: r
            .client_secret
            .as_ref()
            .map(|s| s.expose_secret().to_owned()),
        client_secret_expires_at: r.client_secret_expires_at,
        token_endpoint_auth_method: r.token_endpoint_auth_method.clone(),
        registered_at: r.registered_at,
    };
    let bytes = serde_json::to_vec_pretty(&file).unwrap_or_default();
    drop(file);
    let path = registration_path(ch_home, &r.issuer);
    write_private(&path, &bytes)?;
    Ok(path)
}

/// Removes the stored registration for `issuer` (the server refused it). `Ok` when it is gone,
/// also when there was none.
pub(crate) fn forget_registration(ch_home: &Path, issuer: &str) -> std::io::Result<()> {
    match std::fs::remove_file(registration_path(ch_home, issuer)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The stored registration for `issuer`, if there is a readable one for exactly that issuer.
pub(crate) fn load_registration(ch_home: &Path, issuer: &str) -> Option<Registration> {
    let path = registration_path(ch_home, issuer);
    let bytes = read_small(&path)?;
    let Ok(file) = serde_json::from_slice::<RegistrationFile>(&bytes) else {
        tracing::warn!(path = %path.display(), "ignoring an unreadable client registration file");
        return None;
    };
    if file.issuer != issuer || file.client_id.trim().is_empty() {
        tracing::warn!(path = %path.display(), "ignoring a client registration file for another issuer");
        return None;
    }
    Some(Registration {
        issuer: file.issuer,
        client_id: file.client_id,
        client_secret: file.client_secret.map(ClientSecret::new),
        client_secret_expires_at: file.client_secret_expires_at,
        token_endpoint_auth_method: file.token_endpoint_auth_method,
        registered_at: file.registered_at,
    })
}

/// The storage form of a discovered provider.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DiscoveredFile {
    pub(crate) version: u32,
    pub(crate) name: ProviderName,
    pub(crate) display_name: String,
    /// The MCP server URL the user gave.
    pub(crate) server_url: String,
    /// The `resource` indicator (RFC 8707) sent on every authorization, token and refresh
    /// request.
    pub(crate) resource: String,
    pub(crate) issuer: String,
    pub(crate) authorization_endpoint: Endpoint,
    pub(crate) token_endpoint: Endpoint,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) revocation_endpoint: Option<Endpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) device_authorization_endpoint: Option<Endpoint>,
    pub(crate) iss_parameter_supported: bool,
    pub(crate) scopes: Vec<String>,
    pub(crate) client_id: String,
    /// The client id was given with the login (`--client-id`), so a new login by name keeps
    /// it; otherwise the next login chooses again (environment, config, registration).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) client_id_given: bool,
    /// `client_secret_basic` or `client_secret_post` when the registration has a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) client_auth: Option<String>,
    pub(crate) discovered_at: u64,
}

/// Saves the discovered provider (0600, atomic).
pub(crate) fn save_discovered(ch_home: &Path, file: &DiscoveredFile) -> Result<PathBuf, McpError> {
    let bytes = serde_json::to_vec_pretty(file).unwrap_or_default();
    let path = discovered_path(ch_home, &file.name);
    write_private(&path, &bytes)?;
    Ok(path)
}

impl DiscoveredFile {
    /// The registry entry: a provider whose endpoints are all known (no discovery needed).
    pub(crate) fn to_entry(&self, secret: Option<ClientSecret>) -> Entry {
        let mut p = OAuthProvider::new(self.name.clone());
        p.display_name.clone_from(&self.display_name);
        p.issuer = Some(self.issuer.clone());
        p.auth_url = Some(self.authorization_endpoint.clone());
        p.token_url = Some(self.token_endpoint.clone());
        p.revocation_url.clone_from(&self.revocation_endpoint);
        p.device_authorization_url
            .clone_from(&self.device_authorization_endpoint);
        p.iss_parameter_supported = self.iss_parameter_supported;
        p.resource = Some(self.resource.clone());
        p.scopes.clone_from(&self.scopes);
        let client_auth = match self.client_auth.as_deref() {
            Some("client_secret_post") => Some(ClientAuth::Post),
            Some(_) => Some(ClientAuth::Basic),
            None => None,
        };
        Entry {
            provider: p,
            source: ProviderSource::Discovered,
            client_id: Some(self.client_id.clone()),
            client_secret: secret,
            client_auth,
            server_url: Some(self.server_url.clone()),
            client_id_given: self.client_id_given,
        }
    }
}

/// Adds every provider saved under `<ch_home>/discovered/` (`ch_home` is the directory of
/// `config_path`). A name already taken by a built-in or configured provider keeps that
/// definition; an unreadable file is skipped with a warning, so one bad file never stops
/// the other providers from working.
pub(crate) fn merge_discovered(
    config_path: Option<&Path>,
    providers: &mut BTreeMap<ProviderName, Entry>,
) {
    let Some(ch_home) = config_path.and_then(Path::parent) else {
        return;
    };
    let Ok(dir) = fs::read_dir(ch_home.join("discovered")) else {
        return;
    };
    for item in dir.flatten() {
        let path = item.path();
        let Some(stem) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        let Ok(name) = ProviderName::new(stem) else {
            continue;
        };
        let Some(bytes) = read_small(&path) else {
            continue;
        };
        let file = match serde_json::from_slice::<DiscoveredFile>(&bytes) {
            Ok(f) if f.name == name && f.version == 1 => f,
            _ => {
                tracing::warn!(path = %path.display(), "ignoring an unreadable discovered-provider file");
                continue;
            }
        };
        if let Some(existing) = providers.get(&name) {
            tracing::warn!(
                provider = %name,
                source = %existing.source,
                "a discovered provider has the name of another provider; keeping the other"
            );
            continue;
        }
        let secret = load_registration(ch_home, &file.issuer)
            .filter(|r| r.client_id == file.client_id)
            .and_then(|r| r.client_secret);
        providers.insert(name, file.to_entry(secret));
    }
}

fn read_small(path: &Path) -> Option<Vec<u8>> {
    let file = fs::File::open(path).ok()?;
    if file.metadata().ok()?.len() > MAX_FILE {
        tracing::warn!(path = %path.display(), "ignoring an oversized file");
        return None;
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_FILE), &mut bytes).ok()?;
    Some(bytes)
}

/// Writes `bytes` to `path` with mode 0600 through a temporary file and a rename; creates the
/// parent directory with mode 0700.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), McpError> {
    let write_err = |source| McpError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(write_err)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(
        ".{}.{}-{nanos}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = (|| {
        let mut f = options.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(write_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_round_trip_is_private_and_per_issuer() {
        let home = tempfile::tempdir().unwrap();
        let r = Registration {
            issuer: "https://as.example/t1".into(),
            client_id: "cid-1".into(),
            client_secret: Some(ClientSecret::new("s3cr3t-value")),
            client_secret_expires_at: Some(0),
            token_endpoint_auth_method: "client_secret_basic".into(),
            registered_at: 7,
        };
        let path = save_registration(home.path(), &r).unwrap();
        assert_eq!(
            path.file_name().unwrap().to_str().unwrap().len(),
            64 + ".json".len()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
        }
        let back = load_registration(home.path(), "https://as.example/t1").unwrap();
        assert_eq!(back.client_id, "cid-1");
        assert_eq!(back.client_secret.unwrap().expose_secret(), "s3cr3t-value");
        assert!(load_registration(home.path(), "https://as.example/t2").is_none());
        assert!(load_registration(home.path(), "https://as.example/t1/").is_none());
        // A file copied under another issuer's name is refused.
        fs::copy(
            &path,
            registration_path(home.path(), "https://other.example"),
        )
        .unwrap();
        assert!(load_registration(home.path(), "https://other.example").is_none());
        // No temporary files are left behind.
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 2);
    }

    fn file(name: &str) -> DiscoveredFile {
        DiscoveredFile {
            version: 1,
            name: ProviderName::new(name).unwrap(),
            display_name: "mcp.example.com".into(),
            server_url: "https://mcp.example.com/mcp".into(),
            resource: "https://mcp.example.com/mcp".into(),
            issuer: "https://as.example".into(),
            authorization_endpoint: Endpoint::parse("https://as.example/auth").unwrap(),
            token_endpoint: Endpoint::parse("https://as.example/token").unwrap(),
            revocation_endpoint: None,
            device_authorization_endpoint: None,
            iss_parameter_supported: true,
            scopes: vec!["a".into()],
            client_id: "cid".into(),
            client_id_given: false,
            client_auth: None,
            discovered_at: 1,
        }
    }

    #[test]
    fn discovered_providers_load_without_overriding_others() {
        let home = tempfile::tempdir().unwrap();
        save_discovered(home.path(), &file("mcp-example-com")).unwrap();
        save_discovered(home.path(), &file("github")).unwrap();
        fs::write(home.path().join("discovered/broken.json"), b"{").unwrap();
        let mut providers: BTreeMap<ProviderName, Entry> = crate::providers::builtins()
            .into_iter()
            .map(|e| (e.provider.name.clone(), e))
            .collect();
        merge_discovered(Some(&home.path().join("config.toml")), &mut providers);
        let e = &providers[&ProviderName::new("mcp-example-com").unwrap()];
        assert_eq!(e.source, ProviderSource::Discovered);
        assert_eq!(
            e.provider.resource.as_deref(),
            Some("https://mcp.example.com/mcp")
        );
        assert_eq!(e.client_id.as_deref(), Some("cid"));
        assert!(e.provider.validate().is_ok());
        assert_eq!(
            providers[&ProviderName::new("github").unwrap()].source,
            ProviderSource::Builtin
        );
        assert!(!providers.contains_key(&ProviderName::new("broken").unwrap()));
    }
}
