//! Compression of layer blobs and archives, told by magic bytes (media types are not trusted).

/// The compression of a layer blob, told by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// `1f 8b`, possibly several members.
    Gzip,
    /// `28 b5 2f fd`.
    Zstd,
    /// Anything else is read as an uncompressed tar.
    None,
}

impl Compression {
    /// Sniffs the first bytes of a blob.
    pub fn sniff(magic: &[u8]) -> Self {
        if magic.starts_with(&[0x1f, 0x8b]) {
            Self::Gzip
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Self::Zstd
        } else {
            Self::None
        }
    }

    /// `gzip`, `zstd` or `tar`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Zstd => "zstd",
            Self::None => "tar",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_choose_the_decoder() {
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
        assert_eq!(
            Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Compression::Zstd
        );
        assert_eq!(Compression::sniff(b"etc/passwd\0"), Compression::None);
        assert_eq!(Compression::sniff(&[]), Compression::None);
    }
}
