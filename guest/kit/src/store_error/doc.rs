//! The XML error document of OBS, S3 and the stores that copy them:
//! `<Error><Code/><Message/><RequestId/><HostId/><Resource/>...</Error>`.

use quick_xml::events::Event;
use quick_xml::Reader;

/// Longest text kept from any one element: error documents are for humans, and a hostile
/// server must not be able to fill our messages.
pub const MAX_FIELD_CHARS: usize = 512;

/// The fields of an error document, each optional. `region` and `endpoint` are S3's hints
/// for a bucket in another region (`AuthorizationHeaderMalformed`, `PermanentRedirect`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorDoc {
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
    pub host_id: Option<String>,
    pub resource: Option<String>,
    pub region: Option<String>,
    pub endpoint: Option<String>,
}

#[derive(Clone, Copy)]
enum Field {
    Code,
    Message,
    RequestId,
    HostId,
    Resource,
    Region,
    Endpoint,
}

impl ErrorDoc {
    fn slot(&mut self, f: Field) -> &mut Option<String> {
        match f {
            Field::Code => &mut self.code,
            Field::Message => &mut self.message,
            Field::RequestId => &mut self.request_id,
            Field::HostId => &mut self.host_id,
            Field::Resource => &mut self.resource,
            Field::Region => &mut self.region,
            Field::Endpoint => &mut self.endpoint,
        }
    }
}

/// Parses an error document. Anything that is not one (an HTML page from a proxy, garbage,
/// an empty HEAD body) gives `None`.
pub fn parse_error_doc(body: &[u8]) -> Option<ErrorDoc> {
    let mut reader = Reader::from_reader(body);
    let mut doc = ErrorDoc::default();
    let mut depth = 0usize;
    let mut root_seen = false;
    let mut field: Option<Field> = None;
    let mut text = String::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                depth += 1;
                let name = e.local_name();
                if depth == 1 {
                    if name.as_ref() != b"Error" {
                        return None;
                    }
                    root_seen = true;
                } else if depth == 2 {
                    field = match name.as_ref() {
                        b"Code" => Some(Field::Code),
                        b"Message" => Some(Field::Message),
                        b"RequestId" => Some(Field::RequestId),
                        b"HostId" => Some(Field::HostId),
                        b"Resource" => Some(Field::Resource),
                        b"Region" => Some(Field::Region),
                        b"Endpoint" => Some(Field::Endpoint),
                        _ => None,
                    };
                    text.clear();
                }
            }
            Ok(Event::Empty(e)) if depth == 0 && e.local_name().as_ref() == b"Error" => return Some(doc),
            Ok(Event::Text(t)) if field.is_some() && depth == 2 => push_capped(&mut text, &t.decode().ok()?),
            Ok(Event::CData(t)) if field.is_some() && depth == 2 => push_capped(&mut text, &t.decode().ok()?),
            Ok(Event::GeneralRef(r)) if field.is_some() && depth == 2 => {
                let resolved = if r.is_char_ref() {
                    r.resolve_char_ref().ok().flatten().map(String::from)
                } else {
                    match r.decode().ok()?.as_ref() {
                        "amp" => Some("&".into()),
                        "lt" => Some("<".into()),
                        "gt" => Some(">".into()),
                        "quot" => Some("\"".into()),
                        "apos" => Some("'".into()),
                        _ => None,
                    }
                };
                push_capped(&mut text, resolved.as_deref().unwrap_or("?"));
            }
            Ok(Event::End(_)) => {
                if let Some(f) = field.take().filter(|_| depth == 2) {
                    let v = text.trim().to_string();
                    let slot = doc.slot(f);
                    if slot.is_none() && !v.is_empty() {
                        *slot = Some(v);
                    }
                }
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(doc);
                }
            }
            Ok(Event::Eof) => return root_seen.then_some(doc),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

fn push_capped(out: &mut String, s: &str) {
    let room = MAX_FIELD_CHARS.saturating_sub(out.chars().count());
    out.extend(s.chars().take(room));
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_SUCH_KEY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><RequestId>0000018A2B3C</RequestId><HostId>host-7</HostId><Resource>/ray-jobs/x.zip</Resource><Key>x.zip</Key></Error>"#;

    #[test]
    fn parses_document() {
        let d = parse_error_doc(NO_SUCH_KEY.as_bytes()).unwrap();
        assert_eq!(d.code.as_deref(), Some("NoSuchKey"));
        assert_eq!(d.message.as_deref(), Some("The specified key does not exist."));
        assert_eq!(d.request_id.as_deref(), Some("0000018A2B3C"));
        assert_eq!(d.host_id.as_deref(), Some("host-7"));
        assert_eq!(d.resource.as_deref(), Some("/ray-jobs/x.zip"));
        assert_eq!((d.region, d.endpoint), (None, None));
    }

    #[test]
    fn region_hints() {
        let d = parse_error_doc(
            b"<Error><Code>AuthorizationHeaderMalformed</Code><Region>eu-west-1</Region><RequestId>R</RequestId></Error>",
        )
        .unwrap();
        assert_eq!(d.region.as_deref(), Some("eu-west-1"));
        let d = parse_error_doc(b"<Error><Code>PermanentRedirect</Code><Endpoint>b.s3.eu-west-1.amazonaws.com</Endpoint></Error>").unwrap();
        assert_eq!(d.endpoint.as_deref(), Some("b.s3.eu-west-1.amazonaws.com"));
    }

    #[test]
    fn entities_nesting_and_caps() {
        let d = parse_error_doc(b"<Error><Code>A&amp;B&#65;&unknown;</Code><Detail><Code>Inner</Code></Detail><Message><![CDATA[<x>]]></Message></Error>").unwrap();
        assert_eq!(d.code.as_deref(), Some("A&BA?"));
        assert_eq!(d.message.as_deref(), Some("<x>"));
        let long = format!("<Error><Message>{}</Message></Error>", "m".repeat(10_000));
        assert_eq!(parse_error_doc(long.as_bytes()).unwrap().message.unwrap().len(), MAX_FIELD_CHARS);
    }

    #[test]
    fn not_error_documents() {
        assert_eq!(parse_error_doc(b""), None);
        assert_eq!(parse_error_doc(b"<html><body>502 Bad Gateway</body></html>"), None);
        assert_eq!(parse_error_doc(b"PK\x03\x04garbage"), None);
        assert_eq!(parse_error_doc(b"<Error><Code>x</Code>"), Some(ErrorDoc { code: Some("x".into()), ..Default::default() }));
        assert!(parse_error_doc(b"<Error><Code>x</Wrong></Error>").is_none());
    }
}
