//! Gitwildmatch patterns with the meaning Ray 2.60 gives them (pure logic).
//!
//! Ray matches `excludes`, `.gitignore` and `.rayignore` with its vendored copy of `pathspec`
//! (`ray/_private/thirdparty/pathspec`, a 2020 release), which turns each pattern into a
//! Python regular expression (`GitWildMatchPattern.pattern_to_regex`) and lets the last
//! matching pattern of a file decide. Those expressions differ from git's own matcher (and
//! from the `ignore` crate, which follows git) in ways that change what Ray packs:
//! - a pattern ending in `/` never matches the directory itself, only paths below it (Ray
//!   passes directories without a trailing slash), so an empty `build/` is still packed;
//! - a negation matches only the path itself, never what is below it, and a negated file
//!   below an excluded directory comes back (`foo/` + `!foo/keep.txt` packs `foo/keep.txt`);
//! - `.*` or `*` match `.`, the directory an ignore file sits in, excluding all of it;
//! - bracket expressions are handed to the regex engine almost as written (`[!a]` matches
//!   `/` too).
//!
//! So this module performs the same translation, and `regex-automata` (the engine under
//! `regex`, `ignore` and `globset`) matches the result, one small anchored DFA per pattern,
//! tried from the last pattern back to the first. Python's `$` also matches before a final
//! newline; `\n?\z` keeps that. Bracket expressions are parsed with the rules of Python's
//! `re` and re-emitted with every member escaped, because the two regex dialects read
//! `[`, `&&`, `--` and `~~` inside a class differently.
//!
//! Only the `regex-automata` features that `scheme-host` already builds with are used, so
//! adding this crate to the workspace does not change how shared crates are compiled.

use regex_automata::dfa::{Automaton, dense};
use regex_automata::{Anchored, Input};

/// Bounds one pattern's automaton; a gitignore line needs a few kilobytes.
const DFA_SIZE_LIMIT: usize = 4 << 20;

/// One ignore source: the patterns of an ignore file, or Ray's `excludes` list.
#[derive(Debug)]
pub(crate) struct Spec {
    patterns: Vec<Compiled>,
}

#[derive(Debug)]
struct Compiled {
    dfa: dense::DFA<Vec<u32>>,
    /// A match excludes (`true`) or re-includes (`false`, a `!` line).
    excludes: bool,
    /// The source line, for messages.
    line: String,
}

/// Why a pattern cannot be used; Ray 2.60 fails on each of these too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PatternError {
    pub pattern: String,
    pub reason: String,
}

impl Spec {
    /// Compiles patterns the way `PathSpec.from_lines("gitwildmatch", lines)` does: empty
    /// strings are dropped, comments and blank lines compile to nothing.
    pub fn new<'a>(lines: impl IntoIterator<Item = &'a str>) -> Result<Spec, PatternError> {
        let mut patterns = Vec::new();
        for line in lines {
            let fail = |reason: String| PatternError {
                pattern: line.to_string(),
                reason,
            };
            if let Some(t) = translate(line).map_err(fail)? {
                let dfa = dense::Builder::new()
                    .configure(
                        dense::Config::new()
                            .start_kind(regex_automata::dfa::StartKind::Anchored)
                            .dfa_size_limit(Some(DFA_SIZE_LIMIT))
                            .determinize_size_limit(Some(DFA_SIZE_LIMIT)),
                    )
                    .build(&t.regex)
                    .map_err(|e| fail(format!("the pattern does not compile: {e}")))?;
                patterns.push(Compiled {
                    dfa,
                    excludes: t.excludes,
                    line: line.trim_matches(is_python_space).to_string(),
                });
            }
        }
        Ok(Spec { patterns })
    }

    /// The pattern that decides `path` (relative to the spec's directory, `/`-separated, `.`
    /// for the directory itself) when it excludes it.
    pub fn excluding_pattern(&self, path: &str) -> Option<&str> {
        let input = Input::new(path).anchored(Anchored::Yes);
        // The last pattern that matches decides.
        let last = self
            .patterns
            .iter()
            .rev()
            .find(|p| matches!(p.dfa.try_search_fwd(&input), Ok(Some(_))))?;
        last.excludes.then_some(last.line.as_str())
    }

    pub fn excludes(&self, path: &str) -> bool {
        self.excluding_pattern(path).is_some()
    }
}

