//! The desktop app driven headless with egui_kittest (the real app state, frame by frame),
//! and the real window under Xvfb with screenshots. One module per part of the app.

#[path = "../common/mod.rs"]
mod common;
#[path = "../gui_support/demo_b.rs"]
mod demo_b;
#[path = "../gui_support/frames.rs"]
mod frames;

mod deep;
mod explain;
mod files;
mod first_look;
mod history;
mod preview;
mod save_prompt;
mod screenshot;
mod search;
mod sign_in;
