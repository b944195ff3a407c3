//! layerslayer: see what is inside every layer of a container image, straight from the
//! registry, without pulling or unpacking it.
//!
//! The core is UI-free and layered, each folder importing only those below it:
//!
//! - [`oci`]: image references, manifests, indexes, configs, the resolved image;
//! - [`source`]: where manifests and blobs come from ([`source::ImageSource`]: a registry,
//!   an image file or layout, the built-in demo) and the one opener of what a user typed;
//! - [`model`]: entries, one layer's result, the merged filesystem, changes, the path tree;
//! - [`layer`]: reading layers: tar walker, decoders, tables of contents, cache, parallel layers;
//! - [`inspect`]: analysis, the comparison of two images, carving a file out;
//! - [`search`]: the index of every listed layer and image, and `search` over it;
//! - [`output`]: CSV, JSON, atomic files, terminal escaping, sizes for people.
//!
//! The `cli` and `gui` front ends (cargo features of those names, on by default) are thin
//! shells over it: `default-features = false` builds the core alone, without eframe, rfd or
//! the OS keyring.

pub mod cancel;
#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "gui")]
pub mod gui;
pub mod inspect;
pub mod layer;
pub mod model;
pub mod oci;
pub mod output;
pub mod search;
pub mod source;

/// Version and build information embedded by `build.rs`.
pub mod build_info {
    /// Crate version.
    pub const VERSION: &str = env!("CARGO_PKG_VERSION");
    /// Short git commit of the build, or `unknown` outside a git checkout.
    pub const GIT_COMMIT: &str = env!("LAYERSLAYER_GIT_COMMIT");
}
