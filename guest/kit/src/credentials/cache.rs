//! The metadata-service end of a credential chain: temporary credentials kept for the rest
//! of the plugin instance's life (one host call), so every request and every part of a call
//! signs with the same ones, and fetched again once they are about to lapse.

use std::fmt::Display;
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use super::KeyMaterial;

/// The outcome of a whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved<C> {
    pub credentials: Option<C>,
    /// Why the metadata service gave nothing, for the anonymous-access message.
    pub metadata_note: Option<String>,
}

impl<C> Resolved<C> {
    pub fn found(credentials: C) -> Self {
        Resolved { credentials: Some(credentials), metadata_note: None }
    }

    /// No credentials: requests go unsigned, and a refusal tells the user `why`.
    pub fn anonymous(why: impl Into<String>) -> Self {
        Resolved { credentials: None, metadata_note: Some(why.into()) }
    }
}

/// A plugin's metadata credentials, held in a `static`: the cache is process-wide.
pub struct MetadataCache<C> {
    slot: Mutex<Option<C>>,
}

impl<C> MetadataCache<C> {
    pub const fn new() -> Self {
        MetadataCache { slot: Mutex::new(None) }
    }

    // A test that panicked holding the lock leaves nothing half-written: the slot is
    // replaced whole.
    fn lock(&self) -> MutexGuard<'_, Option<C>> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<C> Default for MetadataCache<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: KeyMaterial + Clone> MetadataCache<C> {
    /// The cached credentials while they are fresh at `now`, else what `fetch` gets, kept for
    /// next time. A failed fetch empties the cache and the chain ends anonymously, with the
    /// reason. The lock is held across `fetch` so that concurrent parts ask the service once.
    pub fn get_or_fetch<E: Display>(&self, now: SystemTime, fetch: impl FnOnce(SystemTime) -> Result<C, E>) -> Resolved<C> {
        let mut slot = self.lock();
        if let Some(c) = slot.as_ref().filter(|c| c.fresh(now)) {
            return Resolved::found(c.clone());
        }
        match fetch(now) {
            Ok(c) => {
                *slot = Some(c.clone());
                Resolved::found(c)
            }
            Err(why) => {
                *slot = None;
                Resolved::anonymous(why.to_string())
            }
        }
    }

    /// The secrets of the cached credentials: an earlier request of this call may have sent
    /// them, so they belong to what every error is scrubbed of.
    pub fn secrets(&self) -> Vec<String> {
        self.lock().as_ref().map(|c| c.secrets().into_iter().map(String::from).collect()).unwrap_or_default()
    }
}

/// Serialises the tests that use a process-wide cache (tests run in parallel).
#[cfg(any(test, feature = "testing"))]
static ISOLATION: Mutex<()> = Mutex::new(());

/// A cache a test has to itself: empty when taken, emptied again when dropped.
#[cfg(any(test, feature = "testing"))]
pub struct Isolated<'a, C> {
    cache: &'a MetadataCache<C>,
    _serial: MutexGuard<'static, ()>,
}

#[cfg(any(test, feature = "testing"))]
impl<C> MetadataCache<C> {
    /// For a test: waits until no other test holds an [`Isolated`] cache, then empties this
    /// one for the test's duration.
    pub fn isolated(&self) -> Isolated<'_, C> {
        let serial = ISOLATION.lock().unwrap_or_else(|p| p.into_inner());
        *self.lock() = None;
        Isolated { cache: self, _serial: serial }
    }
}

#[cfg(any(test, feature = "testing"))]
impl<C> Drop for Isolated<'_, C> {
    // Runs before the fields drop, so the cache is empty before the next test may start.
    fn drop(&mut self) {
        *self.cache.lock() = None;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::credentials::REFRESH_MARGIN;

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Temp {
        key: &'static str,
        expires_at: SystemTime,
    }

    impl KeyMaterial for Temp {
        fn secrets(&self) -> Vec<&str> {
            vec![self.key]
        }
        fn expires_at(&self) -> Option<SystemTime> {
            Some(self.expires_at)
        }
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn fresh_credentials_are_served_from_the_cache() {
        let cache = MetadataCache::new();
        let hour = at(3600);
        let r = cache.get_or_fetch(at(0), |_| Ok::<_, String>(Temp { key: "K1", expires_at: hour }));
        assert_eq!(r, Resolved::found(Temp { key: "K1", expires_at: hour }));
        let r = cache.get_or_fetch(at(60), |_| -> Result<Temp, String> { panic!("fetched although cached") });
        assert_eq!(r.credentials.unwrap().key, "K1");
        assert_eq!(cache.secrets(), vec!["K1".to_string()]);
    }

    #[test]
    fn credentials_about_to_lapse_are_fetched_again() {
        let cache = MetadataCache::new();
        let lapse = at(3600);
        cache.get_or_fetch(at(0), |_| Ok::<_, String>(Temp { key: "OLD", expires_at: lapse }));
        let near = lapse - REFRESH_MARGIN;
        let mut asked_at = None;
        let r = cache.get_or_fetch(near, |now| {
            asked_at = Some(now);
            Ok::<_, String>(Temp { key: "NEW", expires_at: at(7200) })
        });
        assert_eq!((r.credentials.unwrap().key, asked_at), ("NEW", Some(near)));
        assert_eq!(cache.secrets(), vec!["NEW".to_string()]);
    }

    #[test]
    fn a_failed_fetch_empties_the_cache_and_says_why() {
        let cache = MetadataCache::new();
        cache.get_or_fetch(at(0), |_| Ok::<_, String>(Temp { key: "K1", expires_at: at(600) }));
        let r = cache.get_or_fetch(at(590), |_| Err::<Temp, _>("service not reachable"));
        assert_eq!(r, Resolved::anonymous("service not reachable"));
        assert!(cache.secrets().is_empty());
    }

    #[test]
    fn an_isolated_cache_starts_and_ends_empty() {
        static CACHE: MetadataCache<Temp> = MetadataCache::new();
        CACHE.get_or_fetch(at(0), |_| Ok::<_, String>(Temp { key: "LEFT", expires_at: at(3600) }));
        {
            let _cache = CACHE.isolated();
            assert!(CACHE.secrets().is_empty());
            CACHE.get_or_fetch(at(0), |_| Ok::<_, String>(Temp { key: "MINE", expires_at: at(3600) }));
        }
        assert!(CACHE.secrets().is_empty());
    }
}
