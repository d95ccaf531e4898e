//! [`Transport`] over `wasi:http/outgoing-handler`.

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, IncomingResponse, Method as WMethod, OutgoingBody, OutgoingRequest, RequestOptions,
    Scheme as WScheme,
};
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

use super::transport::{Body, Transport};
use super::types::{Headers, Method, Request, ResponseHead, Scheme, Timeouts, TransportError, TransportErrorKind};

#[derive(Debug, Default, Clone, Copy)]
pub struct WasiTransport;

/// The stream must be dropped before its body, and the body before the response: the
/// field order here is the drop order.
pub struct WasiBody {
    stream: Option<InputStream>,
    _body: IncomingBody,
    _response: IncomingResponse,
}

impl Transport for WasiTransport {
    type Body = WasiBody;

    fn send(&mut self, req: &Request, timeouts: &Timeouts) -> Result<(ResponseHead, WasiBody), TransportError> {
        let entries: Vec<(String, Vec<u8>)> =
            req.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec())).collect();
        let fields = Fields::from_list(&entries)
            .map_err(|e| TransportError::new(TransportErrorKind::Other, format!("request header rejected: {e:?}")))?;
        let out = OutgoingRequest::new(fields);
        let invalid = |what: &str| TransportError::new(TransportErrorKind::Other, format!("invalid request {what}"));
        out.set_method(&match req.method {
            Method::Get => WMethod::Get,
            Method::Head => WMethod::Head,
            Method::Put => WMethod::Put,
            Method::Post => WMethod::Post,
            Method::Delete => WMethod::Delete,
        })
        .map_err(|()| invalid("method"))?;
        out.set_scheme(Some(&match req.scheme {
            Scheme::Http => WScheme::Http,
            Scheme::Https => WScheme::Https,
        }))
        .map_err(|()| invalid("scheme"))?;
        out.set_authority(Some(&req.authority)).map_err(|()| invalid("authority"))?;
        out.set_path_with_query(Some(&req.path_and_query)).map_err(|()| invalid("path"))?;

        let opts = RequestOptions::new();
        // A runtime that does not support a timeout keeps its own; that is not fatal.
        let _ = opts.set_connect_timeout(Some(nanos(timeouts.connect)));
        let _ = opts.set_first_byte_timeout(Some(nanos(timeouts.first_byte)));
        let _ = opts.set_between_bytes_timeout(Some(nanos(timeouts.between_bytes)));

        let body = out.body().map_err(|()| invalid("body"))?;
        // The body is written once the request is under way: the runtime buffers little of
        // it, so writing first would block on a request nobody is sending yet.
        let future = outgoing_handler::handle(out, Some(opts)).map_err(|e| map_code(&e))?;
        // Whether every byte was handed to the runtime: a failure while some were still
        // unwritten means the body did not all go out. A failure of the final flush or of
        // `finish` after that is what a store that answers as soon as it has read the
        // declared length looks like (the runtime then drops the body's receiver): its
        // answer decides.
        let handed_over = match &req.body {
            Some(bytes) => write_body(&body, bytes.as_slice()),
            None => Ok(()),
        };
        let cut_short = handed_over.as_ref().is_err_and(|e| !e.all_written);
        let finished = match handed_over {
            Ok(()) => OutgoingBody::finish(body, None).map_err(|e| map_code(&e)),
            Err(e) if !cut_short => {
                let _ = OutgoingBody::finish(body, None);
                Err(e.error)
            }
            Err(BodyError { error: e, .. }) => {
                // Dropped unfinished, the body aborts the request, which then ends promptly
                // instead of waiting for bytes that will never come.
                drop(body);
                Err(e)
            }
        };

        let response = loop {
            match future.get() {
                Some(Ok(Ok(r))) => break r,
                // The connection's own error says more than a write that found it closed.
                Some(Ok(Err(e))) => return Err(map_code(&e)),
                Some(Err(())) => return Err(TransportError::new(TransportErrorKind::Other, "response already taken")),
                None => future.subscribe().block(),
            }
        };
        // A store may refuse before it read the whole body (bad signature, no such bucket):
        // that answer is what the caller needs. Success for a body that did not all go out
        // cannot be trusted.
        if let Err(e) = finished
            && cut_short
            && (200..300).contains(&response.status())
        {
            return Err(e);
        }
        let status = response.status();
        let mut headers = Headers::new();
        for (name, value) in response.headers().entries() {
            headers.push(&name, value);
        }
        let body = response.consume().map_err(|()| TransportError::new(TransportErrorKind::Other, "response body already taken"))?;
        let stream = body.stream().map_err(|()| TransportError::new(TransportErrorKind::Other, "response stream already taken"))?;
        Ok((ResponseHead { status, headers }, WasiBody { stream: Some(stream), _body: body, _response: response }))
    }
}

