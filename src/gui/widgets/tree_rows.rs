//! The row pieces both path-tree widgets draw with (the Files tree in [`super::files_tree`], the
//! Compare tree in [`super::compare_tree`]): indentation, the open/close toggle with its
//! accessible name, and fixed-width text cells. One look, one set of constants.

use egui::{Align, Layout, Response, Sense, Ui, UiBuilder, Vec2, WidgetInfo};

/// Indentation per directory level.
pub const INDENT: f32 = 16.0;
/// Rows deeper than this are indented no further (a hostile path can be 300,000 levels deep).
pub const MAX_INDENT_LEVELS: usize = 200;
/// Size of the open/close triangle, relative to the row height.
pub const TOGGLE_SCALE: f32 = 0.7;

/// Indents a row `depth` levels (at most [`MAX_INDENT_LEVELS`]).
pub fn indent_ui(ui: &mut Ui, depth: usize) {
    ui.add_space(depth.min(MAX_INDENT_LEVELS) as f32 * INDENT);
}

/// The open/close triangle of a directory row `height` high, named "Expand PATH" /
/// "Collapse PATH" (`path` as shown, control characters escaped).
pub fn toggle_ui(ui: &mut Ui, is_open: bool, path: &str, height: f32) -> Response {
    let (_, response) = ui.allocate_exact_size(Vec2::splat(height * TOGGLE_SCALE), Sense::click());
    let enabled = ui.is_enabled();
    let action = if is_open { "Collapse" } else { "Expand" };
    response.widget_info(|| {
        WidgetInfo::labeled(egui::Role::Button, enabled, format!("{action} {path}"))
    });
    egui::collapsing_header::paint_default_icon(ui, if is_open { 1.0 } else { 0.0 }, &response);
    response
}

/// A fixed-width cell with its text aligned left (`Align::Min`) or right (`Align::Max`).
pub fn cell(ui: &mut Ui, width: f32, height: f32, align: Align, text: impl Into<egui::WidgetText>) {
    let (rect, _) = ui.allocate_exact_size(Vec2::new(width, height), Sense::hover());
    let layout = if align == Align::Max {
        Layout::right_to_left(Align::Center)
    } else {
        Layout::left_to_right(Align::Center)
    };
    // A child that does not move the parent's cursor: the cell was allocated above.
    let mut cell = ui.new_child(UiBuilder::new().max_rect(rect).layout(layout));
    cell.add(egui::Label::new(text).selectable(false).truncate());
}
