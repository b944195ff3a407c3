//! The Analysis tab: what the peeked layers waste (total, final and wasted bytes, efficiency),
//! the wasted paths, duplicate files, risky files and the largest files. Every path jumps to
//! its row in the Files tab.

use egui::{Color32, RichText, Ui};

use super::actions::Action;
use super::{AnalysisShown, PeekedLayer};
use crate::inspect::analysis::FlagKind;
use crate::oci::ImageInfo;
use crate::output::{escape_control, human_size};

/// Rows shown per section (the rest is counted).
const SECTION_ROWS: usize = 200;

/// What the Analysis tab shows of the app.
pub(super) struct AnalysisPanel<'a> {
    /// The image on screen.
    pub image: &'a ImageInfo,
    /// The peeked layers.
    pub peeked: &'a [PeekedLayer],
    /// Whether layers are being peeked.
    pub peeking: bool,
    /// Whether the analysis is being computed.
    pub analysing: bool,
    /// The analysis, once computed.
    pub shown: Option<&'a AnalysisShown>,
    /// Whether the layers were read whole (content facts for every file).
    pub need_content: bool,
}

/// The Analysis tab.
pub(super) fn analysis_panel_ui(ui: &mut Ui, panel: &AnalysisPanel<'_>) -> Vec<Action> {
    let mut actions = Vec::new();
    if panel.peeked.is_empty() {
        ui.add_space(8.0);
        ui.label(
            "Peek the layers to analyse them (with none ticked, all are peeked: the figures \
             are exact only for the whole image).",
        );
        return actions;
    }
    let shown = match panel.shown {
        Some(shown) if !panel.peeking && !panel.analysing => shown,
        _ => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(if panel.peeking {
                    "The analysis starts once the peek has ended…"
                } else {
                    "Analysing the peeked layers…"
                });
            });
            return actions;
        }
    };
    egui::ScrollArea::vertical()
        .id_salt("analysis")
        .auto_shrink(false)
        .show(ui, |ui| {
            coverage_ui(ui, panel.image, &shown.layers);
            ui.add_space(4.0);
            figures_ui(ui, shown);
            actions.extend(caveats_ui(ui, shown, panel.need_content));
            ui.add_space(8.0);
            actions.extend(wasted_ui(ui, shown));
            actions.extend(duplicates_ui(ui, shown));
            actions.extend(flags_ui(ui, shown));
            actions.extend(largest_ui(ui, shown));
        });
    actions
}

/// Which layers the figures cover: all, or the peeked ones only (said in the warning colour).
fn coverage_ui(ui: &mut Ui, image: &ImageInfo, layers: &[usize]) {
    let total = image.layers.len();
    if layers.len() == total {
        ui.label(format!(
            "Analysis of all {total} layers of {}",
            escape_control(&image.source)
        ));
    } else {
        let list: Vec<String> = layers.iter().map(ToString::to_string).collect();
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!(
                "The figures cover the peeked layers only (layer{} {} of {total}): peek all \
                 layers (none ticked) for the whole image.",
                if layers.len() == 1 { "" } else { "s" },
                list.join(", ")
            ),
        );
    }
}

/// Total, final and wasted bytes, and the efficiency as a percentage and a bar.
fn figures_ui(ui: &mut Ui, shown: &AnalysisShown) {
    let analysis = &shown.analysis;
    let bytes = |value: u64| format!("{} ({value} bytes)", human_size(value));
    egui::Grid::new("analysis_figures")
        .num_columns(2)
        .spacing([16.0, 4.0])
        .show(ui, |ui| {
            ui.label("Total")
                .on_hover_text("Every regular file of every analysed layer, overwritten or not");
            ui.label(bytes(analysis.total_bytes));
            ui.end_row();
            ui.label("Final")
                .on_hover_text("The regular files left in the final filesystem");
            ui.label(bytes(analysis.final_bytes));
            ui.end_row();
            ui.label("Wasted").on_hover_text(
                "Versions a later layer overwrote or removed: still downloaded, never seen",
            );
            ui.label(RichText::new(bytes(analysis.wasted_bytes)).strong());
            ui.end_row();
            ui.label("Efficiency")
                .on_hover_text("Final bytes / total bytes");
            ui.horizontal(|ui| {
                let percent = format!("{:.2}%", analysis.efficiency * 100.0);
                ui.label(RichText::new(&percent).strong());
                ui.add(
                    egui::ProgressBar::new(analysis.efficiency as f32)
                        .desired_width(240.0)
                        .fill(efficiency_color(ui, analysis.efficiency)),
                );
            });
            ui.end_row();
        });
}

/// Green when little is wasted, the warning colour in between, the error colour below 50%.
fn efficiency_color(ui: &Ui, efficiency: f64) -> Color32 {
    let visuals = ui.visuals();
    if efficiency >= 0.9 {
        if visuals.dark_mode {
            Color32::from_rgb(40, 120, 40)
        } else {
            Color32::from_rgb(120, 190, 120)
        }
    } else if efficiency >= 0.5 {
        visuals.warn_fg_color.gamma_multiply(0.7)
    } else {
        visuals.error_fg_color.gamma_multiply(0.7)
    }
}

/// Why some figures may be incomplete, and the button that reads the layers whole.
fn caveats_ui(ui: &mut Ui, shown: &AnalysisShown, need_content: bool) -> Option<Action> {
    let warn = ui.visuals().warn_fg_color;
    for caveat in &shown.analysis.caveats {
        ui.add(
            egui::Label::new(
                RichText::new(format!("Note: {}", escape_control(caveat))).color(warn),
            )
            .wrap(),
        );
    }
    let mut action = None;
    if shown.files_without_content > 0 && !need_content {
        let clicked = ui
            .button("Read whole layers for content checks")
            .on_hover_text(format!(
                "{} files were listed from a table of contents (or a cached listing) without \
                 their data: peek the same layers again, reading them whole, so that the \
                 duplicate and secret checks cover every file",
                shown.files_without_content
            ))
            .clicked();
        if clicked {
            action = Some(Action::PeekWholeLayers);
        }
    }
    action
}

