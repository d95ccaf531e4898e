//! Response construction shared by all operations: common headers, error documents.

use std::time::SystemTime;

use base64::Engine;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, DATE, SERVER};
use http::{HeaderValue, Response, StatusCode};

use crate::body::ResponseBody;
use crate::obs_error::ObsError;
use crate::protocol::Protocol;

/// Response extension carrying the OBS error code into the request log.
#[derive(Debug, Clone)]
pub struct ErrorCode(pub String);

/// Facts about the request that every answer needs.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub request_id: String,
    /// Server time for this request (possibly skewed by a fault): the `Date` header.
    pub now: SystemTime,
    /// Shown in `<Resource>` of error documents.
    pub resource: String,
    pub is_head: bool,
    /// The dialect of the answer: request-id headers and error documents.
    pub protocol: Protocol,
}

impl Exchange {
    pub fn host_id(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!("obs-server/{}", self.request_id))
    }

    /// A builder with the request id headers (`x-obs-request-id`/`x-obs-id-2`, or
    /// `x-amz-request-id`/`x-amz-id-2` for S3), `Date` and `Server`.
    pub fn builder(&self, status: StatusCode) -> http::response::Builder {
        Response::builder()
            .status(status)
            .header(self.protocol.request_id_header(), &self.request_id)
            .header(self.protocol.id2_header(), self.host_id())
            .header(DATE, httpdate::fmt_http_date(self.now))
            .header(SERVER, self.protocol.server_name())
    }

    /// Finishes a builder; a header that fails to encode is a bug in this server, reported as
    /// a 500 rather than a panic in a connection task.
    pub fn finish(
        &self,
        builder: http::response::Builder,
        body: ResponseBody,
    ) -> Response<ResponseBody> {
        match builder.body(body) {
            Ok(resp) => resp,
            Err(e) => self.error(&ObsError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                format!("response could not be built: {e}"),
            )),
        }
    }

    /// An OBS (or S3) XML error; HEAD answers carry the status and headers only.
    pub fn error(&self, err: &ObsError) -> Response<ResponseBody> {
        let xml = match self.protocol {
            Protocol::Obs => err.to_xml(&self.request_id, &self.host_id(), &self.resource),
            Protocol::S3 => err.to_s3_xml(&self.request_id, &self.host_id()),
        };
        let mut builder = self
            .builder(err.status)
            .header(CONTENT_TYPE, "application/xml");
        if self.protocol == Protocol::Obs {
            builder = builder.header(
                "x-obs-error-code",
                HeaderValue::from_str(&err.code).unwrap_or(HeaderValue::from_static("Unknown")),
            );
        }
        if self.is_head {
            builder = builder.header(CONTENT_LENGTH, 0);
        } else {
            builder = builder.header(CONTENT_LENGTH, xml.len());
        }
        let body = if self.is_head {
            ResponseBody::Empty
        } else {
            ResponseBody::full(xml)
        };
        let mut resp = builder.body(body).unwrap_or_else(|_| {
            let mut plain = Response::new(ResponseBody::Empty);
            *plain.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            plain
        });
        resp.extensions_mut().insert(ErrorCode(err.code.clone()));
        resp
    }
}
