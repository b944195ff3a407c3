//! What a regular file's data says, as kept beside its entry: a content hash and whether
//! its start looks like a secret (learnt by [`crate::layer`] while the data streams past).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The XXH3-128 hash of a file's data: fast, not cryptographic (it groups duplicates and
/// compares versions of one image; blob digests stay sha256).
///
/// Kept as two `u64` halves (high first, so that the derived order is the number's): a
/// `u128` field would align every [`Entry`](super::Entry) holding one to 16 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash {
    high: u64,
    low: u64,
}

impl ContentHash {
    /// The hash whose value is `value`.
    pub const fn new(value: u128) -> Self {
        Self {
            high: (value >> 64) as u64,
            low: value as u64,
        }
    }

    /// Its value.
    pub const fn value(self) -> u128 {
        ((self.high as u128) << 64) | self.low as u128
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "xxh3:{:032x}", self.value())
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for ContentHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ContentHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.strip_prefix("xxh3:")
            .filter(|hex| hex.len() == 32)
            .and_then(|hex| u128::from_str_radix(hex, 16).ok())
            .map(Self::new)
            .ok_or_else(|| serde::de::Error::custom(format!("not an xxh3 hash: {text:?}")))
    }
}

/// A secret a file's first KiBs show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretContent {
    /// A PEM private key (`-----BEGIN … PRIVATE KEY-----`).
    PrivateKey,
    /// Credential words such as `_authToken=`, `password` or `"auth":`: a secret only in a
    /// file whose name says it holds credentials (`.npmrc`, `.pypirc`, …).
    CredentialWords,
}

/// What was learnt from one regular file's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ContentFacts {
    /// Hash of the whole data.
    pub hash: ContentHash,
    /// What its first 8 KiB show, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretContent>,
}
