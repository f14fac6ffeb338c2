//! `parse_bearer_challenge` on arbitrary `WWW-Authenticate` values (as one header line and
//! split into several): never panics, and whatever it returns can be printed.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_service::parse_bearer_challenge;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(c) = parse_bearer_challenge(&[&text]) {
        let _ = format!("{c:?}");
    }
    let lines: Vec<&str> = text.split('\n').collect();
    let _ = parse_bearer_challenge(&lines);
});