/// `str.strip()` in Python removes what `str.isspace()` accepts: Unicode white space plus the
/// four ASCII separators U+001C..U+001F, which Rust does not count as white space.
pub(crate) fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Translated {
    pub regex: String,
    pub excludes: bool,
}

/// `GitWildMatchPattern.pattern_to_regex`: `None` for a comment, a blank line or `/`.
pub(crate) fn translate(line: &str) -> Result<Option<Translated>, String> {
    let pattern = line.trim_matches(is_python_space);
    if pattern.is_empty() || pattern.starts_with('#') || pattern == "/" {
        return Ok(None);
    }
    let (excludes, mut rest) = match pattern.strip_prefix('!') {
        Some(rest) => (false, rest),
        None => (true, pattern),
    };
    if let Some(unescaped) = rest.strip_prefix('\\') {
        rest = unescaped;
    }
    let mut segs: Vec<&str> = rest.split('/').collect();
    if segs[0].is_empty() {
        // Anchored at the ignore file's directory.
        segs.remove(0);
    } else if (segs.len() == 1 || (segs.len() == 2 && segs[1].is_empty())) && segs[0] != "**" {
        // A single name (or `name/`) matches at any depth.
        segs.insert(0, "**");
    }
    if segs.is_empty() {
        // `!`, `\` and `!\` leave nothing; pathspec indexes the empty list and raises.
        return Err("nothing is left once `!` and `\\` are removed".to_string());
    }
    let end = segs.len() - 1;
    if segs[end].is_empty() && end > 0 {
        // `dir/` matches everything below `dir`.
        segs[end] = "**";
    }

    let mut out = String::from("^");
    let mut need_slash = false;
    for (i, seg) in segs.iter().enumerate() {
        match *seg {
            "**" if i == 0 && i == end => out.push_str(".+"),
            "**" if i == 0 => {
                out.push_str("(?:.+/)?");
                need_slash = false;
            }
            "**" if i == end => out.push_str("/.*"),
            "**" => {
                out.push_str("(?:/.+)?");
                need_slash = true;
            }
            "*" => {
                if need_slash {
                    out.push('/');
                }
                out.push_str("[^/]+");
                need_slash = true;
            }
            _ => {
                if need_slash {
                    out.push('/');
                }
                out.push_str(&segment(seg)?);
                if i == end && excludes {
                    // `foo` also matches everything below a directory `foo`; pathspec leaves
                    // this out for negations.
                    out.push_str("(?:/.*)?");
                }
                need_slash = true;
            }
        }
    }
    out.push_str(r"\n?\z");
    Ok(Some(Translated {
        regex: out,
        excludes,
    }))
}

/// `GitWildMatchPattern._translate_segment_glob`: one path segment's glob as a regex.
fn segment(seg: &str) -> Result<String, String> {
    let chars: Vec<char> = seg.chars().collect();
    let end = chars.len();
    let mut out = String::new();
    let mut escape = false;
    let mut i = 0;
    while i < end {
        let c = chars[i];
        i += 1;
        if escape {
            escape = false;
            push_literal(&mut out, c);
        } else if c == '\\' {
            escape = true;
        } else if c == '*' {
            out.push_str("[^/]*");
        } else if c == '?' {
            out.push_str("[^/]");
        } else if c == '[' {
            let mut j = i;
            if j < end && chars[j] == '!' {
                j += 1;
            }
            if j < end && chars[j] == ']' {
                j += 1;
            }
            while j < end && chars[j] != ']' {
                j += 1;
            }
            if j < end {
                j += 1;
                // The class text pathspec gives Python's `re`: `!` negates, a leading `^` is
                // escaped, backslashes are doubled (so every one is literal).
                let mut expr = String::from("[");
                if chars[i] == '!' {
                    expr.push('^');
                    i += 1;
                } else if chars[i] == '^' {
                    expr.push_str("\\^");
                    i += 1;
                }
                for &c in &chars[i..j] {
                    if c == '\\' {
                        expr.push_str("\\\\");
                    } else {
                        expr.push(c);
                    }
                }
                out.push_str(&python_class(&expr)?);
                i = j;
            } else {
                out.push_str("\\[");
            }
        } else {
            push_literal(&mut out, c);
        }
    }
    Ok(out)
}

