//! A resolved image: its platform manifest's digest, platforms, layers and config.

use serde::Serialize;

use super::manifest::{Descriptor, ImageConfig, Platform, is_non_distributable};

/// One layer of a resolved image.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LayerInfo {
    /// Position in the manifest, base layer = 0.
    pub index: usize,
    /// The layer blob's descriptor (digest, size, media type, urls, annotations).
    pub descriptor: Descriptor,
    /// The build step that created it, from the config's history.
    pub created_by: Option<String>,
}

impl LayerInfo {
    /// The blob digest, `sha256:…`.
    pub fn digest(&self) -> &str {
        &self.descriptor.digest
    }

    /// The first 12 hex digits of the digest, as `docker` shows them.
    pub fn short_digest(&self) -> &str {
        let hex = self
            .digest()
            .split_once(':')
            .map_or(self.digest(), |(_, hex)| hex);
        hex.get(..12).unwrap_or(hex)
    }

    /// Compressed size in bytes.
    pub fn size(&self) -> u64 {
        self.descriptor.size
    }

    /// The layer's media type.
    pub fn media_type(&self) -> &str {
        &self.descriptor.media_type
    }

    /// Whether the blob may live outside the registry (foreign / non-distributable layer).
    pub fn is_non_distributable(&self) -> bool {
        is_non_distributable(&self.descriptor.media_type)
    }
}

/// A resolved single-platform image.
#[derive(Debug, Clone, Serialize)]
pub struct ImageInfo {
    /// Where it came from, e.g. `localhost:5000/app`.
    pub source: String,
    /// Digest of the platform manifest that lists the layers.
    pub manifest_digest: String,
    /// The platform chosen from an index, if the reference named an index.
    pub platform: Option<Platform>,
    /// All platforms the index offers (empty for a single-platform image).
    pub available_platforms: Vec<Platform>,
    /// Layers, base first.
    pub layers: Vec<LayerInfo>,
    /// The image config: how containers run, and the build history.
    pub config: ImageConfig,
}
