//! The app's persisted settings, and the Settings window that edits them.

use serde::{Deserialize, Serialize};

/// The default size under which a registry image is peeked as soon as it opens.
pub(super) const DEFAULT_AUTO_PEEK_MIB: u64 = 64;

/// What the app keeps between sessions besides the recent references. Never a secret: logins
/// live in the OS keyring, and only their registries' names are listed here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct Settings {
    /// Peek every layer as soon as an image opens, when its layers are cheap to list.
    pub auto_peek: bool,
    /// A registry image whose layers add up to at most this many MiB (compressed) is cheap.
    pub auto_peek_limit_mib: u64,
    /// Registries whose login was stored in the OS keyring from the app ("Remember").
    pub remembered_registries: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            auto_peek: true,
            auto_peek_limit_mib: DEFAULT_AUTO_PEEK_MIB,
            remembered_registries: Vec::new(),
        }
    }
}

impl Settings {
    /// The automatic-peek size limit in bytes; `None` when automatic peeks are off.
    pub fn auto_peek_limit(&self) -> Option<u64> {
        self.auto_peek
            .then(|| self.auto_peek_limit_mib.saturating_mul(1024 * 1024))
    }
}

/// The Settings window while `open`, editing `settings` in place.
pub(super) fn settings_ui(ctx: &egui::Context, open: &mut bool, settings: &mut Settings) {
    egui::Window::new("Settings")
        .open(open)
        .resizable(false)
        .collapsible(false)
        .show(ctx, |ui| {
            ui.checkbox(
                &mut settings.auto_peek,
                "Peek automatically when an image opens",
            )
            .on_hover_text(
                "List every layer at once when that is cheap: a local image (file, \
                     folder, engine, demo), every layer cached or with a table of contents, \
                     or a registry image under the size below. Larger images wait for Peek.",
            );
            ui.add_enabled_ui(settings.auto_peek, |ui| {
                ui.horizontal(|ui| {
                    let label = ui.label("Registry images up to (MiB, compressed)");
                    ui.add(
                        egui::DragValue::new(&mut settings.auto_peek_limit_mib)
                            .range(0..=1_048_576),
                    )
                    .labelled_by(label.id);
                });
            });
        });
}
