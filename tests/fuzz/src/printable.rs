//! The one output rule every fuzz check shares: attacker-chosen text reaches users escaped.

/// Panics if `s` holds a control or bidi-override character (a terminal escape, a forged
/// log line, a reversed file name).
pub fn assert_printable(s: &str) {
    if let Some(c) = s.chars().find(|&c| c.is_control() || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')) {
        panic!("unescaped {:?} in {s:?}", c);
    }
}
