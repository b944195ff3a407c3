//! The bottom panel: whether work runs, the status line, a save's progress, the error.

use egui::{RichText, Ui};

use super::SaveInProgress;
use super::actions::Action;
use crate::output::{escape_control, human_size};

/// The status bar.
pub(super) fn status_bar_ui(
    ui: &mut Ui,
    busy: bool,
    status: &str,
    saving: Option<&SaveInProgress>,
    error: Option<&str>,
) -> Option<Action> {
    ui.horizontal_wrapped(|ui| {
        if busy {
            ui.label(RichText::new("Working…").strong());
        }
        ui.label(status);
    });
    let action = saving.and_then(|saving| save_progress_ui(ui, saving));
    if let Some(error) = error {
        let color = ui.visuals().error_fg_color;
        ui.colored_label(color, format!("Error: {}", escape_control(error)));
    }
    action
}

/// While a file is being saved: how much of its layer was fetched, and "Cancel save".
fn save_progress_ui(ui: &mut Ui, saving: &SaveInProgress) -> Option<Action> {
    let fetched = saving.job.fetched();
    let layer_size = saving.target.layer.size();
    let fraction = if layer_size == 0 {
        0.0
    } else {
        (fetched as f64 / layer_size as f64).clamp(0.0, 1.0) as f32
    };
    let mut action = None;
    ui.horizontal(|ui| {
        ui.label(format!(
            "Saving {}: {} of the layer's {} fetched",
            escape_control(&saving.target.path),
            human_size(fetched),
            human_size(layer_size)
        ));
        ui.add(
            egui::ProgressBar::new(fraction)
                .desired_width(160.0)
                .show_percentage(),
        );
        if ui
            .button("Cancel save")
            .on_hover_text("Stop saving the file; nothing is written")
            .clicked()
        {
            action = Some(Action::CancelSave);
        }
    });
    action
}
