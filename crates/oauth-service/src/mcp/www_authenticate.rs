//! `WWW-Authenticate` parsing (RFC 9110 §11.6.1 challenge grammar, RFC 6750 §3 Bearer
//! parameters, RFC 9728 §5.1 `resource_metadata`).
//!
//! ```text
//! WWW-Authenticate = #challenge
//! challenge        = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//! auth-param       = token BWS "=" BWS ( token / quoted-string )
//! ```
//!
//! One header value may carry several challenges (`Basic realm="x", Bearer scope="a"`), and a
//! response may carry several header lines. Scheme and parameter names are case-insensitive;
//! quoted strings may contain `\`-escaped characters and commas. The parser never panics and
//! never allocates more than the input: a malformed challenge ends parsing of that header
//! value (challenges parsed before it are kept).

/// One challenge: the scheme and its parameters (names lower-cased, values unquoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// The auth scheme as sent (compare with `eq_ignore_ascii_case`).
    pub(crate) scheme: String,
    /// The auth-params, in order, names lower-cased. The first of duplicate names wins in
    /// [`Challenge::param`].
    pub(crate) params: Vec<(String, String)>,
    /// A token68 instead of parameters (`Negotiate abc==`).
    pub(crate) token68: Option<String>,
}

impl Challenge {
    /// The value of parameter `name` (case-insensitive), the first one if repeated.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What a `Bearer` challenge says (RFC 6750 §3, RFC 9728 §5.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BearerChallenge {
    /// `resource_metadata`: where the protected resource metadata is (RFC 9728 §5.1).
    pub resource_metadata: Option<String>,
    /// `scope`: the space-separated scopes the resource wants (RFC 6750 §3).
    pub scope: Option<String>,
    /// `error`: `invalid_token`, `insufficient_scope`, ... (RFC 6750 §3.1).
    pub error: Option<String>,
    /// `error_description`.
    pub error_description: Option<String>,
}

/// Reads the first `Bearer` challenge of a response's `WWW-Authenticate` header values.
///
/// Pass every header line (a response may send several). Returns `None` when no value
/// holds a `Bearer` challenge. This is what an MCP client reads from a 401 (where to find
/// the protected resource metadata, which scopes to ask for) and from a 403
/// `insufficient_scope` (the scopes to add for step-up, MCP 2025-11-25).
///
/// ```
/// use oauth_service::parse_bearer_challenge;
///
/// let c = parse_bearer_challenge(&[
///     r#"Basic realm="api", Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="files:read files:write""#,
/// ])
/// .unwrap();
/// assert_eq!(
///     c.resource_metadata.as_deref(),
///     Some("https://mcp.example.com/.well-known/oauth-protected-resource/mcp")
/// );
/// assert_eq!(c.scope.as_deref(), Some("files:read files:write"));
/// ```
#[must_use]
pub fn parse_bearer_challenge(header_values: &[&str]) -> Option<BearerChallenge> {
    header_values
        .iter()
        .flat_map(|v| parse(v))
        .find(|c| c.scheme.eq_ignore_ascii_case("bearer"))
        .map(|c| BearerChallenge {
            resource_metadata: c.param("resource_metadata").map(str::to_owned),
            scope: c.param("scope").map(str::to_owned),
            error: c.param("error").map(str::to_owned),
            error_description: c.param("error_description").map(str::to_owned),
        })
}

