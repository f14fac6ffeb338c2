//! Adapts the `oauth-callback` server to the service's `CallbackListener` seam.

use oauth_callback::{CallbackConfig, CallbackServer, PortChoice};
use oauth_primitives::Url;
use oauth_service::{
    AuthorizationResponse, BoxFuture, CallbackListener, CallbackRequest, ListenerError,
    PendingCallback,
};

/// The real loopback listener (hyper on 127.0.0.1 / `[::1]`), as a `CallbackListener`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoopbackListener;

struct Pending(CallbackServer);

impl CallbackListener for LoopbackListener {
    fn bind(
        &self,
        request: CallbackRequest,
    ) -> BoxFuture<'static, Result<Box<dyn PendingCallback>, ListenerError>> {
        Box::pin(async move {
            let port = match request.port {
                Some(port) => PortChoice::Exact(port),
                None => PortChoice::Preferred(request.ports),
            };
            let config = CallbackConfig {
                host: request.host,
                path: request.path,
                port,
                state: request.state,
                expected_issuer: request.expected_issuer,
                iss_required: request.iss_required,
                timeout: request.timeout,
            };
            let server = CallbackServer::bind(config)
                .await
                .map_err(|e| ListenerError::new(e.code(), e.to_string()))?;
            Ok(Box::new(Pending(server)) as Box<dyn PendingCallback>)
        })
    }
}

impl PendingCallback for Pending {
    fn redirect_uri(&self) -> &Url {
        self.0.redirect_uri()
    }

    fn wait(self: Box<Self>) -> BoxFuture<'static, Result<AuthorizationResponse, ListenerError>> {
        Box::pin(async move {
            let response = self
                .0
                .wait()
                .await
                .map_err(|e| ListenerError::new(e.code(), e.to_string()))?;
            Ok(AuthorizationResponse {
                code: response.code,
                iss: response.iss,
            })
        })
    }
}
