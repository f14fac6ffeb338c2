//! `oauth_callback::parse_callback_query` on arbitrary query strings: never panics, never keeps
//! an empty code or error, and flags a repeated parameter only if it really repeats.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_callback::parse_callback_query;

fuzz_target!(|data: &[u8]| {
    let query = String::from_utf8_lossy(data);
    let params = parse_callback_query(&query);
    if let Some(code) = &params.code {
        assert!(!code.expose_secret().is_empty());
    }
    if let Some(error) = &params.error {
        assert!(!error.is_empty());
    }
    if let Some(name) = params.repeated {
        let count = url::form_urlencoded::parse(query.as_bytes())
            .filter(|(k, _)| k == name)
            .count();
        assert!(count >= 2, "{name} flagged as repeated but seen {count} times");
    }
    let _ = format!("{params:?}");
});
