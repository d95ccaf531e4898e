//! Printing untrusted text (plugin messages, archive names) safely.

/// Escapes control and bidi-override characters so hostile text cannot rewrite a
/// terminal line or forge a log record.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}') {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
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
    #[test]
    fn cap_cuts_at_a_char_boundary_and_says_so() {
        assert_eq!(super::cap("short", 5), "short");
        assert_eq!(super::cap("abcdef", 4), "abcd [... 2 more bytes cut]");
        assert_eq!(super::cap("aé", 2), "a [... 2 more bytes cut]");
    }

    #[test]
    fn escapes_controls() {
        assert_eq!(super::escape("a\x1b[31mb\n"), "a\\u{1b}[31mb\\u{a}");
        assert_eq!(super::escape("ok/name.py"), "ok/name.py");
    }
}
