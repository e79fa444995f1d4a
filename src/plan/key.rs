//! A task key held inline: its 16 hex digits in 16 bytes, no allocation (issue 15: a plan of a
//! million tasks held a million 16-byte `String`s, 56 bytes each with their headers).

use super::KEY_LEN;
use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};

/// A task's content key: [`KEY_LEN`] lowercase hex digits, used as a `&str` everywhere.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key([u8; KEY_LEN]);

impl Key {
    /// The key a blake3 digest makes: its first [`KEY_LEN`] hex digits.
    pub fn from_digest(digest: &blake3::Hash) -> Key {
        // Only the digits kept are written: `to_hex` wrote all 64 (issue 15).
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut bytes = [0u8; KEY_LEN];
        for (pair, b) in bytes.chunks_exact_mut(2).zip(digest.as_bytes()) {
            pair[0] = DIGITS[usize::from(b >> 4)];
            pair[1] = DIGITS[usize::from(b & 0xf)];
        }
        Key(bytes)
    }

    /// The key's digits as bytes: compared a million times, they skip `as_str`'s UTF-8 check.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        // Only `from_digest` makes keys, from ASCII hex digits.
        std::str::from_utf8(&self.0).expect("a key is hex digits")
    }
}

impl std::ops::Deref for Key {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Key {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// Hashes as its text does, so that maps keyed by `Key` are searched with a `&str`.
impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl Borrow<str> for Key {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for Key {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Key {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Key {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl From<Key> for String {
    fn from(k: Key) -> String {
        k.as_str().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Issue 15: a key is the digest's first 16 hex digits, as the `String` keys were, and is
    /// found in a map by its text.
    #[test]
    fn a_key_is_the_digest_prefix_and_is_found_by_its_text() {
        let digest = blake3::hash(b"x");
        let key = Key::from_digest(&digest);
        assert_eq!(key.as_str(), &digest.to_hex()[..KEY_LEN]);
        assert_eq!(std::mem::size_of::<Key>(), KEY_LEN);
        let map: HashMap<Key, usize> = [(key, 7)].into();
        assert_eq!(map.get(key.as_str()), Some(&7));
        assert_eq!(format!("{key}"), key.as_str());
    }
}
