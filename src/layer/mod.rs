//! Reading layers: the tar header walker, decoders, streaming a blob into entries, tables of
//! contents (eStargz, zstd:chunked), content facts, the listing cache and its random-access
//! index of gzip layers, listing one layer the cheapest exact way, and many layers at once.
//!
//! May import [`crate::model`], [`crate::oci`] and [`crate::source`]. [`tar`] imports nothing
//! of the crate, so sources may use it to index archives.

pub mod cache;
pub mod content;
mod gzip;
pub mod index;
#[cfg(feature = "isal")]
mod isal_gzip;
pub mod list;
pub mod parallel;
pub mod stream;
pub mod tar;
pub mod toc;
mod zstd_frames;
