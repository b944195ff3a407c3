//! The History pane (below the Files tab, opened from a file row's context menu): every
//! version of one path across the peeked layers, oldest first (`inspect::history`), each
//! previewed with a click; two ticked (or "vs previous") are read in the background and
//! compared, shown unified (coloured lines, hunks) or side by side.

use egui::{Color32, RichText, Ui};

use super::actions::Action;
use crate::gui::jobs::VersionDiffJob;
use crate::gui::version_diff::{DiffLine, LineKind, SideRow, VersionDiff};
use crate::gui::widgets::files_tree::change_color;
use crate::inspect::history::PathChange;
use crate::model::{Change, EntryKind};
use crate::oci::manifest::dockerfile_instruction;
use crate::output::{escape_control, human_size};

/// The hover text of a version's layer button.
const SHOW_HELP: &str =
    "Show this layer's tree with the path selected: the preview shows its version";

/// The pane's state: the path, its versions, what is compared.
pub(super) struct History {
    /// The path whose history is shown.
    pub path: String,
    /// How many layers were peeked when the history was taken.
    pub layers: usize,
    /// Its versions, oldest first.
    pub rows: Vec<PathChange>,
    /// Rows ticked for comparison, at most two, in the order ticked.
    pub ticked: Vec<usize>,
    /// Show the diff side by side rather than unified.
    pub side_by_side: bool,
    /// The two rows being read and compared, and the job.
    pub job: Option<([usize; 2], VersionDiffJob)>,
    /// The two rows last compared, and how they differ (or why that is unknown).
    pub compared: Option<([usize; 2], Result<VersionDiff, String>)>,
}

impl History {
    /// The history of `path` over `layers` peeked layers.
    pub fn new(path: String, layers: usize, rows: Vec<PathChange>) -> Self {
        Self {
            path,
            layers,
            rows,
            ticked: Vec::new(),
            side_by_side: false,
            job: None,
            compared: None,
        }
    }

    /// Whether row `row` holds data that can be read and compared (a file or hardlink).
    pub fn has_data(&self, row: usize) -> bool {
        self.rows
            .get(row)
            .is_some_and(|r| matches!(r.kind, Some(EntryKind::File | EntryKind::Hardlink)))
    }

    /// The nearest row before `row` that holds data.
    pub fn previous_with_data(&self, row: usize) -> Option<usize> {
        (0..row).rev().find(|&at| self.has_data(at))
    }
}

/// The pane: returns what the user asked for.
pub(super) fn history_panel_ui(ui: &mut Ui, history: &mut History) -> Vec<Action> {
    let mut actions = Vec::new();
    ui.horizontal(|ui| {
        ui.heading("Path history");
        ui.add(
            egui::Label::new(
                RichText::new(escape_control(&history.path))
                    .monospace()
                    .strong(),
            )
            .truncate(),
        );
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.button("Close history").clicked() {
                actions.push(Action::CloseHistory);
            }
        });
    });
    ui.label(
        RichText::new(format!(
            "{} version{} across the {} peeked layer{}, oldest first. Click a layer to preview \
             its version; tick two (or press \"vs previous\") to compare them.",
            history.rows.len(),
            if history.rows.len() == 1 { "" } else { "s" },
            history.layers,
            if history.layers == 1 { "" } else { "s" },
        ))
        .weak(),
    );
    // The pane keeps the height it was given (a panel shrinks to its content otherwise, and
    // would jump while a comparison runs).
    ui.set_min_height(ui.available_height());
    // The table takes what its rows need, up to 60% of the pane; the diff gets the rest.
    let row_height = ui.spacing().interact_size.y + ui.spacing().item_spacing.y;
    let needed = (history.rows.len() + 1) as f32 * row_height + ui.spacing().item_spacing.y;
    let table_height = needed
        .min(ui.available_height() * 0.6)
        .max(row_height * 2.0);
    egui::ScrollArea::both()
        .id_salt("history_versions")
        .max_height(table_height)
        .auto_shrink([false, true])
        .show(ui, |ui| versions_ui(ui, history, &mut actions));
    ui.separator();
    diff_ui(ui, history, &mut actions);
    actions
}

