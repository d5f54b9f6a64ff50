//! Recently seen public keys, so a busy licence's registrations do not each cost
//! a key lookup, and the active admin tokens' hashes, so the vendor's dashboard
//! does not either. Entries live [`KEY_CACHE_TTL`]: a key or token revoked (or a
//! key given a new limit) with the CLI stops working (or counts the new limit) on
//! a running server within that time. Unknown keys are never cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::store::{ActiveAdminToken, ActiveKey};

/// How long a looked-up key is trusted without asking the database again.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(2);
/// The most keys kept; past it the cache starts over (a flood of distinct keys
/// cannot grow memory).
const MAX_KEYS: usize = 10_000;

/// Public key → the active key it named, and when that was read.
#[derive(Debug, Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, (ActiveKey, Instant)>>,
}

impl KeyCache {
    /// The key, if it was read less than [`KEY_CACHE_TTL`] ago.
    pub fn get(&self, public_key: &str) -> Option<ActiveKey> {
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.get(public_key).filter(|(_, read_at)| read_at.elapsed() < KEY_CACHE_TTL).map(|(key, _)| key.clone())
    }

    /// Remembers a key just read from the database.
    pub fn insert(&self, public_key: &str, key: ActiveKey) {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= MAX_KEYS {
            entries.clear();
        }
        entries.insert(public_key.to_owned(), (key, Instant::now()));
    }
}

/// The active admin tokens (names, hashes, kinds), and when they were read.
#[derive(Debug, Default)]
pub struct AdminTokens {
    read: Mutex<Option<(Arc<[ActiveAdminToken]>, Instant)>>,
}

impl AdminTokens {
    /// The tokens, if they were read less than [`KEY_CACHE_TTL`] ago.
    pub fn get(&self) -> Option<Arc<[ActiveAdminToken]>> {
        let read = self.read.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        read.as_ref().filter(|(_, read_at)| read_at.elapsed() < KEY_CACHE_TTL).map(|(hashes, _)| hashes.clone())
    }

    /// Remembers the tokens just read from the database.
    pub fn set(&self, tokens: Arc<[ActiveAdminToken]>) {
        *self.read.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((tokens, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::KeyId;

    #[test]
    fn keys_are_remembered_until_the_ttl_and_the_size_is_bounded() {
        let cache = KeyCache::default();
        let key = ActiveKey { id: KeyId(1), monthly_limit: Some(5), allowed_origins: Arc::default() };
        assert_eq!(cache.get("rm_pub_a"), None);
        cache.insert("rm_pub_a", key.clone());
        assert_eq!(cache.get("rm_pub_a"), Some(key.clone()));
        cache.entries.lock().unwrap().get_mut("rm_pub_a").unwrap().1 = Instant::now() - KEY_CACHE_TTL;
        assert_eq!(cache.get("rm_pub_a"), None, "expired");
        for i in 0..MAX_KEYS + 1 {
            cache.insert(&format!("rm_pub_{i}"), key.clone());
        }
        assert!(cache.entries.lock().unwrap().len() <= MAX_KEYS);
    }

    #[test]
    fn admin_tokens_are_remembered_until_the_ttl() {
        let cache = AdminTokens::default();
        assert!(cache.get().is_none());
        let token = ActiveAdminToken { name: "vendor".into(), token_hash: "hash".into(), read_only: false };
        cache.set(Arc::from(vec![token.clone()]));
        assert_eq!(cache.get().as_deref(), Some(&[token][..]));
        cache.read.lock().unwrap().as_mut().unwrap().1 = Instant::now() - KEY_CACHE_TTL;
        assert!(cache.get().is_none(), "expired");
    }
}
