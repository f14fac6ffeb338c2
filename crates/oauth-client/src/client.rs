//! The default wiring: auto token store, loopback listener, system browser.

use oauth_primitives::{ErrorCode, ProviderName, StoreError};
use oauth_service::OAuthService;
use oauth_storage::{FileStore, OpenedStore, StoreKind};
use snafu::Snafu;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{LoopbackListener, SystemBrowser};

/// The client could not be set up.
#[derive(Debug, Snafu)]
#[non_exhaustive]
pub enum ClientError {
    /// The token store could not be chosen or opened (`CH_TOKEN_STORE`, `CH_HOME`).
    #[snafu(display("{source}"))]
    Store {
        /// The cause.
        source: StoreError,
    },
    /// The service could not be built (an invalid `config.toml`).
    #[snafu(display("{source}"))]
    Service {
        /// The cause.
        source: oauth_service::Error,
    },
}

impl ClientError {
    /// The error code of the cause.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        match self {
            ClientError::Store { source } => source.code(),
            ClientError::Service { source } => source.code(),
        }
    }
}

/// An [`OAuthService`] wired to the real pieces, plus what a front end needs to explain where
/// tokens went.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let client = oauth_client::Client::from_env()?;
/// let token = client.service().get_bearer_token("github").await?;
/// let header = format!("Bearer {}", token.expose_secret());
/// # let _ = header; Ok(()) }
/// ```
pub struct Client {
    service: OAuthService,
    ch_home: PathBuf,
    kind: StoreKind,
    store: OpenedStore,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("ch_home", &self.ch_home)
            .field("store", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Reads `CH_HOME` (default `~/.context-harness`), `CH_TOKEN_STORE` (default `auto`) and
    /// `BROWSER`, and wires the service.
    pub fn from_env() -> Result<Self, ClientError> {
        let ch_home =
            oauth_storage::default_ch_home().map_err(|source| ClientError::Store { source })?;
        let kind = StoreKind::from_env().map_err(|source| ClientError::Store { source })?;
        Self::new(ch_home, kind, SystemBrowser::from_env())
    }

    /// Wires the service for an explicit state directory, store kind and browser.
    pub fn new(
        ch_home: PathBuf,
        kind: StoreKind,
        browser: SystemBrowser,
    ) -> Result<Self, ClientError> {
        let store = kind.open(&ch_home);
        let service = OAuthService::builder()
            .store(store.store())
            .browser(Arc::new(browser))
            .listener(Arc::new(LoopbackListener))
            .ch_home(ch_home.clone())
            .build()
            .map_err(|source| ClientError::Service { source })?;
        Ok(Self {
            service,
            ch_home,
            kind,
            store,
        })
    }

    /// The service.
    #[must_use]
    pub fn service(&self) -> &OAuthService {
        &self.service
    }

    /// The state directory.
    #[must_use]
    pub fn ch_home(&self) -> &Path {
        &self.ch_home
    }

    /// Whether the store is the automatic keyring-or-file choice.
    #[must_use]
    pub fn is_auto_store(&self) -> bool {
        matches!(self.kind, StoreKind::Auto)
    }

    /// Why the auto store fell back to a plain file, once it has.
    #[must_use]
    pub fn file_fallback_notice(&self) -> Option<String> {
        self.store.file_fallback_notice()
    }

    /// Where the file store keeps `provider`'s tokens.
    #[must_use]
    pub fn token_file(&self, provider: &str) -> PathBuf {
        match ProviderName::new(provider) {
            Ok(name) => FileStore::new(self.ch_home.clone()).path_for(&name),
            Err(_) => self.ch_home.join("tokens"),
        }
    }
}
