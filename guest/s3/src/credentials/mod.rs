//! Where credentials come from, in the AWS tools' order, first match wins:
//!
//! 1. `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` (or the older
//!    `AWS_SECURITY_TOKEN`)
//! 2. the profile (`AWS_PROFILE`, else `default`): keys in `~/.aws/credentials`, then in
//!    `~/.aws/config`
//! 3. the EC2 instance metadata service (IMDSv2, IMDSv1 as fallback), unless
//!    `AWS_EC2_METADATA_DISABLED=true`
//! 4. none: anonymous requests
//!
//! Where the AWS tools would use a source this plugin does not implement (assume-role, web
//! identity, SSO, `credential_process`, container credentials), the call stops with
//! `unsupported` instead of going on with another identity. So does a half-configured
//! source (a key without its secret): `bad-credentials`.

pub mod imds;

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use scheme_plugin_kit::env::Env;
use scheme_plugin_kit::http::Transport;
use scheme_plugin_kit::text::escape;
use scheme_plugin_kit::{Error, ErrorKind, Result};

use crate::profile::{Profile, Section};
use crate::settings::{self as s, var};

/// Temporary credentials are refreshed this long before they expire, so a signature made
/// now is still valid when a slow request reaches the store.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Environment,
    CredentialsFile,
    ConfigFile,
    InstanceMetadata,
}

impl Source {
    pub fn describe(self) -> &'static str {
        match self {
            Source::Environment => "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
            Source::CredentialsFile => "~/.aws/credentials (AWS_SHARED_CREDENTIALS_FILE)",
            Source::ConfigFile => "~/.aws/config (AWS_CONFIG_FILE)",
            Source::InstanceMetadata => "EC2 instance metadata (IMDS)",
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    pub session_token: Option<String>,
    pub expires_at: Option<SystemTime>,
    pub source: Source,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("source", &self.source)
            .field("token", &self.session_token.is_some())
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    fn fresh(&self, now: SystemTime) -> bool {
        self.expires_at.is_none_or(|e| e > now + REFRESH_MARGIN)
    }

    /// Strings no message may contain.
    pub fn secrets(&self) -> Vec<&str> {
        let mut v = vec![self.access_key.as_str(), self.secret_key.as_str()];
        if let Some(t) = &self.session_token {
            v.push(t);
        }
        v
    }
}

fn bad(m: String) -> Error {
    Error::new(ErrorKind::BadCredentials, m)
}

fn unsupported(what: &str, instead: &str) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!("{what}, which this plugin does not support; {instead} (the AWS tools would use that source before any other, so the plugin stops rather than use another identity)"),
    )
}

