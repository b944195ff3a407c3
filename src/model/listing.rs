//! One layer's result: its entries, how reading ended, how many bytes were read and where
//! the entries came from.

use serde::Serialize;

use super::entry::Entry;
use crate::oci::LayerInfo;

/// How reading a layer ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "detail", rename_all = "kebab-case")]
pub enum LayerStatus {
    /// Every entry was read; `digest_verified` says whether the blob digest was checked.
    Complete {
        /// False only for digest algorithms this tool cannot check.
        digest_verified: bool,
    },
    /// Reading stopped with an error; the entries before it are kept.
    Failed(String),
    /// The user cancelled; the entries read so far are kept.
    Cancelled,
    /// The layer was not read (e.g. a non-distributable layer missing from the registry).
    Skipped(String),
    /// The layer's blob is not where the image says it is (a registry 404, a blob missing
    /// from an image file).
    Missing(String),
}

impl LayerStatus {
    /// True when the listing holds every entry of the layer.
    pub fn is_complete(&self) -> bool {
        matches!(self, Self::Complete { .. })
    }

    /// Why the layer was not read completely (failed, skipped or missing); `None` when it was
    /// complete or cancelled.
    pub fn problem(&self) -> Option<&str> {
        match self {
            Self::Failed(message) | Self::Skipped(message) | Self::Missing(message) => {
                Some(message)
            }
            Self::Complete { .. } | Self::Cancelled => None,
        }
    }

    /// A one-word label for tables and CSV.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Complete { .. } => "complete",
            Self::Failed(_) => "failed",
            Self::Cancelled => "cancelled",
            Self::Skipped(_) => "skipped",
            Self::Missing(_) => "missing",
        }
    }
}

/// Where a layer's entries came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ListedFrom {
    /// The layer blob, streamed and decoded.
    #[default]
    Blob,
    /// The listing cache: no blob byte was fetched.
    Cache,
    /// The layer's table of contents: only its footer and TOC were fetched.
    Toc {
        /// eStargz or zstd:chunked.
        format: TocFormat,
        /// Whether the TOC matched the digest the layer's annotations give.
        verified: bool,
    },
}

/// How reading one layer ended: the one per-layer result that the stream, the parallel
/// reader, the CLI and the app all pass along.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerResult {
    /// Complete, failed (with a message naming the layer), cancelled, skipped or missing.
    pub status: LayerStatus,
    /// Compressed bytes received.
    pub bytes_read: u64,
    /// Where the entries came from (the blob, the cache or a table of contents).
    pub listed_from: ListedFrom,
    /// Something the user should know about how the layer was read (e.g. why its table of
    /// contents was not used, or that the download resumed). Shown, not exported.
    #[serde(skip)]
    pub note: Option<String>,
}

impl LayerResult {
    /// A layer that ended with `status` after `bytes_read` bytes of its blob, with no note.
    pub fn new(status: LayerStatus, bytes_read: u64, listed_from: ListedFrom) -> Self {
        Self {
            status,
            bytes_read,
            listed_from,
            note: None,
        }
    }

    /// A layer that ended with `status` before any byte was read.
    pub fn ended(status: LayerStatus) -> Self {
        Self::new(status, 0, ListedFrom::Blob)
    }
}

/// Everything read from one layer.
#[derive(Debug, Clone, Serialize)]
pub struct LayerListing {
    /// Which layer.
    pub layer: LayerInfo,
    /// Entries in tar order.
    pub entries: Vec<Entry>,
    /// How reading ended (serialised as the listing's own `status`, `bytes_read` and
    /// `listed_from` fields).
    #[serde(flatten)]
    pub result: LayerResult,
}

/// Which kind of TOC a layer has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TocFormat {
    /// eStargz: gzip members and a `stargz.index.json` TOC.
    Estargz,
    /// zstd:chunked: zstd frames and a zstd-compressed JSON manifest.
    ZstdChunked,
}

impl TocFormat {
    /// `eStargz` or `zstd:chunked`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Estargz => "eStargz",
            Self::ZstdChunked => "zstd:chunked",
        }
    }
}