/// The table of versions.
fn versions_ui(ui: &mut Ui, history: &History, actions: &mut Vec<Action>) {
    egui::Grid::new("history_grid")
        .striped(true)
        .num_columns(9)
        .spacing([12.0, 2.0])
        .show(ui, |ui| {
            for title in [
                "Compare",
                "Layer",
                "Change",
                "Kind",
                "Size",
                "Mode",
                "Target / content",
                "",
                "Build step",
            ] {
                ui.label(RichText::new(title).strong());
            }
            ui.end_row();
            for (at, row) in history.rows.iter().enumerate() {
                let data = history.has_data(at);
                let mut ticked = history.ticked.contains(&at);
                let response = ui.add_enabled(data, egui::Checkbox::without_text(&mut ticked));
                let enabled = response.enabled();
                let label = format!("Compare layer {}", row.layer);
                response.widget_info(|| {
                    egui::WidgetInfo::selected(egui::Role::CheckBox, enabled, ticked, &label)
                });
                if response.clicked() {
                    actions.push(Action::TickVersion(at));
                }
                let show = ui
                    .add_enabled(
                        row.change != Change::Removed,
                        egui::Button::new(format!("layer {}", row.layer)).small(),
                    )
                    .on_hover_text(SHOW_HELP);
                let enabled = show.enabled();
                let label = format!("Show layer {}'s version", row.layer);
                show.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, enabled, &label));
                if show.clicked() {
                    actions.push(Action::ShowVersion(at));
                }
                ui.label(
                    RichText::new(row.change.as_str())
                        .color(change_color(ui.visuals(), row.change)),
                );
                ui.label(row.kind.map_or("-", EntryKind::as_str));
                ui.label(if row.change == Change::Removed {
                    "-".to_owned()
                } else {
                    human_size(row.size)
                });
                ui.label(
                    RichText::new(
                        row.mode
                            .map_or_else(|| "-".to_owned(), |m| format!("{m:04o}")),
                    )
                    .monospace(),
                );
                let content = match (&row.link_target, row.content, &row.removed_by) {
                    (Some(target), _, _) => format!("→ {}", escape_control(target)),
                    (None, Some(hash), _) => hash.to_string().chars().take(21).collect(),
                    (None, None, Some(remover)) => {
                        format!("removed by {}", escape_control(remover))
                    }
                    (None, None, None) => "-".to_owned(),
                };
                ui.label(RichText::new(content).monospace());
                let previous = history.previous_with_data(at).filter(|_| data);
                if let Some(previous) = previous {
                    let label = format!("Compare layer {} with the version before", row.layer);
                    let button = ui
                        .small_button("vs previous")
                        .on_hover_text("Compare this version with the one before it");
                    button.widget_info(|| {
                        egui::WidgetInfo::labeled(egui::Role::Button, true, &label)
                    });
                    if button.clicked() {
                        actions.push(Action::CompareVersions([previous, at]));
                    }
                } else {
                    ui.label("");
                }
                let step = row
                    .created_by
                    .as_deref()
                    .map_or_else(|| "(no history)".to_owned(), dockerfile_instruction);
                ui.add(egui::Label::new(RichText::new(escape_control(&step)).weak()).truncate());
                ui.end_row();
            }
        });
}

/// The comparison: running (spinner, Cancel), failed, or its lines.
fn diff_ui(ui: &mut Ui, history: &mut History, actions: &mut Vec<Action>) {
    let layer_of = |history: &History, row: usize| history.rows.get(row).map_or(0, |r| r.layer);
    if let Some(([a, b], _)) = &history.job {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(format!(
                "Reading layer {}'s and layer {}'s versions…",
                layer_of(history, *a),
                layer_of(history, *b)
            ));
            if ui.button("Cancel comparison").clicked() {
                actions.push(Action::CancelVersionDiff);
            }
        });
        return;
    }
    let Some(([a, b], compared)) = &history.compared else {
        ui.label(RichText::new("Tick two versions to see what changed between them.").weak());
        return;
    };
    let (a, b) = (layer_of(history, *a), layer_of(history, *b));
    let diff = match compared {
        Err(error) => {
            ui.colored_label(ui.visuals().error_fg_color, escape_control(error));
            return;
        }
        Ok(diff) => diff,
    };
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("From layer {a} to layer {b}")).strong());
        if matches!(diff, VersionDiff::Text { .. }) {
            ui.selectable_value(&mut history.side_by_side, false, "Unified");
            ui.selectable_value(&mut history.side_by_side, true, "Side by side");
        }
    });
    match diff {
        VersionDiff::Text { unified, side } => {
            if history.side_by_side {
                side_by_side_ui(ui, side);
            } else {
                unified_ui(ui, unified);
            }
        }
        other => {
            if let Some(summary) = other.summary() {
                // Monospace: the proportional font has no arrow.
                ui.label(RichText::new(summary).monospace());
            }
        }
    }
}

