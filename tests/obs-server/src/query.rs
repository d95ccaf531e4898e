//! Raw query-string parsing that keeps the difference between `?acl` and `?acl=`, which the
//! signature's sub-resource list depends on.

use percent_encoding::percent_decode_str;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryParam {
    /// Percent-decoded name.
    pub name: String,
    /// Percent-decoded value; `None` when the parameter had no `=`.
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub params: Vec<QueryParam>,
}

impl Query {
    /// `+` is kept literally: the SDK encodes a literal plus as `%2B` and signs decoded values
    /// with Python's `unquote`, which does not turn `+` into a space.
    pub fn parse(raw: Option<&str>) -> Query {
        let params = raw
            .unwrap_or_default()
            .split('&')
            .filter(|part| !part.is_empty())
            .map(|part| match part.split_once('=') {
                Some((n, v)) => QueryParam {
                    name: decode(n),
                    value: Some(decode(v)),
                },
                None => QueryParam {
                    name: decode(part),
                    value: None,
                },
            })
            .collect();
        Query { params }
    }

    /// First value of `name` (exact, case-sensitive); `Some("")` for a bare `?name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.as_deref().unwrap_or_default())
    }

    pub fn has(&self, name: &str) -> bool {
        self.params.iter().any(|p| p.name == name)
    }
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_bare_names_and_decodes_values() {
        let q = Query::parse(Some(
            "apiversion&x-obs-security-token=gQ%2BToken/With%3DSpecial%2BChars&acl=&a+b=c+d",
        ));
        assert_eq!(
            q.params[0],
            QueryParam {
                name: "apiversion".into(),
                value: None
            }
        );
        assert_eq!(
            q.get("x-obs-security-token"),
            Some("gQ+Token/With=Special+Chars")
        );
        assert_eq!(q.params[2].value.as_deref(), Some(""));
        assert_eq!(q.get("a+b"), Some("c+d"));
        assert!(q.has("apiversion") && !q.has("missing"));
        assert_eq!(Query::parse(None).params.len(), 0);
        assert_eq!(Query::parse(Some("&&")).params.len(), 0);
    }
}