/// A key pair from two named values; one without the other is a configuration error.
fn pair(ak: Option<String>, sk: Option<String>, token: Option<String>, source: Source, ak_name: &str, sk_name: &str) -> Result<Option<Credentials>> {
    match (ak, sk) {
        (Some(access_key), Some(secret_key)) => Ok(Some(Credentials { access_key, secret_key, session_token: token, expires_at: None, source })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(bad(format!("{ak_name} is set but {sk_name} is not ({})", source.describe()))),
        (None, Some(_)) => Err(bad(format!("{sk_name} is set but {ak_name} is not ({})", source.describe()))),
    }
}

/// The keys of one file's profile section.
fn from_section(section: Option<&Section>, source: Source) -> Result<Option<Credentials>> {
    let Some(sec) = section else { return Ok(None) };
    let get = |k: &str| sec.get(k).map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    let token = get("aws_session_token").or_else(|| get("aws_security_token"));
    pair(get("aws_access_key_id"), get("aws_secret_access_key"), token, source, "aws_access_key_id", "aws_secret_access_key")
}

/// What the chain found before the network: credentials, or nothing (then the metadata
/// service is next).
pub fn from_static_sources(env: &dyn Env, profile: &Profile) -> Result<Option<Credentials>> {
    let token = var(env, s::AWS_SESSION_TOKEN).or_else(|| var(env, s::AWS_SECURITY_TOKEN));
    if let Some(c) = pair(var(env, s::AWS_ACCESS_KEY_ID), var(env, s::AWS_SECRET_ACCESS_KEY), token, Source::Environment, s::AWS_ACCESS_KEY_ID, s::AWS_SECRET_ACCESS_KEY)? {
        return Ok(Some(c));
    }
    let named = escape(&profile.name);
    if profile.get("role_arn").is_some() {
        return Err(unsupported(&format!("profile {named:?} assumes a role (role_arn)"), "export temporary keys as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN (e.g. from `aws configure export-credentials`)"));
    }
    if profile.get("web_identity_token_file").is_some() || (var(env, s::AWS_WEB_IDENTITY_TOKEN_FILE).is_some() && var(env, s::AWS_ROLE_ARN).is_some()) {
        return Err(unsupported("web identity federation is configured (AWS_WEB_IDENTITY_TOKEN_FILE/AWS_ROLE_ARN or web_identity_token_file)", "export temporary keys as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN"));
    }
    if profile.get("sso_session").is_some() || profile.get("sso_start_url").is_some() {
        return Err(unsupported(&format!("profile {named:?} signs in with IAM Identity Center (sso_*)"), "export temporary keys with `aws configure export-credentials --profile ...` into AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN"));
    }
    if let Some(c) = from_section(profile.credentials.as_ref(), Source::CredentialsFile)? {
        return Ok(Some(c));
    }
    if profile.get("credential_process").is_some() {
        return Err(unsupported(&format!("profile {named:?} runs a credential_process"), "a plugin cannot run programs: put keys in ~/.aws/credentials or the environment"));
    }
    if let Some(c) = from_section(profile.config.as_ref(), Source::ConfigFile)? {
        return Ok(Some(c));
    }
    if var(env, s::AWS_CONTAINER_CREDENTIALS_RELATIVE_URI).is_some() || var(env, s::AWS_CONTAINER_CREDENTIALS_FULL_URI).is_some() {
        return Err(unsupported("container credentials are configured (AWS_CONTAINER_CREDENTIALS_*_URI)", "export keys as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN"));
    }
    Ok(None)
}

/// The outcome of the whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub credentials: Option<Credentials>,
    /// Why the metadata service gave nothing, for the anonymous-access message.
    pub metadata_note: Option<String>,
}

/// Metadata credentials live as long as the plugin instance (one host call); a call that
/// runs past their refresh point fetches new ones.
static METADATA_CACHE: Mutex<Option<Credentials>> = Mutex::new(None);

pub fn resolve<T: Transport>(env: &dyn Env, profile: &Profile, transport: &mut T) -> Result<Resolved> {
    if let Some(c) = from_static_sources(env, profile)? {
        return Ok(Resolved { credentials: Some(c), metadata_note: None });
    }
    if s::flag(env, s::AWS_EC2_METADATA_DISABLED)? {
        return Ok(Resolved { credentials: None, metadata_note: Some("instance metadata disabled by AWS_EC2_METADATA_DISABLED".into()) });
    }
    let now = env.now();
    let mut cache = METADATA_CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = cache.as_ref().filter(|c| c.fresh(now)) {
        return Ok(Resolved { credentials: Some(c.clone()), metadata_note: None });
    }
    match imds::fetch(transport, now) {
        Ok(c) => {
            *cache = Some(c.clone());
            Ok(Resolved { credentials: Some(c), metadata_note: None })
        }
        Err(why) => {
            *cache = None;
            Ok(Resolved { credentials: None, metadata_note: Some(why.to_string()) })
        }
    }
}

/// Every secret this call may have sent, found without any I/O: whatever key material the
/// environment and the profile hold (whether or not it was the source used) and the
/// metadata credentials an earlier request of this call cached.
pub fn known_secrets(env: &dyn Env) -> Vec<String> {
    let mut found: Vec<String> = [s::AWS_ACCESS_KEY_ID, s::AWS_SECRET_ACCESS_KEY, s::AWS_SESSION_TOKEN, s::AWS_SECURITY_TOKEN]
        .into_iter()
        .filter_map(|name| var(env, name))
        .collect();
    if let Ok(p) = Profile::load(env) {
        for section in [&p.credentials, &p.config].into_iter().flatten() {
            for key in ["aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_security_token"] {
                found.extend(section.get(key).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()));
            }
        }
    }
    if let Some(c) = METADATA_CACHE.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        found.extend(c.secrets().into_iter().map(String::from));
    }
    found
}

#[cfg(test)]
pub(crate) fn clear_metadata_cache() {
    *METADATA_CACHE.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
