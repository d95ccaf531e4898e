//! Showing untrusted text (plugin messages, archive names, keys) safely, the same way on
//! both sides of the contract.

/// Escapes control and bidi-override characters so hostile text cannot rewrite a
/// terminal line or forge a log record. Backslashes are kept as they are, so escaping is
/// idempotent: text a plugin escaped is not escaped again by the host.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || is_bidi_control(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// [`escape`] for raw bytes that may not be UTF-8 (zip names, tar names).
pub fn escape_bytes(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => escape(s),
        Err(_) => b.escape_ascii().to_string(),
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `s` cut to at most `max` bytes (at a character boundary) plus one marker that says how
/// much was cut, so a reader knows the text is incomplete.
pub fn cap(s: &str, max: u64) -> String {
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} [... {} more bytes cut]", &s[..end], s.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls_once() {
        assert_eq!(escape("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(escape("x\ny"), "x\\u{a}y");
        assert_eq!(escape("evil\u{202E}gpj.zip"), "evil\\u{202e}gpj.zip");
        assert_eq!(escape("plain/ok.py"), "plain/ok.py");
        assert_eq!(escape(&escape("a\x1bb")), escape("a\x1bb"), "idempotent");
        assert_eq!(escape_bytes(b"bad\xffname"), "bad\\xffname");
    }

    #[test]
    fn cap_cuts_at_a_char_boundary_and_says_so() {
        assert_eq!(cap("short", 5), "short");
        assert_eq!(cap("abcdef", 4), "abcd [... 2 more bytes cut]");
        assert_eq!(cap("aé", 2), "a [... 2 more bytes cut]");
    }
}
