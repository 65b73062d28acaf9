//! A map from client dedup keys to the seq they produced, for one conversation, whose growth
//! does not hash its keys again.
//!
//! A `HashMap<String, u64>` re-hashes every key (SipHash over the whole string) each time it
//! doubles. A conversation gains a key per message, and conversations that start together grow
//! together, so under steady load every busy conversation re-hashed its ~900 keys within the
//! same second or two: about 5 % of a core in bursts on the socket's thread, a periodic source
//! of delivery stalls (docs/PERFORMANCE.md, "Stalls"). Here each key's hash is computed once,
//! with the map's own random SipHash keys (so client-chosen ids cannot be made to collide), and
//! kept beside it: growing the table only moves entries.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

/// Passes a `u64` key through as its own hash (the keys are already SipHash outputs).
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is reached for `u64` keys; kept correct for any other input.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Dedup key → seq, for one conversation. See the module docs.
#[derive(Default)]
pub struct DedupMap {
    /// This map's random SipHash keys.
    keys: RandomState,
    /// By the key's hash: the key and its seq.
    by_hash: HashMap<u64, (String, u64), BuildHasherDefault<PassThrough>>,
    /// Keys whose 64-bit hash another key already holds in `by_hash` (practically never).
    collided: HashMap<String, u64>,
}

impl DedupMap {
    pub fn new() -> Self {
        Self::default()
    }

    /// The seq the key produced, if it was seen.
    pub fn get(&self, key: &str) -> Option<u64> {
        match self.by_hash.get(&self.keys.hash_one(key)) {
            Some((k, seq)) if k == key => Some(*seq),
            Some(_) => self.collided.get(key).copied(),
            None => None,
        }
    }

    /// Records that `key` produced `seq` (replacing an earlier seq for it).
    pub fn insert(&mut self, key: String, seq: u64) {
        let hash = self.keys.hash_one(key.as_str());
        match self.by_hash.get_mut(&hash) {
            Some((k, s)) if *k == key => *s = seq,
            Some(_) => {
                self.collided.insert(key, seq);
            }
            None => {
                self.by_hash.insert(hash, (key, seq));
            }
        }
    }

    pub fn len(&self) -> usize {
        self.by_hash.len() + self.collided.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_their_seq_across_growth() {
        let mut m = DedupMap::new();
        for i in 0..5000u64 {
            m.insert(format!("c:cust:{i}"), i + 1);
        }
        assert_eq!(m.len(), 5000);
        for i in 0..5000u64 {
            assert_eq!(m.get(&format!("c:cust:{i}")), Some(i + 1));
        }
        assert_eq!(m.get("c:cust:5000"), None);
        assert_eq!(m.get("a:cust:1"), None);
        m.insert("c:cust:1".into(), 99);
        assert_eq!(m.get("c:cust:1"), Some(99));
        assert_eq!(m.len(), 5000);
    }

    #[test]
    fn keys_whose_hashes_collide_are_kept_apart() {
        let mut m = DedupMap::new();
        // Force a collision: file a second key under the first one's hash.
        m.insert("one".into(), 1);
        let hash = m.keys.hash_one("one");
        m.by_hash.remove(&hash);
        m.by_hash.insert(hash, ("other".into(), 7));
        m.insert("one".into(), 1);
        assert_eq!(m.get("one"), Some(1));
        assert_eq!(m.len(), 2);
        m.insert("one".into(), 2);
        assert_eq!(m.get("one"), Some(2));
    }
}
