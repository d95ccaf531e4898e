//! The XML documents of a multipart upload, the same in OBS and S3: the upload id of
//! `InitiateMultipartUploadResult`, the `CompleteMultipartUpload` part list we send, and the
//! ETag of `CompleteMultipartUploadResult`. Namespaces are ignored: S3 sends one, OBS and
//! S3 copies may not.

use quick_xml::events::Event;
use quick_xml::Reader;

/// Longest value read from an answer. Upload ids of real stores are a few hundred bytes; a
/// longer one is refused rather than cut, since a cut id names no upload.
pub const MAX_VALUE_BYTES: usize = 1024;

/// What a document held where a value was looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The root and the element were there, with this text (entities resolved, trimmed).
    Value(String),
    /// The root was there, the element was not (or was empty).
    Missing,
    /// Another document, or no XML at all.
    OtherDocument,
    /// The element's text is longer than [`MAX_VALUE_BYTES`].
    TooLong,
}

/// The `UploadId` of an `InitiateMultipartUploadResult`.
pub fn upload_id(body: &[u8]) -> Found {
    child_text(body, "InitiateMultipartUploadResult", "UploadId")
}

/// The `ETag` of a `CompleteMultipartUploadResult`, as the store wrote it (S3 escapes its
/// quotes as `&quot;`; they come back as quotes).
pub fn completed_etag(body: &[u8]) -> Found {
    child_text(body, "CompleteMultipartUploadResult", "ETag")
}

/// `<CompleteMultipartUpload>` listing `(number, etag)` in the order given. ETags go back
/// exactly as the store sent them, escaped only where XML requires.
pub fn complete_body<'a>(parts: impl IntoIterator<Item = (u32, &'a str)>) -> String {
    let mut xml = String::from("<CompleteMultipartUpload>");
    for (number, etag) in parts {
        xml.push_str(&format!("<Part><PartNumber>{number}</PartNumber><ETag>"));
        push_escaped(&mut xml, etag);
        xml.push_str("</ETag></Part>");
    }
    xml.push_str("</CompleteMultipartUpload>");
    xml
}

/// Text content escaped: `&` and `<` must be, `>` is so `]]>` cannot appear. Quotes may
/// stay, and do, as in the examples of both stores.
fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

