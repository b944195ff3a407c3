//! layerslayer: see what is inside every layer of a container image, straight from the
//! registry, without pulling or unpacking it.
//!
//! The core is UI-free: [`reference`] parses image names, [`registry`] talks the OCI
//! distribution protocol, [`image`] resolves a reference to layers, [`peek`] streams a layer
//! into [`listing`] entries, and [`export`] writes CSV/JSON. The [`cli`] and `gui` front ends
//! are thin shells over it.

pub mod analysis;
pub mod cache;
pub mod cancel;
pub mod carve;
pub mod cli;
pub mod compression;
pub mod content;
pub mod diff;
pub mod export;
pub mod gui;
pub mod image;
#[cfg(feature = "isal")]
mod isal_gzip;
pub mod listing;
pub mod manifest;
pub mod open;
pub mod parallel;
pub mod peek;
pub mod pipeline;
pub mod reference;
pub mod registry;
pub mod source;
pub mod tar_stream;
pub mod toc;

/// Version and build information embedded by `build.rs`.
pub mod build_info {
    /// Crate version.
    pub const VERSION: &str = env!("CARGO_PKG_VERSION");
    /// Short git commit of the build, or `unknown` outside a git checkout.
    pub const GIT_COMMIT: &str = env!("LAYERSLAYER_GIT_COMMIT");
}
