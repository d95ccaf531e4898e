//! Answers for terminal faults: error statuses, proxy pages, redirects, pages served as the
//! object.

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, ETAG, LAST_MODIFIED, LOCATION, RETRY_AFTER};
use http::{Response, StatusCode};
use md5::{Digest, Md5};

use crate::body::ResponseBody;
use crate::faults::Fault;
use crate::obs_error::ObsError;
use crate::respond::{ErrorCode, Exchange};

pub fn respond(ex: &Exchange, fault: &Fault) -> Response<ResponseBody> {
    match fault {
        Fault::Error {
            status,
            code,
            message,
            retry_after_secs,
        } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let message = message
                .clone()
                .unwrap_or_else(|| format!("injected fault {code}"));
            with_retry_after(
                ex.error(&ObsError::new(status, code.clone(), message)),
                *retry_after_secs,
            )
        }
        Fault::SlowDown { retry_after_secs } => slow_down(ex, *retry_after_secs),
        Fault::InternalError => ex.error(&ObsError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "We encountered an internal error. Please try again.",
        )),
        Fault::BadGateway => proxy_page(ex, StatusCode::BAD_GATEWAY),
        Fault::GatewayTimeout => proxy_page(ex, StatusCode::GATEWAY_TIMEOUT),
        Fault::Redirect { status, location } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::TEMPORARY_REDIRECT);
            let code = match status {
                StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT => {
                    "PermanentRedirect"
                }
                _ => "TemporaryRedirect",
            };
            let err = ObsError::new(
                status,
                code,
                "Please re-send this request to the specified endpoint.",
            )
            .with_extra("Endpoint", location.clone());
            let mut resp = ex.error(&err);
            if let Ok(value) = http::HeaderValue::from_str(location) {
                resp.headers_mut().insert(LOCATION, value);
            }
            resp
        }
        Fault::ErrorPage {
            status,
            content_type,
            body,
        } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::OK);
            let etag = format!("\"{}\"", hex::encode(Md5::digest(body.as_bytes())));
            let builder = ex
                .builder(status)
                .header(CONTENT_TYPE, content_type.as_str())
                .header(CONTENT_LENGTH, body.len())
                .header(ETAG, etag)
                .header(LAST_MODIFIED, httpdate::fmt_http_date(ex.now));
            let payload = if ex.is_head {
                ResponseBody::Empty
            } else {
                ResponseBody::full(body.clone())
            };
            ex.finish(builder, payload)
        }
        // Modifiers never reach here; answering 500 makes a wiring mistake visible in tests.
        other => ex.error(&ObsError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            format!("fault {} is not a terminal fault", other.name()),
        )),
    }
}

/// 503 `SlowDown`, for the `slow_down` fault and the rate limiter alike.
pub fn slow_down(ex: &Exchange, retry_after_secs: Option<u64>) -> Response<ResponseBody> {
    with_retry_after(
        ex.error(&ObsError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SlowDown",
            "Please reduce your request rate.",
        )),
        retry_after_secs,
    )
}

fn with_retry_after(mut resp: Response<ResponseBody>, secs: Option<u64>) -> Response<ResponseBody> {
    if let Some(secs) = secs {
        resp.headers_mut()
            .insert(RETRY_AFTER, http::HeaderValue::from(secs));
    }
    resp
}

/// The HTML a reverse proxy sends, not an OBS XML document.
fn proxy_page(ex: &Exchange, status: StatusCode) -> Response<ResponseBody> {
    let reason = status.canonical_reason().unwrap_or("Error");
    let html = format!(
        "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
        code = status.as_u16()
    );
    let builder = ex
        .builder(status)
        .header(CONTENT_TYPE, "text/html")
        .header(CONTENT_LENGTH, html.len());
    let body = if ex.is_head {
        ResponseBody::Empty
    } else {
        ResponseBody::full(html)
    };
    let mut resp = ex.finish(builder, body);
    resp.extensions_mut()
        .insert(ErrorCode(format!("Http{}", status.as_u16())));
    resp
}