/// The text of the first `field` directly under the root element `root`.
fn child_text(body: &[u8], root: &str, field: &str) -> Found {
    let mut reader = Reader::from_reader(body);
    let mut depth = 0usize;
    let mut inside = false;
    let mut text = String::new();
    loop {
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(_) => return if depth > 0 { Found::Missing } else { Found::OtherDocument },
        };
        match event {
            Event::Start(e) => {
                depth += 1;
                let name = e.local_name();
                if depth == 1 && name.as_ref() != root.as_bytes() {
                    return Found::OtherDocument;
                }
                inside = depth == 2 && name.as_ref() == field.as_bytes();
            }
            Event::Empty(e) if depth == 0 => {
                return if e.local_name().as_ref() == root.as_bytes() { Found::Missing } else { Found::OtherDocument };
            }
            Event::Text(t) if inside => match t.decode() {
                Ok(s) => text.push_str(&s),
                Err(_) => return Found::Missing,
            },
            Event::CData(t) if inside => match t.decode() {
                Ok(s) => text.push_str(&s),
                Err(_) => return Found::Missing,
            },
            Event::GeneralRef(r) if inside => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    Ok(None) => r.decode().ok().and_then(|name| quick_xml::escape::resolve_xml_entity(&name).map(str::to_string)),
                    Err(_) => None,
                };
                match resolved {
                    Some(s) => text.push_str(&s),
                    None => return Found::Missing,
                }
            }
            Event::End(_) => {
                if inside {
                    let v = text.trim();
                    return match v.len() {
                        0 => Found::Missing,
                        n if n > MAX_VALUE_BYTES => Found::TooLong,
                        _ => Found::Value(v.to_string()),
                    };
                }
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Found::Missing;
                }
            }
            Event::Eof => return if depth > 0 { Found::Missing } else { Found::OtherDocument },
            _ => {}
        }
        if text.len() > MAX_VALUE_BYTES {
            return Found::TooLong;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_ids_with_and_without_namespace() {
        let s3 = br#"<?xml version="1.0" encoding="UTF-8"?>
<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket><Key>k</Key><UploadId>VXBsb2FkIElE.Zm9y_bXk-~</UploadId></InitiateMultipartUploadResult>"#;
        assert_eq!(upload_id(s3), Found::Value("VXBsb2FkIElE.Zm9y_bXk-~".into()));
        let obs = b"<InitiateMultipartUploadResult><UploadId> 000001648453845DBB78F2340DD460D8 </UploadId></InitiateMultipartUploadResult>";
        assert_eq!(upload_id(obs), Found::Value("000001648453845DBB78F2340DD460D8".into()));
        assert_eq!(upload_id(b"<InitiateMultipartUploadResult><Bucket>b</Bucket></InitiateMultipartUploadResult>"), Found::Missing);
        assert_eq!(upload_id(b"<InitiateMultipartUploadResult/>"), Found::Missing);
        assert_eq!(upload_id(b"<InitiateMultipartUploadResult><UploadId></UploadId></InitiateMultipartUploadResult>"), Found::Missing);
        // Only a direct child counts.
        assert_eq!(upload_id(b"<InitiateMultipartUploadResult><X><UploadId>no</UploadId></X></InitiateMultipartUploadResult>"), Found::Missing);
        let long = format!("<InitiateMultipartUploadResult><UploadId>{}</UploadId></InitiateMultipartUploadResult>", "a".repeat(5000));
        assert_eq!(upload_id(long.as_bytes()), Found::TooLong);
    }

    #[test]
    fn other_documents_are_told_apart() {
        assert_eq!(upload_id(b"<Error><Code>InternalError</Code></Error>"), Found::OtherDocument);
        assert_eq!(upload_id(b"<html>proxy</html>"), Found::OtherDocument);
        assert_eq!(upload_id(b""), Found::OtherDocument);
        assert_eq!(upload_id(b"not xml at all"), Found::OtherDocument);
        assert_eq!(completed_etag(b"<InitiateMultipartUploadResult><UploadId>x</UploadId></InitiateMultipartUploadResult>"), Found::OtherDocument);
    }

    #[test]
    fn completed_etags_come_back_unescaped() {
        let s3 = br#"<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Location>http://b.s3.amazonaws.com/k</Location><Bucket>b</Bucket><Key>k</Key><ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag></CompleteMultipartUploadResult>"#;
        assert_eq!(completed_etag(s3), Found::Value("\"3858f62230ac3c915f300c664312c11f-9\"".into()));
        let raw = b"<CompleteMultipartUploadResult><ETag>\"abc-2\"</ETag></CompleteMultipartUploadResult>";
        assert_eq!(completed_etag(raw), Found::Value("\"abc-2\"".into()));
        // S3 keeps a connection alive with spaces before the document while it completes.
        let padded = b"      \n  <CompleteMultipartUploadResult><ETag>&#34;e-1&#34;</ETag></CompleteMultipartUploadResult>";
        assert_eq!(completed_etag(padded), Found::Value("\"e-1\"".into()));
    }

    #[test]
    fn the_part_list_escapes_what_xml_requires() {
        assert_eq!(
            complete_body([(1, "\"a1\""), (2, "\"b<&>2\"")]),
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"a1\"</ETag></Part>\
             <Part><PartNumber>2</PartNumber><ETag>\"b&lt;&amp;&gt;2\"</ETag></Part></CompleteMultipartUpload>"
        );
        // What we send parses back to the same ETags.
        let body = complete_body([(7, "\"x&y\"")]);
        let mut r = Reader::from_str(&body);
        let mut texts = Vec::new();
        loop {
            match r.read_event().unwrap() {
                Event::Text(t) => texts.push(t.decode().unwrap().into_owned()),
                Event::GeneralRef(g) => texts.push(quick_xml::escape::resolve_xml_entity(&g.decode().unwrap()).unwrap().to_string()),
                Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(texts.concat(), "7\"x&y\"");
    }
}