fn push_literal(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    out.push_str(&regex_syntax::escape(c.encode_utf8(&mut buf)));
}

enum Member {
    Char(char),
    Range(char, char),
}

/// Reads a character class the way Python's `re` parser does (`sre_parse`, Python 3.11: a
/// `]` first is literal, `a-z` is a range, `-` before the closing `]` is literal, `\x` is
/// `x`) and writes the same set in the `regex` crate's syntax.
fn python_class(expr: &str) -> Result<String, String> {
    let s: Vec<char> = expr.chars().collect();
    let mut pos = 1;
    let negate = s.get(pos) == Some(&'^');
    if negate {
        pos += 1;
    }
    // (character, whether it was written raw rather than escaped)
    let next = |pos: &mut usize| -> Option<(char, bool)> {
        let c = *s.get(*pos)?;
        *pos += 1;
        if c == '\\' {
            let e = *s.get(*pos)?;
            *pos += 1;
            Some((e, false))
        } else {
            Some((c, true))
        }
    };
    let unterminated = || "unterminated character set".to_string();
    let mut members = Vec::new();
    loop {
        let (this, raw) = next(&mut pos).ok_or_else(unterminated)?;
        if this == ']' && raw && !members.is_empty() {
            break;
        }
        if s.get(pos) == Some(&'-') {
            pos += 1;
            let (that, that_raw) = next(&mut pos).ok_or_else(unterminated)?;
            if that == ']' && that_raw {
                members.push(Member::Char(this));
                members.push(Member::Char('-'));
                break;
            }
            if that < this {
                return Err(format!("bad character range {this}-{that}"));
            }
            members.push(Member::Range(this, that));
        } else {
            members.push(Member::Char(this));
        }
    }
    if pos != s.len() {
        return Err("a bracket expression ends where pathspec does not expect it".to_string());
    }
    let mut out = String::from(if negate { "[^" } else { "[" });
    for m in members {
        match m {
            Member::Char(c) => push_literal(&mut out, c),
            Member::Range(a, b) => {
                push_literal(&mut out, a);
                out.push('-');
                push_literal(&mut out, b);
            }
        }
    }
    out.push(']');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(lines: &[&str]) -> Spec {
        Spec::new(lines.iter().copied()).unwrap()
    }

    #[test]
    fn translation_matches_pathspec_text() {
        // Expected strings are pathspec's own output with `$` written as `\n?\z`.
        let cases = [
            ("*.log", r"^(?:.+/)?[^/]*\.log(?:/.*)?\n?\z"),
            ("build/", r"^(?:.+/)?build/.*\n?\z"),
            ("/root.txt", r"^root\.txt(?:/.*)?\n?\z"),
            ("a/b", r"^a/b(?:/.*)?\n?\z"),
            ("a/**/b", r"^a(?:/.+)?/b(?:/.*)?\n?\z"),
            ("**", r"^.+\n?\z"),
            ("a/**", r"^a/.*\n?\z"),
            ("!keep", r"^(?:.+/)?keep\n?\z"),
            ("*", r"^(?:.+/)?[^/]+\n?\z"),
        ];
        for (pattern, regex) in cases {
            assert_eq!(
                translate(pattern).unwrap().unwrap().regex,
                regex,
                "{pattern}"
            );
        }
    }

    #[test]
    fn comments_blanks_and_slash_compile_to_nothing() {
        for line in ["", "   ", "# note", "/", " \t/ "] {
            assert_eq!(translate(line), Ok(None), "{line:?}");
        }
        assert!(translate(r"\#hash").unwrap().unwrap().excludes);
        assert!(spec(&[r"\#hash"]).excludes("#hash"));
        assert!(spec(&[r"\!bang"]).excludes("!bang"));
    }

    #[test]
    fn what_pathspec_itself_rejects_is_an_error() {
        assert!(translate("!").is_err());
        assert!(translate("\\").is_err());
        assert!(
            translate("[z-a]")
                .unwrap_err()
                .contains("bad character range")
        );
    }

    #[test]
    fn last_matching_pattern_decides() {
        let s = spec(&["*.py", "!keep.py"]);
        assert!(s.excludes("a.py"));
        assert!(!s.excludes("keep.py"));
        assert!(!s.excludes("sub/keep.py"));
        let s = spec(&["!keep.py", "*.py"]);
        assert!(s.excludes("keep.py"));
    }

    #[test]
    fn ray_quirks_are_kept() {
        // A trailing-slash pattern never matches the directory itself.
        let s = spec(&["build/"]);
        assert!(!s.excludes("build"));
        assert!(s.excludes("build/x"));
        assert!(s.excludes("sub/build/x"));
        // A negation re-includes a file below an excluded directory.
        let s = spec(&["foo/", "!foo/keep.txt"]);
        assert!(!s.excludes("foo/keep.txt"));
        assert!(s.excludes("foo/drop.txt"));
        // ... but only the path itself, not what is below it.
        let s = spec(&["foo", "!foo"]);
        assert!(!s.excludes("foo"));
        assert!(s.excludes("foo/x"));
        // `.*` and `*` match the ignore file's own directory.
        assert_eq!(spec(&[".*"]).excluding_pattern("."), Some(".*"));
        assert!(spec(&["*"]).excludes("."));
        // A plain name matches files below a directory of that name.
        assert!(spec(&["*.log"]).excludes("a.log/x"));
        // `!` in a class becomes `^`, which in a regex class also matches `/`.
        assert!(spec(&["a[!b]c"]).excludes("a/c"));
    }

    #[test]
    fn classes_are_read_like_pythons_re() {
        let s = spec(&["[]a]x"]);
        assert!(s.excludes("]x") && s.excludes("ax") && !s.excludes("bx"));
        let s = spec(&["[a-]x"]);
        assert!(s.excludes("-x") && s.excludes("ax") && !s.excludes("bx"));
        let s = spec(&["[a-c-e]x"]);
        assert!(s.excludes("bx") && s.excludes("-x") && s.excludes("ex") && !s.excludes("dx"));
        // A leading `^` is literal, not a negation.
        let s = spec(&["[^a]x"]);
        assert!(s.excludes("^x") && s.excludes("ax") && !s.excludes("bx"));
        // `[[` and `&&` are plain members in Python's dialect.
        let s = spec(&["[[&&]x"]);
        assert!(s.excludes("[x") && s.excludes("&x") && !s.excludes("ax"));
        // Backslashes inside a class are literal members.
        let s = spec(&[r"[\]]"]);
        assert!(s.excludes(r"\]") && !s.excludes("]"));
        // No closing bracket: a literal `[`.
        assert!(spec(&["a[b"]).excludes("a[b"));
    }

    /// Ray's own answers, generated by `tests/gen_pathspec_vectors.py` from the pathspec
    /// Ray 2.60 vendors: every spec against every path, and the specs it fails on.
    #[test]
    fn answers_match_rays_pathspec() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../tests/data/pathspec_vectors.json")).unwrap();
        assert_eq!(v["ray"], "2.60.0");
        let paths: Vec<&str> = v["paths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        let mut checked = 0;
        for entry in v["specs"].as_array().unwrap() {
            let lines: Vec<&str> = entry["lines"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap())
                .collect();
            let compiled = Spec::new(lines.iter().copied());
            if entry.get("error").is_some() {
                assert!(compiled.is_err(), "{lines:?}: pathspec fails, so must this");
                continue;
            }
            let spec = compiled.unwrap_or_else(|e| panic!("{lines:?}: {e:?}"));
            let want: Vec<&str> = entry["matches"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap())
                .collect();
            for path in &paths {
                assert_eq!(
                    spec.excludes(path),
                    want.contains(path),
                    "{lines:?} on {path:?}"
                );
                checked += 1;
            }
        }
        assert!(checked > 4000, "{checked}");
    }

    #[test]
    fn python_dollar_and_strip_are_kept() {
        assert!(spec(&["foo"]).excludes("foo\n"));
        assert!(!spec(&["foo"]).excludes("foo\nx"));
        assert!(spec(&["\u{1f}foo\u{1c} "]).excludes("foo"));
        // A byte-order mark is not white space to Python either.
        assert!(!spec(&["\u{feff}foo"]).excludes("foo"));
    }
}
