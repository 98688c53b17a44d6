//! Values that arrive from clients, parsed once into types that cannot hold bad data.

use std::fmt;

/// A user identifier: 1–128 of `[A-Za-z0-9._@-]`, not starting with '.', no "..".
///
/// It becomes part of object keys and file paths, so anything that could climb out of the user's
/// folder or confuse a listing is refused here, once.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("user_id must be 1-128 characters of A-Z a-z 0-9 . _ @ -, must not start with '.' or contain '..'")]
pub struct InvalidUserId;

impl UserId {
    pub fn parse(raw: &str) -> Result<Self, InvalidUserId> {
        let ok = (1..=128).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'))
            && !raw.starts_with('.')
            && !raw.contains("..");
        if ok { Ok(Self(raw.to_string())) } else { Err(InvalidUserId) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new reference's id: `{ms:013}{seq:03}-{random}`, sortable by creation time and unique.
///
/// Within a process ids strictly increase (a sequence number orders ids of the same millisecond),
/// because "newer" decides which references a replace supersedes. The first 13 digits are the
/// creation time in ms (the orphan sweep reads them); ids of the older `{ms:013}-{random}` form
/// sort before newer ones of the same millisecond.
pub fn new_reference_id() -> String {
    static LAST: std::sync::Mutex<(u128, u32)> = std::sync::Mutex::new((0, 0));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let (ms, seq) = {
        let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
        *last = match *last {
            (ms, seq) if ms >= now && seq < 999 => (ms, seq + 1),
            (ms, _) if ms >= now => (ms + 1, 0),
            _ => (now, 0),
        };
        *last
    };
    format!("{ms:013}{seq:03}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// When a reference id was made (ms since the epoch), from its first 13 digits.
pub fn reference_id_millis(id: &str) -> Option<u128> {
    id.get(..13).and_then(|ms| ms.parse().ok())
}

/// Reference ids are ours, but they come back in sidecars read from storage; check before use in keys.
pub fn is_reference_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_ids() {
        for id in ["alice", "bob.smith@example.com", "user_42-x", &"a".repeat(128)] {
            assert!(UserId::parse(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn refuses_ids_that_could_escape_or_confuse_keys() {
        for id in ["", "../etc", "a/b", "a..b", ".hidden", "é", "a b", "a\0", &"a".repeat(129), "a%2f"] {
            assert_eq!(UserId::parse(id), Err(InvalidUserId), "{id:?}");
        }
    }

    proptest::proptest! {
        /// Whatever arrives, an accepted id is safe to put in a key: one path segment, no escape.
        #[test]
        fn accepted_ids_are_always_a_single_safe_path_segment(raw in ".{0,140}") {
            if let Ok(id) = UserId::parse(&raw) {
                let path = std::path::Path::new(id.as_str());
                proptest::prop_assert_eq!(path.components().count(), 1);
                proptest::prop_assert!(matches!(path.components().next(), Some(std::path::Component::Normal(_))));
                proptest::prop_assert!(id.as_str().len() <= 128 && !id.as_str().contains(".."));
            }
        }
    }

    #[test]
    fn reference_ids_are_time_ordered_and_valid() {
        let ids: Vec<String> = (0..2000).map(|_| new_reference_id()).collect();
        assert!(ids.iter().all(|id| is_reference_id(id)));
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "strictly increasing, even within one millisecond");
        assert!("1795581692618-4bf1b1d55d0b" < "1795581692618000-4bf1b1d55d0b", "older ids sort first");
        assert_eq!(reference_id_millis(&ids[0]).map(|ms| ms > 1_700_000_000_000), Some(true));
        assert!(!is_reference_id("../x"));
    }
}
