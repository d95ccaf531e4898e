//! One upload call's means: the object's URL and headers, the signing store, the retry
//! settings (all from [`UploadRemote::prepare_upload`]), and the requests built from them.

use super::UploadRemote;
use crate::encode::encode_component;
use crate::env::Env;
use crate::http::{exchange, Attempt, DownloadOptions, ExchangeOptions, Exchanged, Method, Request, SmallResponse, Store, Transport, Verdict};
use crate::ops::{Call, Fetch};
use crate::retry::Sleeper;
use crate::{Error, PackageFormat, Result};

/// The `Content-Type` an object gets: the registered media type of its format, where there
/// is one (RFC 6713 for gzip); `.tar.xz` and `.whl` have none.
pub fn content_type(format: PackageFormat) -> &'static str {
    match format {
        PackageFormat::Zip => "application/zip",
        PackageFormat::TarGz => "application/gzip",
        PackageFormat::TarXz | PackageFormat::Wheel => "application/octet-stream",
    }
}

pub(super) struct Session<'a> {
    opts: DownloadOptions,
    store: Box<dyn Store + 'a>,
}

impl<'a> Session<'a> {
    pub(super) fn open<R: UploadRemote, T: Transport>(remote: &'a R, env: &'a dyn Env, transport: &mut T) -> Result<Session<'a>> {
        let Fetch { opts, store, credential_source: _ } = remote.prepare_upload(env, transport)?;
        Ok(Session { opts, store })
    }

    /// A request for the object with the sub-resources `query` (values encoded here), and
    /// the headers every request of the call carries.
    pub(super) fn request(&self, method: Method, query: &[(&str, Option<&str>)]) -> Request {
        let mut path = self.opts.path_and_query.clone();
        for (k, v) in query {
            path.push(if path.contains('?') { '&' } else { '?' });
            path.push_str(k);
            if let Some(v) = v {
                path.push('=');
                path.push_str(&encode_component(v));
            }
        }
        let mut req = Request::new(method, self.opts.scheme, self.opts.authority.clone(), path);
        for (k, v) in &self.opts.headers {
            req.set_header(k, v.clone());
        }
        req
    }

    pub(super) fn send<T: Transport, Z: Sleeper, V>(
        &mut self,
        call: &mut Call<'_, T, Z>,
        req: &Request,
        judge: impl FnMut(&SmallResponse, &(dyn Store + 'a), Attempt) -> Verdict<V>,
    ) -> Result<Exchanged<V>> {
        let opts = ExchangeOptions { timeouts: self.opts.timeouts, retry: self.opts.retry };
        exchange(call.transport, &mut *self.store, call.sleeper, &opts, req, judge)
    }
}

/// An upload id as the host hands it back: what `begin_multipart` returned, so anything
/// else is a bug on the way.
pub(super) fn check_upload_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > super::xml::MAX_VALUE_BYTES || id.chars().any(char::is_control) {
        return Err(Error::internal("the upload id is empty, too long or holds control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Scheme;
    use crate::ErrorKind;

    struct NoStore;
    impl Store for NoStore {
        fn sign(&mut self, _: &mut Request) -> Result<()> {
            Ok(())
        }
        fn parse_error(&self, status: u16, _: &crate::http::Headers, _: &[u8], _: bool) -> Error {
            Error::internal(format!("{status}"))
        }
    }

    fn session() -> Session<'static> {
        let mut opts = DownloadOptions::new(Scheme::Https, "b.store.test", "/dir/k%20x.zip");
        opts.headers.push(("User-Agent".into(), "kit-test".into()));
        Session { opts, store: Box::new(NoStore) }
    }

    #[test]
    fn sub_resources_are_encoded_onto_the_object_path() {
        let s = session();
        let r = s.request(Method::Post, &[("uploads", None)]);
        assert_eq!((r.method, r.url().as_str()), (Method::Post, "https://b.store.test/dir/k%20x.zip?uploads"));
        assert_eq!(r.header("user-agent"), Some("kit-test"));
        let r = s.request(Method::Put, &[("partNumber", Some("7")), ("uploadId", Some("a/b+c=d~_.-"))]);
        assert_eq!(r.path_and_query, "/dir/k%20x.zip?partNumber=7&uploadId=a%2Fb%2Bc%3Dd~_.-");
        assert_eq!(s.request(Method::Head, &[]).path_and_query, "/dir/k%20x.zip");
    }

    #[test]
    fn content_types_by_format() {
        assert_eq!(content_type(PackageFormat::Zip), "application/zip");
        assert_eq!(content_type(PackageFormat::TarGz), "application/gzip");
        assert_eq!(content_type(PackageFormat::Wheel), "application/octet-stream");
    }

    #[test]
    fn upload_ids_from_the_host_are_checked() {
        assert!(check_upload_id("2~abc.DEF_-/+=").is_ok());
        for bad in ["", "a\nb", &"x".repeat(2000)] {
            assert_eq!(check_upload_id(bad).unwrap_err().kind, ErrorKind::Internal);
        }
    }
}
