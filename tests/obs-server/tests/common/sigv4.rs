//! An independent Signature V4 signer for the raw client (the server's own code is never
//! used to sign what it checks). Requests are signed at a fixed instant; tests pin the server
//! clock to it.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::Req;

/// 2024-10-15T07:20:09Z, as Unix seconds and in the two text forms.
pub const AT_UNIX: i64 = 1_728_976_809;
pub const AT: &str = "20241015T072009Z";
pub const DAY: &str = "20241015";
pub const REGION: &str = "us-east-1";
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

pub fn signing_key(sk: &str) -> Vec<u8> {
    let k = hmac(format!("AWS4{sk}").as_bytes(), DAY);
    let k = hmac(&k, REGION);
    let k = hmac(&k, "s3");
    hmac(&k, "aws4_request")
}

pub fn scope() -> String {
    format!("{DAY}/{REGION}/s3/aws4_request")
}

pub fn sign(sk: &str, string_to_sign: &str) -> String {
    hex::encode(hmac(&signing_key(sk), string_to_sign))
}

/// Canonical query of a target's query part, which tests write already encoded.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("X-Amz-Signature="))
        .map(|p| {
            if p.contains('=') {
                p.to_string()
            } else {
                format!("{p}=")
            }
        })
        .collect();
    pairs.sort();
    pairs.join("&")
}

impl Req {
    /// Signs with `Authorization: AWS4-HMAC-SHA256`, covering `host`, every `x-amz-*` header
    /// and the given `x-amz-content-sha256`. The target must be canonically encoded.
    pub fn signed_v4(self, ak: &str, sk: &str, host: &str, payload_hash: &str) -> Self {
        let req = self
            .header("x-amz-date", AT)
            .header("x-amz-content-sha256", payload_hash);
        let mut signed: Vec<(String, String)> = req
            .headers
            .iter()
            .filter(|(n, _)| n.to_ascii_lowercase().starts_with("x-amz-"))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        signed.push(("host".into(), host.into()));
        signed.sort();
        let names: Vec<&str> = signed.iter().map(|(n, _)| n.as_str()).collect();
        let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
        let canonical = format!(
            "{}\n{path}\n{}\n{}\n{}\n{payload_hash}",
            req.method,
            canonical_query(query),
            signed
                .iter()
                .map(|(n, v)| format!("{n}:{v}\n"))
                .collect::<String>(),
            names.join(";"),
        );
        let sts = format!(
            "AWS4-HMAC-SHA256\n{AT}\n{}\n{}",
            scope(),
            sha256_hex(canonical.as_bytes())
        );
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={ak}/{}, SignedHeaders={}, Signature={}",
            scope(),
            names.join(";"),
            sign(sk, &sts)
        );
        req.header("Authorization", &auth)
    }

    /// Turns the target into a presigned URL (host signed only, unsigned payload).
    pub fn presigned_v4(mut self, ak: &str, sk: &str, host: &str, expires: u64) -> Self {
        let (path, query) = self
            .target
            .split_once('?')
            .map(|(p, q)| (p.to_string(), q.to_string()))
            .unwrap_or((self.target.clone(), String::new()));
        let mut params = format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={ak}%2F{DAY}%2F{REGION}%2Fs3%2Faws4_request\
             &X-Amz-Date={AT}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host"
        );
        if !query.is_empty() {
            params = format!("{query}&{params}");
        }
        let canonical = format!(
            "{}\n{path}\n{}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD",
            self.method,
            canonical_query(&params)
        );
        let sts = format!(
            "AWS4-HMAC-SHA256\n{AT}\n{}\n{}",
            scope(),
            sha256_hex(canonical.as_bytes())
        );
        self.target = format!("{path}?{params}&X-Amz-Signature={}", sign(sk, &sts));
        self
    }
}

/// An aws-chunked body with signed chunks of `chunk` bytes, chained from `seed`.
pub fn signed_chunks(sk: &str, seed: &str, data: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut previous = seed.to_string();
    let mut pieces: Vec<&[u8]> = data.chunks(chunk).collect();
    pieces.push(&[]);
    for piece in pieces {
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{AT}\n{}\n{previous}\n{EMPTY_SHA256}\n{}",
            scope(),
            sha256_hex(piece)
        );
        previous = sign(sk, &sts);
        out.extend_from_slice(
            format!("{:x};chunk-signature={previous}\r\n", piece.len()).as_bytes(),
        );
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The signature a signed header carries (the seed of its chunk chain).
pub fn signature_of(req: &Req) -> String {
    req.headers
        .iter()
        .find(|(n, _)| n == "Authorization")
        .and_then(|(_, v)| v.split("Signature=").nth(1))
        .expect("a V4-signed request")
        .to_string()
}
