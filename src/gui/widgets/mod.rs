//! The components the app's panels draw with: the Files tree ([`files_tree`]), the Compare
//! tree ([`compare_tree`]) and the row pieces both use ([`tree_rows`]).
//!
//! May import the core's model and output; they know nothing of the app's state.

pub mod compare_tree;
pub mod files_tree;
pub mod tree_rows;
