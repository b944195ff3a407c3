//! The in-window save prompt: where to save when no native file dialog can be shown (on a
//! Linux desktop without an xdg portal or zenity). A path field prefilled with a suggestion,
//! the reason the native dialog is missing, Save and Cancel; saving goes through the same
//! atomic writes as a save through the native dialog.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use egui::{Key, RichText};

use crate::inspect::carve::CarveTarget;
use crate::output::escape_control;
use crate::source::ImageSource;

/// What the prompt saves.
pub(super) enum SavePurpose {
    /// The CSV export of the peeked listings.
    Export,
    /// A file carved out of an image.
    File(Box<FileToSave>),
}

/// A file to carve out of an image and save.
pub(super) struct FileToSave {
    /// The image the file is in (kept, should another image be opened meanwhile).
    pub source: Arc<dyn ImageSource>,
    /// The file and the layer it comes from.
    pub target: CarveTarget,
    /// A note for the status line once saved.
    pub caveat: Option<String>,
}

/// The open save prompt.
pub(super) struct SavePrompt {
    /// What is being saved.
    pub purpose: SavePurpose,
    /// Why no native dialog could be shown.
    why: String,
    /// The path as typed.
    pub path: String,
    /// Why the last Save did not work, if it did not.
    error: Option<String>,
    /// Give the path field the keyboard focus on the next frame.
    focus_field: bool,
}

impl SavePrompt {
    /// A prompt for `purpose`, saying `why` there is no native dialog, suggesting `suggested`.
    pub fn new(purpose: SavePurpose, why: String, suggested: &Path) -> Self {
        Self {
            purpose,
            why,
            path: suggested.display().to_string(),
            error: None,
            focus_field: true,
        }
    }

    /// Shows why the last Save did not work; the prompt stays open to try another path.
    pub fn fail(&mut self, message: String) {
        self.error = Some(message);
        self.focus_field = true;
    }

    /// The line saying why the prompt is shown.
    pub fn reason(&self) -> String {
        reason_line(&self.why)
    }

    /// The path typed, made absolute: `~` is the home folder, a relative path starts in the
    /// current directory. A blank field or a folder is refused, saying what to type.
    pub fn chosen_path(&self) -> Result<PathBuf, String> {
        let typed = self.path.trim();
        if typed.is_empty() {
            return Err("Type the path of the file to save to.".into());
        }
        let home = || dirs::home_dir().ok_or("There is no home folder: type a full path.");
        let path = if typed == "~" {
            home()?
        } else if let Some(rest) = typed.strip_prefix("~/") {
            home()?.join(rest)
        } else {
            let path = PathBuf::from(typed);
            if path.is_absolute() {
                path
            } else {
                std::env::current_dir()
                    .map_err(|e| format!("There is no current folder ({e}): type a full path."))?
                    .join(path)
            }
        };
        if path.is_dir() {
            return Err(format!(
                "{} is a folder: add a file name to it.",
                escape_control(&path.display().to_string())
            ));
        }
        Ok(path)
    }
}

/// Where the prompt suggests saving `file_name`: the home folder, else the current one.
pub(super) fn suggested_path(file_name: &str) -> PathBuf {
    dirs::home_dir()
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_default()
        .join(file_name)
}

/// The reason line of the prompt.
fn reason_line(why: &str) -> String {
    format!(
        "No file dialog is available ({}); type where to save.",
        escape_control(why)
    )
}

/// What the user answered the prompt.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SavePromptAnswer {
    /// Save to the typed path.
    Save,
    /// Give up saving.
    Cancel,
}

/// The prompt, as a modal window over the app: Save or Cancel (also Enter and Escape).
pub(super) fn save_prompt_ui(
    ctx: &egui::Context,
    prompt: &mut SavePrompt,
) -> Option<SavePromptAnswer> {
    let mut action = None;
    egui::Modal::new(egui::Id::unique("save_prompt")).show(ctx, |ui| {
        ui.set_max_width(620.0);
        let (title, cancel_label) = match &prompt.purpose {
            SavePurpose::Export => ("Export CSV".to_owned(), "Cancel export"),
            SavePurpose::File(file) => (
                format!("Save {}", escape_control(&file.target.path)),
                "Cancel saving",
            ),
        };
        ui.heading(title);
        ui.label(prompt.reason());
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            let label = ui.label("Save to");
            let field = ui
                .add(egui::TextEdit::singleline(&mut prompt.path).desired_width(520.0))
                .labelled_by(label.id);
            if std::mem::take(&mut prompt.focus_field) {
                field.request_focus();
            }
            if field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter)) {
                action = Some(SavePromptAnswer::Save);
            }
            if field.changed() {
                prompt.error = None;
            }
        });
        if let Some(note) = replace_note(&prompt.path) {
            ui.label(RichText::new(note).weak());
        }
        if let Some(error) = &prompt.error {
            let color = ui.visuals().error_fg_color;
            ui.colored_label(color, format!("Error: {}", escape_control(error)));
        }
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            let typed = !prompt.path.trim().is_empty();
            if ui
                .add_enabled(typed, egui::Button::new("Save"))
                .on_hover_text("Write the file here (Enter)")
                .clicked()
            {
                action = Some(SavePromptAnswer::Save);
            }
            if ui
                .button(cancel_label)
                .on_hover_text("Close this prompt without saving (Escape)")
                .clicked()
                || ui.input(|i| i.key_pressed(Key::Escape))
            {
                action = Some(SavePromptAnswer::Cancel);
            }
        });
    });
    action
}

/// A note when the typed path names an existing file, which saving replaces (whole, once the
/// new file is complete).
fn replace_note(typed: &str) -> Option<String> {
    let typed = typed.trim();
    let path = match typed.strip_prefix("~/") {
        Some(rest) => dirs::home_dir()?.join(rest),
        None => PathBuf::from(typed),
    };
    (!typed.is_empty() && path.is_file()).then(|| {
        format!(
            "{} exists: saving replaces it.",
            escape_control(&path.display().to_string())
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(path: &str) -> SavePrompt {
        let mut prompt = SavePrompt::new(SavePurpose::Export, "test".into(), Path::new("/"));
        prompt.path = path.into();
        prompt
    }

    #[test]
    fn typed_paths_become_absolute() {
        assert_eq!(
            prompt("/tmp/x.csv").chosen_path(),
            Ok(PathBuf::from("/tmp/x.csv"))
        );
        let relative = prompt("x.csv")
            .chosen_path()
            .expect("a relative path is kept");
        assert!(relative.is_absolute() && relative.ends_with("x.csv"));
        if let Some(home) = dirs::home_dir() {
            assert_eq!(prompt(" ~/x.csv ").chosen_path(), Ok(home.join("x.csv")));
        }
    }

    #[test]
    fn a_blank_path_or_a_folder_is_refused() {
        assert!(prompt("  ").chosen_path().is_err());
        let dir = std::env::temp_dir();
        let error = prompt(&dir.display().to_string())
            .chosen_path()
            .unwrap_err();
        assert!(error.contains("is a folder"), "{error}");
    }
}
