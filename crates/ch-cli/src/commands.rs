//! One function per command: call the service, shape the result. No protocol logic here.

use indicatif::{ProgressBar, ProgressStyle};
use oauth_client::Client;
use oauth_primitives::{ErrorCode, StorageBackend, Url, unix_seconds};
use oauth_service::{
    AuthOptions, DeviceOptions, DevicePrompt, LoginOutcome, McpAuthOptions, StatusReport,
};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::cli::{AuthArgs, Command, Mcp};
use crate::output::{self, Failure};

type Result<T = ()> = std::result::Result<T, Failure>;

/// How long `ch mcp auth` waits for the browser by default.
const DEFAULT_BROWSER_TIMEOUT: u64 = 300;

/// Runs one command.
pub(crate) async fn run(command: Command) -> Result {
    match command {
        Command::Completions { shell } => {
            let mut cmd = <crate::cli::Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "ch", &mut std::io::stdout());
            Ok(())
        }
        Command::Mcp(mcp) => {
            let client = Client::from_env().map_err(|e| Failure::new(e.code(), e.to_string()))?;
            match mcp {
                Mcp::Auth(args) => auth(&client, args).await,
                Mcp::Status { provider, output } => {
                    status(&client, provider.as_deref(), output.json).await
                }
                Mcp::Token { provider, output } => token(&client, &provider, output.json).await,
                Mcp::Refresh { provider, output } => refresh(&client, &provider, output.json).await,
                Mcp::Logout { provider, output } => logout(&client, &provider, output.json).await,
                Mcp::Providers { output } => {
                    providers(&client, output.json);
                    Ok(())
                }
            }
        }
    }
}

fn service_failure(e: &oauth_service::Error, provider: &str) -> Failure {
    let mut message = e.to_string();
    let hint = match e.code() {
        ErrorCode::AuthRequired | ErrorCode::TokenRefreshFailed | ErrorCode::TokenExpired => {
            Some(format!("run: ch mcp auth {provider}"))
        }
        _ => None,
    };
    if let Some(hint) = hint
        && !message.contains("ch mcp auth")
    {
        message.push_str("; ");
        message.push_str(&hint);
    }
    Failure::new(e.code(), message)
}

fn now() -> u64 {
    unix_seconds(SystemTime::now())
}

async fn token(client: &Client, provider: &str, json: bool) -> Result {
    let tokens = client
        .service()
        .ensure_valid_token(provider)
        .await
        .map_err(|e| service_failure(&e, provider))?;
    if json {
        output::print_json(&json!({
            "provider": provider,
            "access_token": tokens.access_token.expose_secret(),
            "token_type": tokens.token_type,
            "expires_at": tokens.expires_at(),
            "scope": tokens.scope,
        }));
    } else {
        output::print_line(tokens.access_token.expose_secret());
    }
    Ok(())
}

fn login_json(outcome: &LoginOutcome) -> Value {
    json!({
        "provider": outcome.provider.as_str(),
        "status": "AUTHENTICATED",
        "expires_at": outcome.expires_at,
        "scope": outcome.scope,
        "storage": outcome.storage.as_str(),
    })
}

fn storage_phrase(client: &Client, provider: &str, backend: StorageBackend) -> String {
    match backend {
        StorageBackend::Keyring => "in the OS keyring".to_owned(),
        StorageBackend::Memory => {
            "in memory only (CH_TOKEN_STORE=memory): nothing was saved".to_owned()
        }
        StorageBackend::File => format!("in {}", client.token_file(provider).display()),
    }
}

/// The plain-file warning: at login and in status, whenever auto fell back to the file.
fn warn_if_plain_file(client: &Client, provider: &str, backend: Option<StorageBackend>) {
    if backend == Some(StorageBackend::File) && client.is_auto_store() {
        let what = client.file_fallback_notice().unwrap_or_else(|| {
            format!(
                "no working keyring was found; tokens for {provider} are stored in a plain file at {}",
                client.token_file(provider).display()
            )
        });
        output::warn(&format!(
            "{what}\n  anyone who can read that file can use the tokens; start a Secret Service (gnome-keyring) or set CH_TOKEN_STORE=file to choose the file store explicitly"
        ));
    }
}

/// The "waiting for you" indicator: a spinner on a terminal, one plain line otherwise.
#[derive(Clone, Default)]
struct Waiting(Arc<Mutex<Option<ProgressBar>>>);

