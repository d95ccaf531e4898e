//! `Range: bytes=...` handling with OBS/S3 semantics: one range only; a malformed or
//! multi-range header is ignored (full 200), an unsatisfiable one is a 416.

use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeOutcome {
    /// No usable Range header: send everything with 200.
    Full,
    /// Send these bytes with 206.
    Partial(Range<u64>),
    /// 416 InvalidRange.
    Unsatisfiable,
}

pub fn resolve(header: Option<&str>, total: u64) -> RangeOutcome {
    let Some(spec) = header.map(str::trim).and_then(|h| h.strip_prefix("bytes=")) else {
        return RangeOutcome::Full;
    };
    let spec = spec.trim();
    if spec.contains(',') {
        return RangeOutcome::Full;
    }
    let Some((start, end)) = spec.split_once('-') else {
        return RangeOutcome::Full;
    };
    let (start, end) = (start.trim(), end.trim());
    let parse = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    if start.is_empty() {
        // Suffix range: the last n bytes.
        let Some(n) = parse(end) else {
            return RangeOutcome::Full;
        };
        if n == 0 || total == 0 {
            return RangeOutcome::Unsatisfiable;
        }
        return RangeOutcome::Partial(total.saturating_sub(n)..total);
    }
    let Some(first) = parse(start) else {
        return RangeOutcome::Full;
    };
    let last = if end.is_empty() {
        None
    } else {
        match parse(end) {
            Some(last) if last >= first => Some(last),
            _ => return RangeOutcome::Full,
        }
    };
    if first >= total {
        return RangeOutcome::Unsatisfiable;
    }
    let end_exclusive = last.map_or(total, |l| l.saturating_add(1).min(total));
    RangeOutcome::Partial(first..end_exclusive)
}

#[cfg(test)]
mod tests {
    use super::RangeOutcome::*;
    use super::*;

    #[test]
    fn the_three_forms() {
        assert_eq!(resolve(Some("bytes=0-9"), 100), Partial(0..10));
        assert_eq!(resolve(Some("bytes=90-"), 100), Partial(90..100));
        assert_eq!(resolve(Some("bytes=-10"), 100), Partial(90..100));
        assert_eq!(resolve(Some("bytes=-1000"), 100), Partial(0..100));
        assert_eq!(resolve(Some("bytes=50-5000"), 100), Partial(50..100));
        assert_eq!(resolve(Some("bytes=99-99"), 100), Partial(99..100));
    }

    #[test]
    fn unsatisfiable() {
        assert_eq!(resolve(Some("bytes=100-"), 100), Unsatisfiable);
        assert_eq!(resolve(Some("bytes=100-200"), 100), Unsatisfiable);
        assert_eq!(resolve(Some("bytes=-0"), 100), Unsatisfiable);
        assert_eq!(resolve(Some("bytes=0-"), 0), Unsatisfiable);
        assert_eq!(resolve(Some("bytes=-5"), 0), Unsatisfiable);
    }

    #[test]
    fn ignored_headers() {
        for h in [
            "bytes=5-1",
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=a-b",
            "bytes=",
            "bytes=-",
            "bytes=+1-2",
        ] {
            assert_eq!(resolve(Some(h), 100), Full, "{h}");
        }
        assert_eq!(resolve(None, 100), Full);
    }
}
