//! The central panel: how to start before an image is open, then the tree chooser, Export
//! CSV, the filter and the file tree of the peeked layers.

use egui::{RichText, Ui};

use super::actions::{Action, EXPORT_SHORTCUT};
use super::toolbar::open_buttons_ui;
use super::{PeekedLayer, TreeChoice};
use crate::gui::widgets::files_tree::{TreeAction, TreeView};

/// What the central panel shows of the app.
pub(super) struct TreePanel<'a> {
    /// Whether an image is open.
    pub has_image: bool,
    /// The peeked layers, in layer order.
    pub peeked: &'a [PeekedLayer],
    /// The tree currently chosen.
    pub view: TreeChoice,
    /// The tree widget (expansion and filter change in place).
    pub tree: &'a mut TreeView,
    /// Whether layers are being peeked.
    pub peeking: bool,
    /// Whether the tree on screen is being rebuilt.
    pub building_tree: bool,
}

/// The central panel.
pub(super) fn tree_panel_ui(ui: &mut Ui, panel: TreePanel<'_>) -> Vec<Action> {
    let mut actions = Vec::new();
    if !panel.has_image {
        ui.vertical_centered(|ui| {
            ui.add_space(ui.available_height() / 3.0);
            ui.label(
                "Type an image reference above and press Enter, open an image file or \
                 folder, or drop one on this window.",
            );
            ui.add_space(8.0);
            ui.horizontal(|ui| {
                // Centre the row of buttons under the text.
                ui.add_space((ui.available_width() - 330.0).max(0.0) / 2.0);
                actions.extend(open_buttons_ui(ui));
            });
        });
        return actions;
    }
    if panel.peeked.is_empty() {
        ui.centered_and_justified(|ui| {
            ui.label("Tick the layers to look into and press Peek.");
        });
        return actions;
    }
    let TreePanel {
        peeked,
        view,
        tree,
        peeking,
        building_tree,
        ..
    } = panel;
    ui.horizontal_wrapped(|ui| {
        let mut chosen = view;
        let choices: Vec<(TreeChoice, String)> = (0..peeked.len())
            .map(TreeChoice::Layer)
            .chain([TreeChoice::Merged])
            .map(|choice| (choice, view_name(peeked, choice)))
            .collect();
        egui::ComboBox::new("tree_view", "Tree")
            .selected_text(view_name(peeked, view))
            .show_ui(ui, |ui| {
                for (choice, name) in choices {
                    ui.selectable_value(&mut chosen, choice, name);
                }
            });
        if chosen != view {
            actions.push(Action::ShowTree(chosen));
        }
        let shortcut = ui.ctx().format_shortcut(&EXPORT_SHORTCUT);
        if ui
            .add_enabled(!peeking, egui::Button::new("Export CSV…"))
            .on_hover_text(format!(
                "Save the listing of the peeked layers (merged view: the final filesystem), \
                 narrowed by the filter ({shortcut})"
            ))
            .clicked()
        {
            actions.push(Action::Export);
        }
        let total = tree.tree().len();
        let shown = tree.rows().len();
        let building = if building_tree { " (updating…)" } else { "" };
        ui.label(RichText::new(format!("{total} paths, {shown} shown{building}")).weak());
    });
    // Wrapped: beside the preview pane the central panel can be narrower than the controls.
    ui.horizontal_wrapped(|ui| tree.show_controls(ui));
    ui.add_space(4.0);
    match tree.show_rows(ui) {
        Some(TreeAction::SaveFile(path)) => actions.push(Action::SaveFile(path)),
        Some(TreeAction::History(path)) => actions.push(Action::ShowHistory(path)),
        None => {}
    }
    actions
}

/// The name of a tree in the chooser.
fn view_name(peeked: &[PeekedLayer], view: TreeChoice) -> String {
    match view {
        TreeChoice::Merged => "Merged: final filesystem".into(),
        TreeChoice::Layer(position) => match peeked.get(position) {
            Some(peeked) => format!(
                "Layer {} ({} entries)",
                peeked.layer.index, peeked.entry_count
            ),
            None => "No layer".into(),
        },
    }
}
