//! `OAuthTokens::from_response` on arbitrary bodies, as JSON, as a form body and with no
//! content type: never panics, and an accepted response always has a non-empty access token.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_primitives::OAuthTokens;
use std::time::{Duration, UNIX_EPOCH};

fuzz_target!(|data: &[u8]| {
    let issued = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    for content_type in [
        Some("application/json"),
        Some("application/x-www-form-urlencoded; charset=utf-8"),
        None,
    ] {
        match OAuthTokens::from_response(data, content_type, issued) {
            Ok(tokens) => {
                assert!(!tokens.access_token.expose_secret().is_empty());
                let _ = tokens.expires_at();
                let _ = format!("{tokens:?}");
            }
            Err(err) => {
                let _ = (err.to_string(), err.code());
            }
        }
    }
});
