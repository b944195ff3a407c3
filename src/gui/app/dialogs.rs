//! The file dialogs seam: the native dialogs for the app, fixed answers for tests.

use std::path::PathBuf;

/// The app's file dialogs. The app uses the native ones; tests supply fixed answers.
pub trait FileDialogs: Send {
    /// A path to save to (an export, a file carved out of the image), offering the file name
    /// `suggested`; `None` when the user cancelled.
    fn pick_save_path(&mut self, suggested: &str) -> Option<PathBuf>;

    /// An image archive to open (`docker save`, `oci-archive`), or `None`.
    fn pick_image_file(&mut self) -> Option<PathBuf>;

    /// An image layout directory to open, or `None`.
    fn pick_image_folder(&mut self) -> Option<PathBuf>;
}

/// The platform's native dialogs (xdg portal / zenity on Linux).
#[derive(Debug, Default)]
pub struct NativeFileDialogs;

impl FileDialogs for NativeFileDialogs {
    fn pick_save_path(&mut self, suggested: &str) -> Option<PathBuf> {
        let dialog = rfd::FileDialog::new().set_file_name(suggested);
        // Only an export is a CSV file; a carved file keeps whatever name it has.
        let dialog = if suggested.ends_with(".csv") {
            dialog.add_filter("CSV", &["csv"])
        } else {
            dialog
        };
        dialog.save_file()
    }

    fn pick_image_file(&mut self) -> Option<PathBuf> {
        rfd::FileDialog::new()
            .set_title("Open an image archive (docker save, oci-archive)")
            .add_filter("Image archives", &["tar", "gz", "tgz", "zst"])
            .add_filter("All files", &["*"])
            .pick_file()
    }

    fn pick_image_folder(&mut self) -> Option<PathBuf> {
        rfd::FileDialog::new()
            .set_title("Open an OCI image layout folder")
            .pick_folder()
    }
}

/// Saves to the same path without asking and opens nothing (for tests and automation).
#[derive(Debug, Clone)]
pub struct FixedSavePath(pub PathBuf);

impl FileDialogs for FixedSavePath {
    fn pick_save_path(&mut self, _suggested: &str) -> Option<PathBuf> {
        Some(self.0.clone())
    }

    fn pick_image_file(&mut self) -> Option<PathBuf> {
        None
    }

    fn pick_image_folder(&mut self) -> Option<PathBuf> {
        None
    }
}
