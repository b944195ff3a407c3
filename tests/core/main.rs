//! The core against real parts: a CNCF distribution registry on 127.0.0.1, in-process fault
//! servers for what a real registry will not do on demand, image files and layouts written by
//! real tools, tar archives from real writers, and the CLI binary. One module per concern.

#[path = "../common/mod.rs"]
mod common;

mod cache;
mod carve;
mod conventions;
mod credentials;
mod engine;
mod explain;
mod faults;
mod history;
mod hostile;
mod index;
mod layout;
mod local;
mod parallel;
mod ranges;
mod registry;
mod resume;
mod search;
mod search_registry;
mod tar_fidelity;
mod toc;
