//! Making untrusted text safe to show on a terminal.

/// Returns `text` without control characters (ANSI escapes, newlines, bidi overrides), cut to
/// at most `max_chars` characters with `…` appended when cut.
///
/// Servers and callback requests choose `error_description` and similar fields; printed raw
/// they could move the cursor, rewrite earlier lines or hide part of a message.
#[must_use]
pub fn sanitize_for_terminal(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4));
    let mut count = 0;
    for c in text.chars() {
        if c.is_control() || is_bidi_control(c) {
            continue;
        }
        if count == max_chars {
            out.push('…');
            break;
        }
        out.push(c);
        count += 1;
    }
    out
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_escapes_and_newlines() {
        assert_eq!(
            sanitize_for_terminal("bad\x1b[2J\nline\u{202e}x", 100),
            "bad[2Jlinex"
        );
    }

    #[test]
    fn caps_length_on_character_boundaries() {
        assert_eq!(sanitize_for_terminal("ééééé", 3), "ééé…");
        assert_eq!(sanitize_for_terminal("abc", 3), "abc");
    }
}
