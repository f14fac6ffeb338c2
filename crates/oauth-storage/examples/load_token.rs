//! Loads one provider's record the way `ch mcp token` does and prints where it was found and
//! how long the access token is (never the token). For timing a cold process with hyperfine:
//!
//! ```text
//! cargo run --release -p oauth-storage --example load_token -- save github
//! hyperfine 'target/release/examples/load_token load github'
//! ```
//!
//! The store comes from `CH_TOKEN_STORE` (default auto) and `CH_HOME`.

#![allow(clippy::print_stdout, reason = "an example program reports on stdout")]

use oauth_primitives::{AccessToken, OAuthTokens, ProviderName, TokenRecord};
use oauth_storage::{StoreKind, default_ch_home};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(action), Some(name)) = (args.next(), args.next()) else {
        return Err("usage: load_token load|save|delete NAME".into());
    };
    let name = ProviderName::new(&name)?;
    let opened = StoreKind::from_env()?.open(&default_ch_home()?);
    let store = opened.store();
    match action.as_str() {
        "save" => {
            let tokens = OAuthTokens::new(AccessToken::new("x".repeat(1000)));
            let backend = store.save(&name, &TokenRecord::new(tokens, None))?;
            println!("saved to {backend}");
        }
        "load" => match store.load(&name)? {
            Some(found) => println!(
                "{} {}",
                found.backend,
                found.record.tokens.access_token.expose_secret().len()
            ),
            None => println!("none"),
        },
        "delete" => println!("deleted {}", store.delete(&name)?),
        _ => return Err("usage: load_token load|save|delete NAME".into()),
    }
    if let Some(notice) = opened.file_fallback_notice() {
        eprintln!("warning: {notice}");
    }
    Ok(())
}