/// Parses one header value into its challenges.
pub(crate) fn parse(value: &str) -> Vec<Challenge> {
    let mut p = Parser {
        s: value.as_bytes(),
        i: 0,
    };
    let mut out = Vec::new();
    loop {
        p.skip_list_separators();
        if p.at_end() {
            break;
        }
        let scheme = p.token();
        if scheme.is_empty() {
            // Not a challenge: give up on the rest of this value.
            break;
        }
        let mut challenge = Challenge {
            scheme: scheme.to_owned(),
            params: Vec::new(),
            token68: None,
        };
        let had_space = p.skip_spaces();
        if had_space && !p.at_end() && p.peek() != Some(b',') {
            match p.params_or_token68(&mut challenge) {
                Ok(()) => {}
                Err(()) => break,
            }
        }
        out.push(challenge);
    }
    out
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

/// RFC 9110 §5.6.2 tchar.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 9110 §11.2 token68 characters (before the trailing `=`s).
fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_spaces(&mut self) -> bool {
        let start = self.i;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        self.i > start
    }

    fn skip_list_separators(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }

    fn token(&mut self) -> &str {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        // tchar is ASCII, so this slice is valid UTF-8.
        std::str::from_utf8(&self.s[start..self.i]).unwrap_or_default()
    }

    /// After `scheme 1*SP`: either a token68 or a comma-separated list of auth-params, ending
    /// at the end of input or where the next challenge's scheme begins.
    fn params_or_token68(&mut self, challenge: &mut Challenge) -> Result<(), ()> {
        if let Some(t) = self.try_token68() {
            challenge.token68 = Some(t);
            return Ok(());
        }
        loop {
            self.skip_list_separators();
            if self.at_end() {
                return Ok(());
            }
            let save = self.i;
            let name = self.token().to_ascii_lowercase();
            if name.is_empty() {
                return Err(());
            }
            self.skip_spaces();
            if self.peek() != Some(b'=') {
                // `name` is the scheme of the next challenge.
                self.i = save;
                return Ok(());
            }
            self.i += 1;
            self.skip_spaces();
            let value = if self.peek() == Some(b'"') {
                self.quoted_string()?
            } else {
                let v = self.token();
                if v.is_empty() {
                    return Err(());
                }
                v.to_owned()
            };
            challenge.params.push((name, value));
            self.skip_spaces();
            match self.peek() {
                None => return Ok(()),
                Some(b',') => {}
                Some(_) => return Err(()),
            }
        }
    }

    /// A token68 is `chars *"="` followed by the end, a comma or spaces then a comma/end; a
    /// `name=value` param is not one.
    fn try_token68(&mut self) -> Option<String> {
        let start = self.i;
        let mut j = self.i;
        while self.s.get(j).copied().is_some_and(is_token68_char) {
            j += 1;
        }
        if j == start {
            return None;
        }
        let chars_end = j;
        while self.s.get(j) == Some(&b'=') {
            j += 1;
        }
        let mut k = j;
        while matches!(self.s.get(k), Some(b' ' | b'\t')) {
            k += 1;
        }
        let ends = matches!(self.s.get(k), None | Some(b','));
        // `abc = def` and `abc=def` are params; `abc` alone or `abc==` are token68.
        let eq_count = j - chars_end;
        if !ends || (eq_count == 1 && self.s.get(j).is_some_and(|b| is_tchar(*b))) {
            return None;
        }
        self.i = k;
        Some(String::from_utf8_lossy(&self.s[start..j]).into_owned())
    }

    /// RFC 9110 §5.6.4: `"` *( qdtext / quoted-pair ) `"`.
    fn quoted_string(&mut self) -> Result<String, ()> {
        debug_assert_eq!(self.peek(), Some(b'"'));
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(()),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                Some(b'\\') => {
                    let Some(&next) = self.s.get(self.i + 1) else {
                        return Err(());
                    };
                    out.push(next);
                    self.i += 2;
                }
                Some(b) => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &[(&str, &[(&str, &str)])]) {
        let got = parse(input);
        let got: Vec<(String, Vec<(String, String)>)> =
            got.into_iter().map(|c| (c.scheme, c.params)).collect();
        let want: Vec<(String, Vec<(String, String)>)> = expected
            .iter()
            .map(|(s, ps)| {
                (
                    (*s).to_owned(),
                    ps.iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(got, want, "{input}");
    }

    #[test]
    fn bearer_with_resource_metadata_and_scope() {
        check(
            r#"Bearer resource_metadata="https://a.example/.well-known/oauth-protected-resource", scope="a b""#,
            &[(
                "Bearer",
                &[
                    (
                        "resource_metadata",
                        "https://a.example/.well-known/oauth-protected-resource",
                    ),
                    ("scope", "a b"),
                ],
            )],
        );
    }

    #[test]
    fn several_challenges_in_one_value() {
        check(
            r#"Basic realm="x, y", Bearer realm="api", error="insufficient_scope", scope="s""#,
            &[
                ("Basic", &[("realm", "x, y")]),
                (
                    "Bearer",
                    &[
                        ("realm", "api"),
                        ("error", "insufficient_scope"),
                        ("scope", "s"),
                    ],
                ),
            ],
        );
        check(
            "Negotiate, Bearer scope=read",
            &[("Negotiate", &[]), ("Bearer", &[("scope", "read")])],
        );
    }

    #[test]
    fn escapes_spaces_and_case() {
        check(
            r#"BEARER   Scope = "a \"quoted\" \\ value" ,ERROR=invalid_token"#,
            &[(
                "BEARER",
                &[
                    ("scope", r#"a "quoted" \ value"#),
                    ("error", "invalid_token"),
                ],
            )],
        );
        check(", , Bearer", &[("Bearer", &[])]);
    }

    #[test]
    fn token68_is_not_a_param() {
        let c = parse("Negotiate abc+/def==, Bearer scope=x");
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].token68.as_deref(), Some("abc+/def=="));
        assert_eq!(c[1].param("scope"), Some("x"));
        let c = parse("Bearer abc");
        assert_eq!(c[0].token68.as_deref(), Some("abc"));
    }

    #[test]
    fn malformed_input_keeps_what_came_before_and_never_panics() {
        let c = parse(r#"Basic realm="a", Bearer scope="unterminated"#);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "Basic");
        assert!(parse(r#"Bearer scope="a" junk"junk"#).is_empty());
        for s in [
            "",
            "=",
            "\"",
            "\\",
            "Bearer =",
            "Bearer a=",
            "Bearer a=\"\\",
            ",,,",
            "\u{e9}",
            "a b=c d",
        ] {
            let _ = parse(s);
        }
    }

    #[test]
    fn random_inputs_never_panic_and_round_trip_quoted_values() {
        // A small deterministic generator over the characters that matter to the grammar.
        let alphabet: Vec<char> = "Bb=\" ,\\\t=aZ09-._~+/!#\u{e9}".chars().collect();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let len = usize::try_from(next() % 24).unwrap();
            let s: String = (0..len)
                .map(|_| alphabet[usize::try_from(next()).unwrap() % alphabet.len()])
                .collect();
            for c in parse(&s) {
                assert!(!c.scheme.is_empty());
            }
        }
        for value in [
            "plain",
            "with \"quotes\"",
            "back\\slash",
            "comma, and = sign",
            "",
        ] {
            let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
            let header = format!("Bearer scope=\"{escaped}\", error=x");
            let c = parse_bearer_challenge(&[&header]).unwrap();
            assert_eq!(c.scope.as_deref(), Some(value), "{header}");
            assert_eq!(c.error.as_deref(), Some("x"));
        }
    }

    #[test]
    fn first_bearer_challenge_wins_across_lines() {
        let c = parse_bearer_challenge(&[
            r#"Basic realm="x""#,
            r#"bearer resource_metadata="https://r.example/prm", scope="a", scope="b""#,
            r#"Bearer scope="later""#,
        ])
        .unwrap();
        assert_eq!(
            c.resource_metadata.as_deref(),
            Some("https://r.example/prm")
        );
        assert_eq!(c.scope.as_deref(), Some("a"), "first duplicate wins");
        assert!(parse_bearer_challenge(&[r#"Basic realm="x""#]).is_none());
        assert!(parse_bearer_challenge(&[]).is_none());
        let plain = parse_bearer_challenge(&["Bearer"]).unwrap();
        assert_eq!(plain, BearerChallenge::default());
    }
}
