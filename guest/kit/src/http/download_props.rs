//! Property test of the download engine against a server that answers ranges correctly but
//! injects a random schedule of faults, and may replace the object mid-way. Whatever
//! happens, a success must deliver exactly one version of the object, whole.

use proptest::prelude::*;

use super::*;
use crate::http::testing::{FakeBody, FakeSleeper};
use crate::http::types::{ResponseHead, TransportErrorKind};

#[derive(Debug, Clone)]
enum Fault {
    None,
    /// Correct headers, then the body breaks after this fraction (per mille).
    Cut(u16),
    /// Correct headers, then the body ends cleanly too early.
    Short(u16),
    Unavailable,
    ConnectFail,
    /// Answers a ranged request with the whole object.
    IgnoreRange,
    /// Answers a ranged request with the wrong start.
    WrongStart,
    /// The object is replaced by its second version from now on.
    Replace,
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        3 => Just(Fault::None),
        3 => (0u16..1000).prop_map(Fault::Cut),
        2 => (0u16..1000).prop_map(Fault::Short),
        1 => Just(Fault::Unavailable),
        1 => Just(Fault::ConnectFail),
        1 => Just(Fault::IgnoreRange),
        1 => Just(Fault::WrongStart),
        1 => Just(Fault::Replace),
    ]
}

struct Server {
    versions: [Vec<u8>; 2],
    current: usize,
    faults: std::collections::VecDeque<Fault>,
}

fn etag(v: &[u8]) -> String {
    use md5::{Digest, Md5};
    format!("\"{}\"", hex::encode(Md5::digest(v)))
}

impl Transport for Server {
    type Body = FakeBody;

    fn send(&mut self, req: &Request, _t: &Timeouts) -> std::result::Result<(ResponseHead, FakeBody), TransportError> {
        let fault = self.faults.pop_front().unwrap_or(Fault::None);
        if let Fault::Replace = fault {
            self.current = 1;
        }
        let data = &self.versions[self.current];
        let tag = etag(data);
        let mut headers = Headers::new();
        headers.push("etag", tag.clone());
        match fault {
            Fault::ConnectFail => return Err(TransportError::new(TransportErrorKind::Connect, "refused")),
            Fault::Unavailable => return Ok((ResponseHead { status: 503, headers }, FakeBody::new(vec![], None))),
            _ => {}
        }
        let range = req.header("range").map(|r| r.trim_start_matches("bytes=").trim_end_matches('-').parse::<u64>().unwrap());
        if let (Some(_), Some(m)) = (range, req.header("if-match")) {
            if m != tag {
                return Ok((ResponseHead { status: 412, headers }, FakeBody::new(vec![], None)));
            }
        }
        let (status, start) = match (range, &fault) {
            (Some(_), Fault::IgnoreRange) | (None, _) => (200, 0),
            (Some(s), Fault::WrongStart) => (206, s.saturating_sub(1)),
            (Some(s), _) => (206, s),
        };
        let start = start.min(data.len() as u64) as usize;
        let body = data[start..].to_vec();
        if status == 206 {
            headers.push("content-range", format!("bytes {start}-{}/{}", data.len().max(1) - 1, data.len()));
        }
        headers.push("content-length", body.len().to_string());
        let (chunks, end) = match fault {
            Fault::Cut(f) => (vec![body[..body.len() * f as usize / 1000].to_vec()], Some(TransportError::new(TransportErrorKind::Broken, "reset"))),
            Fault::Short(f) => (vec![body[..body.len() * f as usize / 1000].to_vec()], None),
            _ => (body.chunks(97).map(<[u8]>::to_vec).collect(), None),
        };
        Ok((ResponseHead { status, headers }, FakeBody::new(chunks, end)))
    }
}

struct Plain;

impl Store for Plain {
    fn sign(&mut self, _req: &mut Request) -> Result<()> {
        Ok(())
    }
    fn parse_error(&self, status: u16, _h: &Headers, _b: &[u8], _t: bool) -> Error {
        Error::network(format!("HTTP {status}"))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn faults_never_yield_a_wrong_object(
        a in prop::collection::vec(any::<u8>(), 1..3000),
        b in prop::collection::vec(any::<u8>(), 1..3000),
        faults in prop::collection::vec(fault(), 0..12),
    ) {
        prop_assume!(a != b);
        let mut server = Server { versions: [a.clone(), b.clone()], current: 0, faults: faults.into() };
        let mut opts = DownloadOptions::new(Scheme::Https, "h", "/k");
        opts.retry.max_retries = 20;
        opts.retry.max_attempts = 40;
        let mut out = Vec::new();
        let r = download(&mut server, &mut Plain, &mut FakeSleeper::default(), &opts, &mut out, &mut |_, _| {});
        match r {
            Ok(o) => {
                prop_assert!(out == a || out == b, "a success delivered a mix of versions or a partial object");
                prop_assert_eq!(o.bytes as usize, out.len());
                prop_assert_eq!(o.verified, Some("md5-etag"));
            }
            Err(e) => prop_assert!(matches!(e.kind, ErrorKind::Integrity | ErrorKind::Network), "{e}"),
        }
    }
}
