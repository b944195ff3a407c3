//! The demo image built into the binary, so the app and the CLI work offline out of the box.
//!
//! `assets/demo.tar` is a real two-platform OCI image archive made by
//! `cargo run --example make_demo`: three layers (gzip and zstd) with a whiteout, an opaque
//! directory, links, setuid and world-writable files, overwritten and duplicated files.

use super::SourceError;
use super::archive::ArchiveBytes;
use super::local::{LocalFormat, LocalSource};

/// What users type to open the demo image.
pub const DEMO_NAME: &str = "demo";

/// The demo image as an OCI archive.
pub const DEMO_ARCHIVE: &[u8] = include_bytes!("../../assets/demo.tar");

/// Opens the built-in demo image; returns the source and its index reference.
pub fn open_demo() -> Result<(LocalSource, String), SourceError> {
    LocalSource::open_archive(
        ArchiveBytes::Static(DEMO_ARCHIVE),
        DEMO_NAME.to_owned(),
        LocalFormat::Oci,
        None,
    )
}
