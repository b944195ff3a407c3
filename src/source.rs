//! Where manifests and blobs come from. The registry client implements [`ImageSource`]; local
//! OCI layouts or `docker save` archives can implement it too, and everything above (image
//! resolution, peeking, listings) stays the same.

use std::io::Read;

use crate::cancel::CancelToken;
use crate::registry::RegistryError;
use crate::registry::manifest::{Descriptor, ManifestError};

/// A manifest document fetched from a source.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// The `Content-Type` the source declared, if any.
    pub content_type: Option<String>,
    /// The digest of `body` (`sha256:…`).
    pub digest: String,
    /// The raw JSON.
    pub body: Vec<u8>,
}

/// A streaming blob body.
pub type BlobReader = Box<dyn Read + Send>;

/// Why a source could not deliver a manifest or blob.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The registry refused or failed the request.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A manifest or index could not be used.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The image config blob is not valid JSON.
    #[error("the image config {digest} is not valid: {reason}")]
    Config {
        /// Digest of the config blob.
        digest: String,
        /// What the JSON parser said.
        reason: String,
    },
}

/// A store of manifests and blobs, addressed by tag or digest.
pub trait ImageSource: Send + Sync {
    /// A short name for messages, e.g. `localhost:5000/app`.
    fn describe(&self) -> String;

    /// Fetches the manifest or index for a tag or digest.
    fn fetch_manifest(
        &self,
        reference: &str,
        cancel: &CancelToken,
    ) -> Result<FetchedManifest, SourceError>;

    /// Opens a blob as a stream. The caller verifies size and digest while reading.
    fn open_blob(
        &self,
        descriptor: &Descriptor,
        cancel: &CancelToken,
    ) -> Result<BlobReader, SourceError>;
}
