//! What a regular file's data says, learnt while it streams past and never kept: a fast
//! content hash (to find duplicates and tell identical files from changed ones) and whether
//! its first KiBs look like a secret.

use std::io::{self, Read};
use std::sync::LazyLock;

use memchr::memmem;
use xxhash_rust::xxh3::Xxh3;

/// How much of a file's start is searched for secrets.
pub(crate) const SNIFF_BYTES: usize = 8 * 1024;
/// Bytes per read while hashing.
const READ_BYTES: usize = 64 * 1024;

use crate::model::{ContentFacts, ContentHash, SecretContent};

/// The facts of an in-memory file (test data).
#[cfg(test)]
pub(crate) fn facts_of_bytes(data: &[u8]) -> ContentFacts {
    ContentFacts {
        hash: ContentHash::new(xxhash_rust::xxh3::xxh3_128(data)),
        secret: sniff_secret(&data[..data.len().min(SNIFF_BYTES)]),
    }
}

/// Reads file data to learn its [`ContentFacts`], reusing its buffers from file to file.
#[derive(Default)]
pub(crate) struct ContentScanner {
    buffer: Vec<u8>,
    prefix: Vec<u8>,
    hasher: Xxh3,
}

/// Whether a file of this name is a secret only when it holds credential words (`.npmrc`,
/// `.pypirc`): only such files are searched for them.
pub(crate) fn wants_credential_words(name: &str) -> bool {
    matches!(name, ".npmrc" | ".pypirc")
}

impl ContentScanner {
    /// Reads `data` to its end, hashing it and searching its start for a private key, and for
    /// credential words when `credential_words` is set (see [`wants_credential_words`]).
    pub(crate) fn scan(
        &mut self,
        mut data: impl Read,
        credential_words: bool,
    ) -> io::Result<ContentFacts> {
        if self.buffer.is_empty() {
            self.buffer = vec![0; READ_BYTES];
        }
        self.prefix.clear();
        self.hasher.reset();
        let sniff = |prefix: &[u8]| {
            if credential_words {
                sniff_secret(prefix)
            } else {
                has_private_key(prefix).then_some(SecretContent::PrivateKey)
            }
        };
        // The prefix's verdict, once SNIFF_BYTES have been seen.
        let mut secret = None;
        loop {
            let read = match data.read(&mut self.buffer) {
                Ok(0) => break,
                Ok(read) => read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            let chunk = &self.buffer[..read];
            if secret.is_none() {
                if self.prefix.is_empty() && chunk.len() >= SNIFF_BYTES {
                    // The whole prefix arrived at once: no copy.
                    secret = Some(sniff(&chunk[..SNIFF_BYTES]));
                } else {
                    let wanted = (SNIFF_BYTES - self.prefix.len()).min(chunk.len());
                    self.prefix.extend_from_slice(&chunk[..wanted]);
                    if self.prefix.len() == SNIFF_BYTES {
                        secret = Some(sniff(&self.prefix));
                    }
                }
            }
            self.hasher.update(chunk);
        }
        let secret = secret.unwrap_or_else(|| sniff(&self.prefix));
        Ok(ContentFacts {
            hash: ContentHash::new(self.hasher.digest128()),
            secret,
        })
    }
}

/// Words that mark credentials in configuration files (searched case-sensitively, as the
/// files spell them).
const CREDENTIAL_WORDS: &[&[u8]] = &[
    b"_authToken",
    b"_auth=",
    b"_auth =",
    b"_password",
    b"password",
    b"\"auth\"",
    b"aws_secret_access_key",
];

/// The secret `prefix` (a file's first KiBs) shows, if any.
pub(crate) fn sniff_secret(prefix: &[u8]) -> Option<SecretContent> {
    if has_private_key(prefix) {
        Some(SecretContent::PrivateKey)
    } else if CREDENTIAL_WORDS
        .iter()
        .any(|word| memmem::find(prefix, word).is_some())
    {
        Some(SecretContent::CredentialWords)
    } else {
        None
    }
}

/// Whether a PEM block `-----BEGIN <words> PRIVATE KEY[ BLOCK]-----` starts in `prefix`.
fn has_private_key(prefix: &[u8]) -> bool {
    const BEGIN: &[u8] = b"-----BEGIN ";
    // Built once: this runs for every file of every layer.
    static FINDER: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(BEGIN));
    FINDER.find_iter(prefix).any(|start| {
        let rest = &prefix[start + BEGIN.len()..];
        let line_end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        let label = &rest[..line_end];
        let Some(close) = memmem::find(label, b"-----") else {
            return false;
        };
        let label = &label[..close];
        label.ends_with(b"PRIVATE KEY") || label.ends_with(b"PRIVATE KEY BLOCK")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_keys_are_found_by_their_pem_label_only() {
        for key in [
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE",
            "junk\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl",
            "-----BEGIN PRIVATE KEY-----\n",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\n",
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\n",
        ] {
            assert_eq!(
                sniff_secret(key.as_bytes()),
                Some(SecretContent::PrivateKey),
                "{key}"
            );
        }
        for other in [
            "-----BEGIN CERTIFICATE-----\nMIIB",
            "-----BEGIN PUBLIC KEY-----\n",
            "the words PRIVATE KEY----- alone",
            "-----BEGIN RSA\nPRIVATE KEY-----",
        ] {
            assert_ne!(
                sniff_secret(other.as_bytes()),
                Some(SecretContent::PrivateKey),
                "{other}"
            );
        }
    }

    #[test]
    fn streaming_and_in_memory_facts_agree_and_hashes_round_trip() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let streamed = ContentScanner::default()
            .scan(&data[..], true)
            .expect("reads");
        assert_eq!(streamed, facts_of_bytes(&data));
        assert_ne!(streamed.hash, facts_of_bytes(&data[1..]).hash);
        let json = serde_json::to_string(&streamed).expect("serialises");
        assert!(json.contains("\"xxh3:"), "{json}");
        let back: ContentFacts = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, streamed);
        assert!(serde_json::from_str::<ContentHash>("\"sha256:00\"").is_err());
    }

    #[test]
    fn credential_words_are_marked_but_only_in_the_sniffed_prefix() {
        let npmrc = b"//registry.npmjs.org/:_authToken=npm_abc\n";
        assert_eq!(sniff_secret(npmrc), Some(SecretContent::CredentialWords));
        let mut late = vec![b' '; SNIFF_BYTES];
        late.extend_from_slice(b"-----BEGIN RSA PRIVATE KEY-----\n");
        assert_eq!(facts_of_bytes(&late).secret, None);
    }
}
