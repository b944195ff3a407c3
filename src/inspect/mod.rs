//! Explaining an image: analysis (wasted bytes, duplicates, risky files), the comparison of
//! two images, carving one file out of an image, and the history of one path.
//!
//! May import [`crate::layer`], [`crate::model`], [`crate::oci`], [`crate::source`] and
//! [`crate::output`] (writers of its reports).

pub mod analysis;
pub mod carve;
pub mod diff;
pub mod history;