/// The colour of a diff line of `kind`.
fn line_color(ui: &Ui, kind: LineKind) -> Option<Color32> {
    match kind {
        LineKind::Hunk => Some(if ui.visuals().dark_mode {
            Color32::from_rgb(110, 170, 230)
        } else {
            Color32::from_rgb(30, 90, 170)
        }),
        LineKind::Context => None,
        LineKind::Removed => Some(change_color(ui.visuals(), Change::Removed)),
        LineKind::Added => Some(change_color(ui.visuals(), Change::Added)),
    }
}

/// A monospace line coloured as `kind`.
fn line_text(ui: &Ui, text: &str, kind: LineKind) -> RichText {
    let text = RichText::new(escape_control(text)).monospace();
    match line_color(ui, kind) {
        Some(color) => text.color(color),
        None => text,
    }
}

/// The unified diff, drawing only the lines in view.
fn unified_ui(ui: &mut Ui, lines: &[DiffLine]) {
    let height = ui.text_style_height(&egui::TextStyle::Monospace);
    egui::ScrollArea::both()
        .id_salt("history_unified")
        .auto_shrink(false)
        .show_rows(ui, height, lines.len(), |ui, range| {
            for line in lines.get(range).unwrap_or_default() {
                let text = line_text(ui, &line.text, line.kind);
                ui.add(egui::Label::new(text).wrap_mode(egui::TextWrapMode::Extend));
            }
        });
}

/// The two versions side by side, drawing only the rows in view.
fn side_by_side_ui(ui: &mut Ui, rows: &[SideRow]) {
    let height = ui.text_style_height(&egui::TextStyle::Monospace);
    egui::ScrollArea::vertical()
        .id_salt("history_side")
        .auto_shrink(false)
        .show_rows(ui, height, rows.len(), |ui, range| {
            let half = (ui.available_width() - ui.spacing().item_spacing.x) / 2.0;
            for row in rows.get(range).unwrap_or_default() {
                match row {
                    SideRow::Hunk(header) => {
                        ui.label(line_text(ui, header, LineKind::Hunk));
                    }
                    SideRow::Lines { old, new, same } => {
                        ui.horizontal(|ui| {
                            let (old_kind, new_kind) = if *same {
                                (LineKind::Context, LineKind::Context)
                            } else {
                                (LineKind::Removed, LineKind::Added)
                            };
                            side_cell(ui, half, old.as_ref(), old_kind);
                            side_cell(ui, half, new.as_ref(), new_kind);
                        });
                    }
                }
            }
        });
}

/// One side of a side-by-side row: the line number and text, cut to `width`.
fn side_cell(ui: &mut Ui, width: f32, line: Option<&(usize, String)>, kind: LineKind) {
    let height = ui.text_style_height(&egui::TextStyle::Monospace);
    let (rect, _) = ui.allocate_exact_size(egui::vec2(width, height), egui::Sense::hover());
    if let Some((number, text)) = line {
        let prefix = match kind {
            LineKind::Removed => '-',
            LineKind::Added => '+',
            LineKind::Context | LineKind::Hunk => ' ',
        };
        let text = line_text(ui, &format!("{number:>4} {prefix}{text}"), kind);
        // Left-aligned in its half (`put` would centre it).
        let mut cell = ui.new_child(
            egui::UiBuilder::new()
                .max_rect(rect)
                .layout(egui::Layout::left_to_right(egui::Align::Center)),
        );
        cell.add(egui::Label::new(text).truncate());
    }
}
