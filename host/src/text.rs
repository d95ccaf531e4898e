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

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_controls() {
        assert_eq!(super::escape("a\x1b[31mb\n"), "a\\u{1b}[31mb\\u{a}");
        assert_eq!(super::escape("ok/name.py"), "ok/name.py");
    }
}
