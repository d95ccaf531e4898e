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

use std::time::SystemTime;

use scheme_plugin_kit::credentials::{key_pair, redacted_debug, KeyMaterial, MetadataCache};
use scheme_plugin_kit::env::Env;
use scheme_plugin_kit::http::Transport;
use scheme_plugin_kit::text::escape;
use scheme_plugin_kit::{Error, ErrorKind, Result};

use crate::profile::{Profile, Section};
use crate::settings::{self as s, var};

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
        redacted_debug(f, &self.source, self.session_token.is_some(), self.expires_at)
    }
}

impl KeyMaterial for Credentials {
    fn secrets(&self) -> Vec<&str> {
        [Some(self.access_key.as_str()), Some(self.secret_key.as_str()), self.session_token.as_deref()].into_iter().flatten().collect()
    }

    fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }
}

fn unsupported(what: &str, instead: &str) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!("{what}, which this plugin does not support; {instead} (the AWS tools would use that source before any other, so the plugin stops rather than use another identity)"),
    )
}

/// A key pair from two named values; one without the other is a configuration error.
fn pair(ak: Option<String>, sk: Option<String>, token: Option<String>, source: Source, ak_name: &str, sk_name: &str) -> Result<Option<Credentials>> {
    let keys = key_pair(ak, sk, ak_name, sk_name, source.describe())?;
    Ok(keys.map(|(access_key, secret_key)| Credentials { access_key, secret_key, session_token: token, expires_at: None, source }))
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
pub type Resolved = scheme_plugin_kit::credentials::Resolved<Credentials>;

/// Metadata credentials live as long as the plugin instance (one host call); a call that
/// runs past their refresh point fetches new ones.
static METADATA_CACHE: MetadataCache<Credentials> = MetadataCache::new();

pub fn resolve<T: Transport>(env: &dyn Env, profile: &Profile, transport: &mut T) -> Result<Resolved> {
    if let Some(c) = from_static_sources(env, profile)? {
        return Ok(Resolved::found(c));
    }
    if s::flag(env, s::AWS_EC2_METADATA_DISABLED)? {
        return Ok(Resolved::anonymous("instance metadata disabled by AWS_EC2_METADATA_DISABLED"));
    }
    Ok(METADATA_CACHE.get_or_fetch(env.now(), |now| imds::fetch(transport, now).map_err(|why| imds::describe(&why))))
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
    found.extend(METADATA_CACHE.secrets());
    found
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
