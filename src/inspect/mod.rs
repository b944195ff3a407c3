//! Explaining an image: analysis (wasted bytes, duplicates, risky files), the comparison of
//! two images, and carving one file out of an image.
//!
//! May import [`crate::layer`], [`crate::model`], [`crate::oci`], [`crate::source`] and
//! [`crate::output`] (writers of its reports).

pub mod analysis;
pub mod carve;
pub mod diff;
