//! Percent-encoding of object keys and query values the way the stores' SDKs do it. Keys
//! are taken literally from URIs, so every byte outside the unreserved set is encoded,
//! `%` included.

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for &b in s.as_bytes() {
        let plain = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/');
        if plain {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
    out
}

/// A key as a URL path: every byte outside `A-Z a-z 0-9 - _ . ~ /` as `%XX` (upper-case
/// hex) over UTF-8. This is Python's `quote(key, safe='/~')`, which both Huawei's SDK and
/// botocore use.
pub fn encode_path(s: &str) -> String {
    encode(s, true)
}

/// One URI component (a query name or value): as [`encode_path`], `/` encoded too (AWS's
/// `UriEncode`, Python's `quote(s, safe='-_.~')`).
pub fn encode_component(s: &str) -> String {
    encode(s, false)
}

/// `%XX` decoded; a `%` not followed by two hex digits stays as it is. Invalid UTF-8 after
/// decoding is replaced, since the result is only ever compared or shown.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        let decoded = match b.get(i..i + 3) {
            Some([b'%', h, l]) => hex(*h).zip(hex(*l)).map(|(h, l)| (h * 16 + l) as u8),
            _ => None,
        };
        if let Some(byte) = decoded {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_keep_slashes() {
        assert_eq!(encode_path("my dir/a+b=c&d.zip"), "my%20dir/a%2Bb%3Dc%26d.zip");
        assert_eq!(encode_path("100%/x%2Fy~!*'().zip"), "100%25/x%252Fy~%21%2A%27%28%29.zip");
        assert_eq!(encode_path("日.zip"), "%E6%97%A5.zip");
        assert_eq!(encode_path("a?b#c"), "a%3Fb%23c");
    }

    #[test]
    fn components_encode_slashes() {
        assert_eq!(encode_component("AK/20241015/eu-west-1/s3/aws4_request"), "AK%2F20241015%2Feu-west-1%2Fs3%2Faws4_request");
        assert_eq!(encode_component("a+b=c~_.-"), "a%2Bb%3Dc~_.-");
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%20b%2Fc"), "a b/c");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%E6%97%A5"), "日");
        assert_eq!(percent_decode(&encode_component("x/ y%")), "x/ y%");
    }
}
