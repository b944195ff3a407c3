//! Where manifests and blobs come from: the bottom of the stack.
//!
//! [`ImageSource`] is the one interface through which anything above (image resolution,
//! peeking, listings, exports) reads an image. The [`registry`] client implements it over
//! HTTP; [`local::LocalSource`] implements it over OCI image layouts and `docker save`
//! archives, read in place; [`engine::EngineSource`] reads an image out of a local Docker or
//! Podman engine through its API; [`demo`] serves the image built into the binary. [`open`] turns
//! what a user typed into one of them, and [`resolve_image`] a reference into layers.
//!
//! May import [`crate::oci`], [`crate::cancel`] and the tar walker [`crate::layer::tar`] (to
//! index archives). The registry and the local readers never import each other ([`demo`] is
//! the local reader over bytes in the binary); only the opener names them all.

pub mod archive;
pub mod demo;
pub mod engine;
pub mod local;
pub mod open;
pub mod registry;
mod resolve;

pub use resolve::{resolve_every_platform, resolve_image};

use std::error::Error;
use std::fmt;
use std::io::Read;
use std::ops::Range;

use crate::cancel::CancelToken;
use crate::oci::manifest::Descriptor;

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

/// A blob reader that adds what it reads to a shared count (bytes fetched, for reports and
/// progress) and fails once its cancel token is cancelled.
pub(crate) struct CountedBlob {
    inner: BlobReader,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
    cancel: CancelToken,
}

impl CountedBlob {
    /// Counts `inner`'s bytes into `count`; stops reading when `cancel` is cancelled.
    pub(crate) fn new(
        inner: BlobReader,
        count: &std::sync::Arc<std::sync::atomic::AtomicU64>,
        cancel: &CancelToken,
    ) -> Self {
        Self {
            inner,
            count: std::sync::Arc::clone(count),
            cancel: cancel.clone(),
        }
    }
}

impl Read for CountedBlob {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.cancel.is_cancelled() {
            return Err(std::io::Error::other("cancelled"));
        }
        let read = self.inner.read(buf)?;
        self.count
            .fetch_add(read as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(read)
    }
}

/// A download that went on after its connection dropped or stalled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resumed {
    /// How many times this blob's download has resumed so far.
    pub count: u32,
    /// The blob offset it resumed from.
    pub at: u64,
    /// What happened to the previous connection.
    pub reason: String,
}

/// Told each time a blob download resumes (e.g. to show "resumed ×2" on the layer).
pub type ResumeHook = std::sync::Arc<dyn Fn(&Resumed) + Send + Sync>;

/// What a source made of a request for part of a blob.
pub enum RangeReply {
    /// Exactly the bytes asked for.
    Partial(BlobReader),
    /// The source cannot serve parts of this blob (a registry that ignores Range, a
    /// compressed archive): the reason, for the layer's status. Read the whole blob instead.
    Unsupported(String),
}

/// What kind of failure a [`SourceError`] is, whatever the source: front ends choose exit
/// codes and reactions by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// What the user gave is not usable: a malformed reference or platform, a file that is not
    /// an image, an unreadable file, plain http refused.
    BadInput,
    /// The image, tag, platform, file or blob does not exist.
    NotFound,
    /// Credentials are missing or were refused.
    Unauthorized,
    /// The registry could not be reached or misbehaved.
    Unreachable,
    /// A manifest, index or config is not valid.
    Invalid,
    /// The caller cancelled the work.
    Cancelled,
}

/// Why a source could not deliver a manifest or blob: a [`ErrorKind`] and the backend's own
/// error, whose message names what failed and what to do.
#[derive(Debug)]
pub struct SourceError {
    kind: ErrorKind,
    cause: Box<dyn Error + Send + Sync>,
}

impl SourceError {
    /// An error of `kind` caused by `cause` (an error value or a message).
    pub fn new(kind: ErrorKind, cause: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self {
            kind,
            cause: cause.into(),
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The backend's error, when it is of type `E` (e.g. a `RegistryError`).
    pub fn cause<E: Error + 'static>(&self) -> Option<&E> {
        self.cause.downcast_ref()
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.cause.fmt(f)
    }
}

impl Error for SourceError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.cause.source()
    }
}

/// A store of manifests and blobs, addressed by tag or digest.
pub trait ImageSource: Send + Sync {
    /// A short name for messages, e.g. `localhost:5000/app` or `oci-archive:app.tar`.
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

    /// [`open_blob`](Self::open_blob), telling `on_resume` whenever the download resumes after
    /// a dropped or stalled connection (sources that never resume ignore it).
    fn open_blob_reporting(
        &self,
        descriptor: &Descriptor,
        cancel: &CancelToken,
        _on_resume: ResumeHook,
    ) -> Result<BlobReader, SourceError> {
        self.open_blob(descriptor, cancel)
    }

    /// Opens the bytes `range` of a blob (an HTTP Range request on a registry), for reading a
    /// table of contents or one file without the whole blob.
    fn open_blob_range(
        &self,
        descriptor: &Descriptor,
        range: Range<u64>,
        cancel: &CancelToken,
    ) -> Result<RangeReply, SourceError>;
}

impl fmt::Debug for dyn ImageSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ImageSource")
            .field(&self.describe())
            .finish()
    }
}