/// Why a request body did not all go out cleanly.
struct BodyError {
    error: TransportError,
    /// Every byte had been written: only the final flush failed.
    all_written: bool,
}

/// Writes `bytes` to the request's body stream in the largest pieces the runtime accepts
/// (`check-write`; writing more than it allows traps), waiting whenever its buffer is full.
fn write_body(body: &OutgoingBody, bytes: &[u8]) -> Result<(), BodyError> {
    let stream = body.write().map_err(|()| BodyError {
        error: TransportError::new(TransportErrorKind::Other, "request body stream already taken"),
        all_written: false,
    })?;
    let result = write_all(&stream, bytes);
    // The stream is a child of the body: it must go before the body is finished.
    drop(stream);
    result
}

fn write_all(stream: &OutputStream, mut rest: &[u8]) -> Result<(), BodyError> {
    let midway = |e: &StreamError| BodyError { error: write_error(e), all_written: false };
    while !rest.is_empty() {
        let permitted = stream.check_write().map_err(|e| midway(&e))?;
        if permitted == 0 {
            stream.subscribe().block();
            continue;
        }
        let n = rest.len().min(usize::try_from(permitted).unwrap_or(usize::MAX));
        stream.write(&rest[..n]).map_err(|e| midway(&e))?;
        rest = &rest[n..];
    }
    stream.blocking_flush().map_err(|e| BodyError { error: write_error(&e), all_written: true })
}

fn write_error(e: &StreamError) -> TransportError {
    match e {
        StreamError::Closed => TransportError::new(TransportErrorKind::Broken, "the connection closed while the request body was being sent"),
        StreamError::LastOperationFailed(e) => match wasip2::http::types::http_error_code(e) {
            Some(code) => map_code(&code),
            None => TransportError::new(TransportErrorKind::Broken, e.to_debug_string()),
        },
    }
}

impl Body for WasiBody {
    fn read_chunk(&mut self, max: usize) -> Result<Option<Vec<u8>>, TransportError> {
        let Some(stream) = self.stream.as_ref() else { return Ok(None) };
        loop {
            match stream.blocking_read(max as u64) {
                // A zero-length read is legal and means "nothing yet", not the end.
                Ok(chunk) if chunk.is_empty() => continue,
                Ok(chunk) => return Ok(Some(chunk)),
                Err(StreamError::Closed) => {
                    self.stream = None;
                    return Ok(None);
                }
                Err(StreamError::LastOperationFailed(e)) => {
                    self.stream = None;
                    return Err(match wasip2::http::types::http_error_code(&e) {
                        Some(code) => map_code(&code),
                        None => TransportError::new(TransportErrorKind::Broken, e.to_debug_string()),
                    });
                }
            }
        }
    }
}

fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn map_code(e: &ErrorCode) -> TransportError {
    use TransportErrorKind as K;
    let kind = match e {
        ErrorCode::DnsTimeout => K::Timeout,
        ErrorCode::DnsError(_) | ErrorCode::DestinationNotFound => K::Dns,
        ErrorCode::DestinationUnavailable
        | ErrorCode::DestinationIpUnroutable
        | ErrorCode::ConnectionRefused
        | ErrorCode::ConnectionLimitReached => K::Connect,
        ErrorCode::DestinationIpProhibited | ErrorCode::HttpRequestDenied => K::Denied,
        ErrorCode::ConnectionTerminated | ErrorCode::HttpResponseIncomplete => K::Broken,
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout => K::Timeout,
        ErrorCode::TlsProtocolError | ErrorCode::TlsCertificateError | ErrorCode::TlsAlertReceived(_) => K::Tls,
        ErrorCode::HttpProtocolError | ErrorCode::HttpResponseTransferCoding(_) => K::Protocol,
        // Oversized headers come back the same every time: not worth a retry.
        _ => K::Other,
    };
    // The runtime's description never contains our request headers, so it is safe to show.
    TransportError::new(kind, format!("{e:?}"))
}
