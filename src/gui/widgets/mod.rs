//! The components the app's panels draw with: the one path-tree widget ([`tree_view`]) and its
//! two kinds of rows, the Files tree ([`files_tree`]) and the Compare tree ([`compare_tree`]).
//!
//! May import the core's model and output; they know nothing of the app's state.

pub mod compare_tree;
pub mod files_tree;
pub mod tree_view;
