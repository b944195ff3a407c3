//! The About window: what layerslayer is, its version and git commit.

use crate::build_info::{GIT_COMMIT, VERSION};

/// The About window while `open`; its close button clears `open`.
pub(super) fn about_window(ctx: &egui::Context, open: &mut bool) {
    egui::Window::new("About layerslayer")
        .open(open)
        .resizable(false)
        .collapsible(false)
        .show(ctx, |ui| {
            ui.label(env!("CARGO_PKG_DESCRIPTION"));
            ui.label(format!("Version {VERSION}"));
            ui.label(format!("Git commit {GIT_COMMIT}"));
        });
}
