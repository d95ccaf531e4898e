//! Where credentials come from, first match wins:
//!
//! 1. `OBS_ACCESS_KEY_ID` / `OBS_SECRET_ACCESS_KEY` / `OBS_SECURITY_TOKEN`
//! 2. `HUAWEICLOUD_SDK_AK` / `HUAWEICLOUD_SDK_SK` / `HUAWEICLOUD_SDK_SECURITY_TOKEN`
//! 3. obsutil's config (`~/.obsutilconfig`, or `OBS_CONFIG_FILE`): `ak`, `sk`, `token`
//! 4. `~/.huaweicloud/credentials` (or `HUAWEICLOUD_SDK_CREDENTIALS_FILE`), section `[basic]`
//! 5. the ECS metadata service (temporary credentials), unless `OBS_METADATA_DISABLED=true`
//! 6. none: anonymous requests
//!
//! A source that is half configured (a key without its secret) or holds values obsutil has
//! encrypted is an error, not a reason to fall through: silently using a lower-priority
//! identity would be surprising.

pub mod files;
pub mod metadata;

use std::time::SystemTime;

use scheme_plugin_kit::credentials::{key_pair, redacted_debug, KeyMaterial, MetadataCache};
use scheme_plugin_kit::http::Transport;
use scheme_plugin_kit::{Error, Result};

use crate::env::Env;
use crate::settings::{self as s, var};

/// Config-file ids declared in `info()`; the host maps them to paths.
pub const OBSUTIL_CONFIG_ID: &str = "obsutil";
pub const HUAWEICLOUD_CREDENTIALS_ID: &str = "huaweicloud";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    ObsEnv,
    HuaweiCloudEnv,
    ObsutilConfig,
    HuaweiCloudCredentialsFile,
    EcsMetadata,
}

impl Source {
    pub fn describe(self) -> &'static str {
        match self {
            Source::ObsEnv => "OBS_ACCESS_KEY_ID/OBS_SECRET_ACCESS_KEY",
            Source::HuaweiCloudEnv => "HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK",
            Source::ObsutilConfig => "obsutil config (~/.obsutilconfig or OBS_CONFIG_FILE)",
            Source::HuaweiCloudCredentialsFile => "~/.huaweicloud/credentials [basic]",
            Source::EcsMetadata => "ECS metadata service",
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    pub security_token: Option<String>,
    pub expires_at: Option<SystemTime>,
    pub source: Source,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        redacted_debug(f, &self.source, self.security_token.is_some(), self.expires_at)
    }
}

impl KeyMaterial for Credentials {
    fn secrets(&self) -> Vec<&str> {
        [Some(self.access_key.as_str()), Some(self.secret_key.as_str()), self.security_token.as_deref()].into_iter().flatten().collect()
    }

    fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }
}

/// A key pair from two named values; one without the other is a configuration error.
fn pair(ak: Option<String>, sk: Option<String>, token: Option<String>, source: Source, ak_name: &str, sk_name: &str) -> Result<Option<Credentials>> {
    let keys = key_pair(ak, sk, ak_name, sk_name, source.describe())?;
    Ok(keys.map(|(access_key, secret_key)| Credentials { access_key, secret_key, security_token: token, expires_at: None, source }))
}

/// Sources 1-4: no network. `Ok(None)` means "try the metadata service next".
pub fn from_static_sources(env: &dyn Env) -> Result<Option<Credentials>> {
    let token = var(env, s::OBS_SECURITY_TOKEN);
    if let Some(c) = pair(var(env, s::OBS_ACCESS_KEY_ID), var(env, s::OBS_SECRET_ACCESS_KEY), token, Source::ObsEnv, s::OBS_ACCESS_KEY_ID, s::OBS_SECRET_ACCESS_KEY)? {
        return Ok(Some(c));
    }
    let token = var(env, s::HUAWEICLOUD_SDK_SECURITY_TOKEN);
    if let Some(c) = pair(var(env, s::HUAWEICLOUD_SDK_AK), var(env, s::HUAWEICLOUD_SDK_SK), token, Source::HuaweiCloudEnv, s::HUAWEICLOUD_SDK_AK, s::HUAWEICLOUD_SDK_SK)? {
        return Ok(Some(c));
    }
    if let Some(bytes) = env.config_file(OBSUTIL_CONFIG_ID) {
        let cfg = files::parse_obsutil(&bytes);
        let encrypted: Vec<&str> = [("ak", &cfg.ak), ("sk", &cfg.sk)]
            .into_iter()
            .filter(|(_, v)| v.as_deref().is_some_and(files::looks_encrypted))
            .map(|(k, _)| k)
            .collect();
        if !encrypted.is_empty() {
            return Err(Error::bad_credentials(format!(
                "the obsutil config holds {} encrypted by obsutil, which only obsutil itself can read; \
                 set OBS_ACCESS_KEY_ID/OBS_SECRET_ACCESS_KEY or put plaintext values in a separate file named by OBS_CONFIG_FILE",
                encrypted.join(" and ")
            )));
        }
        if let Some(c) = pair(cfg.ak, cfg.sk, cfg.token, Source::ObsutilConfig, "ak", "sk")? {
            return Ok(Some(c));
        }
    }
    if let Some(bytes) = env.config_file(HUAWEICLOUD_CREDENTIALS_ID) {
        let f = files::parse_sdk_credentials(&bytes);
        if let Some(c) = pair(f.ak, f.sk, f.security_token, Source::HuaweiCloudCredentialsFile, "ak", "sk")? {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// The outcome of the whole chain.
pub type Resolved = scheme_plugin_kit::credentials::Resolved<Credentials>;

/// Metadata credentials live as long as the plugin instance (one host call); a call that
/// runs past their refresh point fetches new ones.
static METADATA_CACHE: MetadataCache<Credentials> = MetadataCache::new();

pub fn resolve<T: Transport>(env: &dyn Env, transport: &mut T) -> Result<Resolved> {
    if let Some(c) = from_static_sources(env)? {
        return Ok(Resolved::found(c));
    }
    if s::flag(env, s::OBS_METADATA_DISABLED)? {
        return Ok(Resolved::anonymous("ECS metadata disabled by OBS_METADATA_DISABLED"));
    }
    Ok(METADATA_CACHE.get_or_fetch(env.now(), |now| metadata::fetch(transport, now).map_err(|why| metadata::describe(&why))))
}

/// Every secret this call may have sent, found without any I/O: the static sources and the
/// metadata credentials an earlier request of this call cached. A hostile endpoint can echo
/// the access key or token back (into an entry name, a redirect, a header), so the plugin
/// scrubs these from every error it returns.
pub fn known_secrets(env: &dyn Env) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    if let Ok(Some(c)) = from_static_sources(env) {
        found.extend(c.secrets().into_iter().map(String::from));
    }
    found.extend(METADATA_CACHE.secrets());
    found
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