/// A section's collapsible header: `TITLE (COUNT)`, open at first.
fn section_ui<R>(
    ui: &mut Ui,
    title: &str,
    count: usize,
    add_contents: impl FnOnce(&mut Ui) -> R,
) -> Option<R> {
    egui::CollapsingHeader::new(RichText::new(format!("{title} ({count})")).strong())
        .id_salt(title)
        .default_open(true)
        .show(ui, |ui| {
            if count == 0 {
                ui.label(RichText::new("None.").weak());
            }
            add_contents(ui)
        })
        .body_returned
}

/// "… and N more" under a section cut at [`SECTION_ROWS`].
fn more_ui(ui: &mut Ui, count: usize) {
    if count > SECTION_ROWS {
        ui.label(RichText::new(format!("… and {} more", count - SECTION_ROWS)).weak());
    }
}

/// A path that jumps to its row in the Files tab, named "Show PATH in WHERE" for
/// accessibility; returns the action when clicked.
fn path_link_ui(ui: &mut Ui, path: &str, layer: Option<usize>) -> Option<Action> {
    let shown = escape_control(path);
    let place = layer.map_or_else(
        || "the final filesystem".to_owned(),
        |layer| format!("layer {layer}"),
    );
    let response = ui
        .link(RichText::new(shown.as_ref()).monospace())
        .on_hover_text(format!("Show in the Files tab, in the tree of {place}"));
    let name = format!("Show {shown} in {place}");
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Link, true, &name));
    response.clicked().then(|| Action::RevealPath {
        layer,
        path: path.to_owned(),
    })
}

/// Paths whose bytes are wasted, largest first, with the layers holding the hidden versions.
fn wasted_ui(ui: &mut Ui, shown: &AnalysisShown) -> Option<Action> {
    let wasted = &shown.analysis.wasted;
    let mut action = None;
    section_ui(ui, "Wasted paths", wasted.len(), |ui| {
        egui::Grid::new("analysis_wasted")
            .num_columns(3)
            .striped(true)
            .show(ui, |ui| {
                for item in wasted.iter().take(SECTION_ROWS) {
                    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                        ui.label(human_size(item.bytes));
                    });
                    // The newest hidden version is the one a later layer replaced last.
                    if let Some(clicked) = path_link_ui(ui, &item.path, item.layers.last().copied())
                    {
                        action = Some(clicked);
                    }
                    let layers: Vec<String> = item.layers.iter().map(ToString::to_string).collect();
                    ui.label(
                        RichText::new(format!(
                            "layer{} {}",
                            if layers.len() == 1 { "" } else { "s" },
                            layers.join(", ")
                        ))
                        .weak(),
                    );
                    ui.end_row();
                }
            });
        more_ui(ui, wasted.len());
    });
    action
}

/// Groups of final files with identical content.
fn duplicates_ui(ui: &mut Ui, shown: &AnalysisShown) -> Option<Action> {
    let groups = &shown.analysis.duplicates;
    let mut action = None;
    section_ui(ui, "Duplicate files", groups.len(), |ui| {
        for group in groups.iter().take(SECTION_ROWS) {
            ui.label(format!(
                "{} copies of {} ({} redundant)",
                group.paths.len(),
                human_size(group.size),
                human_size(group.redundant_bytes())
            ));
            ui.indent(("duplicates", &group.paths[0]), |ui| {
                for path in &group.paths {
                    if let Some(clicked) = path_link_ui(ui, path, None) {
                        action = Some(clicked);
                    }
                }
            });
        }
        more_ui(ui, groups.len());
    });
    action
}

/// Risky entries: kind, layer, path, detail.
fn flags_ui(ui: &mut Ui, shown: &AnalysisShown) -> Option<Action> {
    let flags = &shown.analysis.flags;
    let mut action = None;
    section_ui(ui, "Flags", flags.len(), |ui| {
        egui::Grid::new("analysis_flags")
            .num_columns(4)
            .striped(true)
            .show(ui, |ui| {
                for flag in flags.iter().take(SECTION_ROWS) {
                    let color = match flag.kind {
                        FlagKind::Secret => ui.visuals().error_fg_color,
                        _ => ui.visuals().warn_fg_color,
                    };
                    ui.label(RichText::new(flag.kind.as_str()).color(color).strong());
                    ui.label(format!("layer {}", flag.layer));
                    if let Some(clicked) = path_link_ui(ui, &flag.path, Some(flag.layer)) {
                        action = Some(clicked);
                    }
                    ui.label(RichText::new(escape_control(&flag.detail)).weak());
                    ui.end_row();
                }
            });
        more_ui(ui, flags.len());
    });
    action
}

/// The largest files of the final filesystem.
fn largest_ui(ui: &mut Ui, shown: &AnalysisShown) -> Option<Action> {
    let largest = &shown.analysis.largest;
    let mut action = None;
    section_ui(ui, "Largest files", largest.len(), |ui| {
        egui::Grid::new("analysis_largest")
            .num_columns(3)
            .striped(true)
            .show(ui, |ui| {
                for file in largest.iter().take(SECTION_ROWS) {
                    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                        ui.label(human_size(file.size));
                    });
                    if let Some(clicked) = path_link_ui(ui, &file.path, None) {
                        action = Some(clicked);
                    }
                    ui.label(RichText::new(format!("from layer {}", file.layer)).weak());
                    ui.end_row();
                }
            });
        more_ui(ui, largest.len());
    });
    action
}