impl Waiting {
    fn start(&self, what: &str, limit: Duration) {
        if crate::stderr_is_terminal() {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix} {elapsed} of {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(format!("waiting for {what}…"));
            bar.set_message(format!("{}s (Ctrl-C to cancel)", limit.as_secs()));
            bar.enable_steady_tick(Duration::from_millis(120));
            if let Ok(mut slot) = self.0.lock() {
                *slot = Some(bar);
            }
        } else {
            output::info(&format!("waiting up to {}s for {what}…", limit.as_secs()));
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.0.lock().ok().and_then(|mut slot| slot.take()) {
            bar.finish_and_clear();
        }
    }
}

async fn auth(client: &Client, args: AuthArgs) -> Result {
    let is_url = args.target.starts_with("http://") || args.target.starts_with("https://");
    if is_url && args.device {
        return Err(Failure::new(
            ErrorCode::ConfigMissing,
            "--device is not available for MCP server URLs; log in with the browser (add --no-browser to open the URL yourself)",
        ));
    }
    if !is_url && args.name.is_some() {
        return Err(Failure::new(
            ErrorCode::ConfigMissing,
            "--name applies only when logging in to an MCP server by URL",
        ));
    }
    // `--reregister` with the name of a provider found by URL: that URL again.
    let server_url = if is_url {
        Some(args.target.clone())
    } else if args.reregister {
        let found = client
            .service()
            .list_providers()
            .into_iter()
            .find(|p| p.name.as_str() == args.target)
            .and_then(|p| p.server_url);
        if found.is_none() {
            return Err(Failure::new(
                ErrorCode::ConfigMissing,
                "--reregister applies only to MCP servers: a URL (ch mcp auth https://... --reregister) or the name of a provider logged in to by URL",
            ));
        }
        found
    } else {
        None
    };
    let waiting = Waiting::default();
    let login = async {
        if args.device {
            device_login(client, &args.target, &args, &waiting).await
        } else if let Some(server_url) = &server_url {
            let name = if is_url {
                args.name.clone()
            } else {
                Some(args.target.clone())
            };
            let shown = name.clone().unwrap_or_else(|| args.target.clone());
            let options = McpAuthOptions {
                auth: browser_options(&args.target, &args, &waiting),
                name,
                register_again: args.reregister,
            };
            client
                .service()
                .authenticate_url(server_url, options)
                .await
                .map_err(|e| service_failure(&e, &shown))
        } else {
            client
                .service()
                .authenticate(&args.target, browser_options(&args.target, &args, &waiting))
                .await
                .map_err(|e| service_failure(&e, &args.target))
        }
    };
    let result = tokio::select! {
        result = login => result,
        _ = tokio::signal::ctrl_c() => Err(Failure::new(
            ErrorCode::AuthCancelled,
            "login cancelled (Ctrl-C); nothing was stored",
        )),
    };
    waiting.finish();
    let outcome = result?;
    let provider = outcome.provider.as_str();
    warn_if_plain_file(client, provider, Some(outcome.storage));
    if args.output.json {
        output::print_json(&login_json(&outcome));
    } else {
        let mut done = format!(
            "Logged in to {provider}: token {}, stored {}.",
            output::relative_expiry(outcome.expires_at, now()),
            storage_phrase(client, provider, outcome.storage)
        );
        if is_url {
            done.push_str("\nGet a token with: ch mcp token ");
            done.push_str(provider);
        }
        output::info(&done);
    }
    Ok(())
}

/// The browser-login options: print the URL (always), then show that we are waiting.
fn browser_options(target: &str, args: &AuthArgs, waiting: &Waiting) -> AuthOptions {
    let timeout = Duration::from_secs(args.timeout.unwrap_or(DEFAULT_BROWSER_TIMEOUT));
    let on_url = {
        let waiting = waiting.clone();
        let open = !args.no_browser;
        let target = target.to_owned();
        move |url: &Url| {
            output::info(&format!(
                "{} this URL in your browser to log in to {target}:\n\n  {url}\n",
                if open { "Opening" } else { "Open" }
            ));
            waiting.start("the browser login", timeout);
        }
    };
    AuthOptions {
        client_id: args.client_id.clone(),
        scopes: args.scopes.clone(),
        open_browser: !args.no_browser,
        on_url: Some(Arc::new(on_url)),
        port: args.port,
        timeout,
        ..AuthOptions::default()
    }
}

async fn device_login(
    client: &Client,
    provider: &str,
    args: &AuthArgs,
    waiting: &Waiting,
) -> Result<LoginOutcome> {
    let on_prompt = {
        let waiting = waiting.clone();
        let provider = provider.to_owned();
        move |prompt: &DevicePrompt| {
            let mut text = format!(
                "To log in to {provider}, open {} on any device and enter the code:\n\n    {}\n",
                prompt.verification_uri, prompt.user_code
            );
            if let Some(complete) = &prompt.verification_uri_complete {
                text.push_str("\nor open this link, which fills in the code:\n\n  ");
                text.push_str(complete.as_str());
                text.push('\n');
            }
            output::info(&text);
            waiting.start("you to approve the login", prompt.expires_in);
        }
    };
    let mut options = DeviceOptions {
        client_id: args.client_id.clone(),
        scopes: args.scopes.clone(),
        open_browser: !args.no_browser,
        on_prompt: Some(Arc::new(on_prompt)),
        ..DeviceOptions::default()
    };
    if let Some(secs) = args.timeout {
        options.timeout = Duration::from_secs(secs);
    }
    client
        .service()
        .authenticate_device(provider, options)
        .await
        .map_err(|e| service_failure(&e, provider))
}

async fn refresh(client: &Client, provider: &str, json: bool) -> Result {
    let outcome = client
        .service()
        .refresh_tokens(provider)
        .await
        .map_err(|e| service_failure(&e, provider))?;
    if json {
        output::print_json(&login_json(&outcome));
    } else {
        output::info(&format!(
            "Refreshed {provider}: token {}.",
            output::relative_expiry(outcome.expires_at, now())
        ));
    }
    Ok(())
}

fn status_json(r: &StatusReport) -> Value {
    json!({
        "provider": r.provider.as_str(),
        "status": r.status.as_str(),
        "expires_at": r.expires_at,
        "scope": r.scope,
        "has_refresh_token": r.has_refresh_token,
        "storage": r.storage.map(StorageBackend::as_str),
    })
}

async fn status(client: &Client, provider: Option<&str>, json: bool) -> Result {
    let names: Vec<String> = match provider {
        Some(p) => vec![p.to_owned()],
        None => client
            .service()
            .list_providers()
            .into_iter()
            .map(|p| p.name.as_str().to_owned())
            .collect(),
    };
    let mut reports = Vec::with_capacity(names.len());
    for name in &names {
        let report = client
            .service()
            .get_status(name)
            .await
            .map_err(|e| service_failure(&e, name))?;
        warn_if_plain_file(client, name, report.storage);
        reports.push(report);
    }
    if json {
        output::print_json(
            &json!({"providers": reports.iter().map(status_json).collect::<Vec<_>>()}),
        );
        return Ok(());
    }
    let width = reports
        .iter()
        .map(|r| r.provider.as_str().len())
        .max()
        .unwrap_or(0);
    for r in &reports {
        let detail = match r.status {
            oauth_primitives::AuthStatus::NotAuthenticated => {
                format!("run: ch mcp auth {}", r.provider)
            }
            oauth_primitives::AuthStatus::TokenRefreshFailed => {
                format!("refresh refused; run: ch mcp auth {}", r.provider)
            }
            _ => {
                let mut d = output::relative_expiry(r.expires_at, now());
                if r.has_refresh_token {
                    d.push_str(", refreshable");
                }
                if let Some(s) = r.storage {
                    d.push_str(", ");
                    d.push_str(s.as_str());
                }
                d
            }
        };
        output::print_line(&format!(
            "{:width$}  {:<20}  {detail}",
            r.provider.as_str(),
            r.status.as_str()
        ));
    }
    Ok(())
}

async fn logout(client: &Client, provider: &str, json: bool) -> Result {
    let outcome = client
        .service()
        .logout(provider)
        .await
        .map_err(|e| service_failure(&e, provider))?;
    if let Some(err) = &outcome.revocation_error {
        output::warn(&format!(
            "could not revoke the tokens at the provider: {err}"
        ));
    }
    if json {
        output::print_json(&json!({
            "provider": provider,
            "logged_out": outcome.logged_out,
            "revoked": outcome.revoked,
        }));
    } else if outcome.logged_out {
        output::info(&format!(
            "Logged out of {provider}{}.",
            if outcome.revoked {
                "; the tokens were revoked at the provider"
            } else {
                "; local tokens deleted"
            }
        ));
    } else {
        output::info(&format!("Not logged in to {provider}: nothing to delete."));
    }
    Ok(())
}

fn providers(client: &Client, json: bool) {
    let list = client.service().list_providers();
    if json {
        let items: Vec<Value> = list
            .iter()
            .map(|p| {
                json!({
                    "name": p.name.as_str(),
                    "display_name": p.display_name,
                    "source": p.source.as_str(),
                    "auth_url": p.auth_url,
                    "token_url": p.token_url,
                    "scopes": p.scopes,
                    "client_id_configured": p.client_id_configured,
                })
            })
            .collect();
        output::print_json(&json!({ "providers": items }));
        return;
    }
    let width = list
        .iter()
        .map(|p| p.name.as_str().len())
        .max()
        .unwrap_or(0);
    for p in &list {
        let client_id = if p.client_id_configured {
            "client id configured".to_owned()
        } else {
            format!("set {}", p.env_client_id_var)
        };
        output::print_line(&format!(
            "{:width$}  {:<10}  {:<22}  {client_id}",
            p.name.as_str(),
            p.source.as_str(),
            p.display_name
        ));
    }
}
