//! `TokenRecord::from_json` on arbitrary bytes: never panics, and whatever it accepts survives
//! a write and a second read unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_primitives::TokenRecord;

fuzz_target!(|data: &[u8]| {
    let Ok(record) = TokenRecord::from_json(data) else {
        return;
    };
    let written = record.to_json().expect("an accepted record serialises");
    let again = TokenRecord::from_json(&written).expect("a written record reads back");
    assert_eq!(
        again.tokens.access_token.expose_secret(),
        record.tokens.access_token.expose_secret()
    );
    assert_eq!(
        again.tokens.refresh_token.as_ref().map(|t| t.expose_secret().to_owned()),
        record.tokens.refresh_token.as_ref().map(|t| t.expose_secret().to_owned())
    );
    assert_eq!(again.tokens.issued_at, record.tokens.issued_at);
    assert_eq!(again.tokens.expires_in, record.tokens.expires_in);
    assert_eq!(again.tokens.scope, record.tokens.scope);
    assert_eq!(again.client_id, record.client_id);
    let rewritten = again.to_json().expect("serialises again");
    assert_eq!(*written, *rewritten, "a second round trip changes nothing");
});
