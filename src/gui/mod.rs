//! The desktop app (eframe/egui), a thin shell over the core: [`app`] holds the window and
//! its panels, `jobs` the background work (each a `job::Job`), [`widgets`] the
//! components the panels draw with (the Files and Compare trees).
//!
//! May import anything of the core; nothing of the core imports it.

pub mod app;
pub(crate) mod job;
pub(crate) mod jobs;
pub(crate) mod preview;
pub(crate) mod version_diff;
pub mod widgets;

use std::process::ExitCode;

pub use app::{
    CentralTab, DialogChoice, FileDialogs, FixedChoice, FixedSavePath, LayerslayerApp,
    NativeFileDialogs, SearchKind, TreeChoice,
};
pub use widgets::files_tree::{TreeAction, TreeView};
pub use widgets::tree_view::{SortKey, TreeSort};

/// The app's id: the Wayland app id and X11 class that match the installed desktop file
/// (`assets/linux/APP_ID.desktop`) and icon, so desktops show the icon and group windows.
pub const APP_ID: &str = "io.github.layerslayer.Layerslayer";

/// The window icon, converted to raw RGBA by `build.rs`.
mod icon {
    include!(concat!(env!("OUT_DIR"), "/icon.rs"));

    /// The icon's pixels, `ICON_WIDTH * ICON_HEIGHT * 4` bytes.
    pub const RGBA: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/icon.rgba"));
}

/// The window icon for eframe.
pub fn icon() -> egui::IconData {
    egui::IconData {
        rgba: icon::RGBA.to_vec(),
        width: icon::ICON_WIDTH,
        height: icon::ICON_HEIGHT,
    }
}

/// Opens the desktop window; returns when it is closed. With `initial_image`, the reference is
/// filled in and fetched right away.
pub fn run_app(initial_image: Option<String>) -> ExitCode {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("layerslayer")
            .with_app_id(APP_ID)
            .with_inner_size([1200.0, 800.0])
            .with_min_inner_size([640.0, 400.0])
            .with_icon(icon()),
        renderer: eframe::Renderer::Glow,
        ..eframe::NativeOptions::default()
    };
    let result = eframe::run_native(
        "layerslayer",
        options,
        Box::new(move |cc| {
            let app = LayerslayerApp::new(cc);
            Ok(Box::new(match initial_image {
                Some(image) => app.with_initial_reference(image),
                None => app,
            }))
        }),
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!(
                "error: could not open the window: {error}\n\
                 (without a display, use the command line: layerslayer --help)"
            );
            ExitCode::FAILURE
        }
    }
}
