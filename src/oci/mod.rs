//! OCI documents and names: image references, manifests, indexes and configs, the compression
//! of blobs, and the resolved image (its layers, config and platforms).
//!
//! Pure data and parsing: imports nothing else of the crate. Everything above builds on it.

pub mod compression;
mod image;
pub mod manifest;
pub mod reference;

pub use compression::Compression;
pub use image::{ImageInfo, LayerInfo};
