//! Printing attacker-chosen text safely.

/// Escapes control characters (including ANSI escape and bidi overrides) so a hostile
/// file or key name cannot rewrite a terminal line or a log record.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || is_bidi_control(c) => {
                out.extend(c.escape_unicode());
            }
            c => out.push(c),
        }
    }
    out
}

/// Escapes raw bytes that may not be UTF-8 (zip names, tar names).
pub fn escape_bytes(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => escape(s),
        Err(_) => b.escape_ascii().to_string(),
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls() {
        assert_eq!(escape("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(escape("x\ny"), "x\\u{a}y");
        assert_eq!(escape("evil\u{202E}gpj.zip"), "evil\\u{202e}gpj.zip");
        assert_eq!(escape("plain/ok.py"), "plain/ok.py");
        assert_eq!(escape_bytes(b"bad\xffname"), "bad\\xffname");
    }
}
